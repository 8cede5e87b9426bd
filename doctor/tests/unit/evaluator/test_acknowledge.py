"""Tests of what the evaluator acknowledges, and when.

A notification is acknowledged once what it causes is stored; while the
database cannot be reached its event waits; a transition the database
refuses costs only itself; a lost compare-and-set is evaluated again.
"""

import threading
from unittest import mock

import fixtures
import oslo_messaging as messaging

from doctor.evaluator import evaluator
from doctor.evaluator import service
from doctor.tests.unit.evaluator import fixture
from doctor.tests.unit.evaluator import samples

# Generous: only reached if the code under test hangs.
WAIT = 30


class DatabaseSwitch:
    """Makes the test database unreachable, then reachable again.

    While it is down, ``transition_states`` and ``ping`` raise as a driver
    does when the server is gone.
    """

    def __init__(self, test, db) -> None:
        self.down = threading.Event()
        self.tried = threading.Event()
        self.attempts = 0
        ping = db.ping
        transition = db.transition_states

        def guarded_ping():
            if self.down.is_set():
                raise ConnectionRefusedError('database unreachable')
            return ping()

        def guarded_transition(transitions):
            self.attempts += 1
            self.tried.set()
            if self.down.is_set():
                raise ConnectionRefusedError('database unreachable')
            return transition(transitions)
        test.useFixture(fixtures.MockPatchObject(
            db, 'ping', autospec=True, side_effect=guarded_ping))
        test.useFixture(fixtures.MockPatchObject(
            db, 'transition_states', autospec=True,
            side_effect=guarded_transition))


class TestAcknowledgeAfterStore(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(executor_threads=2, group='evaluator')
        self.engine = self.make_engine()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.useFixture(fixtures.MockPatchObject(
            evaluator, '_RETRY_FIRST', 0.001))
        self.useFixture(fixtures.MockPatchObject(
            evaluator, '_RETRY_MAX', 0.01))

    def _submit(self, state, instance_id=samples.INSTANCE_ID, n=0):
        payload = samples.nova_legacy_update(state=state,
                                             instance_id=instance_id)
        return self.engine.submit({'request_id': 'req-%d' % n},
                                  'compute.compute-0',
                                  'compute.instance.update', payload,
                                  {'message_id': 'msg-%d' % n})

    def test_ticket_is_done_only_once_stored(self):
        alarm = self.create_alarm()
        release = threading.Event()
        entered = threading.Event()
        transition = self.db.transition_states

        def slow(transitions):
            entered.set()
            release.wait(WAIT)
            return transition(transitions)
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True, side_effect=slow))
        self.engine.load_index()
        self.engine.start()
        ticket = self._submit('error')
        self.assertTrue(entered.wait(WAIT))
        self.assertIsNone(ticket.outcome)
        self.assertEqual('ok', self.state_of(alarm['alarm_id']))
        release.set()
        self.assertIs(evaluator.Outcome.DONE, ticket.wait(WAIT))
        self.assertEqual('alarm', self.state_of(alarm['alarm_id']))

    def test_unwatched_and_malformed_notifications_are_done_at_once(self):
        self.engine.load_index()
        self.engine.start()
        unwatched = self.engine.submit({}, 'glance', 'image.update',
                                       {'id': 'i'}, {})
        malformed = self.engine.submit({}, 'compute.compute-0',
                                       'compute.instance.update',
                                       'not a dict', {'message_id': 'x'})
        self.assertIs(evaluator.Outcome.DONE, unwatched.outcome)
        self.assertIs(evaluator.Outcome.DONE, malformed.outcome)

    def test_database_away_the_event_waits_and_is_stored(self):
        alarm = self.create_alarm()
        switch = DatabaseSwitch(self, self.db)
        self.engine.load_index()
        switch.down.set()
        self.engine.start()
        ticket = self._submit('error')
        # Tried, failed, and not acknowledged while the database is away.
        for _ in range(3):
            switch.tried.clear()
            self.assertTrue(switch.tried.wait(WAIT))
        self.assertIsNone(ticket.outcome)
        switch.down.clear()
        self.assertIs(evaluator.Outcome.DONE, ticket.wait(WAIT))
        self.assertEqual('alarm', self.state_of(alarm['alarm_id']))
        self.assertEqual(['alarm'], [f.current for f in self.fired])
        self.assertIn('The database cannot be reached', self.logger.output)

    def test_stop_while_the_database_is_away_requeues(self):
        self.create_alarm()
        switch = DatabaseSwitch(self, self.db)
        self.engine.load_index()
        switch.down.set()
        self.engine.start()
        ticket = self._submit('error')
        self.assertTrue(switch.tried.wait(WAIT))
        self.engine.stop()
        self.assertIs(evaluator.Outcome.REQUEUE, ticket.wait(WAIT))
        self.assertEqual([], self.fired)

    def test_submitted_after_stop_is_requeued(self):
        self.engine.load_index()
        self.engine.start()
        self.engine.stop()
        self.assertIs(evaluator.Outcome.REQUEUE,
                      self._submit('error').outcome)

    def test_queued_but_not_started_is_requeued_at_stop(self):
        self.create_alarm()
        self.engine.load_index()
        # No worker runs: the event stays queued until stop.
        ticket = self._submit('error')
        self.engine.stop()
        self.assertIs(evaluator.Outcome.REQUEUE, ticket.outcome)


