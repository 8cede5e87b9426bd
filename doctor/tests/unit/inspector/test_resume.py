"""Faults survive their inspector: stored steps, resume, takeover."""

import datetime
import threading

from oslo_utils import timeutils

from doctor.inspector import inspector as inspector_mod
from doctor.inspector import ownership
from doctor.inspector import progress
from doctor.tests.unit.inspector import fakes
from doctor.tests.unit.inspector import test_inspector

event = test_inspector.event


def until(predicate) -> None:
    """Return once ``predicate()`` holds (the recorder writes apart)."""
    ready = threading.Event()
    while not predicate():
        ready.wait(0.01)


EVERY_STEP = ['announce_instance:instance:i1',
              'announce_instance:instance:i2',
              'set_host_down:host:c0',
              'set_instance_state:instance:i1',
              'set_instance_state:instance:i2',
              'set_port_dp_down:port:p1']


class GatedController(fakes.RecordingController):
    """Calls of ``held`` targets wait until ``gate`` is set."""

    def __init__(self, held: set[str]) -> None:
        super().__init__()
        self.held = held
        self.gate = threading.Event()

    def _call(self, target: str, *record) -> None:
        if target in self.held:
            self.gate.wait()
        super()._call(target, *record)


class ResumeTestCase(test_inspector.InspectorTestCase):

    def make(self, controller=None, **kwargs) -> inspector_mod.Inspector:
        inspector = inspector_mod.Inspector(
            self.conf, self.db, self.cache,
            inspector_mod.Router([controller or self.controller]),
            self.announcer, **kwargs)
        self.addCleanup(inspector.stop)
        return inspector

    def dead_fault(self, owner: str = 'dead-run', done=(),
                   heartbeat_at: datetime.datetime | None = None) -> dict:
        """A fault of c0 accepted by an inspector that died at once."""
        plan = progress.plan('c0', self.cache.lookup('c0'), 'error', True)
        now = timeutils.utcnow()
        fault, created = self.db.create_fault({
            'id': 'f-dead', 'host': 'c0', 'type': 'compute.host.down',
            'created_at': now, 'checkpoints': [
                inspector_mod.checkpoint(inspector_mod.HOSTDOWN, 'm1',
                                         inspector_mod.now_iso())],
            'reports': [{'id': 'e0'}], 'affected': plan.affected,
            'steps': plan.steps, 'owner': owner,
            'heartbeat_at': heartbeat_at or now},
            duplicate_after=now - datetime.timedelta(seconds=60))
        self.assertTrue(created)
        if done:
            records = [{'name': key.split(':', 1)[0],
                        'target': key.split(':', 1)[1], 'result': 'ok',
                        'controller': 'recording', 'duration_ms': 1.0,
                        'attempts': 1, 'started_at': inspector_mod.now_iso()}
                       for key in done if not key.startswith('announce')]
            self.db.record_fault_steps({'f-dead': (list(done), records)})
        return self.db.get_fault('f-dead')

    def wait_handled(self, inspector, fault_id: str) -> dict:
        self.assertTrue(inspector.wait(fault_id, 10))
        fault = self.db.get_fault(fault_id)
        self.assertIsNotNone(fault['handled_at'])
        return fault


class TestStoredSteps(ResumeTestCase):

    def test_steps_are_stored_before_any_action_and_marked_as_they_end(self):
        controller = GatedController({'instance:i2'})
        self.addCleanup(controller.gate.set)
        inspector = self.make(controller)
        [fault_id] = inspector.report_failures(self.context, [event('c0')])

        fault = self.db.get_fault(fault_id)
        self.assertEqual(EVERY_STEP, sorted(s['key'] for s in fault['steps']))
        self.assertEqual((inspector.owner, None),
                         (fault['owner'], fault['handled_at']))
        self.assertIsNotNone(fault['heartbeat_at'])
        # Every step but the held one ends and is recorded as it ends.
        others = sorted(set(EVERY_STEP)
                        - {'set_instance_state:instance:i2'})
        until(lambda: sorted(self.db.get_fault(fault_id)['done']) == others)
        self.assertIsNone(self.db.get_fault(fault_id)['handled_at'])

        controller.gate.set()
        fault = self.wait_handled(inspector, fault_id)
        self.assertEqual(EVERY_STEP, sorted(fault['done']))
        self.assertEqual(4, len(fault['actions']))
        self.assertEqual(list(range(6)),
                         [c['number'] for c in fault['checkpoints']])
        self.assertEqual([], fault['resumes'])

    def test_a_step_recorded_twice_is_one_record(self):
        fault = self.dead_fault(done=['set_host_down:host:c0'])
        self.db.record_fault_steps({fault['id']: (
            ['set_host_down:host:c0'],
            [{'name': 'set_host_down', 'target': 'host:c0',
              'result': 'ok', 'started_at': inspector_mod.now_iso()}])})
        fault = self.db.get_fault(fault['id'])
        self.assertEqual(['set_host_down:host:c0'], fault['done'])
        self.assertEqual(1, len(fault['actions']))


