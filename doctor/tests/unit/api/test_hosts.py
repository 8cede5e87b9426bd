"""GET /v1/hosts, GET and PUT /v1/hosts/{name}."""

import datetime
from urllib import parse

from oslo_utils import uuidutils

from doctor.common import exception
from doctor.tests.unit.api import base

NOW = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456)
OWNER = '6f1c2b3a4d5e4f60a7b8c9d0e1f2a3b4'
change = base.change


def fault(host: str, fault_id: str | None = None) -> dict:
    return {'id': fault_id or uuidutils.generate_uuid(), 'host': host,
            'type': 'compute.host.down', 'created_at': NOW,
            'checkpoints': [], 'reports': [{'id': 'e1'}]}


class HostsTestCase(base.InspectorAPITestCase):
    """Three hosts: compute-0 with two instances and a port, compute-1
    reported down by Nova, compute-2 empty; compute-3 known only from an
    instance on it.
    """

    def setUp(self):
        super().setUp()
        self.db.apply_entity_changes([
            change('host', 'compute-0', NOW, state='up', name='compute-0'),
            change('host', 'compute-1', NOW, state='down', name='compute-1'),
            change('host', 'compute-2', NOW, state=None, name='compute-2'),
            change('instance', 'vm-1', NOW, state='active', name='vnf-a-0',
                   project_id=OWNER, parents=('host:compute-0',)),
            change('instance', 'vm-2', NOW, state='error', name='vnf-a-1',
                   project_id=base.OTHER_PROJECT,
                   parents=('host:compute-0',)),
            change('port', 'p-1', NOW, state='ACTIVE', project_id=OWNER,
                   parents=('host:compute-0', 'instance:vm-1'),
                   attributes={'data_plane_status': 'ACTIVE'}),
            change('port', 'p-2', NOW, state='DOWN', project_id=OWNER,
                   parents=('host:compute-0',),
                   attributes={'device_id': 'router-1'}),
            change('instance', 'vm-3', NOW, state='active', name='vnf-b-0',
                   project_id=OWNER, parents=('host:compute-3',)),
        ])

    def show(self, name: str) -> dict:
        response = self.as_admin('GET', '/v1/hosts/' + name)
        self.assertEqual(200, response.status_int, response.text)
        return response.json['host']

    def listing(self, query: str = '') -> dict:
        response = self.as_admin('GET', '/v1/hosts' + query)
        self.assertEqual(200, response.status_int, response.text)
        return response.json

    def open_fault(self, host: str) -> str:
        stored, _created = self.db.create_fault(
            fault(host), NOW - datetime.timedelta(seconds=10))
        return stored['id']


class TestShow(HostsTestCase):

    def test_a_host_with_what_is_on_it(self):
        self.assertEqual(
            {'name': 'compute-0', 'state': 'up',
             'host_down_reported': False, 'fault_id': None,
             'instances': [
                 {'id': 'vm-1', 'name': 'vnf-a-0', 'state': 'active',
                  'project_id': OWNER},
                 {'id': 'vm-2', 'name': 'vnf-a-1', 'state': 'error',
                  'project_id': base.OTHER_PROJECT}],
             'ports': [
                 {'id': 'p-1', 'device_id': 'vm-1', 'project_id': OWNER,
                  'status': 'ACTIVE', 'data_plane_status': 'ACTIVE'},
                 {'id': 'p-2', 'device_id': 'router-1',
                  'project_id': OWNER, 'status': 'DOWN',
                  'data_plane_status': None}]},
            self.show('compute-0'))

    def test_an_open_fault_makes_the_host_down(self):
        fault_id = self.open_fault('compute-0')

        host = self.show('compute-0')

        self.assertEqual(('down', True, fault_id),
                         (host['state'], host['host_down_reported'],
                          host['fault_id']))

    def test_a_closed_fault_does_not(self):
        self.open_fault('compute-0')
        self.db.close_fault('compute-0', NOW)

        host = self.show('compute-0')

        self.assertEqual(('up', False, None),
                         (host['state'], host['host_down_reported'],
                          host['fault_id']))

    def test_a_host_its_datasource_says_is_down(self):
        host = self.show('compute-1')

        self.assertEqual(('down', False, None, [], []),
                         (host['state'], host['host_down_reported'],
                          host['fault_id'], host['instances'],
                          host['ports']))

    def test_a_host_of_no_state_is_up(self):
        self.assertEqual('up', self.show('compute-2')['state'])

    def test_a_host_known_from_its_instances(self):
        host = self.show('compute-3')

        self.assertEqual(('up', ['vm-3']),
                         (host['state'],
                          [i['id'] for i in host['instances']]))

    def test_an_unknown_host_is_404(self):
        self.assert_error(self.as_admin('GET', '/v1/hosts/compute-9'), 404,
                          'Host compute-9 not found')

    def test_query_parameters_are_refused(self):
        self.assert_error(self.as_admin('GET', '/v1/hosts/compute-0?x=1'),
                          400, "'x'")


