"""Tests of the evaluator RPC API and manager over the test's bus."""

import datetime
import threading

import oslo_messaging as messaging

from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.evaluator import index
from doctor.evaluator import manager
from doctor.evaluator import rpcapi
from doctor.objects import alarm as alarm_obj
from doctor.tests import base
from doctor.tests.unit.db import factory

WAIT = 10


def wait_for(predicate):
    """Wait until ``predicate()`` holds (or WAIT seconds); return it."""
    for _ in range(WAIT * 100):
        if predicate():
            return True
        threading.Event().wait(0.01)
    return predicate()


def stop_servers(servers):
    """Stop every server and wait for them all at once.

    Each wait takes up to a second (the executor's idle workers notice
    the shutdown on a timer), so the waits run side by side.
    """
    for server in servers:
        server.stop()
    waits = [threading.Thread(target=server.wait) for server in servers]
    for wait in waits:
        wait.start()
    for wait in waits:
        wait.join(WAIT)


class OldEvaluatorManager:
    """The endpoint of an evaluator of RPC API 1.0, mid-upgrade."""

    target = messaging.Target(version='1.0')

    def __init__(self, idx):
        self.index = idx

    def alarm_changed(self, context, alarm):
        self.index.put(alarm.as_dict())

    def alarm_deleted(self, context, alarm_id):
        self.index.remove(alarm_id)


class OldEvaluator11Manager(OldEvaluatorManager):
    """The endpoint of an evaluator of RPC API 1.1: states, no timestamps.
    """

    target = messaging.Target(version='1.1')

    def alarm_states_changed(self, context, states):
        for alarm_id, state in states.items():
            self.index.set_state(alarm_id, state)