class TestMalformed(fixture.EngineTestCase):
    """Bad notifications are dropped, each kind logged once."""

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())

    def test_lone_surrogate_in_the_resource_id(self):
        self.engine.load_index()
        self.engine.start()
        payload = samples.nova_legacy_update(state='error',
                                             instance_id='\ud800-instance')
        ticket = self.engine.submit({}, 'compute.compute-0',
                                    'compute.instance.update', payload,
                                    {'message_id': 'msg-1'})
        self.assertIs(evaluator.Outcome.DONE, ticket.wait(WAIT))
        # Evaluated (no alarm can watch such an id), not taken for a bug.
        self.assertEqual(1, self.engine.events_evaluated)
        self.assertNotIn('Traceback', self.logger.output)

    def test_each_kind_is_logged_once(self):
        # An event type that is no string: the transformer refuses it.
        for n in range(5):
            self.engine.submit({}, 'compute.compute-0', 42, {},
                               {'message_id': 'msg-%d' % n})
        self.engine.submit({}, 'compute.compute-1', 42, {},
                           {'message_id': 'msg-other'})
        self.assertEqual(2, self.logger.output.count(
            'Dropping malformed notification'))
        self.assertIn('msg-0', self.logger.output)
        self.assertIn('msg-other', self.logger.output)
        self.assertNotIn('msg-3', self.logger.output)

    def test_a_surrogate_in_what_is_logged_is_escaped(self):
        self.engine.submit({}, 'compute.\ud800', 42, {},
                           {'message_id': '\udfff'})
        self.assertIn('compute.\\ud800', self.logger.output)


class TestRefusedTransition(fixture.EngineTestCase):
    """A transition the database refuses costs only itself."""

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())

    def test_other_transitions_of_the_batch_are_stored(self):
        victim = self.create_alarm(resource_id='instance-victim')
        poison = self.create_alarm(resource_id='instance-poison')
        transition = self.db.transition_states

        def refuse_poison(transitions):
            if any(t.alarm_id == poison['alarm_id'] for t in transitions):
                raise ValueError('A string literal cannot contain NUL')
            return transition(transitions)
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True,
            side_effect=refuse_poison))
        self.engine.load_index()
        events = [self.instance_event('error', instance_id='instance-poison',
                                      message_id='msg-poison'),
                  self.instance_event('error', instance_id='instance-victim',
                                      message_id='msg-victim')]
        self.assertEqual(1, self.engine.evaluate_batch(events))
        self.assertEqual('alarm', self.state_of(victim['alarm_id']))
        self.assertEqual('ok', self.state_of(poison['alarm_id']))
        self.assertEqual([victim['alarm_id']],
                         [f.alarm_id for f in self.fired])
        self.assertIn('Cannot store the transition of alarm %s'
                      % poison['alarm_id'], self.logger.output)
        self.assertNotIn('msg-victim', self.logger.output)


