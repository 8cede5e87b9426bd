"""Deliveries that fail: retried with backoff, in order, given up once."""

import datetime
import threading
import uuid

from oslo_utils import timeutils
import sqlalchemy as sa
from stevedore import extension

from doctor.common import exception
from doctor.db import api as db_api
from doctor.notifier import deliverer
from doctor.notifier import dispatch
from doctor.notifier.plugins import base as plugin_base
from doctor.notifier.plugins import test as test_plugin
from doctor.notifier import retry
from doctor.objects import firing as firing_obj
from doctor.tests import base
from doctor.tests.unit.db import factory
from doctor.tests.unit.notifier import test_deliverer

WAIT = test_deliverer.WAIT
T0 = datetime.datetime(2026, 12, 1, 12, 0, 0)


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class TestBackoff(base.TestCase):

    def test_doubles_from_the_initial_wait_up_to_the_maximum(self):
        self.assertEqual(
            [1.0, 2.0, 4.0, 8.0, 10.0, 10.0],
            [retry.backoff(n, 1.0, 10.0, rand=lambda: 0.0)
             for n in range(1, 7)])

    def test_jitter_takes_off_at_most_half(self):
        self.assertEqual(
            [0.5, 1.0, 2.0, 4.0, 5.0],
            [retry.backoff(n, 1.0, 10.0, rand=lambda: 1.0)
             for n in range(1, 6)])
        for n in range(1, 80):
            delay = retry.backoff(n, 1.0, 300.0)
            ceiling = min(300.0, 2.0 ** (n - 1))
            self.assertGreaterEqual(delay, ceiling / 2)
            self.assertLessEqual(delay, ceiling)

    def test_next_attempt_stops_at_the_horizon(self):
        def next_at(now, attempts):
            return retry.next_attempt(_at(now), T0, attempts, horizon=60,
                                      initial=1.0, maximum=40.0,
                                      rand=lambda: 0.0)
        self.assertEqual(_at(11), next_at(10, 1))
        self.assertEqual(_at(42), next_at(10, 6))
        # The last attempt is made at the horizon itself, then given up.
        self.assertEqual(_at(60), next_at(50, 6))
        self.assertIsNone(next_at(60, 7))


class FlakyNotifier(plugin_base.AlarmNotifier):
    """``flaky:`` answers 503 while ``down`` is set, records otherwise."""

    down = threading.Event()
    received: list[tuple[str, dict]] = []
    lock = threading.Condition()

    def notify(self, action, body, request_id):
        if self.down.is_set():
            raise exception.DeliveryFailed(
                action=plugin_base.safe_url(action), reason='HTTP 503')
        with self.lock:
            self.received.append((action.geturl(), body))
            self.lock.notify_all()


class GoneNotifier(plugin_base.AlarmNotifier):
    """``gone:`` answers 404: the attempt would fail the same way later."""

    def notify(self, action, body, request_id):
        raise exception.DeliveryFailed(action=plugin_base.safe_url(action),
                                       reason='HTTP 404 after 1 attempt(s)',
                                       permanent=True)


class BlockingNotifier(plugin_base.AlarmNotifier):
    """``block:`` holds every delivery until ``release`` is set."""

    release = threading.Event()
    started = threading.Semaphore(0)

    def notify(self, action, body, request_id):
        self.started.release()
        # Longer than a test waits for another delivery.
        self.release.wait(WAIT * 3)


class RetryTestCase(test_deliverer.DelivererTestCase):

    PLUGINS = {'flaky': FlakyNotifier, 'gone': GoneNotifier,
               'block': BlockingNotifier}

    def setUp(self):
        self.clock = T0
        timeutils.set_time_override(self.clock)
        self.addCleanup(timeutils.clear_time_override)
        FlakyNotifier.down.clear()
        FlakyNotifier.received = []
        BlockingNotifier.release.clear()
        BlockingNotifier.started = threading.Semaphore(0)
        self.addCleanup(BlockingNotifier.release.set)
        super().setUp()
        self.config.config(retry_horizon=60, retry_initial_backoff=1.0,
                           retry_max_backoff=10.0, redelivery_after=30,
                           group='notifier')

    def make_deliverer(self):
        plugins = dict(self.PLUGINS, test=test_plugin.TestAlarmNotifier)
        notifiers = extension.ExtensionManager.make_test_instance(
            [extension.Extension(name, None, plugin, plugin(self.conf))
             for name, plugin in plugins.items()])
        result = deliverer.Deliverer(self.conf, self.db, notifiers)
        self.addCleanup(result.stop)
        return result

    def advance(self, seconds: float) -> None:
        self.clock += datetime.timedelta(seconds=seconds)
        timeutils.set_time_override(self.clock)

    def store(self, action: str, at: datetime.datetime,
              reason: str) -> firing_obj.AlarmFiring:
        """Store one firing of the alarm, owed at ``at``."""
        firing = firing_obj.AlarmFiring(
            alarm_id=self.alarm_id, alarm_name='InstanceStatusAlarm',
            severity='critical', previous='ok', current='alarm',
            reason=reason, reason_data={},
            deliveries={str(uuid.uuid4()): action}, request_id='req-1',
            fault_id=None)
        self.db.transition_state(
            self.alarm_id, 'ok', 'ok', reason, at, None,
            [{'delivery_id': delivery_id, 'alarm_id': self.alarm_id,
              'action': action, 'firing': firing.to_record(),
              'created_at': at, 'claimed_at': at}
             for delivery_id, action in firing.deliveries.items()])
        return firing

    def attempt(self, firing) -> list:
        results = [future.result(WAIT)
                   for future in self.deliverer.deliver(firing)]
        self.deliverer.flush()
        return results

    def redeliver(self) -> None:
        """Scan for due deliveries, wait for them and write them down.

        The deliverer's own scans may take a due delivery first: either
        way it is attempted once.
        """
        self.deliverer.redeliver_stale()
        self.assertTrue(self.deliverer._queues.wait_idle(WAIT))
        self.assertTrue(self.deliverer.flush())