class TestResumeOnStart(ResumeTestCase):

    def test_a_starting_inspector_runs_the_steps_left(self):
        self.dead_fault(done=['set_host_down:host:c0',
                              'announce_instance:instance:i1'])
        inspector = self.make()

        self.assertEqual(['f-dead'], inspector.resume_stuck(starting=True))

        fault = self.wait_handled(inspector, 'f-dead')
        # Only what was not done runs again.
        self.assertEqual(['instance:i1', 'instance:i2', 'port:p1'],
                         sorted(self.controller.targets()))
        self.assertEqual([('instance', 'i2', 'error', 'f-dead'),
                          ('port', 'p1', 'DOWN', 'f-dead')],
                         sorted(self.announcer.sent))
        self.assertEqual(EVERY_STEP, sorted(fault['done']))
        self.assertEqual(4, len(fault['actions']))
        self.assertEqual([(ownership.RESTART, inspector.owner, 'dead-run')],
                         [(r['reason'], r['by'], r['previous_owner'])
                          for r in fault['resumes']])
        # The dead run had recorded checkpoint 0; the resumed one ends it.
        self.assertEqual([0, 3, 4, 5],
                         [c['number'] for c in fault['checkpoints']])

    def test_a_handled_or_closed_fault_is_left_alone(self):
        self.dead_fault()
        self.db.close_fault('c0', timeutils.utcnow())
        inspector = self.make()
        self.assertEqual([], inspector.resume_stuck(starting=True))
        self.assertEqual([], self.controller.calls)

    def test_without_coordination_only_a_start_resumes_a_live_fault(self):
        self.dead_fault()
        inspector = self.make()
        # The owner's heartbeat is fresh: at a heartbeat it is not stuck.
        self.assertEqual([], inspector.resume_stuck())
        self.assertEqual(['f-dead'], inspector.resume_stuck(starting=True))
        self.wait_handled(inspector, 'f-dead')


class TestTakeover(ResumeTestCase):

    def members(self, *ids: str, at: datetime.datetime | None = None):
        listed = ownership.Members(frozenset(ids),
                                   at or timeutils.utcnow())
        return lambda: listed

    def test_a_replica_takes_over_the_faults_of_one_that_left(self):
        beat = timeutils.utcnow() - datetime.timedelta(seconds=1)
        self.dead_fault(owner='a', heartbeat_at=beat)
        inspector = self.make(owner='b', members=self.members('b'))

        inspector.heartbeat()

        fault = self.wait_handled(inspector, 'f-dead')
        self.assertEqual(('b', [(ownership.TAKEOVER, 'b', 'a')]),
                         (fault['owner'],
                          [(r['reason'], r['by'], r['previous_owner'])
                           for r in fault['resumes']]))
        self.assertEqual(EVERY_STEP, sorted(fault['done']))

    def test_a_live_member_keeps_its_faults(self):
        self.dead_fault(owner='a')
        inspector = self.make(owner='b', members=self.members('a', 'b'))
        self.assertEqual([], inspector.resume_stuck(starting=True))
        self.assertEqual('a', self.db.get_fault('f-dead')['owner'])

    def test_a_member_that_left_before_its_last_heartbeat_was_not_listed(self):
        # The list is older than the owner's heartbeat: the owner may have
        # joined since.
        old = timeutils.utcnow() - datetime.timedelta(seconds=5)
        self.dead_fault(owner='a')
        inspector = self.make(owner='b', members=self.members('b', at=old))
        self.assertEqual([], inspector.resume_stuck())

    def test_a_silent_owner_loses_its_faults_after_the_timeout(self):
        self.config.config(fault_takeover_timeout=10, group='inspector')
        beat = timeutils.utcnow() - datetime.timedelta(seconds=11)
        self.dead_fault(owner='a', heartbeat_at=beat)
        inspector = self.make(owner='b', members=self.members('a', 'b'))
        self.assertEqual(['f-dead'], inspector.resume_stuck())
        self.wait_handled(inspector, 'f-dead')

    def test_one_of_two_replicas_wins_a_fault(self):
        fault = self.dead_fault(owner='a')
        now = timeutils.utcnow()
        first = self.db.claim_fault('f-dead', 'b', 'a',
                                    fault['heartbeat_at'], now, 'takeover')
        second = self.db.claim_fault('f-dead', 'c', 'a',
                                     fault['heartbeat_at'], now, 'takeover')
        self.assertEqual('b', first['owner'])
        self.assertIsNone(second)
        self.assertEqual('b', self.db.get_fault('f-dead')['owner'])

    def test_heartbeats_keep_a_running_fault_alive(self):
        controller = GatedController({'host:c0'})
        self.addCleanup(controller.gate.set)
        inspector = self.make(controller)
        [fault_id] = inspector.report_failures(self.context, [event('c0')])
        before = self.db.get_fault(fault_id)['heartbeat_at']
        later = before + datetime.timedelta(seconds=30)
        timeutils.set_time_override(later)
        self.addCleanup(timeutils.clear_time_override)

        inspector.heartbeat()

        self.assertEqual(later, self.db.get_fault(fault_id)['heartbeat_at'])
        controller.gate.set()
        self.wait_handled(inspector, fault_id)


