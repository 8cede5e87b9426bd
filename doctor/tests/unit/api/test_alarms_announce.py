"""Alarm changes reach the evaluators and the bus before the answer."""

import threading

import oslo_messaging as messaging

from doctor.common import rpc
from doctor.evaluator import rpcapi
from doctor.objects import alarm as alarm_obj
from doctor.tests.unit.api import base


class TestEvaluatorCasts(base.APITestCase):

    def _cast_alarm(self, index: int = -1) -> alarm_obj.Alarm:
        call = self.alarm_changed.call_args_list[index]
        self.assertIsInstance(call.args[0], rpcapi.EvaluatorAPI)
        self.assertIsInstance(call.args[2], alarm_obj.Alarm)
        return call.args[2]

    def test_creation_is_cast_with_the_rule_and_the_caller(self):
        created = self.create()

        self.assertEqual(1, self.alarm_changed.call_count)
        context = self.alarm_changed.call_args.args[1]
        self.assertEqual(base.PROJECT, context.project_id)
        self.assertEqual(base.USER, context.user_id)
        alarm = self._cast_alarm()
        self.assertEqual(created['alarm_id'], alarm.alarm_id)
        self.assertEqual(created['notification_rule'], alarm.rule)
        self.assertEqual(created['resource_id'], alarm.resource_id)
        self.assertEqual(created['alarm_actions'], alarm.alarm_actions)
        self.assertEqual('insufficient data', alarm.state)
        self.assertTrue(alarm.enabled)

    def test_replacement_is_cast(self):
        created = self.create()

        self.request('PUT', '/v1/alarms/' + created['alarm_id'],
                     base.alarm_body(enabled=False, resource_id='vm-2'))

        alarm = self._cast_alarm()
        self.assertEqual(2, self.alarm_changed.call_count)
        self.assertFalse(alarm.enabled)
        self.assertEqual('vm-2', alarm.resource_id)

    def test_state_set_is_cast(self):
        created = self.create()

        self.request('PUT', '/v1/alarms/%s/state' % created['alarm_id'],
                     'alarm')

        self.assertEqual('alarm', self._cast_alarm().state)

    def test_deletion_is_cast(self):
        created = self.create()

        self.request('DELETE', '/v1/alarms/' + created['alarm_id'])

        self.assertEqual(1, self.alarm_deleted.call_count)
        _api, context, alarm_id = self.alarm_deleted.call_args.args
        self.assertEqual(created['alarm_id'], alarm_id)
        self.assertEqual(base.PROJECT, context.project_id)

    def test_reads_cast_nothing(self):
        created = self.create()
        self.alarm_changed.reset_mock()

        for suffix in ('', '/state', '/history'):
            self.request('GET', '/v1/alarms/' + created['alarm_id'] + suffix)
        self.request('GET', '/v1/alarms')

        self.assertFalse(self.alarm_changed.called)
        self.assertFalse(self.alarm_deleted.called)

    def test_the_alarm_is_stored_when_the_cast_goes_out(self):
        stored = []
        self.alarm_changed.side_effect = (
            lambda api, context, alarm: stored.append(
                self.db.get_alarm(alarm.alarm_id)))

        created = self.create()

        self.assertEqual([created['alarm_id']],
                         [row['alarm_id'] for row in stored])

    def test_a_failed_cast_does_not_fail_the_request(self):
        self.alarm_changed.side_effect = messaging.MessageDeliveryFailure(
            'broker gone')
        self.alarm_deleted.side_effect = messaging.MessageDeliveryFailure(
            'broker gone')

        created = self.create()
        response = self.request('DELETE',
                                '/v1/alarms/' + created['alarm_id'])

        self.assertEqual(204, response.status_int)


class TestNotifications(base.APITestCase):

    def test_creation_emits_alarm_creation_with_the_alarm(self):
        created = self.create()

        [(event_type, payload)] = self.events()
        self.assertEqual('alarm.creation', event_type)
        self.assertEqual(created, payload['detail'])
        self.assertEqual(created['alarm_id'], payload['alarm_id'])
        self.assertEqual('creation', payload['type'])
        self.assertEqual(base.PROJECT, payload['on_behalf_of'])
        self.assertEqual(base.USER, payload['user_id'])
        self.assertEqual(self.history(created['alarm_id'])[0]['event_id'],
                         payload['event_id'])

    def test_notifier_publishes_as_the_api_of_this_host(self):
        self.create()

        notifier = self.notified.call_args.args[0]
        self.assertEqual('doctor.api.' + self.conf.host,
                         notifier.publisher_id)

    def test_each_change_type_has_its_event(self):
        created = self.create()
        path = '/v1/alarms/' + created['alarm_id']
        self.request('PUT', path, base.alarm_body(name='renamed'))
        self.request('PUT', path + '/state', 'ok')
        self.request('DELETE', path)

        events = self.events()

        self.assertEqual(['alarm.creation', 'alarm.rule_change',
                          'alarm.state_transition', 'alarm.deletion'],
                         [event_type for event_type, _payload in events])
        self.assertEqual({'name': 'renamed'}, events[1][1]['detail'])
        self.assertEqual('ok', events[2][1]['detail']['state'])
        self.assertEqual('renamed', events[3][1]['detail']['name'])

    def test_put_with_a_new_state_emits_both_events(self):
        created = self.create()

        self.request('PUT', '/v1/alarms/' + created['alarm_id'],
                     base.alarm_body(name='renamed', state='alarm'))

        self.assertEqual(
            ['alarm.creation', 'alarm.rule_change',
             'alarm.state_transition'],
            [event_type for event_type, _payload in self.events()])

    def test_rejected_requests_emit_nothing(self):
        self.request('POST', '/v1/alarms', base.alarm_body(name=''))

        self.assertEqual([], self.events())

    def test_a_failed_emission_does_not_fail_the_request(self):
        self.notified.side_effect = messaging.MessageDeliveryFailure(
            'broker gone')

        created = self.create()

        self.assertEqual(['creation'],
                         [e['type'] for e in self.history(
                             created['alarm_id'])])


class _Endpoint:
    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict]] = []
        self.arrived = threading.Event()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.received.append((publisher_id, event_type, payload))
        self.arrived.set()


class TestNotificationsOnTheBus(base.APITestCase):

    PATCH_NOTIFIER = False

    def test_alarm_creation_reaches_a_listener(self):
        endpoint = _Endpoint()
        listener = rpc.get_notification_listener(
            self.conf, [messaging.Target(topic='notifications')],
            [endpoint])
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)

        created = self.create()

        self.assertTrue(endpoint.arrived.wait(10))
        publisher_id, event_type, payload = endpoint.received[0]
        self.assertEqual('doctor.api.' + self.conf.host, publisher_id)
        self.assertEqual('alarm.creation', event_type)
        self.assertEqual(created, payload['detail'])
