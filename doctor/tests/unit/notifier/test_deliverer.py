"""Tests of the deliverer: stored deliveries through the notifier plugins."""

import datetime
import threading
import uuid
from unittest import mock

import fixtures
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from stevedore import extension

from doctor.common import exception
from doctor.db import api as db_api
from doctor.notifier import deliverer
from doctor.notifier.plugins import base as plugin_base
from doctor.notifier.plugins import test as test_plugin
from doctor.objects import firing as firing_obj
from doctor.tests import base
from doctor.tests.unit.db import factory

WAIT = 10


class FailingNotifier(plugin_base.AlarmNotifier):
    """``fail:`` gives up like a webhook that keeps answering 503."""

    def notify(self, action, body, request_id):
        raise exception.DeliveryFailed(action=plugin_base.safe_url(action),
                                       reason='HTTP 503 after 4 attempt(s)')


class BrokenNotifier(plugin_base.AlarmNotifier):
    """``broken:`` fails the way a buggy plugin would."""

    def notify(self, action, body, request_id):
        raise RuntimeError('plugin bug')


class MeetingNotifier(plugin_base.AlarmNotifier):
    """``meet:`` returns only once two deliveries are under way at once."""

    def __init__(self, conf):
        super().__init__(conf)
        self.barrier = threading.Barrier(2, timeout=WAIT)

    def notify(self, action, body, request_id):
        self.barrier.wait()


class DelivererTestCase(base.DBTestCase):

    def setUp(self):
        super().setUp()
        # Given up at the first failure, as before retries existed; the
        # retry tests set a horizon of their own.
        self.config.config(workers=4, redelivery_after=1, retry_horizon=0,
                           group='notifier')
        self.logger = self.useFixture(fixtures.FakeLogger())
        test_plugin.TestAlarmNotifier.reset()
        self.addCleanup(test_plugin.TestAlarmNotifier.reset)
        self.alarm = factory.create_alarm(self.db)
        self.alarm_id = self.alarm['alarm_id']
        self.deliverer = self.make_deliverer()

    def make_deliverer(self):
        plugins = {'test': test_plugin.TestAlarmNotifier,
                   'fail': FailingNotifier, 'broken': BrokenNotifier,
                   'meet': MeetingNotifier}
        notifiers = extension.ExtensionManager.make_test_instance(
            [extension.Extension(name, None, plugin, plugin(self.conf))
             for name, plugin in plugins.items()])
        result = deliverer.Deliverer(self.conf, self.db, notifiers)
        self.addCleanup(result.stop)
        return result

    def store_firing(self, *actions, claimed_at=None, request_id='req-1'):
        """Store a firing's deliveries as the evaluator does."""
        firing = firing_obj.AlarmFiring(
            alarm_id=self.alarm_id, alarm_name='InstanceStatusAlarm',
            severity='critical', previous='ok', current='alarm',
            reason='Event hits the query.',
            reason_data={'type': 'event', 'event': {'message_id': 'm-1'}},
            deliveries={str(uuid.uuid4()): action for action in actions},
            request_id=request_id, fault_id='f-1')
        at = claimed_at or timeutils.utcnow()
        self.db.transition_state(
            self.alarm_id, 'ok', 'ok', 'fired', at, None,
            [{'delivery_id': delivery_id, 'alarm_id': self.alarm_id,
              'action': action, 'firing': firing.to_record(),
              'created_at': at, 'claimed_at': at}
             for delivery_id, action in firing.deliveries.items()])
        return firing

    def deliver(self, firing):
        results = [future.result(WAIT)
                   for future in self.deliverer.deliver(firing)]
        self.deliverer.flush()
        return results

    def action_entries(self):
        return [jsonutils.loads(change['detail'])
                for change in self.db.get_alarm_changes(self.alarm_id)
                if change['type'] == db_api.CHANGE_ACTION]

    def delivered(self):
        return test_plugin.TestAlarmNotifier.notifications