class TestReportOnStuckFault(ResumeTestCase):

    def test_a_report_takes_a_stuck_fault_over(self):
        self.config.config(fault_takeover_timeout=10, group='inspector')
        beat = timeutils.utcnow() - datetime.timedelta(seconds=11)
        self.dead_fault(owner='a', heartbeat_at=beat,
                        done=['set_host_down:host:c0'])
        inspector = self.make(owner='b', members=self.members_of('a', 'b'))

        self.assertEqual(['f-dead'], inspector.report_failures(
            self.context, [event('c0', event_id='e2')]))

        fault = self.wait_handled(inspector, 'f-dead')
        self.assertEqual([(ownership.REPORT, 'b', 'a')],
                         [(r['reason'], r['by'], r['previous_owner'])
                          for r in fault['resumes']])
        self.assertEqual(['e0', 'e2'], [r['id'] for r in fault['reports']])
        self.assertNotIn('host:c0', self.controller.targets())
        self.assertEqual(EVERY_STEP, sorted(fault['done']))

    def test_a_report_joins_a_fault_that_progresses(self):
        self.dead_fault(owner='a')
        inspector = self.make(owner='b', members=self.members_of('a', 'b'))
        self.assertEqual(['f-dead'], inspector.report_failures(
            self.context, [event('c0', event_id='e2')]))
        self.assertEqual([], self.controller.calls)
        fault = self.db.get_fault('f-dead')
        self.assertEqual(('a', []), (fault['owner'], fault['resumes']))

    @staticmethod
    def members_of(*ids: str):
        listed = ownership.Members(frozenset(ids), timeutils.utcnow())
        return lambda: listed


class TestRule(ResumeTestCase):

    def rule(self, coordinated=False, members=None) -> ownership.Rule:
        return ownership.Rule('me', 10.0, lambda: members, coordinated)

    def fault(self, **values) -> dict:
        now = datetime.datetime(2026, 1, 1, 12, 0, 0)
        fault = {'status': 'open', 'handled_at': None, 'steps': [{}],
                 'owner': 'other', 'heartbeat_at': now}
        fault.update(values)
        return fault

    def test_rule(self):
        now = datetime.datetime(2026, 1, 1, 12, 0, 5)
        late = now + datetime.timedelta(seconds=10)
        alone = self.rule()
        self.assertFalse(alone.stuck(self.fault(), False, now=now))
        self.assertTrue(alone.stuck(self.fault(), False, starting=True,
                                    now=now))
        self.assertTrue(alone.stuck(self.fault(), False, now=late))
        self.assertFalse(alone.stuck(self.fault(handled_at=now), False,
                                     starting=True, now=now))
        self.assertFalse(alone.stuck(self.fault(status='closed'), False,
                                     starting=True, now=now))
        self.assertFalse(alone.stuck(self.fault(steps=[]), False,
                                     starting=True, now=now))
        self.assertTrue(alone.stuck(self.fault(owner='me'), False, now=now))
        self.assertFalse(alone.stuck(self.fault(owner='me'), True, now=now))
        # Unsure of the group: only the heartbeat counts.
        unsure = self.rule(coordinated=True)
        self.assertFalse(unsure.stuck(self.fault(), False, starting=True,
                                      now=now))
        gone = self.rule(True, ownership.Members(frozenset({'me'}), now))
        self.assertTrue(gone.stuck(self.fault(), False, now=now))