class TestRedelivered(fixture.EngineTestCase):
    """A batch the bus delivers again changes nothing twice."""

    def _event(self, state, second, message_id):
        event = self.instance_event(state, message_id=message_id)
        event.generated = event.generated.replace(second=second)
        return event

    def test_a_batch_delivered_again_adds_no_transition(self):
        # Its acknowledgement was lost with the broker connection: the
        # same two events of one alarm come again, after both were stored.
        alarm = self.create_alarm(ok_actions=['test://ok'])
        self.engine.load_index()
        batch = [self._event('error', 1, 'msg-1'),
                 self._event('active', 2, 'msg-2')]
        self.assertEqual(2, self.engine.evaluate_batch(batch))
        self.assertEqual(0, self.engine.evaluate_batch(batch))
        self.assertEqual(0, self.engine.evaluate_batch(batch[:1]))
        self.assertEqual(['alarm', 'ok'], [f.current for f in self.fired])
        self.assertEqual('ok', self.state_of(alarm['alarm_id']))
        self.assertEqual(2, len(self.state_changes(alarm['alarm_id'])))

    def test_a_newer_event_is_still_evaluated(self):
        self.create_alarm(ok_actions=['test://ok'])
        self.engine.load_index()
        self.engine.evaluate_batch([self._event('error', 1, 'msg-1')])
        self.engine.evaluate_batch([self._event('active', 2, 'msg-2')])
        self.engine.evaluate_batch([self._event('error', 2, 'msg-3')])
        self.assertEqual(['alarm', 'ok', 'alarm'],
                         [f.current for f in self.fired])

    def test_what_an_alarm_has_seen_survives_a_reload(self):
        self.create_alarm(ok_actions=['test://ok'])
        self.engine.load_index()
        batch = [self._event('error', 1, 'msg-1'),
                 self._event('active', 2, 'msg-2')]
        self.engine.evaluate_batch(batch)
        self.engine.load_index()
        self.assertEqual(0, self.engine.evaluate_batch(batch))


class TestLostRace(fixture.EngineTestCase):

    def test_event_is_evaluated_again_against_the_stored_state(self):
        # The index says ok; the database says 'insufficient data' (moved
        # by another replica or the API). The event that loses the
        # compare-and-set is not dropped: it moves the alarm from there.
        alarm = self.create_alarm()
        self.engine.load_index()
        self.db.transition_states([evaluator.db_api.StateTransition(
            alarm['alarm_id'], 'ok', 'insufficient data', 'elsewhere',
            alarm['timestamp'], None, [])])
        self.assertEqual(1, self.engine.evaluate(
            self.instance_event('error')))
        self.assertEqual('alarm', self.state_of(alarm['alarm_id']))
        self.assertEqual([('insufficient data', 'alarm')],
                         [(f.previous, f.current) for f in self.fired])
        self.assertEqual('alarm',
                         self.engine.index.get(alarm['alarm_id']).state)

    def test_event_that_agrees_with_the_stored_state_fires_nothing(self):
        alarm = self.create_alarm()
        self.engine.load_index()
        self.db.transition_states([evaluator.db_api.StateTransition(
            alarm['alarm_id'], 'ok', 'alarm', 'elsewhere',
            alarm['timestamp'], None, [])])
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error')))
        self.assertEqual([], self.fired)
        self.assertEqual('alarm',
                         self.engine.index.get(alarm['alarm_id']).state)


