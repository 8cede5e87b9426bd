"""GET /v1/faults and /v1/faults/{fault_id}: what the inspector did."""

import datetime
from urllib import parse

from doctor.tests.unit.api import base

T0 = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456)

CHECKPOINTS = [
    {'number': 0, 'name': 'hostdown', 'component': 'doctor-monitor',
     'timestamp': '2024-05-01T10:00:00.100000+00:00'},
    {'number': 1, 'name': 'raw_failure_received', 'component': 'inspector',
     'timestamp': '2024-05-01T10:00:00.123456+00:00'},
]
AFFECTED = [{'type': 'instance', 'id': 'vm-1', 'project_id': base.PROJECT,
             'state': 'active', 'action': 'set error'}]
ACTIONS = [{'name': 'set_instance_state', 'target': 'instance:vm-1',
            'controller': 'local', 'result': 'ok', 'duration_ms': 1.5,
            'attempts': 1, 'started_at': '2024-05-01T10:00:00.124+00:00'}]
REPORT = {'id': 'e1', 'time': '2024-05-01T10:00:00.100000+00:00',
          'monitor': 'doctor-monitor', 'monitor_event_id': 'me-1',
          'received_at': '2024-05-01T10:00:00.123456+00:00'}


class FaultsTestCase(base.APITestCase):

    def open(self, fault_id: str, host: str, seconds: int) -> None:
        created_at = T0 + datetime.timedelta(seconds=seconds)
        self.db.create_fault(
            {'id': fault_id, 'host': host, 'type': 'compute.host.down',
             'created_at': created_at, 'checkpoints': CHECKPOINTS,
             'reports': [REPORT]}, created_at)

    def setUp(self):
        super().setUp()
        self.open('f-0', 'compute-0', 0)
        self.db.update_fault('f-0', {'affected': AFFECTED,
                                     'actions': ACTIONS})
        self.db.close_fault('compute-0', T0 + datetime.timedelta(seconds=60))
        self.open('f-1', 'compute-1', 30)
        self.open('f-2', 'compute-0', 90)

    def listing(self, query: str = '') -> dict:
        response = self.as_admin('GET', '/v1/faults' + query)
        self.assertEqual(200, response.status_int, response.text)
        return response.json

    def ids(self, query: str = '') -> list[str]:
        return [fault['id'] for fault in self.listing(query)['faults']]


class TestShow(FaultsTestCase):

    def test_everything_recorded_of_a_fault(self):
        response = self.as_admin('GET', '/v1/faults/f-0')

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(
            {'fault': {
                'id': 'f-0', 'host': 'compute-0',
                'type': 'compute.host.down', 'status': 'closed',
                'created_at': '2024-05-01T10:00:00.123456',
                'closed_at': '2024-05-01T10:01:00.123456',
                'affected': AFFECTED, 'actions': ACTIONS,
                'checkpoints': CHECKPOINTS, 'reports': [REPORT],
                'owner': None, 'handled_at': None,
                'progress': {'steps': 0, 'done': 0}, 'resumes': []}},
            response.json)

    def test_an_open_fault_has_no_closing_time(self):
        fault = self.as_admin('GET', '/v1/faults/f-1').json['fault']

        self.assertEqual(('open', None, [], []),
                         (fault['status'], fault['closed_at'],
                          fault['affected'], fault['actions']))

    def test_an_unknown_fault_is_404(self):
        self.assert_error(self.as_admin('GET', '/v1/faults/f-9'), 404,
                          'Fault f-9 not found')

    def test_query_parameters_are_refused(self):
        self.assert_error(self.as_admin('GET', '/v1/faults/f-0?x=1'), 400,
                          "'x'")


class TestList(FaultsTestCase):

    def test_newest_first(self):
        listed = self.listing()

        self.assertEqual(['f-2', 'f-1', 'f-0'],
                         [fault['id'] for fault in listed['faults']])
        self.assertEqual([], listed['links'])
        shown = self.as_admin('GET', '/v1/faults/f-0').json['fault']
        self.assertEqual(shown, listed['faults'][2])

    def test_filters(self):
        self.assertEqual(['f-2', 'f-0'], self.ids('?host=compute-0'))
        self.assertEqual(['f-0'], self.ids('?status=closed'))
        self.assertEqual(['f-2'], self.ids('?host=compute-0&status=open'))
        self.assertEqual([], self.ids('?host=compute-9'))

    def test_paging_keeps_the_filters(self):
        first = self.listing('?status=open&limit=1')

        self.assertEqual(['f-2'], [f['id'] for f in first['faults']])
        url = parse.urlsplit(first['links'][0]['href'])
        self.assertEqual('/v1/faults', url.path)
        self.assertEqual({'status': ['open'], 'limit': ['1'],
                          'marker': ['f-2']}, parse.parse_qs(url.query))
        rest = self.listing('?' + url.query)
        self.assertEqual((['f-1'], []),
                         ([f['id'] for f in rest['faults']], rest['links']))

    def test_bad_parameters(self):
        for query, field in (('?status=gone', 'status'),
                             ('?marker=f-9', 'marker'),
                             ('?limit=0', 'limit'),
                             ('?host=', 'host'),
                             ('?host=a&host=b', 'host'),
                             ('?type=x', 'type')):
            self.assert_error(self.as_admin('GET', '/v1/faults' + query),
                              400, "'%s'" % field)


class TestPolicy(FaultsTestCase):

    def test_a_member_may_read_no_fault(self):
        for path, rule in (('/v1/faults', 'fault:get_all'),
                           ('/v1/faults/f-0', 'fault:get'),
                           ('/v1/faults/f-9', 'fault:get')):
            self.assert_error(self.request('GET', path), 403, rule)

    def test_faults_are_read_only(self):
        self.assert_error(self.as_admin('DELETE', '/v1/faults/f-0'), 405)
        self.assert_error(self.as_admin('POST', '/v1/faults', {}), 405)
        self.assertEqual('open', self.db.get_fault('f-1')['status'])
