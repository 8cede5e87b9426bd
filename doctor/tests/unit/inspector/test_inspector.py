"""Tests of the inspector's fault handling, with a scripted controller."""

import itertools
import threading
import time
from unittest import mock

from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.inspector import actions as actions_mod
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector.controllers import base as controller_base
from doctor.synchronizer import entity as entity_mod
from doctor.tests import base
from doctor.tests.unit.inspector import fakes
from doctor.tests.unit.inspector import test_cache

record = test_cache.record


def event(host: str, status: str = 'down', monitor: str = 'm1',
          event_id: str = 'e1') -> dict:
    return {'id': event_id, 'time': '2026-11-22T10:00:00.000100+00:00',
            'type': 'compute.host.down',
            'details': {'hostname': host, 'status': status,
                        'monitor': monitor, 'monitor_event_id': 'me-1'}}


class InspectorTestCase(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(action_retry_interval=0.01, group='inspector')
        self.cache = cache_mod.HostCache()
        self.cache.apply([
            record(entity_mod.HOST, 'c0', state='up',
                   attributes={'service_id': 's0'}),
            record(entity_mod.HOST, 'c1', state='up'),
            test_cache.instance('i1', 'c0'),
            test_cache.instance('i2', 'c0', project_id='p2'),
            test_cache.instance('i3', 'c0', state='error'),
            test_cache.instance('i4', 'c0', state='deleted'),
            test_cache.instance('i9', 'c1'),
            test_cache.port('p1', 'c0', 'i1',
                            attributes={'data_plane_status': 'ACTIVE'}),
            test_cache.port('p9', 'c1', 'i9'),
        ])
        self.controller = fakes.RecordingController()
        self.announcer = fakes.RecordingAnnouncer()
        self.context = doctor_context.get_admin_context()

    def make(self) -> inspector_mod.Inspector:
        inspector = inspector_mod.Inspector(
            self.conf, self.db, self.cache,
            inspector_mod.Router([self.controller]), self.announcer)
        self.addCleanup(inspector.stop)
        return inspector

    def report(self, inspector, *events) -> list:
        fault_ids = inspector.report_failures(self.context, list(events))
        for fault_id in fault_ids:
            if fault_id:
                self.assertTrue(inspector.wait(fault_id, 10))
        return fault_ids


class TestHostDown(InspectorTestCase):

    def test_every_action_of_a_host_runs_and_is_recorded(self):
        inspector = self.make()
        [fault_id] = self.report(inspector, event('c0'))
        self.assertEqual(
            ['host:c0', 'instance:i1', 'instance:i2', 'port:p1'],
            sorted(self.controller.targets()))
        calls = {call[0]: call for call in self.controller.calls}
        self.assertEqual(True, calls['host:c0'][1])
        self.assertEqual('error', calls['instance:i1'][1])
        self.assertEqual(fault_id, calls['instance:i1'][2].fault_id)
        self.assertTrue(calls['instance:i1'][2].announced)
        fault = self.db.get_fault(fault_id)
        self.assertEqual('c0', fault['host'])
        self.assertEqual('open', fault['status'])
        self.assertEqual(
            [(0, 'hostdown', 'm1'), (1, 'raw_failure_received', 'inspector'),
             (2, 'found_affected', 'inspector'),
             (3, 'marked_host_down', 'inspector'),
             (4, 'set_vm_error', 'inspector'),
             (5, 'notified_vm_error', 'inspector')],
            [(c['number'], c['name'], c['component'])
             for c in fault['checkpoints']])
        self.assertEqual('2026-11-22T10:00:00.000100+00:00',
                         fault['checkpoints'][0]['timestamp'])
        stamps = [c['timestamp'] for c in fault['checkpoints'][1:]]
        self.assertEqual(sorted(stamps[:3]), stamps[:3])
        self.assertEqual(
            {'instance:i1': 'set error', 'instance:i2': 'set error',
             'instance:i3': 'none: already error',
             'instance:i4': 'none: already deleted',
             'port:p1': 'set data-plane DOWN'},
            {'%s:%s' % (a['type'], a['id']): a['action']
             for a in fault['affected']})
        self.assertEqual(
            {('set_host_down', 'host:c0', 'ok'),
             ('set_instance_state', 'instance:i1', 'ok'),
             ('set_instance_state', 'instance:i2', 'ok'),
             ('set_port_dp_down', 'port:p1', 'ok')},
            {(a['name'], a['target'], a['result'])
             for a in fault['actions']})
        for action in fault['actions']:
            self.assertEqual('recording', action['controller'])
            self.assertGreaterEqual(action['duration_ms'], 0)
            self.assertEqual(1, action['attempts'])

    def test_announcements(self):
        inspector = self.make()
        [fault_id] = self.report(inspector, event('c0'))
        self.assertEqual(
            sorted([('instance', 'i1', 'error', fault_id),
                    ('instance', 'i2', 'error', fault_id),
                    ('host', 'c0', True, fault_id),
                    ('port', 'p1', 'DOWN', fault_id)]),
            sorted(self.announcer.sent))

    def test_without_early_notification_the_controller_announces(self):
        self.config.config(notify_early=False, group='inspector')
        self.controller.name = 'local'
        inspector = self.make()
        [fault_id] = self.report(inspector, event('c0'))
        self.assertNotIn('instance', [s[0] for s in self.announcer.sent])
        calls = {call[0]: call for call in self.controller.calls}
        self.assertFalse(calls['instance:i1'][2].announced)
        fault = self.db.get_fault(fault_id)
        self.assertEqual('controller', fault['checkpoints'][5]['component'])

    def test_stopped_is_configurable(self):
        self.config.config(instance_fault_state='stopped', group='inspector')
        inspector = self.make()
        self.report(inspector, event('c0'))
        states = {call[0]: call[1] for call in self.controller.calls
                  if call[0].startswith('instance:')}
        # An instance in error is left alone whatever the target state.
        self.assertEqual({'instance:i1': 'stopped',
                          'instance:i2': 'stopped'}, states)

    def test_duplicates_are_one_fault(self):
        inspector = self.make()
        first = self.report(inspector, event('c0'))
        again = self.report(inspector, event('c0', monitor='m2',
                                             event_id='e2'),
                            event('c0', monitor='m1', event_id='e3'))
        self.assertEqual(first * 2, again)
        self.assertEqual(1, self.controller.targets().count('host:c0'))
        fault = self.db.get_fault(first[0])
        self.assertEqual(['e1', 'e2', 'e3'],
                         [r['id'] for r in fault['reports']])

    def test_window_zero_and_recovered_host_makes_a_new_fault(self):
        self.config.config(duplicate_window=0, group='inspector')
        inspector = self.make()
        [first] = self.report(inspector, event('c0'))
        [closed] = inspector.report_failures(self.context,
                                             [event('c0', 'up')])
        self.assertEqual(first, closed)
        [second] = self.report(inspector, event('c0'))
        self.assertNotEqual(first, second)

    def test_late_report_joins_the_closed_fault_a_new_failure_does_not(self):
        inspector = self.make()
        late = event('c0', event_id='late')
        late['time'] = inspector_mod.now_iso()
        [first] = self.report(inspector, event('c0'))
        inspector.report_failures(self.context, [event('c0', 'up')])
        # Detected before the recovery, told after it: the same failure.
        self.assertEqual([first], self.report(inspector, late))
        again = event('c0', event_id='again')
        again['time'] = inspector_mod.now_iso()
        [second] = self.report(inspector, again)
        self.assertNotEqual(first, second)
        # Down, up (on recovery), down again.
        self.assertEqual([False, True, True],
                         sorted(call[1] for call in self.controller.calls
                                if call[0] == 'host:c0'))

    def test_unknown_host_takes_no_event(self):
        inspector = self.make()
        self.assertRaises(exception.HostNotFound, inspector.report_failures,
                          self.context, [event('c0'), event('nowhere')])
        self.assertEqual([], self.controller.calls)
        self.assertEqual({}, self.db.get_open_faults())

    def test_bad_events_are_refused(self):
        inspector = self.make()
        for events, field in (
                ([{'details': {'status': 'down'}}], 'details.hostname'),
                ([{'details': 'c0'}], 'details'),
                ([event('c0', status='sideways')], 'details.status')):
            e = self.assertRaises(exception.Invalid,
                                  inspector.report_failures, self.context,
                                  events)
            self.assertIn(field, str(e))
        self.assertRaises(exception.Invalid, inspector.report_failures,
                          self.context, 'c0')

    def test_a_slow_action_holds_none_of_the_others(self):
        self.controller.delay['instance:i1'] = 1.0
        inspector = self.make()
        started = time.monotonic()
        [fault_id] = inspector.report_failures(self.context, [event('c0')])
        self.assertLess(time.monotonic() - started, 0.5)
        deadline = time.monotonic() + 0.8
        while ('instance:i2' not in self.controller.targets()
               and time.monotonic() < deadline):
            time.sleep(0.005)
        self.assertIn('instance:i2', self.controller.targets())
        self.assertTrue(inspector.wait(fault_id, 10))

    def test_transient_failures_are_retried_final_ones_are_not(self):
        self.controller.transient['instance:i1'] = 2
        self.controller.fail['instance:i2'] = exception.EntityNotFound(
            key='instance:i2')
        self.controller.transient['port:p1'] = 99
        inspector = self.make()
        [fault_id] = self.report(inspector, event('c0'))
        actions = {a['target']: a for a in
                   self.db.get_fault(fault_id)['actions']}
        self.assertEqual(('ok', 3), (actions['instance:i1']['result'],
                                     actions['instance:i1']['attempts']))
        self.assertEqual(('failed', 1), (actions['instance:i2']['result'],
                                         actions['instance:i2']['attempts']))
        self.assertIn('instance:i2', actions['instance:i2']['error'])
        self.assertEqual(('failed', 4), (actions['port:p1']['result'],
                                         actions['port:p1']['attempts']))
        # A port not set down is not announced as down.
        self.assertNotIn('port', [s[0] for s in self.announcer.sent])
        self.assertEqual('ok', actions['host:c0']['result'])

    def test_a_host_with_nothing_on_it(self):
        self.cache.apply([record(entity_mod.HOST, 'empty', state='up')])
        inspector = self.make()
        [fault_id] = self.report(inspector, event('empty'))
        fault = self.db.get_fault(fault_id)
        self.assertEqual([], fault['affected'])
        self.assertEqual(6, len(fault['checkpoints']))

    def test_many_faults_at_once_share_the_pool(self):
        self.config.config(action_workers=2, group='inspector')
        for n in range(20):
            self.cache.apply([test_cache.instance('x%d' % n, 'c1')])
        inspector = self.make()
        ids = self.report(inspector, event('c0'), event('c1'))
        self.assertEqual(2, len(set(ids)))
        self.assertEqual(21, len([t for t in self.controller.targets()
                                  if t.startswith('instance:x')
                                  or t == 'instance:i9']))


class HostFirstController(fakes.RecordingController):
    """Keeps what had been called when each host call began and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.at_host_start: dict[str, list[str]] = {}
        self.at_host_end: dict[str, list[str]] = {}

    def set_host_down(self, context, host, down):
        self.at_host_start[host.name] = self.targets()
        super().set_host_down(context, host, down)
        self.at_host_end[host.name] = self.targets()


class TestHostFirst(InspectorTestCase):
    """The host is forced down first, never queued behind other calls."""

    def setUp(self):
        super().setUp()
        self.controller = HostFirstController()

    def test_instances_are_set_after_the_host_call_returned(self):
        self.controller.delay['host:c0'] = 0.2
        inspector = self.make()

        self.report(inspector, event('c0'))

        self.assertEqual(['host:c0', 'port:p1'],
                         sorted(self.controller.at_host_end['c0']))
        self.assertEqual(['host:c0', 'instance:i1', 'instance:i2',
                          'port:p1'], sorted(self.controller.targets()))

    def test_instances_are_set_even_when_the_host_call_failed(self):
        self.controller.fail['host:c0'] = exception.HostNotFound(host='c0')
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        results = {action['target']: action['result']
                   for action in self.db.get_fault(fault_id)['actions']}
        self.assertEqual({'host:c0': 'failed', 'instance:i1': 'ok',
                          'instance:i2': 'ok', 'port:p1': 'ok'}, results)

    def test_a_host_is_not_queued_behind_another_faults_actions(self):
        self.config.config(action_workers=1, group='inspector')
        for n in range(20):
            self.cache.apply([test_cache.instance('x%d' % n, 'c1')])
            self.controller.delay['instance:x%d' % n] = 0.05
        inspector = self.make()
        [first] = inspector.report_failures(self.context, [event('c1')])

        self.report(inspector, event('c0', event_id='e2'))
        self.assertTrue(inspector.wait(first, 10))

        # c1's instances were still being set when c0 was forced down.
        self.assertLess(
            len([target for target in self.controller.at_host_start['c0']
                 if target.startswith('instance:x')]), 20)


class TestBatches(InspectorTestCase):
    """A controller that takes a fault's instances and ports together."""

    def setUp(self):
        super().setUp()
        for n in range(5):
            self.cache.apply([test_cache.instance('b%d' % n, 'c0')])
        self.controller = fakes.BatchingController()

    def actions(self, fault_id: str) -> dict[str, tuple]:
        return {action['target']: (action['result'], action['attempts'],
                                   action.get('error'))
                for action in self.db.get_fault(fault_id)['actions']}

    def test_one_call_for_the_instances_one_for_the_ports(self):
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        self.assertEqual(
            [['instance:b0', 'instance:b1', 'instance:b2', 'instance:b3',
              'instance:b4', 'instance:i1', 'instance:i2'], ['port:p1']],
            sorted(sorted(batch) for batch in self.controller.batches))
        actions = self.actions(fault_id)
        self.assertEqual(9, len(actions))
        self.assertEqual({('ok', 1, None)}, set(actions.values()))
        self.assertEqual('batching',
                         self.db.get_fault(fault_id)['actions'][0]
                         ['controller'])

    def test_the_ports_of_the_batch_are_announced_together(self):
        # p2 fails for good, p3 once for a transient reason: announced
        # alone once its own call succeeds. The others leave together.
        self.cache.apply([test_cache.port('p%d' % n, 'c0', 'b%d' % n)
                          for n in range(2, 6)])
        self.controller.fail['port:p2'] = exception.EntityNotFound(
            key='port:p2')
        self.controller.transient['port:p3'] = 1
        # Which emit_all call sent each port (None: none), whatever
        # thread each emit runs on.
        calls = itertools.count()
        current = threading.local()
        sent_by: dict[str, int | None] = {}
        emit_all = self.announcer.emit_all
        port_dp_update = self.announcer.port_dp_update

        def tagged(emit, call):
            def run():
                current.call = call
                try:
                    emit()
                finally:
                    current.call = None
            return run

        def recording(emits):
            call = next(calls)
            return emit_all([tagged(emit, call) for emit in emits])

        def recording_port(port, status, fault_id=None):
            sent_by[port.id] = getattr(current, 'call', None)
            port_dp_update(port, status, fault_id)
        self.announcer.emit_all = recording
        self.announcer.port_dp_update = recording_port

        def ports():
            return list(sent_by)
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        self.assertEqual(['p1', 'p3', 'p4', 'p5'], sorted(ports()))
        # p1, p4 and p5 were sent by one emit_all; p3 came after, alone.
        together = sent_by['p1']
        self.assertIsNotNone(together)
        self.assertEqual([together] * 3,
                         [sent_by['p1'], sent_by['p4'], sent_by['p5']])
        self.assertNotEqual(together, sent_by['p3'])
        self.assertEqual(('ok', 2, None), self.actions(fault_id)['port:p3'])
        self.assertEqual('failed', self.actions(fault_id)['port:p2'][0])
        self.assertTrue(inspector.wait(fault_id, 10))

    def test_a_batch_that_partly_fails(self):
        # b1 fails for good; b2 fails once for a transient reason and is
        # tried again alone; the others stand as the batch left them.
        self.controller.fail['instance:b1'] = exception.EntityNotFound(
            key='instance:b1')
        self.controller.transient['instance:b2'] = 1
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        actions = self.actions(fault_id)
        self.assertEqual('failed', actions['instance:b1'][0])
        self.assertEqual(1, actions['instance:b1'][1])
        self.assertIn('instance:b1', actions['instance:b1'][2])
        self.assertEqual(('ok', 2, None), actions['instance:b2'])
        for other in ('b0', 'b3', 'b4', 'i1', 'i2'):
            self.assertEqual(('ok', 1, None), actions['instance:' + other])
        # b2's second try was a call of its own, after the batch.
        self.assertEqual(['instance:b2', 'instance:b2'],
                         [target for target in self.controller.targets()
                          if target == 'instance:b2'])
        self.assertEqual(2, len(self.controller.batches))

    def test_an_item_tried_again_waits_its_backoff(self):
        self.controller.transient['instance:b2'] = 2
        inspector = self.make()
        sleeps = []
        with mock.patch.object(actions_mod.time, 'sleep', autospec=True,
                               side_effect=sleeps.append):
            [fault_id] = self.report(inspector, event('c0'))

        self.assertEqual(('ok', 3, None), self.actions(fault_id)[
            'instance:b2'])
        # action_retry_interval 0.01: the batch was its first attempt.
        self.assertEqual([0.01, 0.02], sleeps)

    def test_an_item_is_tried_again_even_while_the_pool_stops(self):
        inspector = self.make()
        inspector._pool.shutdown(wait=True)
        self.controller.transient['instance:b2'] = 1
        instance = controller_base.Instance(id='b2', host='c0')
        ended = []

        inspector.actions.batch(
            'set_instance_state', controller_base.INSTANCE, [instance],
            self.controller,
            lambda items: self.controller.set_instance_states(
                None, items, 'error'),
            lambda item: lambda: self.controller.set_instance_state(
                None, item, 'error'),
            lambda item, outcome: ended.append(outcome.record))

        self.assertEqual([('ok', 2)], [(record['result'], record['attempts'])
                                       for record in ended])

    def test_a_transient_failure_given_up_after_the_retries(self):
        self.config.config(action_retries=1, group='inspector')
        self.controller.transient['instance:b2'] = 5
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        result, attempts, error = self.actions(fault_id)['instance:b2']
        self.assertEqual(('failed', 2), (result, attempts))
        self.assertIn('busy', error)

    def test_no_retries_a_transient_failure_fails_at_once(self):
        self.config.config(action_retries=0, group='inspector')
        self.controller.transient['instance:b2'] = 1
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        result, attempts, error = self.actions(fault_id)['instance:b2']
        self.assertEqual(('failed', 1), (result, attempts))
        self.assertIn('busy', error)
        self.assertEqual(1, self.controller.targets().count('instance:b2'))

    def test_a_whole_batch_that_fails_fails_each_item(self):
        self.controller.batch_fail['instance'] = RuntimeError(
            'controller broken')
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        actions = self.actions(fault_id)
        instances = {target: value for target, value in actions.items()
                     if target.startswith('instance:')}
        self.assertEqual(7, len(instances))
        for result, attempts, error in instances.values():
            self.assertEqual(('failed', 1, 'controller broken'),
                             (result, attempts, error))
        self.assertEqual(('ok', 1, None), actions['port:p1'])

    def test_a_whole_batch_failing_for_a_transient_reason_is_retried(self):
        self.controller.batch_fail['instance'] = (
            controller_base.TransientError('busy'))
        inspector = self.make()

        [fault_id] = self.report(inspector, event('c0'))

        actions = self.actions(fault_id)
        self.assertEqual(('ok', 2, None), actions['instance:b0'])
        self.assertEqual(9, len(actions))

    def test_batches_of_the_configured_size(self):
        self.config.config(action_batch_size=3, group='inspector')
        inspector = self.make()

        self.report(inspector, event('c0'))

        self.assertEqual(
            [1, 1, 3, 3],
            sorted(len(batch) for batch in self.controller.batches))


class AnnouncementOrder(fakes.RecordingController):
    """Keeps, for each instance call, what had been announced by then."""

    def __init__(self, announcer) -> None:
        super().__init__()
        self.announcer = announcer
        self.seen: list[int] = []

    def set_instance_state(self, context, instance, state):
        with self.announcer._lock:
            self.seen.append(sum(1 for sent in self.announcer.sent
                                 if sent[0] == 'instance'))
        super().set_instance_state(context, instance, state)


class SlowAnnouncer(fakes.RecordingAnnouncer):

    def instance_update(self, instance, state, fault_id=None):
        time.sleep(0.01)
        super().instance_update(instance, state, fault_id)


class TestAnnouncementsFirst(InspectorTestCase):
    """The early notifications of a fault leave before any instance's
    call (Nova's calls come one per server).
    """

    def test_every_notification_before_the_first_instance_call(self):
        for n in range(10):
            self.cache.apply([test_cache.instance('a%d' % n, 'c0')])
        self.announcer = SlowAnnouncer()
        self.controller = AnnouncementOrder(self.announcer)
        inspector = self.make()

        self.report(inspector, event('c0'))

        self.assertEqual([12] * 12, self.controller.seen)


class TestHostUpAndPorts(InspectorTestCase):

    def test_recovery_closes_the_fault_and_sets_the_host_up(self):
        inspector = self.make()
        [fault_id] = self.report(inspector, event('c0'))
        result = inspector.report_host(self.context, 'c0', False)
        self.assertEqual({'host': 'c0', 'state': 'up', 'fault_id': None},
                         result)
        deadline = time.monotonic() + 5
        while (('host', 'c0', False, fault_id) not in self.announcer.sent
               and time.monotonic() < deadline):
            time.sleep(0.01)
        self.assertIn(('host', 'c0', False, fault_id), self.announcer.sent)
        self.assertIn(('host:c0', False), [c[:2] for c in
                                           self.controller.calls])
        self.assertEqual('closed', self.db.get_fault(fault_id)['status'])

    def test_recovery_of_a_host_without_fault_does_nothing(self):
        inspector = self.make()
        self.assertEqual([None], inspector.report_failures(
            self.context, [event('c1', 'up')]))
        self.assertEqual([], self.controller.calls)

    def test_report_host_down_through_the_api(self):
        inspector = self.make()
        result = inspector.report_host(self.context, 'c1', True)
        self.assertEqual('down', result['state'])
        self.assertTrue(inspector.wait(result['fault_id'], 10))
        fault = self.db.get_fault(result['fault_id'])
        self.assertEqual('api', fault['checkpoints'][0]['component'])
        self.assertRaises(exception.HostNotFound, inspector.report_host,
                          self.context, 'c9', True)

    def test_port_toggles_are_announced_once(self):
        inspector = self.make()
        view = inspector.set_port_dp_down(self.context, 'p1', True)
        self.assertEqual(('p1', 'DOWN', True, 'c0', 'i1'),
                         (view['id'], view['data_plane_status'],
                          view['dp_down'], view['host'],
                          view['device_id']))
        self.assertEqual([('port', 'p1', 'DOWN', None)], self.announcer.sent)
        # The cache follows the store; as the store says DOWN now, setting
        # it DOWN again toggles nothing.
        self.cache.apply([test_cache.port(
            'p1', 'c0', 'i1', 1, action=entity_mod.UPDATE,
            attributes={'data_plane_status': 'DOWN'})])
        inspector.set_port_dp_down(self.context, 'p1', True)
        self.assertEqual(1, len(self.announcer.sent))
        inspector.set_port_dp_down(self.context, 'p1', False)
        self.assertEqual(('port', 'p1', 'ACTIVE', None),
                         self.announcer.sent[-1])

    def test_port_errors(self):
        inspector = self.make()
        self.assertRaises(exception.PortNotFound,
                          inspector.set_port_dp_down, self.context, 'nope',
                          True)
        self.controller.fail['port:p1'] = RuntimeError('neutron said no')
        e = self.assertRaises(exception.ServiceUnavailable,
                              inspector.set_port_dp_down, self.context,
                              'p1', True)
        self.assertIn('neutron said no', str(e))


class TestRouter(base.TestCase):

    def test_first_controller_that_handles_a_kind_wins(self):
        nova = fakes.RecordingController(name='nova', handles=(
            controller_base.HOST, controller_base.INSTANCE))
        local = fakes.RecordingController(name='local')
        router = inspector_mod.Router([nova, local])
        self.assertIs(nova, router[controller_base.HOST])
        self.assertIs(nova, router[controller_base.INSTANCE])
        self.assertIs(local, router[controller_base.PORT])

    def test_a_kind_nobody_handles_is_a_config_error(self):
        nova = fakes.RecordingController(name='nova', handles=(
            controller_base.HOST, controller_base.INSTANCE))
        e = self.assertRaises(exception.ConfigInvalid, inspector_mod.Router,
                              [nova])
        self.assertIn('port', str(e))

    def test_unknown_controller_names_the_choices(self):
        self.config.config(controllers=['local', 'warp'], group='inspector')
        e = self.assertRaises(exception.ConfigInvalid,
                              inspector_mod.load_controllers, self.conf)
        self.assertIn('warp', str(e))
        self.assertIn('nova', str(e))


class TestConcurrency(InspectorTestCase):

    def test_racing_reports_of_one_host_make_one_fault(self):
        inspector = self.make()
        results: list = []
        barrier = threading.Barrier(4)

        def report(n):
            barrier.wait()
            results.extend(inspector.report_failures(
                self.context, [event('c0', monitor='m%d' % n,
                                     event_id='e%d' % n)]))

        threads = [threading.Thread(target=report, args=(n,))
                   for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        self.assertEqual(1, len(set(results)))
        self.assertTrue(inspector.wait(results[0], 10))
        self.assertEqual(1, self.controller.targets().count('host:c0'))
