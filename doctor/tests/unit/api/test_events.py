"""POST /v1/events: raw failures handed to the inspector."""

import copy

import oslo_messaging as messaging
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.tests.unit.api import base

FAULT = 'f7a1c0de-2b3c-4d5e-8f90-a1b2c3d4e5f6'


def event(**overrides) -> dict:
    """A valid event; keyword arguments replace its fields."""
    body = {
        'id': 'e1',
        'time': '2024-05-01T10:00:00.123456+00:00',
        'type': 'compute.host.down',
        'details': {'hostname': 'compute-0', 'status': 'down',
                    'monitor': 'doctor-monitor',
                    'monitor_event_id': 'me-1'},
    }
    body.update(copy.deepcopy(overrides))
    return body


def details(**overrides) -> dict:
    """The details of a valid event, with ``overrides``."""
    return dict(event()['details'], **overrides)


class EventsTestCase(base.InspectorAPITestCase):

    def setUp(self):
        super().setUp()
        self.report_failures.return_value = [FAULT]

    def post(self, body, **kwargs):
        kwargs.setdefault('roles', 'admin')
        return self.request('POST', '/v1/events', body, **kwargs)

    def sent(self) -> list[dict]:
        """The events the inspector was handed."""
        self.report_failures.assert_called_once()
        return self.report_failures.call_args.args[2]


class TestReport(EventsTestCase):

    def test_answers_202_with_the_fault_ids(self):
        response = self.post([event()])

        self.assertEqual(202, response.status_int, response.text)
        self.assertEqual({'fault_ids': [FAULT]}, response.json)

    def test_the_inspector_gets_the_events_and_the_caller(self):
        self.post([event()])

        _api, context, events = self.report_failures.call_args.args
        self.assertEqual((base.PROJECT, base.USER, True),
                         (context.project_id, context.user_id,
                          context.is_admin))
        self.assertEqual([event()], events)

    def test_fault_ids_follow_the_order_of_the_events(self):
        self.report_failures.return_value = ['f1', None, 'f1']
        body = [event(id='e1'),
                event(id='e2', details=details(hostname='compute-1',
                                               status='up')),
                event(id='e3', details=details(monitor='other'))]

        response = self.post(body)

        self.assertEqual({'fault_ids': ['f1', None, 'f1']}, response.json)
        self.assertEqual(['e1', 'e2', 'e3'], [e['id'] for e in self.sent()])
        self.assertEqual(['down', 'up', 'down'],
                         [e['details']['status'] for e in self.sent()])

    def test_an_event_without_id_gets_one(self):
        body = event()
        del body['id']

        self.post([body])

        self.assertTrue(uuidutils.is_uuid_like(self.sent()[0]['id']))

    def test_times_are_sent_in_utc_with_their_offset(self):
        self.post([event(time='2024-05-01T12:00:00.5+02:00'),
                   event(time='2024-05-01T10:00:00'),
                   event(time='2024-05-01T10:00:00Z')])

        self.assertEqual(['2024-05-01T10:00:00.500000+00:00',
                          '2024-05-01T10:00:00.000000+00:00',
                          '2024-05-01T10:00:00.000000+00:00'],
                         [e['time'] for e in self.sent()])

    def test_a_missing_status_is_down(self):
        self.post([event(details={'hostname': 'compute-0'})])

        self.assertEqual({'hostname': 'compute-0', 'status': 'down'},
                         self.sent()[0]['details'])

    def test_a_monitor_may_add_details_of_its_own(self):
        self.post([event(details=details(probe='icmp', misses=3))])

        self.assertEqual(details(probe='icmp', misses=3),
                         self.sent()[0]['details'])

    def test_a_thousand_events_in_one_request(self):
        self.report_failures.return_value = [FAULT] * 1000

        response = self.post([event(id='e%d' % n) for n in range(1000)])

        self.assertEqual(202, response.status_int, response.text)
        self.assertEqual(1000, len(self.sent()))