class TestList(HostsTestCase):

    def test_every_host_by_name(self):
        listed = self.listing()

        self.assertEqual(['compute-0', 'compute-1', 'compute-2'],
                         [host['name'] for host in listed['hosts']])
        self.assertEqual(self.show('compute-0'), listed['hosts'][0])
        self.assertEqual([], listed['links'])

    def test_open_faults_are_shown(self):
        fault_id = self.open_fault('compute-2')

        hosts = {host['name']: host for host in self.listing()['hosts']}

        self.assertEqual(
            {'compute-0': ('up', None), 'compute-1': ('down', None),
             'compute-2': ('down', fault_id)},
            {name: (host['state'], host['fault_id'])
             for name, host in hosts.items()})

    def test_paging(self):
        first = self.listing('?limit=2')

        self.assertEqual(['compute-0', 'compute-1'],
                         [host['name'] for host in first['hosts']])
        url = parse.urlsplit(first['links'][0]['href'])
        self.assertEqual('/v1/hosts', url.path)
        self.assertEqual({'limit': ['2'], 'marker': ['compute-1']},
                         parse.parse_qs(url.query))
        rest = self.listing('?' + url.query)
        self.assertEqual((['compute-2'], []),
                         ([host['name'] for host in rest['hosts']],
                          rest['links']))

    def test_default_limit_is_the_configured_one(self):
        self.config.config(default_limit=1, group='api')

        self.assertEqual(1, len(self.listing()['hosts']))

    def test_bad_paging(self):
        for query, field in (('?marker=compute-9', 'marker'),
                             ('?limit=0', 'limit'),
                             ('?limit=x', 'limit'),
                             ('?limit=1001', 'limit'),
                             ('?marker=', 'marker'),
                             ('?state=up', 'state')):
            self.assert_error(self.as_admin('GET', '/v1/hosts' + query),
                              400, "'%s'" % field)


class TestReport(HostsTestCase):

    def put(self, name: str, body, **kwargs):
        kwargs.setdefault('roles', 'admin')
        return self.request('PUT', '/v1/hosts/' + name, body, **kwargs)

    def test_report_a_host_down(self):
        self.report_host.return_value = {
            'host': 'compute-0', 'state': 'down', 'fault_id': 'f-1'}

        response = self.put('compute-0',
                            {'host': {'host_down_reported': True}})

        self.assertEqual(200, response.status_int, response.text)
        _api, context, name, down = self.report_host.call_args.args
        self.assertEqual(('compute-0', True, base.PROJECT, True),
                         (name, down, context.project_id, context.is_admin))
        expected = dict(self.show('compute-0'), state='down',
                        host_down_reported=True, fault_id='f-1')
        self.assertEqual({'host': expected}, response.json)

    def test_report_a_host_recovered(self):
        self.open_fault('compute-1')
        self.report_host.return_value = {
            'host': 'compute-1', 'state': 'up', 'fault_id': None}

        response = self.put('compute-1',
                            {'host': {'host_down_reported': False}})

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(False, self.report_host.call_args.args[3])
        host = response.json['host']
        self.assertEqual(('up', False, None),
                         (host['state'], host['host_down_reported'],
                          host['fault_id']))

    def test_an_unknown_host_is_404(self):
        self.report_host.side_effect = base.remote(
            exception.HostNotFound(host='compute-9'))

        message = self.assert_error(
            self.put('compute-9', {'host': {'host_down_reported': True}}),
            404, 'compute-9')
        self.assertEqual('Host compute-9 not found.', message)

    def test_no_inspector_is_503(self):
        self.report_host.side_effect = exception.ServiceUnavailable(
            reason='no inspector answered within 5 s')

        self.assert_error(
            self.put('compute-0', {'host': {'host_down_reported': True}}),
            503, 'no inspector answered')

    def test_bad_bodies(self):
        for body, fragment in (
                ({}, "'host'"),
                ([], 'JSON object'),
                ({'host': True}, "'host'"),
                ({'host': {}}, "'host.host_down_reported'"),
                ({'host': {'host_down_reported': 'true'}},
                 "'host.host_down_reported'"),
                ({'host': {'host_down_reported': 1}},
                 "'host.host_down_reported'"),
                ({'host': {'host_down_reported': None}},
                 "'host.host_down_reported'"),
                ({'host': {'host_down_reported': True, 'state': 'down'}},
                 "'host.state'"),
                ({'host': {'host_down_reported': True}, 'name': 'x'},
                 "'name'")):
            self.assert_error(self.put('compute-0', body), 400, fragment)
        self.assert_error(self.request('PUT', '/v1/hosts/compute-0',
                                       roles='admin', raw=b'{'), 400, 'JSON')
        self.report_host.assert_not_called()


class TestPolicy(HostsTestCase):

    def test_a_member_may_do_nothing(self):
        for method, path, body, rule in (
                ('GET', '/v1/hosts', base._NO_BODY, 'host:get_all'),
                ('GET', '/v1/hosts/compute-0', base._NO_BODY, 'host:get'),
                ('GET', '/v1/hosts/compute-9', base._NO_BODY, 'host:get'),
                ('PUT', '/v1/hosts/compute-0',
                 {'host': {'host_down_reported': True}}, 'host:update'),
                ('PUT', '/v1/hosts/compute-0', 'nonsense', 'host:update')):
            self.assert_refused(self.request(method, path, body), rule)

    def test_a_request_of_no_project_is_401(self):
        self.assert_error(self.request('GET', '/v1/hosts', project=None,
                                       roles='admin'), 401)