class TestRetry(RetryTestCase):

    def test_failed_delivery_stays_stored_with_its_next_attempt(self):
        FlakyNotifier.down.set()
        firing = self.store('flaky://vnfm/alarm', T0, 'r1')

        self.assertEqual([False], self.attempt(firing))

        [row] = factory.stored_deliveries(self.db)
        self.assertEqual(1, row['attempts'])
        # The first wait is 1 s, less up to half of it.
        self.assertGreaterEqual(row['next_attempt_at'], _at(0.5))
        self.assertLessEqual(row['next_attempt_at'], _at(1))
        self.assertEqual([], self.action_entries())

    def test_retried_until_the_consumer_is_back(self):
        FlakyNotifier.down.set()
        firing = self.store('flaky://vnfm/alarm', T0, 'r1')
        self.attempt(firing)
        self.advance(1)
        self.redeliver()
        self.assertEqual(2, factory.stored_deliveries(self.db)[0]['attempts'])

        FlakyNotifier.down.clear()
        self.advance(2)
        self.redeliver()

        self.assertEqual([('flaky://vnfm/alarm', firing.webhook_body())],
                         FlakyNotifier.received)
        self.assertEqual([], factory.stored_deliveries(self.db))
        self.assertEqual([], self.action_entries())

    def test_not_due_yet_is_not_attempted(self):
        FlakyNotifier.down.set()
        self.attempt(self.store('flaky://vnfm/alarm', T0, 'r1'))
        self.assertEqual(0, self.deliverer.redeliver_stale())
        self.assertEqual(1, factory.stored_deliveries(self.db)[0]['attempts'])

    def test_given_up_at_the_horizon_and_recorded_once(self):
        FlakyNotifier.down.set()
        self.attempt(self.store('flaky://vnfm/alarm', T0, 'r1'))
        while factory.stored_deliveries(self.db):
            self.assertEqual([], self.action_entries())
            self.assertLess(self.clock, _at(60))
            self.advance(10)
            self.redeliver()
        self.advance(60)
        self.redeliver()
        # Every 10 s (the longest wait) from the first attempt, the last
        # one at the horizon.
        [entry] = self.action_entries()
        self.assertEqual('failed', entry['result'])
        self.assertEqual('Delivery to flaky://vnfm/alarm failed: HTTP 503; '
                         'given up after 7 attempt(s) over 60 s',
                         entry['reason'])

    def test_give_up_of_a_delivery_taken_over_is_not_recorded(self):
        # Two notifiers give the same delivery up: the one whose claim is
        # no longer the delivery's records nothing.
        [delivery] = [factory.delivery_values(self.alarm_id)]
        self.db.transition_state(self.alarm_id, 'ok', 'ok', 'r', T0, None,
                                 [delivery])
        change = factory.change_values(self.alarm_id, db_api.CHANGE_ACTION)
        stale = db_api.DeliveryGiveUp(delivery['delivery_id'], _at(-1),
                                      change)
        self.assertEqual([], self.db.finish_deliveries([], [], [stale]))
        give_up = db_api.DeliveryGiveUp(delivery['delivery_id'],
                                        delivery['claimed_at'], change)
        self.assertEqual([delivery['delivery_id']],
                         self.db.finish_deliveries([], [], [give_up]))
        self.assertEqual([], self.db.finish_deliveries([], [], [give_up]))
        self.assertEqual(1, len(self.action_entries()))

    def test_permanent_failure_is_given_up_at_once(self):
        self.assertEqual([False], self.attempt(
            self.store('gone://vnfm/alarm', T0, 'r1')))
        [entry] = self.action_entries()
        self.assertEqual('Delivery to gone://vnfm/alarm failed: HTTP 404 '
                         'after 1 attempt(s)', entry['reason'])
        self.assertEqual([], factory.stored_deliveries(self.db))