class TestBadEvents(EventsTestCase):

    def assert_bad(self, body, *fragments: str) -> None:
        self.assert_error(self.post(body), 400, *fragments)
        self.report_failures.assert_not_called()

    def test_not_json(self):
        self.assert_error(self.request('POST', '/v1/events', roles='admin',
                                       raw=b'[{'), 400, 'not valid JSON')
        self.report_failures.assert_not_called()

    def test_no_body(self):
        self.assert_error(self.request('POST', '/v1/events', roles='admin'),
                          400, 'no JSON body')

    def test_not_a_list(self):
        self.assert_bad(event(), 'JSON array')

    def test_an_empty_list(self):
        self.assert_bad([], '1 to 1000 events', 'not 0')

    def test_too_many_events(self):
        self.assert_bad([event()] * 1001, '1 to 1000 events', 'not 1001')

    def test_an_event_that_is_not_an_object(self):
        self.assert_bad([event(), 'compute-0'], "'[1]'", 'object')

    def test_required_fields(self):
        for field in ('time', 'type', 'details'):
            body = event()
            del body[field]
            self.assert_bad([body], "'[0].%s'" % field, 'required')

    def test_an_unknown_field(self):
        self.assert_bad([event(hostname='compute-0')], "'[0].hostname'",
                        'unknown')

    def test_only_host_down_events(self):
        self.assert_bad([event(type='compute.host.up')], "'[0].type'",
                        'compute.host.down')

    def test_time(self):
        for value, fragment in (('yesterday', 'ISO 8601'),
                                ('', '[0].time'),
                                (1714557600, 'string'),
                                ('9999-12-31T23:59:59-05:00', 'ISO 8601')):
            self.assert_bad([event(time=value)], "'[0].time'", fragment)

    def test_a_bad_time_names_its_event(self):
        self.assert_bad([event(), event(time='soon')], "'[1].time'")

    def test_id(self):
        for value in ('', 7, None):
            self.assert_bad([event(id=value)], "'[0].id'")

    def test_details(self):
        self.assert_bad([event(details='compute-0')], "'[0].details'",
                        'object')

    def test_hostname(self):
        self.assert_bad([event(details={'status': 'down'})],
                        "'[0].details.hostname'", 'required')
        for value in ('', None, 12, ['compute-0']):
            self.assert_bad([event(details=details(hostname=value))],
                            "'[0].details.hostname'")

    def test_status(self):
        for value in ('sideways', 'DOWN', True, None):
            self.assert_bad([event(details=details(status=value))],
                            "'[0].details.status'")

    def test_monitor_and_its_event_id_are_strings(self):
        for field in ('monitor', 'monitor_event_id'):
            self.assert_bad([event(details=details(**{field: 3}))],
                            "'[0].details.%s'" % field, 'string')

    def test_query_parameters(self):
        self.assert_error(self.request('POST', '/v1/events?x=1', [event()],
                                       roles='admin'), 400, "'x'")
        self.report_failures.assert_not_called()


class TestInspectorAnswers(EventsTestCase):

    def test_an_unknown_host_is_404_naming_it(self):
        self.report_failures.side_effect = base.remote(
            exception.HostNotFound(host='compute-9'))

        response = self.post([event(details=details(hostname='compute-9'))])

        message = self.assert_error(response, 404, 'compute-9')
        self.assertEqual('Host compute-9 not found.', message)

    def test_an_event_the_inspector_refuses_is_400(self):
        self.report_failures.side_effect = base.remote(
            exception.InvalidField(field='event 0 details',
                                   reason='must be an object'))

        self.assert_error(self.post([event()]), 400, 'event 0 details')

    def test_no_inspector_answering_is_503(self):
        self.report_failures.side_effect = exception.ServiceUnavailable(
            reason='no inspector answered within 5 s')

        self.assert_error(self.post([event()]), 503,
                          'no inspector answered within 5 s')

    def test_an_inspector_failing_is_503_without_its_detail(self):
        self.report_failures.side_effect = messaging.RemoteError(
            'OperationalError', 'database is locked', 'Traceback ...')

        message = self.assert_error(self.post([event()]), 503, 'inspector')
        self.assertNotIn('database', message)

    def test_an_unreachable_bus_is_503(self):
        self.report_failures.side_effect = (
            messaging.MessageDeliveryFailure('connection refused'))

        self.assert_error(self.post([event()]), 503,
                          'no inspector can be reached')


class TestPolicy(EventsTestCase):

    def test_a_member_may_not_report(self):
        self.assert_refused(self.post([event()], roles='member'),
                            'event:create')

    def test_refused_before_the_body_is_read(self):
        self.assert_refused(self.post('nonsense', roles='member'),
                            'event:create')

    def test_a_request_of_no_project_is_401(self):
        self.assert_error(self.post([event()], project=None), 401)
        self.report_failures.assert_not_called()

    def test_only_post(self):
        self.assert_error(self.request('GET', '/v1/events', roles='admin'),
                          405)
        self.assert_error(self.request('PUT', '/v1/events/e1', [event()],
                                       roles='admin'), 405)
        self.report_failures.assert_not_called()
