"""The HTTP client of the commands: URLs, answers, errors, paging."""

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from osc_lib import exceptions as osc_exceptions
import requests

from doctor.osc.v1 import client
from doctor.tests import base
from doctor.tests.unit.osc import fakes

ALARM = {'alarm_id': 'a-1', 'name': 'vm-down'}


class ClientTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        fake = self.useFixture(fakes.FakeDoctor())
        self.api = fake.api
        self.client = fake.client


class TestRequests(ClientTestCase):

    def test_requests_go_under_v1_of_the_endpoint(self):
        self.api.add('GET', '/v1/alarms/a-1', fakes.Answer(200, ALARM))

        self.assertEqual(ALARM, self.client.alarms.get('a-1'))
        self.assertEqual([('GET', '/v1/alarms/a-1')], self.api.calls())
        self.assertTrue(self.api.requests[0].url.startswith(fakes.ROOT))

    def test_endpoint_given_with_v1_is_not_doubled(self):
        fake = self.useFixture(fakes.FakeDoctor(fakes.ROOT + '/v1/'))
        fake.api.add('GET', '/v1/hosts/compute-0',
                     fakes.Answer(200, {'host': {'name': 'compute-0'}}))

        self.assertEqual({'name': 'compute-0'},
                         fake.client.hosts.get('compute-0'))

    def test_identity_headers_are_sent(self):
        headers = {'X-Project-Id': 'p1', 'X-User-Id': 'u1',
                   'X-Roles': 'admin'}
        fake = self.useFixture(fakes.FakeDoctor(headers=headers))
        fake.api.add('GET', '/v1/alarms', fakes.Answer(200, []))

        fake.client.alarms.list()

        sent = fake.api.requests[0].headers
        self.assertEqual(('p1', 'u1', 'admin'),
                         (sent['X-Project-Id'], sent['X-User-Id'],
                          sent['X-Roles']))

    def test_a_slash_in_a_path_segment_is_escaped(self):
        self.api.add('GET', '/v1/entities/port:a%2Fb',
                     fakes.Answer(200, {'entity': {'key': 'port:a/b'}}))

        self.assertEqual('port:a/b',
                         self.client.entities.get('port:a/b')['key'])
        self.assertIn('/v1/entities/port:a%2Fb', self.api.requests[0].url)

    def test_query_parameters_left_unset_are_not_sent(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]))

        self.client.alarms.list(limit=5, name='vm-down', state=None)

        self.assertEqual({'limit': ['5'], 'name': ['vm-down']},
                         self.api.query())

    def test_delete_expects_no_body(self):
        self.api.add('DELETE', '/v1/alarms/a-1', fakes.Answer(204))

        self.assertIsNone(self.client.alarms.delete('a-1'))

    def test_state_is_put_as_a_json_string(self):
        self.api.add('PUT', '/v1/alarms/a-1/state', fakes.Answer(200, 'ok'))

        self.assertEqual('ok', self.client.alarms.set_state('a-1', 'ok'))
        self.assertEqual('ok', self.api.last_body())


class TestErrors(ClientTestCase):

    def assert_error(self, answer, status, message):
        self.api.add('GET', '/v1/faults/f-1', answer)

        e = self.assertRaises(client.APIError, self.client.faults.get,
                              'f-1')
        self.assertIsInstance(e, osc_exceptions.CommandError)
        self.assertEqual(status, e.status)
        self.assertEqual(message, str(e))

    def test_api_message_is_the_error(self):
        for status, reason in ((400, 'Bad Request'), (403, 'Forbidden'),
                               (404, 'Not Found'), (409, 'Conflict'),
                               (503, 'Service Unavailable')):
            self.assert_error(fakes.error(status, 'Fault f-1 not found.'),
                              status,
                              '%d %s: Fault f-1 not found.'
                              % (status, reason))

    def test_keystonemiddleware_refusal(self):
        self.assert_error(
            fakes.Answer(401, {'error': {
                'code': 401, 'title': 'Unauthorized',
                'message': 'The request you have made requires '
                           'authentication.'}}),
            401, '401 Unauthorized: The request you have made requires '
                 'authentication.')

    def test_a_body_that_is_not_json_is_quoted(self):
        self.assert_error(fakes.Answer(502, text='<html>proxy down</html>'),
                          502, '502 Bad Gateway: <html>proxy down</html>')

    def test_an_empty_error_answer_is_named_by_its_status(self):
        self.assert_error(fakes.Answer(404), 404,
                          '404 Not Found: Not Found')

    def test_a_success_that_is_not_json_is_refused(self):
        self.api.add('GET', '/v1/faults/f-1', fakes.Answer(200, text='<p>'))

        e = self.assertRaises(osc_exceptions.CommandError,
                              self.client.faults.get, 'f-1')
        self.assertIn('not JSON', str(e))

    def test_unreachable_api(self):
        fake = self.useFixture(fakes.FakeDoctor())

        def refuse(request, **kwargs):
            raise requests.ConnectionError('connection refused')
        fake.api.send = refuse

        e = self.assertRaises(osc_exceptions.CommandError,
                              fake.client.alarms.list)
        self.assertIn("Cannot reach doctor's API at %s" % fakes.ROOT, str(e))
        self.assertNotIsInstance(e, client.APIError)

    def test_no_endpoint_names_the_service_type_and_the_option(self):
        session = ks_session.Session(auth=noauth.NoAuth())

        e = self.assertRaises(osc_exceptions.CommandError,
                              client.Client(session).alarms.list)
        self.assertIn('fault-management', str(e))
        self.assertIn('--os-doctor-url', str(e))


