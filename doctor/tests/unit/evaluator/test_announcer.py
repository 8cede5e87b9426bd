"""Tests of the announcer: transition notifications and peer updates."""

import datetime
import threading
from unittest import mock

import fixtures
import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test
from oslo_serialization import jsonutils

from doctor.common import rpc
from doctor.evaluator import announcer
from doctor.evaluator import index
from doctor.tests import base
from doctor.tests.unit.db import factory

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0)


def publish_states(states, timestamps):
    """What the evaluator service gives the announcer to tell its peers."""


def stamp(seconds=0):
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat()


def transition(alarm_id, state, previous='ok', seconds=0):
    alarm = index.IndexedAlarm(factory.alarm_values(alarm_id=alarm_id))
    change = factory.change_values(
        alarm_id, 'state transition',
        timestamp=T0 + datetime.timedelta(seconds=seconds),
        detail=jsonutils.dumps({'state': state, 'previous': previous,
                                'transition_reason': 'why'}))
    return alarm, change


class TestAnnouncer(base.TestCase):

    def setUp(self):
        super().setUp()
        _impl_test.reset()
        self.notifier = messaging.Notifier(
            rpc.get_notification_transport(self.conf),
            publisher_id='doctor.evaluator.test', driver='test')
        self.publish = mock.create_autospec(publish_states)
        self.logger = self.useFixture(fixtures.FakeLogger())

    def _announce(self, *transitions, notifier=None, publish=None):
        """Queue ``transitions`` before the thread starts, then drain."""
        subject = announcer.Announcer(notifier or self.notifier,
                                      publish or self.publish)
        for alarm, change in transitions:
            subject.transitioned(alarm, change)
        subject.start()
        subject.stop()
        return subject

    def _emitted(self):
        return [message for _ctxt, message, _priority, _retry
                in _impl_test.NOTIFICATIONS]

    def test_each_transition_is_notified_in_order(self):
        first = transition('a-1', 'alarm', seconds=1)
        second = transition('a-2', 'insufficient data', seconds=2)
        self._announce(first, second)
        emitted = self._emitted()
        self.assertEqual(['alarm.state_transition'] * 2,
                         [m['event_type'] for m in emitted])
        payload = emitted[0]['payload']
        change = first[1]
        self.assertEqual(change['event_id'], payload['event_id'])
        self.assertEqual('a-1', payload['alarm_id'])
        self.assertEqual({'state': 'alarm', 'previous': 'ok',
                          'transition_reason': 'why'}, payload['detail'])
        self.assertEqual(factory.PROJECT_ID, payload['project_id'])
        self.assertEqual(factory.USER_ID, payload['user_id'])
        self.assertEqual('2024-05-01T12:00:01', payload['timestamp'])
        self.assertEqual('a-2', emitted[1]['payload']['alarm_id'])

    def test_a_burst_is_one_peer_message_with_the_latest_states(self):
        self._announce(transition('a-1', 'alarm'),
                       transition('a-2', 'alarm', seconds=1),
                       transition('a-1', 'ok', previous='alarm', seconds=2))
        self.publish.assert_called_once_with(
            {'a-1': 'ok', 'a-2': 'alarm'}, {'a-1': stamp(2), 'a-2': stamp(1)})

    def test_later_transitions_are_announced_too(self):
        subject = announcer.Announcer(self.notifier, self.publish)
        subject.start()
        self.addCleanup(subject.stop)
        subject.transitioned(*transition('a-1', 'alarm'))
        subject.transitioned(*transition('a-2', 'alarm'))
        subject.stop()
        states = {}
        for call in self.publish.call_args_list:
            states.update(call.args[0])
        self.assertEqual({'a-1': 'alarm', 'a-2': 'alarm'}, states)
        self.assertEqual(2, len(self._emitted()))

    def test_failing_notifier_does_not_stop_peer_updates(self):
        notifier = mock.create_autospec(messaging.Notifier, instance=True)
        notifier.info.side_effect = RuntimeError('bus down')
        self._announce(transition('a-1', 'alarm'), notifier=notifier)
        self.publish.assert_called_once_with({'a-1': 'alarm'},
                                             {'a-1': stamp()})
        self.assertIn('Cannot emit alarm.state_transition of a-1',
                      self.logger.output)

    def test_failing_peer_update_does_not_stop_the_announcer(self):
        self.publish.side_effect = [RuntimeError('fanout failed'), None]
        subject = announcer.Announcer(self.notifier, self.publish)
        subject.transitioned(*transition('a-1', 'alarm'))
        subject.start()
        self.addCleanup(subject.stop)
        for _ in range(1000):
            if self.publish.call_count:
                break
            threading.Event().wait(0.01)
        subject.transitioned(*transition('a-2', 'alarm'))
        subject.stop()
        self.assertEqual([mock.call({'a-1': 'alarm'}, {'a-1': stamp()}),
                          mock.call({'a-2': 'alarm'}, {'a-2': stamp()})],
                         self.publish.call_args_list)
        self.assertIn('Cannot send 1 alarm states to the other evaluators',
                      self.logger.output)

    def test_nobody_to_tell(self):
        subject = announcer.Announcer()
        subject.transitioned(*transition('a-1', 'alarm'))
        subject.start()
        subject.stop()
        self.assertEqual([], self._emitted())

    def test_stop_without_start(self):
        announcer.Announcer(self.notifier, self.publish).stop()
        self.publish.assert_not_called()