class TestDeliver(DelivererTestCase):

    def test_delivers_the_webhook_body(self):
        firing = self.store_firing('test://consumer/alarm')
        self.assertEqual([True], self.deliver(firing))
        self.assertEqual(
            [('test://consumer/alarm', firing.webhook_body(), 'req-1')],
            self.delivered())

    def test_request_id_is_made_when_missing(self):
        self.deliver(self.store_firing('test://a', request_id=None))
        [(_url, _body, request_id)] = self.delivered()
        self.assertTrue(request_id.startswith('req-'))

    def test_actions_of_one_firing_share_the_made_request_id(self):
        self.deliver(self.store_firing('test://a', 'test://b',
                                       request_id=None))
        ids = {request_id for _url, _body, request_id in self.delivered()}
        self.assertEqual(1, len(ids))

    def test_actions_of_one_firing_are_delivered_concurrently(self):
        # Each delivery waits for the other: both finish only if they run
        # at the same time.
        self.assertEqual([True, True], self.deliver(
            self.store_firing('meet://vnfm-a/alarm', 'meet://vnfm-b/x')))
        self.assertEqual([], self.action_entries())

    def test_delivered_ones_are_forgotten(self):
        firing = self.store_firing('test://a', 'test://b')
        self.assertEqual(2, len(factory.stored_deliveries(self.db)))
        self.deliver(firing)
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_the_flusher_forgets_them_by_itself(self):
        firing = self.store_firing('test://a')
        for future in self.deliverer.deliver(firing):
            future.result(WAIT)
        for _ in range(WAIT * 20):
            if not factory.stored_deliveries(self.db):
                break
            threading.Event().wait(0.05)
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_failure_is_recorded_and_forgotten(self):
        firing = self.store_firing('fail://vnfm:8000/alarm', 'test://ok')
        self.assertEqual([False, True], self.deliver(firing))
        self.assertEqual([{
            'action': 'fail://vnfm:8000/alarm', 'state': 'alarm',
            'result': 'failed',
            'reason': 'Delivery to fail://vnfm:8000/alarm failed: '
                      'HTTP 503 after 4 attempt(s); given up after 1 '
                      'attempt(s) over 0 s'}], self.action_entries())
        self.assertEqual([], factory.stored_deliveries(self.db))
        self.assertEqual(1, len(self.delivered()))
        self.assertIn('Giving up delivering alarm %s' % self.alarm_id,
                      self.logger.output)

    def _action_change(self) -> dict:
        [change] = [c for c in self.db.get_alarm_changes(self.alarm_id)
                    if c['type'] == db_api.CHANGE_ACTION]
        return change

    def test_failure_history_entry_is_on_behalf_of_the_alarms_project(self):
        # Like every other entry of the history: the project that reads
        # it finds the entry as its own.
        self.deliver(self.store_firing('fail://vnfm/alarm'))

        change = self._action_change()

        self.assertEqual(self.alarm_id, change['alarm_id'])
        self.assertEqual(factory.PROJECT_ID, change['on_behalf_of'])
        self.assertEqual(self.alarm['severity'], change['severity'])
        self.assertIsNone(change['project_id'])
        self.assertIsNone(change['user_id'])

    def test_failure_of_a_deleted_alarm_keeps_the_firings_severity(self):
        # The alarm is deleted while its delivery is under way.
        firing = self.store_firing('fail://vnfm/alarm')
        fail = self.deliverer._notifiers['fail'].obj
        notify = fail.notify

        def delete_then_fail(action, body, request_id):
            self.db.delete_alarm(self.alarm_id, factory.change_values(
                self.alarm_id, db_api.CHANGE_DELETION))
            notify(action, body, request_id)
        self.useFixture(fixtures.MockPatchObject(
            fail, 'notify', autospec=True, side_effect=delete_then_fail))

        self.deliver(firing)

        change = self._action_change()
        self.assertIsNone(change['on_behalf_of'])
        self.assertEqual('critical', change['severity'])

    def test_deleted_alarm_is_not_delivered(self):
        firing = self.store_firing('test://vnfm/alarm')
        self.db.delete_alarm(self.alarm_id, factory.change_values(
            self.alarm_id, db_api.CHANGE_DELETION))

        self.assertEqual([None], self.deliver(firing))

        self.assertEqual([], self.delivered())

    def test_plugin_bug_is_recorded(self):
        self.assertEqual([False], self.deliver(
            self.store_firing('broken://vnfm/alarm')))
        [entry] = self.action_entries()
        self.assertEqual('RuntimeError: plugin bug', entry['reason'])

    def test_unknown_scheme_is_recorded(self):
        self.assertEqual([False], self.deliver(
            self.store_firing('gopher://vnfm/alarm')))
        [entry] = self.action_entries()
        self.assertEqual('No notifier for action scheme gopher.',
                         entry['reason'])
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_unparsable_action_is_recorded_and_forgotten(self):
        self.assertEqual([False], self.deliver(
            self.store_firing('test://[::1/alarm')))
        [entry] = self.action_entries()
        self.assertIn('Invalid IPv6 URL', entry['reason'])
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_credentials_stay_out_of_history(self):
        self.deliver(self.store_firing('fail://vnfm:s3cret@host:8000/a'))
        [entry] = self.action_entries()
        self.assertEqual('fail://host:8000/a', entry['action'])
        self.assertNotIn('s3cret', jsonutils.dumps(entry))
        self.assertNotIn('s3cret', self.logger.output)

    def test_schemes(self):
        self.assertEqual({'test', 'fail', 'broken', 'meet'},
                         set(self.deliverer.schemes))