class TestPaging(ClientTestCase):

    def test_alarm_list_reads_pages_until_an_empty_one(self):
        first = [{'alarm_id': 'a-%d' % n} for n in range(3)]
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, first),
                     fakes.Answer(200, [{'alarm_id': 'a-3'}]),
                     fakes.Answer(200, []))

        alarms = self.client.alarms.list(state='ok')

        self.assertEqual(['a-0', 'a-1', 'a-2', 'a-3'],
                         [alarm['alarm_id'] for alarm in alarms])
        self.assertEqual([('GET', '/v1/alarms?state=ok'),
                          ('GET', '/v1/alarms?marker=a-2&state=ok'),
                          ('GET', '/v1/alarms?marker=a-3&state=ok')],
                         self.api.calls())

    def test_alarm_list_with_a_limit_reads_one_page(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]))

        self.assertEqual([ALARM], self.client.alarms.list(limit=1))
        self.assertEqual(1, len(self.api.requests))

    def test_object_lists_follow_next_links(self):
        next_href = (fakes.ROOT + '/v1/entities?type=host&limit=1'
                     '&marker=host:compute-0')
        self.api.add(
            'GET', '/v1/entities',
            fakes.Answer(200, {'entities': [{'key': 'host:compute-0'}],
                               'links': [{'rel': 'next',
                                          'href': next_href}]}),
            fakes.Answer(200, {'entities': [{'key': 'host:compute-1'}],
                               'links': []}))

        entities = self.client.entities.list(type='host')

        self.assertEqual(['host:compute-0', 'host:compute-1'],
                         [entity['key'] for entity in entities])
        self.assertEqual(
            {'type': ['host'], 'limit': ['1'],
             'marker': ['host:compute-0']}, self.api.query())

    def test_object_lists_with_a_limit_read_one_page(self):
        self.api.add('GET', '/v1/faults', fakes.Answer(200, {
            'faults': [{'id': 'f-1'}],
            'links': [{'rel': 'next', 'href': fakes.ROOT + '/v1/faults'}]}))

        self.assertEqual([{'id': 'f-1'}], self.client.faults.list(limit=1))
        self.assertEqual([('GET', '/v1/faults?limit=1')], self.api.calls())


class TestFindAlarm(ClientTestCase):

    def test_by_id(self):
        self.api.add('GET', '/v1/alarms/a-1', fakes.Answer(200, ALARM))

        self.assertEqual(ALARM, self.client.alarms.find('a-1'))
        self.assertEqual(1, len(self.api.requests))

    def test_by_name(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]),
                     fakes.Answer(200, []))

        self.assertEqual(ALARM, self.client.alarms.find('vm-down'))
        self.assertEqual(('GET', '/v1/alarms?name=vm-down'),
                         self.api.calls()[1])

    def test_unknown_is_the_apis_404(self):
        self.api.add('GET', '/v1/alarms/nope',
                     fakes.error(404, 'Alarm nope not found.'))
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, []))

        e = self.assertRaises(client.APIError, self.client.alarms.find,
                              'nope')
        self.assertEqual('404 Not Found: Alarm nope not found.', str(e))

    def test_a_name_of_several_alarms_asks_for_an_id(self):
        self.api.add('GET', '/v1/alarms',
                     fakes.Answer(200, [ALARM, dict(ALARM, alarm_id='a-2')]),
                     fakes.Answer(200, []))

        e = self.assertRaises(osc_exceptions.CommandError,
                              self.client.alarms.find, 'vm-down')
        self.assertEqual("2 alarms are named 'vm-down': give the id of one",
                         str(e))

    def test_other_errors_are_not_taken_for_a_name(self):
        self.api.add('GET', '/v1/alarms/a-1',
                     fakes.error(403, 'Policy does not allow it.'))

        e = self.assertRaises(client.APIError, self.client.alarms.find,
                              'a-1')
        self.assertEqual(403, e.status)
        self.assertEqual(1, len(self.api.requests))