class TestEvaluatorAPI(base.TestCase):

    def setUp(self):
        super().setUp()
        self.context = doctor_context.get_admin_context()
        self.config.config(executor_thread_pool_size=1)
        self.servers = []
        self.addCleanup(stop_servers, self.servers)
        self.replicas = [self._replica('evaluator-%d' % n)
                         for n in range(2)]

    def _replica(self, host, endpoint=manager.EvaluatorManager):
        idx = index.AlarmIndex()
        target = messaging.Target(topic=rpcapi.TOPIC, server=host)
        server = rpc.get_server(self.conf, target, [endpoint(idx)])
        server.start()
        self.servers.append(server)
        return idx

    def _alarm(self, **overrides):
        return alarm_obj.Alarm.from_dict(factory.alarm_values(**overrides))

    def test_get_target(self):
        self.config.config(host='node-1')
        target = rpcapi.get_target(self.conf)
        self.assertEqual((rpcapi.TOPIC, 'node-1', '1.2'),
                         (target.topic, target.server, target.version))

    def test_alarm_changed_reaches_every_replica(self):
        alarm = self._alarm()
        rpcapi.EvaluatorAPI(self.conf).alarm_changed(self.context, alarm)
        for idx in self.replicas:
            self.assertTrue(wait_for(lambda i=idx: i.get(alarm.alarm_id)))
            entry = idx.get(alarm.alarm_id)
            self.assertEqual(alarm.resource_id, entry.resource_id)
            self.assertEqual(('test://alarm',), entry.alarm_actions)

    def test_alarm_changed_replaces_a_copy_loaded_from_storage(self):
        # Loaded from the database: naive datetimes with microseconds.
        stored = factory.alarm_values(timestamp=factory.T0.replace(
            microsecond=250000))
        for idx in self.replicas:
            idx.put(stored)
        changed = self._alarm(alarm_id=stored['alarm_id'],
                              resource_id='another-resource',
                              timestamp=factory.T0.replace(
                                  microsecond=750000))
        rpcapi.EvaluatorAPI(self.conf).alarm_changed(self.context, changed)
        for idx in self.replicas:
            self.assertTrue(wait_for(
                lambda i=idx: i.candidates('another-resource', None)))

    def test_older_change_does_not_undo_a_newer_one(self):
        alarm = self._alarm(timestamp=factory.T0 + datetime.timedelta(1))
        for idx in self.replicas:
            idx.put(alarm.as_dict())
        api = rpcapi.EvaluatorAPI(self.conf)
        api.alarm_changed(self.context, self._alarm(
            alarm_id=alarm.alarm_id, resource_id='old', timestamp=factory.T0))
        marker = self._alarm()
        api.alarm_changed(self.context, marker)
        for idx in self.replicas:
            self.assertTrue(wait_for(lambda i=idx: i.get(marker.alarm_id)))
            self.assertEqual(alarm.resource_id,
                             idx.get(alarm.alarm_id).resource_id)

    def test_alarm_deleted(self):
        alarm = factory.alarm_values()
        for idx in self.replicas:
            idx.put(alarm)
        rpcapi.EvaluatorAPI(self.conf).alarm_deleted(self.context,
                                                     alarm['alarm_id'])
        for idx in self.replicas:
            self.assertTrue(wait_for(
                lambda i=idx: i.get(alarm['alarm_id']) is None))

    def test_alarm_states_changed(self):
        first, second = factory.alarm_values(), factory.alarm_values()
        for idx in self.replicas:
            idx.put(first)
            idx.put(second)
        rpcapi.EvaluatorAPI(self.conf).alarm_states_changed(
            self.context, {first['alarm_id']: 'alarm',
                           second['alarm_id']: 'insufficient data'})
        for idx in self.replicas:
            self.assertTrue(wait_for(
                lambda i=idx: i.get(second['alarm_id']).state
                == 'insufficient data'))
            self.assertEqual('alarm', idx.get(first['alarm_id']).state)

    def test_stale_announcement_is_discarded(self):
        # Two transitions of one alarm announced out of order: the later
        # one (alarm at T0+2s) arrives first; the earlier (ok at T0+1s)
        # must not move the state back.
        alarm = factory.alarm_values(state_timestamp=factory.T0)
        for idx in self.replicas:
            idx.put(alarm)
        later = (factory.T0 + datetime.timedelta(seconds=2)).isoformat()
        earlier = (factory.T0 + datetime.timedelta(seconds=1)).isoformat()
        api = rpcapi.EvaluatorAPI(self.conf)
        api.alarm_states_changed(self.context, {alarm['alarm_id']: 'alarm'},
                                 {alarm['alarm_id']: later})
        api.alarm_states_changed(self.context, {alarm['alarm_id']: 'ok'},
                                 {alarm['alarm_id']: earlier})
        marker = self._alarm()
        api.alarm_changed(self.context, marker)
        for idx in self.replicas:
            self.assertTrue(wait_for(lambda i=idx: i.get(marker.alarm_id)))
            self.assertEqual('alarm', idx.get(alarm['alarm_id']).state)

    def test_capped_at_1_1_states_go_without_timestamps(self):
        self.config.config(evaluator='1.1', group='upgrade_levels')
        alarm = factory.alarm_values()
        old = self._replica('old-evaluator', OldEvaluator11Manager)
        old.put(alarm)
        api = rpcapi.EvaluatorAPI(self.conf)
        api.alarm_states_changed(self.context, {alarm['alarm_id']: 'alarm'},
                                 {alarm['alarm_id']: factory.T0.isoformat()})
        self.assertTrue(wait_for(
            lambda: old.get(alarm['alarm_id']).state == 'alarm'))

    def _states_then_marker(self, api):
        """Send a state change, then an alarm change; wait for the latter.

        With one executor thread per replica the two are handled in the
        order they were sent.
        """
        alarm, marker = factory.alarm_values(), self._alarm()
        for idx in self.replicas:
            idx.put(alarm)
        api.alarm_states_changed(self.context, {alarm['alarm_id']: 'alarm'})
        api.alarm_changed(self.context, marker)
        for idx in self.replicas:
            self.assertTrue(wait_for(lambda i=idx: i.get(marker.alarm_id)))
        return [idx.get(alarm['alarm_id']).state for idx in self.replicas]

    def test_capped_at_1_0_states_are_not_sent(self):
        self.config.config(evaluator='1.0', group='upgrade_levels')
        self.assertEqual(['ok', 'ok'], self._states_then_marker(
            rpcapi.EvaluatorAPI(self.conf)))

    def test_uncapped_states_are_sent(self):
        self.assertEqual(['alarm', 'alarm'], self._states_then_marker(
            rpcapi.EvaluatorAPI(self.conf)))

    def test_a_1_0_replica_follows_alarm_changes(self):
        old = self._replica('old-evaluator', OldEvaluatorManager)
        api = rpcapi.EvaluatorAPI(self.conf)
        alarm = self._alarm()
        api.alarm_changed(self.context, alarm)
        self.assertTrue(wait_for(lambda: old.get(alarm.alarm_id)))
        api.alarm_deleted(self.context, alarm.alarm_id)
        self.assertTrue(wait_for(lambda: old.get(alarm.alarm_id) is None))


class TestEvaluatorManager(base.TestCase):

    def setUp(self):
        super().setUp()
        self.index = index.AlarmIndex()
        self.manager = manager.EvaluatorManager(self.index)
        self.context = doctor_context.get_admin_context()

    def test_target_version(self):
        self.assertEqual(rpcapi.EvaluatorAPI.RPC_API_VERSION,
                         self.manager.target.version)

    def test_disabled_alarm_leaves_the_index(self):
        alarm = alarm_obj.Alarm.from_dict(factory.alarm_values())
        self.manager.alarm_changed(self.context, alarm)
        self.assertIsNotNone(self.index.get(alarm.alarm_id))
        alarm.enabled = False
        alarm.timestamp = factory.T0 + datetime.timedelta(seconds=1)
        self.manager.alarm_changed(self.context, alarm)
        self.assertIsNone(self.index.get(alarm.alarm_id))

    def test_states_of_unknown_alarms_are_ignored(self):
        self.index.put(factory.alarm_values(alarm_id='a-1'))
        self.manager.alarm_states_changed(self.context, {'a-1': 'alarm',
                                                         'gone': 'ok'})
        self.assertEqual('alarm', self.index.get('a-1').state)
        self.assertIsNone(self.index.get('gone'))
