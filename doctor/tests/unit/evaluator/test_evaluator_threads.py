"""Tests of the evaluator's intake, worker threads and races."""

import threading
from unittest import mock

import fixtures

from doctor.tests.unit.evaluator import fixture
from doctor.tests.unit.evaluator import samples


class TestSubmit(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(executor_threads=4, group='evaluator')
        self.engine = self.make_engine()
        self.logger = self.useFixture(fixtures.FakeLogger())

    def _submit(self, state, instance_id=samples.INSTANCE_ID, n=0):
        payload = samples.nova_legacy_update(state=state,
                                             instance_id=instance_id)
        self.engine.submit({'request_id': 'req-%d' % n},
                           'compute.compute-0', 'compute.instance.update',
                           payload, {'message_id': 'msg-%d' % n})

    def _run(self, *submissions):
        self.engine.load_index()
        self.engine.start()
        try:
            for submit in submissions:
                submit()
        finally:
            self.engine.stop()

    def test_events_of_one_resource_in_order(self):
        alarm = self.create_alarm(ok_actions=['test://ok'])
        states = ['error', 'active'] * 15 + ['error']
        self._run(*[lambda s=s, n=n: self._submit(s, n=n)
                    for n, s in enumerate(states)])
        self.assertEqual(['alarm', 'ok'] * 15 + ['alarm'],
                         [f.current for f in self.fired])
        self.assertEqual(['req-%d' % n for n in range(len(states))],
                         [f.request_id for f in self.fired])
        self.assertEqual('alarm', self.state_of(alarm['alarm_id']))
        self.assertEqual(len(states), self.engine.events_evaluated)

    def test_resources_interleaved(self):
        resources = ['instance-%d' % i for i in range(8)]
        for resource in resources:
            self.create_alarm(resource_id=resource, ok_actions=['test://ok'])
        submissions = []
        for n in range(4):
            for resource in resources:
                state = 'error' if n % 2 == 0 else 'active'
                submissions.append(
                    lambda s=state, r=resource: self._submit(s, r))
        self._run(*submissions)
        by_alarm = {}
        for firing in self.fired:
            by_alarm.setdefault(firing.alarm_id, []).append(firing.current)
        self.assertEqual(8, len(by_alarm))
        for currents in by_alarm.values():
            self.assertEqual(['alarm', 'ok', 'alarm', 'ok'], currents)

    def test_malformed_notifications_are_dropped(self):
        alarm = self.create_alarm()
        submit = self.engine.submit
        self._run(
            lambda: submit({}, 'compute.compute-0', None, {}, {}),
            lambda: submit(None, None, 42, 'garbage', 'garbage'),
            lambda: submit({}, 'compute.compute-0',
                           'compute.instance.update', 'not a dict',
                           {'message_id': 'msg-x'}),
            lambda: submit({}, 'glance', 'image.update', {'id': 'i'}, {}),
            lambda: self._submit('error'))
        self.assertEqual(['alarm'], [f.current for f in self.fired])
        self.assertEqual(alarm['alarm_id'], self.fired[0].alarm_id)
        self.assertEqual(1, self.engine.events_evaluated)
        self.assertIn('Dropping malformed notification', self.logger.output)

    def test_a_failing_evaluation_does_not_stop_the_worker(self):
        self.create_alarm()
        transition = self.db.transition_state
        calls = []

        def flaky(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError('database went away')
            return transition(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_state', autospec=True, side_effect=flaky))
        self._run(lambda: self._submit('error', n=1),
                  lambda: self._submit('error', n=2))
        self.assertEqual(['req-2'], [f.request_id for f in self.fired])
        self.assertIn('Evaluating event msg-1 (compute.instance.update) '
                      'failed', self.logger.output)
        self.assertEqual(2, self.engine.events_evaluated)

    def test_stop_without_start(self):
        self.engine.stop()
        self.assertEqual(0, self.engine.events_evaluated)


class TestCompareAndSet(fixture.EngineTestCase):

    def _race(self, engines, event):
        barrier = threading.Barrier(len(engines))
        results = []

        def run(engine):
            barrier.wait()
            results.append(engine.evaluate(event))
        threads = [threading.Thread(target=run, args=(engine,))
                   for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    def test_two_engines_one_event_one_firing(self):
        alarms = [self.create_alarm(resource_id='instance-%d' % i)
                  for i in range(10)]
        engines = [self.make_engine() for _ in range(2)]
        for engine in engines:
            engine.load_index()
        for i, alarm in enumerate(alarms):
            event = self.instance_event('error',
                                        instance_id='instance-%d' % i)
            self.assertEqual([0, 1], sorted(self._race(engines, event)))
            self.assertEqual(1, len(self.state_changes(alarm['alarm_id'])))
        self.assertEqual(sorted(a['alarm_id'] for a in alarms),
                         sorted(f.alarm_id for f in self.fired))

    def test_loser_follows_the_winner(self):
        alarm = self.create_alarm(ok_actions=['test://ok'])
        first, second = self.make_engine(), self.make_engine()
        first.load_index()
        second.load_index()
        first.evaluate(self.instance_event('error'))
        self.assertEqual(0, second.evaluate(self.instance_event('error')))
        self.assertEqual(1, second.evaluate(self.instance_event('active')))
        self.assertEqual(['alarm', 'ok'], [f.current for f in self.fired])
        self.assertEqual('ok', self.state_of(alarm['alarm_id']))

    def test_fire_is_called_once_per_won_transition(self):
        self.create_alarm()

        def fire(firing):
            pass
        fire = mock.create_autospec(fire)
        engines = [self.make_engine(fire=fire) for _ in range(3)]
        for engine in engines:
            engine.load_index()
        self._race(engines, self.instance_event('error'))
        self.assertEqual(1, fire.call_count)
