"""Tests of the evaluator's intake, worker threads and races."""

import threading
from unittest import mock

import fixtures

from doctor.evaluator import evaluator
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
        transition = self.db.transition_states
        calls = []

        def flaky(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError('database went away')
            return transition(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True, side_effect=flaky))
        self._run(lambda: self._submit('error', n=1),
                  lambda: self._submit('error', n=2))
        # The database answered: the transition it refused is dropped
        # alone, and the next event moves the alarm.
        self.assertEqual(['req-2'], [f.request_id for f in self.fired])
        self.assertIn('caused by event msg-1 (compute.instance.update); '
                      'dropping that transition alone', self.logger.output)
        self.assertEqual(2, self.engine.events_evaluated)

    def test_a_failing_batch_skips_only_its_events(self):
        # Three events of one alarm, evaluated together: each waits for
        # the previous one's move to be stored, and only the first store
        # fails.
        self.create_alarm(ok_actions=['test://ok'])
        transition = self.db.transition_states
        calls = []

        def flaky(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise RuntimeError('database went away')
            return transition(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True, side_effect=flaky))
        self.engine.load_index()
        events = [self.instance_event(state, message_id='msg-%d' % n)
                  for n, state in enumerate(['error', 'error', 'active'])]
        self.assertEqual(2, self.engine.evaluate_batch(events))
        self.assertEqual(['alarm', 'ok'], [f.current for f in self.fired])
        self.assertIn('caused by event msg-0 (compute.instance.update); '
                      'dropping that transition alone', self.logger.output)
        self.assertNotIn('msg-1', self.logger.output)

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


class TestBatch(fixture.EngineTestCase):
    """Events evaluated together, their transitions stored together."""

    def setUp(self):
        super().setUp()
        self.alarms = [
            self.create_alarm(resource_id='instance-%d' % i,
                              ok_actions=['test://ok'])
            for i in range(5)]
        self.engine.load_index()

    def _errors(self):
        return [self.instance_event('error', instance_id='instance-%d' % i,
                                    message_id='msg-%d' % i)
                for i in range(5)]

    def _count_stores(self):
        return self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True,
            side_effect=self.db.transition_states)).mock

    def test_one_transaction_for_a_burst(self):
        stores = self._count_stores()
        self.assertEqual(5, self.engine.evaluate_batch(self._errors()))
        self.assertEqual(1, stores.call_count)
        self.assertEqual(sorted(a['alarm_id'] for a in self.alarms),
                         sorted(f.alarm_id for f in self.fired))
        for alarm in self.alarms:
            self.assertEqual('alarm', self.state_of(alarm['alarm_id']))
            self.assertEqual(1, len(self.state_changes(alarm['alarm_id'])))

    def test_a_lost_race_in_the_middle_refreshes_that_alarm_only(self):
        lost = self.alarms[2]['alarm_id']
        # Another replica moved it already; this engine does not know.
        self.db.transition_state(lost, 'ok', 'alarm', 'elsewhere',
                                 self.alarms[2]['timestamp'], None, [])
        self.assertEqual(4, self.engine.evaluate_batch(self._errors()))
        self.assertNotIn(lost, [f.alarm_id for f in self.fired])
        self.assertEqual(4, len(self.fired))
        self.assertEqual('alarm', self.engine.index.get(lost).state)
        self.assertEqual([], self.state_changes(lost))
        # Refreshed: the recovery is seen as a move of its own.
        self.assertEqual(1, self.engine.evaluate(self.instance_event(
            'active', instance_id='instance-2')))
        self.assertEqual('ok', self.state_of(lost))

    def test_events_of_one_alarm_stay_in_order(self):
        stores = self._count_stores()
        events = []
        for n, state in enumerate(['error', 'active', 'error']):
            for i in (0, 1):
                events.append(self.instance_event(
                    state, instance_id='instance-%d' % i,
                    message_id='msg-%d-%d' % (n, i)))
        self.assertEqual(6, self.engine.evaluate_batch(events))
        # Each round waits for the previous one to be stored.
        self.assertEqual(3, stores.call_count)
        for i in (0, 1):
            alarm_id = self.alarms[i]['alarm_id']
            self.assertEqual(['alarm', 'ok', 'alarm'],
                             [f.current for f in self.fired
                              if f.alarm_id == alarm_id])
            self.assertEqual('alarm', self.state_of(alarm_id))
            self.assertEqual(3, len(self.state_changes(alarm_id)))

    def test_worker_takes_what_is_queued(self):
        stores = self._count_stores()
        self.config.config(executor_threads=1, group='evaluator')
        engine = self.make_engine()
        engine.load_index()
        tickets = []
        for event in self._errors():
            tickets.append(evaluator.Ticket())
            engine._queues[0].put((event, tickets[-1]))
        engine.start()
        engine.stop()
        self.assertEqual(5, engine.events_evaluated)
        self.assertEqual(1, stores.call_count)
        self.assertEqual(5, len(self.fired))
        self.assertEqual([evaluator.Outcome.DONE] * 5,
                         [ticket.outcome for ticket in tickets])