def message(payload=None, message_id='msg-1'):
    """One notification as a batch listener hands it to its endpoint."""
    return {'ctxt': {}, 'publisher_id': 'compute.compute-0',
            'event_type': 'compute.instance.update',
            'payload': payload or {},
            'metadata': {'message_id': message_id,
                         'timestamp': '2024-05-01 10:00:01.000000'}}


class FakeEngine:
    """Stands in for the engine behind the listener's endpoint."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def submit(self, ctxt, publisher_id, event_type, payload, metadata):
        ticket = evaluator.Ticket()
        ticket.finish(self.outcomes.pop(0))
        return ticket


class TestNotificationEndpoint(fixture.EngineTestCase):

    def test_stored_is_handled(self):
        endpoint = service.NotificationEndpoint(
            FakeEngine([evaluator.Outcome.DONE] * 2))
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         endpoint.submit([message(message_id='m1'),
                                          message(message_id='m2')])())

    def test_one_unfinished_at_stop_requeues_the_batch(self):
        endpoint = service.NotificationEndpoint(
            FakeEngine([evaluator.Outcome.DONE, evaluator.Outcome.REQUEUE]))
        self.assertEqual(messaging.NotificationResult.REQUEUE,
                         endpoint.submit([message(message_id='m1'),
                                          message(message_id='m2')])())

    def test_an_id_that_is_no_string_is_evaluated_each_time(self):
        engine = FakeEngine([evaluator.Outcome.DONE] * 2)
        endpoint = service.NotificationEndpoint(engine)
        for _ in range(2):
            self.assertEqual(
                messaging.NotificationResult.HANDLED,
                endpoint.submit([message(message_id=['not', 'hashable'])])())
        self.assertEqual([], engine.outcomes)

    def test_a_copy_of_one_in_flight_shares_its_outcome(self):
        # The next batch is taken while one is stored: a copy redelivered
        # meanwhile (its acknowledgement lost with the connection) must
        # not be evaluated a second time, nor acknowledged before the
        # first is stored.
        engine = FakeEngine([])
        first = evaluator.Ticket()
        engine.submit = mock.Mock(return_value=first)
        endpoint = service.NotificationEndpoint(engine)
        wait_first = endpoint.submit([message(message_id='m1')])
        wait_copy = endpoint.submit([message(message_id='m1')])
        self.assertEqual(1, engine.submit.call_count)
        results = []
        waiting = threading.Thread(
            target=lambda: results.append(wait_copy()))
        waiting.start()
        waiting.join(0.05)
        self.assertEqual([], results)
        first.finish(evaluator.Outcome.REQUEUE)
        waiting.join()
        self.assertEqual([messaging.NotificationResult.REQUEUE] * 2,
                         [wait_first()] + results)
        # Sent back, it is evaluated when it comes again.
        second = evaluator.Ticket()
        second.finish(evaluator.Outcome.DONE)
        engine.submit.return_value = second
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         endpoint.submit([message(message_id='m1')])())
        self.assertEqual(2, engine.submit.call_count)
        # Evaluated, a later copy is skipped.
        self.assertEqual(messaging.NotificationResult.HANDLED,
                         endpoint.submit([message(message_id='m1')])())
        self.assertEqual(2, engine.submit.call_count)

    def test_the_endpoint_waits_for_the_worker_in_order(self):
        self.create_alarm(ok_actions=['test://ok'])
        self.engine.load_index()
        self.engine.start()
        endpoint = service.NotificationEndpoint(self.engine)
        states = ['error', 'active'] * 10 + ['error']
        result = endpoint.submit([
            message(payload=samples.nova_legacy_update(state=state),
                    message_id='msg-%d' % n)
            for n, state in enumerate(states)])()
        self.assertEqual(messaging.NotificationResult.HANDLED, result)
        # Stored before the wait returned, that is before the ack, and in
        # the order of the batch.
        self.assertEqual(['alarm', 'ok'] * 10 + ['alarm'],
                         [f.current for f in self.fired])