class TestOrder(RetryTestCase):

    def test_later_transition_waits_for_the_earlier_one(self):
        FlakyNotifier.down.set()
        first = self.store('flaky://vnfm/alarm', T0, 'first')
        self.assertEqual([False], self.attempt(first))
        # The consumer is back when the next transition comes, but the
        # first is still owed to it.
        FlakyNotifier.down.clear()
        self.advance(0.1)
        second = self.store('flaky://vnfm/alarm', self.clock, 'second')
        self.assertEqual([None], self.attempt(second))
        self.assertEqual([], FlakyNotifier.received)

        self.advance(1)
        for _ in range(WAIT * 10):
            if not factory.stored_deliveries(self.db):
                break
            self.redeliver()

        self.assertEqual(['first', 'second'],
                         [body['reason'] for _url, body
                          in FlakyNotifier.received])
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_chain_found_by_scans_goes_in_order_without_delay(self):
        # No periodic scan during the test: only the scans the deliveries
        # themselves cause.
        self.config.config(redelivery_interval=3600, group='notifier')
        self.deliverer.stop()
        self.deliverer = self.make_deliverer()
        # Their handovers were lost: in flight since they were stored,
        # until they are stale.
        for n, reason in enumerate(['first', 'second', 'third']):
            self.store('flaky://vnfm/alarm', _at(n * 0.1), reason)
        self.advance(40)

        self.deliverer.scan_soon()

        with FlakyNotifier.lock:
            self.assertTrue(FlakyNotifier.lock.wait_for(
                lambda: len(FlakyNotifier.received) == 3, WAIT))
        self.assertEqual(['first', 'second', 'third'],
                         [body['reason'] for _url, body
                          in FlakyNotifier.received])

    def test_other_actions_are_not_held_back(self):
        FlakyNotifier.down.set()
        self.attempt(self.store('flaky://vnfm/alarm', T0, 'first'))
        FlakyNotifier.down.clear()
        self.advance(0.1)
        # Another consumer of the same alarm, and another alarm of the
        # same consumer.
        self.assertEqual([True], self.attempt(
            self.store('flaky://other/alarm', self.clock, 'second')))
        self.alarm_id = factory.create_alarm(self.db)['alarm_id']
        self.assertEqual([True], self.attempt(
            self.store('flaky://vnfm/alarm', self.clock, 'third')))


class TestTargets(RetryTestCase):

    def test_slow_consumer_does_not_delay_another(self):
        self.config.config(workers=2, per_target_workers=1,
                           group='notifier')
        self.deliverer = self.make_deliverer()
        slow = [self.deliverer.deliver(self.store(
            'block://slow/%d' % n, T0, 'slow %d' % n))[0] for n in range(3)]
        self.assertTrue(BlockingNotifier.started.acquire(timeout=WAIT))

        [fast] = self.deliverer.deliver(
            self.store('flaky://fast/alarm', T0, 'fast'))

        self.assertTrue(fast.result(WAIT))
        self.assertFalse(any(future.done() for future in slow))
        BlockingNotifier.release.set()
        self.assertEqual([True] * 3, [f.result(WAIT) for f in slow])

    def test_target_of(self):
        self.assertEqual(dispatch.target_of('http://u:p@Site:80/a'),
                         dispatch.target_of('http://site:80/b?c=d'))
        self.assertNotEqual(dispatch.target_of('http://site:80/a'),
                            dispatch.target_of('http://site:81/a'))
        self.assertEqual('test://[::1/a', dispatch.target_of('test://[::1/a'))


class TestBookkeeping(RetryTestCase):

    def fail_deletes(self) -> threading.Event:
        """Make every DELETE of a stored delivery fail while set.

        As when the database is unreachable or the pool exhausted.
        """
        failing = threading.Event()
        self.failed_writes = threading.Semaphore(0)

        def before_execute(conn, cursor, statement, parameters, context,
                           executemany):
            if (failing.is_set()
                    and statement.startswith('DELETE FROM alarm_delivery')):
                self.failed_writes.release()
                raise RuntimeError('QueuePool limit reached')
        sa.event.listen(self.db.engine, 'before_cursor_execute',
                        before_execute)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'before_cursor_execute', before_execute)
        return failing

    def test_delivered_but_not_written_down_is_not_delivered_again(self):
        failing = self.fail_deletes()
        failing.set()
        firing = self.store('flaky://vnfm/alarm', T0, 'r1')
        [future] = self.deliverer.deliver(firing)
        self.assertTrue(future.result(WAIT))
        self.assertTrue(self.failed_writes.acquire(timeout=WAIT))

        # Long past the time a stale scan takes a delivery over.
        self.advance(120)
        self.assertEqual(0, self.deliverer.redeliver_stale())

        failing.clear()
        for _ in range(WAIT * 50):
            if not factory.stored_deliveries(self.db):
                break
            threading.Event().wait(0.02)
        self.assertEqual([], factory.stored_deliveries(self.db))
        self.deliverer.stop()
        self.assertEqual(1, len(FlakyNotifier.received))
        self.assertIn('Cannot write down 1 delivered', self.logger.output)