class TestRedeliver(DelivererTestCase):

    def _stale(self):
        return timeutils.utcnow() - datetime.timedelta(seconds=60)

    def _wait_for_deliveries(self, count):
        condition = test_plugin.TestAlarmNotifier.delivered
        with condition:
            condition.wait_for(lambda: len(self.delivered()) >= count, WAIT)

    def test_stale_deliveries_are_taken_over(self):
        stale = self.store_firing('test://a', 'test://b',
                                  claimed_at=self._stale())
        fresh = self.store_firing('test://fresh')
        self.assertEqual(2, self.deliverer.redeliver_stale())
        self.deliverer.stop()
        self.assertEqual(['test://a', 'test://b'],
                         sorted(url for url, _b, _r in self.delivered()))
        self.assertEqual(stale.webhook_body(), self.delivered()[0][1])
        self.assertEqual(list(fresh.deliveries), [
            d['delivery_id'] for d in factory.stored_deliveries(self.db)])

    def test_the_deliverer_scans_by_itself(self):
        self.config.config(redelivery_interval=1, group='notifier')
        deliverer = self.make_deliverer()
        self.store_firing('test://a', claimed_at=self._stale())

        self._wait_for_deliveries(1)

        deliverer.stop()
        self.assertEqual(['test://a'],
                         [url for url, _b, _r in self.delivered()])
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_scan_soon(self):
        self.store_firing('test://a', claimed_at=self._stale())
        self.deliverer.scan_soon()
        self._wait_for_deliveries(1)
        self.deliverer.stop()
        self.assertEqual(1, len(self.delivered()))

    def test_nothing_stale(self):
        self.store_firing('test://fresh')
        self.assertEqual(0, self.deliverer.redeliver_stale())

    def test_concurrent_scans_deliver_each_once(self):
        self.store_firing(*['test://%d' % n for n in range(10)],
                          claimed_at=self._stale())
        others = [self.make_deliverer() for _ in range(2)]
        scanners = [self.deliverer] + others
        barrier = threading.Barrier(len(scanners))
        counts = []

        def scan(scanner):
            barrier.wait()
            counts.append(scanner.redeliver_stale())
        threads = [threading.Thread(target=scan, args=(scanner,))
                   for scanner in scanners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        for scanner in scanners:
            scanner.stop()
        self.assertEqual(10, sum(counts))
        self.assertEqual(sorted('test://%d' % n for n in range(10)),
                         sorted(url for url, _b, _r in self.delivered()))
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_scanning_twice_delivers_once(self):
        self.store_firing('test://a', claimed_at=self._stale())
        self.assertEqual(1, self.deliverer.redeliver_stale())
        self.assertEqual(0, self.deliverer.redeliver_stale())
        self._wait_for_deliveries(1)
        self.deliverer.stop()
        self.assertEqual(1, len(self.delivered()))

    def test_failure_on_redelivery_is_recorded(self):
        self.store_firing('fail://vnfm/a', claimed_at=self._stale())
        self.deliverer.redeliver_stale()
        self.deliverer.stop()
        self.assertEqual(['failed'],
                         [e['result'] for e in self.action_entries()])
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_unreadable_deliveries_are_dropped(self):
        self.store_firing('test://a', claimed_at=self._stale())
        row = factory.stored_deliveries(self.db)[0]
        self.db.delete_deliveries([row['delivery_id']])
        record = row['firing']
        unreadable = [
            {}, dict(record, alarm_id=['not', 'a', 'string']),
            {key: value for key, value in record.items()
             if key != 'current'},
            {'doctor_object.name': 'AlarmFiring',
             'doctor_object.data': record}]
        self.db.transition_state(
            self.alarm_id, 'ok', 'ok', 'r', row['created_at'], None,
            [dict(row, delivery_id=str(uuid.uuid4()), firing=bad)
             for bad in unreadable])
        self.assertEqual(4, self.deliverer.redeliver_stale())
        self.deliverer.stop()
        self.assertEqual([], self.delivered())
        self.assertEqual([], factory.stored_deliveries(self.db))
        self.assertEqual(4, self.logger.output.count('is unreadable'))

    def test_record_of_an_older_release_is_delivered(self):
        self.store_firing('test://a', claimed_at=self._stale())
        row = factory.stored_deliveries(self.db)[0]
        self.db.delete_deliveries([row['delivery_id']])
        record = {key: value for key, value in row['firing'].items()
                  if key not in ('fault_id', 'request_id')}
        self.db.transition_state(
            self.alarm_id, 'ok', 'ok', 'r', row['created_at'], None,
            [dict(row, firing=record)])
        self.assertEqual(1, self.deliverer.redeliver_stale())
        self.deliverer.stop()
        [(url, body, _request_id)] = self.delivered()
        self.assertEqual('test://a', url)
        self.assertNotIn('fault_id', body)


class TestHandedOver(DelivererTestCase):
    """Firings an evaluator cast to doctor-notifier over the bus."""

    def _stale(self):
        return timeutils.utcnow() - datetime.timedelta(seconds=60)

    def test_delivers_what_nobody_took_over(self):
        firing = self.store_firing('test://a', 'test://b')
        results = [future.result(WAIT) for future
                   in self.deliverer.deliver_handed_over(firing)]
        self.deliverer.flush()
        self.assertEqual([True, True], results)
        self.assertEqual(['test://a', 'test://b'],
                         sorted(url for url, _b, _r in self.delivered()))
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_taken_over_by_a_scan_is_not_delivered_again(self):
        # The cast waited on the bus while the notifier was down; its
        # first scan took the stored deliveries over.
        firing = self.store_firing('test://a', 'test://b',
                                   claimed_at=self._stale())
        self.assertEqual(2, self.deliverer.redeliver_stale())
        self.assertEqual([None, None], [
            future.result(WAIT)
            for future in self.deliverer.deliver_handed_over(firing)])
        self.deliverer.stop()
        self.assertEqual(2, len(self.delivered()))

    def test_handed_over_first_the_scan_finds_nothing(self):
        firing = self.store_firing('test://a', claimed_at=self._stale())
        futures = self.deliverer.deliver_handed_over(firing)
        self.assertEqual([True], [f.result(WAIT) for f in futures])
        self.assertEqual(0, self.deliverer.redeliver_stale())
        self.deliverer.stop()
        self.assertEqual(1, len(self.delivered()))


class TestStored(DelivererTestCase):
    """Firings the evaluator of this process has just stored."""

    def store(self, *actions, fail_on=None):
        """Store a firing as the evaluator does; its rows as stored."""
        firing = firing_obj.AlarmFiring(
            alarm_id=self.alarm_id, alarm_name='InstanceStatusAlarm',
            severity='critical', previous='ok', current='alarm',
            reason='Event hits the query.', reason_data={},
            deliveries={str(uuid.uuid4()): action for action in actions},
            request_id='req-1', fault_id='f-1')
        at = timeutils.utcnow()
        rows = [{'delivery_id': delivery_id, 'alarm_id': self.alarm_id,
                 'action': action, 'firing': firing.to_record(),
                 'created_at': at, 'claimed_at': at}
                for delivery_id, action in firing.deliveries.items()]
        [won] = self.db.transition_states([db_api.StateTransition(
            self.alarm_id, 'ok', 'ok', 'fired', at, None, rows)])
        self.assertTrue(won)
        return firing, rows

    def test_delivered_without_a_claim_of_its_own(self):
        firing, rows = self.store('test://a', 'test://b')
        with mock.patch.object(self.db, 'claim_deliveries',
                               autospec=True) as claim:
            results = [future.result(WAIT) for future in
                       self.deliverer.deliver_stored(firing, rows)]
        self.deliverer.flush()

        self.assertEqual([True, True], results)
        claim.assert_not_called()
        self.assertEqual(['test://a', 'test://b'],
                         sorted(url for url, _b, _r in self.delivered()))
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_one_behind_an_older_waits_for_it_then_goes(self):
        # The older one fails and waits for its next attempt: the newer
        # one of the same chain is stored waiting behind it.
        self.config.config(retry_horizon=3600, group='notifier')
        older, older_rows = self.store('fail://vnfm/alarm')
        self.assertEqual([False], [
            future.result(WAIT) for future in
            self.deliverer.deliver_stored(older, older_rows)])
        self.deliverer.flush()
        newer, newer_rows = self.store('fail://vnfm/alarm')
        self.assertEqual(newer_rows[0]['created_at'],
                         newer_rows[0]['next_attempt_at'])

        self.assertEqual([None], [
            future.result(WAIT) for future in
            self.deliverer.deliver_stored(newer, newer_rows)])

        stored = {d['delivery_id']: d
                  for d in factory.stored_deliveries(self.db)}
        self.assertEqual(newer_rows[0]['created_at'],
                         stored[newer_rows[0]['delivery_id']]
                         ['next_attempt_at'])
        # A scan now takes the older one only: the head of the chain.
        self.assertEqual(
            [older_rows[0]['delivery_id']],
            [d['delivery_id'] for d in self.db.claim_stale_deliveries(
                timeutils.utcnow(),
                timeutils.utcnow() + datetime.timedelta(hours=2))])


class TestStop(DelivererTestCase):

    def test_stop_finishes_and_forgets(self):
        firing = self.store_firing('test://a', 'test://b')
        self.deliverer.deliver(firing)
        self.deliverer.stop()
        self.assertEqual(2, len(self.delivered()))
        self.assertEqual([], factory.stored_deliveries(self.db))
