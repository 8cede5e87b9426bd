"""Tests of the storage API on the embedded SQLite database."""

import datetime
import threading

from oslo_serialization import jsonutils
import sqlalchemy as sa

from doctor.common import exception
from doctor.db import api as db_api
from doctor.db.sqlalchemy import migration
from doctor.tests import base
from doctor.tests.unit.db import factory

T0 = factory.T0


def seconds(n):
    return T0 + datetime.timedelta(seconds=n)


class TestSchema(base.DBTestCase):

    def test_schema_is_at_head(self):
        self.assertIsNotNone(migration.head())
        self.assertEqual(migration.head(), self.db.schema_version())

    def test_upgrade_at_head_is_a_no_op(self):
        factory.create_alarm(self.db, alarm_id='a1')
        self.db.upgrade()
        self.assertEqual(migration.head(), self.db.schema_version())
        self.assertEqual('a1', self.db.get_alarm('a1')['alarm_id'])


class TestAlarms(base.DBTestCase):

    def test_create_and_get(self):
        alarm = factory.create_alarm(self.db, description=None)
        self.assertEqual(alarm, self.db.get_alarm(alarm['alarm_id']))

    def test_creation_is_recorded(self):
        alarm = factory.create_alarm(self.db)
        changes = self.db.get_alarm_changes(alarm['alarm_id'])
        self.assertEqual([db_api.CHANGE_CREATION],
                         [change['type'] for change in changes])

    def test_create_duplicate(self):
        alarm = factory.create_alarm(self.db)
        e = self.assertRaises(exception.Conflict, factory.create_alarm,
                              self.db, alarm_id=alarm['alarm_id'],
                              name='second')
        self.assertIn(alarm['alarm_id'], str(e))
        self.assertEqual('InstanceStatusAlarm',
                         self.db.get_alarm(alarm['alarm_id'])['name'])
        self.assertEqual(1, len(self.db.get_alarm_changes(
            alarm['alarm_id'])))

    def test_get_unknown(self):
        e = self.assertRaises(exception.AlarmNotFound, self.db.get_alarm,
                              'nope')
        self.assertIn('nope', str(e))

    def test_update(self):
        alarm = factory.create_alarm(self.db)
        change = factory.change_values(alarm['alarm_id'],
                                       db_api.CHANGE_RULE,
                                       timestamp=seconds(1))
        updated = self.db.update_alarm(
            alarm['alarm_id'], {'name': 'renamed', 'enabled': False,
                                'ok_actions': [], 'timestamp': seconds(1)},
            [change])
        self.assertEqual(dict(alarm, name='renamed', enabled=False,
                              ok_actions=[], timestamp=seconds(1)),
                         updated)
        self.assertEqual(updated, self.db.get_alarm(alarm['alarm_id']))
        self.assertEqual(
            [db_api.CHANGE_RULE, db_api.CHANGE_CREATION],
            [c['type'] for c in self.db.get_alarm_changes(
                alarm['alarm_id'])])

    def test_update_unknown_records_nothing(self):
        change = factory.change_values('nope', db_api.CHANGE_RULE)
        self.assertRaises(exception.AlarmNotFound, self.db.update_alarm,
                          'nope', {'name': 'x'}, [change])
        self.assertEqual([], self.db.get_alarm_changes('nope'))

    def test_delete_keeps_history_and_drops_deliveries(self):
        alarm = factory.create_alarm(self.db)
        other = factory.create_alarm(self.db)
        kept = factory.delivery_values(other['alarm_id'])
        self.db.transition_state(
            alarm['alarm_id'], 'ok', 'alarm', 'r', seconds(1), None,
            [factory.delivery_values(alarm['alarm_id'])])
        self.db.transition_state(other['alarm_id'], 'ok', 'alarm', 'r',
                                 seconds(1), None, [kept])
        self.db.delete_alarm(alarm['alarm_id'], factory.change_values(
            alarm['alarm_id'], db_api.CHANGE_DELETION,
            timestamp=seconds(2)))
        self.assertRaises(exception.AlarmNotFound, self.db.get_alarm,
                          alarm['alarm_id'])
        self.assertEqual(
            [db_api.CHANGE_DELETION, db_api.CHANGE_CREATION],
            [c['type'] for c in self.db.get_alarm_changes(
                alarm['alarm_id'])])
        self.assertEqual([kept['delivery_id']],
                         [d['delivery_id'] for d in
                          factory.stored_deliveries(self.db)])

    def test_delete_unknown(self):
        self.assertRaises(
            exception.AlarmNotFound, self.db.delete_alarm, 'nope',
            factory.change_values('nope', db_api.CHANGE_DELETION))
        self.assertEqual([], self.db.get_alarm_changes('nope'))

    def test_count(self):
        factory.create_alarm(self.db)
        factory.create_alarm(self.db, user_id='u-2')
        factory.create_alarm(self.db, project_id='p-2', user_id='u-2')
        self.assertEqual(3, self.db.count_alarms())
        self.assertEqual(2, self.db.count_alarms(
            project_id=factory.PROJECT_ID))
        self.assertEqual(2, self.db.count_alarms(user_id='u-2'))
        self.assertEqual(1, self.db.count_alarms(
            project_id=factory.PROJECT_ID, user_id='u-2'))
        self.assertEqual(0, self.db.count_alarms(project_id='p-3'))

    def test_iter_enabled_alarms_in_batches(self):
        wanted = sorted(factory.create_alarm(self.db)['alarm_id']
                        for _ in range(5))
        factory.create_alarm(self.db, enabled=False)
        factory.create_alarm(self.db, type='event')
        found = [a['alarm_id']
                 for a in self.db.iter_enabled_alarms('notification',
                                                      batch_size=2)]
        self.assertEqual(wanted, found)


class TestGetAlarms(base.DBTestCase):

    def setUp(self):
        super().setUp()
        create = factory.create_alarm
        self.a = create(self.db, alarm_id='a', name='cpu', state='alarm',
                        resource_id='r-1', timestamp=seconds(3))
        self.b = create(self.db, alarm_id='b', name='disk',
                        resource_id='r-2', timestamp=seconds(1))
        self.c = create(self.db, alarm_id='c', name='cpu', enabled=False,
                        user_id='u-2', resource_id=None,
                        timestamp=seconds(2))
        self.d = create(self.db, alarm_id='d', name='net',
                        project_id='p-2', type='event', resource_id='r-1',
                        state='insufficient data', timestamp=seconds(2))

    def _ids(self, **kwargs):
        return [a['alarm_id'] for a in self.db.get_alarms(**kwargs)]

    def test_default_order_is_newest_first(self):
        self.assertEqual(['a', 'd', 'c', 'b'], self._ids())

    def test_returns_whole_alarms(self):
        self.assertEqual(self.b, self.db.get_alarms(name='disk')[0])

    def test_filters(self):
        self.assertEqual(['a', 'c', 'b'],
                         self._ids(project_id=factory.PROJECT_ID))
        self.assertEqual(['c'], self._ids(user_id='u-2'))
        self.assertEqual(['d'], self._ids(alarm_type='event'))
        self.assertEqual(['a', 'd'], self._ids(resource_id='r-1'))
        self.assertEqual(['a'], self._ids(state='alarm'))
        self.assertEqual(['a', 'c'], self._ids(name='cpu'))
        self.assertEqual(['c'], self._ids(enabled=False))
        self.assertEqual(['a', 'd', 'b'], self._ids(enabled=True))
        self.assertEqual(['a'], self._ids(name='cpu', enabled=True))
        self.assertEqual([], self._ids(project_id='p-9'))

    def test_sort(self):
        self.assertEqual(['a', 'c', 'b', 'd'],
                         self._ids(sort=[('name', 'asc')]))
        self.assertEqual(['d', 'b', 'c', 'a'],
                         self._ids(sort=[('name', 'desc')]))
        self.assertEqual(['a', 'c', 'd', 'b'],
                         self._ids(sort=[('severity', 'asc'),
                                         ('timestamp', 'desc')]))

    def test_sort_puts_missing_values_first_ascending(self):
        self.assertEqual(['c', 'a', 'd', 'b'],
                         self._ids(sort=[('resource_id', 'asc')]))
        self.assertEqual(['b', 'd', 'a', 'c'],
                         self._ids(sort=[('resource_id', 'desc')]))

    def test_unknown_sort_key(self):
        e = self.assertRaises(exception.InvalidField, self._ids,
                              sort=[('rule', 'asc')])
        self.assertEqual('sort', e.kwargs['field'])
        self.assertRaises(exception.InvalidField, self._ids,
                          sort=[('name', 'up')])

    def test_limit(self):
        self.assertEqual(['a', 'd'], self._ids(limit=2))

    def test_unknown_marker(self):
        e = self.assertRaises(exception.AlarmNotFound, self._ids,
                              marker='nope', limit=2)
        self.assertIn('nope', str(e))

    def _pages(self, size, **kwargs):
        pages, marker = [], None
        while True:
            page = self._ids(limit=size, marker=marker, **kwargs)
            if not page:
                return pages
            pages.append(page)
            marker = page[-1]
            self.assertLess(len(pages), 50, 'paging does not end')

    def test_paging_is_stable(self):
        for n in range(8):
            factory.create_alarm(self.db, alarm_id='t%d' % n,
                                 name='same', timestamp=seconds(2),
                                 resource_id=None if n % 3 else 'r-%d' % n)
        sorts = ([('timestamp', 'desc')], [('name', 'asc')],
                 [('name', 'desc')], [('resource_id', 'asc')],
                 [('resource_id', 'desc')], [('enabled', 'asc')],
                 [('user_id', 'desc'), ('name', 'asc')])
        for sort in sorts:
            everything = self._ids(sort=sort)
            self.assertEqual(12, len(everything))
            for size in (1, 3, 5):
                pages = self._pages(size, sort=sort)
                self.assertEqual(everything, sum(pages, []),
                                 '%s by %d' % (sort, size))

    def test_paging_with_filter(self):
        self.assertEqual([['a', 'c'], ['b']],
                         self._pages(2, project_id=factory.PROJECT_ID))


class TestTransitionState(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.alarm = factory.create_alarm(self.db)
        self.alarm_id = self.alarm['alarm_id']

    def _change(self, **overrides):
        return factory.change_values(self.alarm_id, db_api.CHANGE_STATE,
                                     timestamp=seconds(1), **overrides)

    def test_moves_records_and_stores(self):
        change = self._change(detail='{"state": "alarm"}')
        delivery = factory.delivery_values(self.alarm_id)
        self.assertTrue(self.db.transition_state(
            self.alarm_id, 'ok', 'alarm', 'Event hits', seconds(1), change,
            [delivery]))
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual('alarm', alarm['state'])
        self.assertEqual('Event hits', alarm['state_reason'])
        self.assertEqual(seconds(1), alarm['state_timestamp'])
        self.assertEqual(T0, alarm['timestamp'])
        latest = self.db.get_alarm_changes(self.alarm_id)[0]
        self.assertEqual(change, latest)
        self.assertEqual([delivery], factory.stored_deliveries(self.db))

    def test_wrong_expected_state_changes_nothing(self):
        self.assertFalse(self.db.transition_state(
            self.alarm_id, 'alarm', 'ok', 'r', seconds(1), self._change(),
            [factory.delivery_values(self.alarm_id)]))
        self.assertEqual(self.alarm, self.db.get_alarm(self.alarm_id))
        self.assertEqual(1, len(self.db.get_alarm_changes(self.alarm_id)))
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_disabled_alarm_does_not_move(self):
        self.db.update_alarm(self.alarm_id, {'enabled': False}, [])
        self.assertFalse(self.db.transition_state(
            self.alarm_id, 'ok', 'alarm', 'r', seconds(1), self._change(),
            []))
        self.assertEqual('ok', self.db.get_alarm(self.alarm_id)['state'])

    def test_unknown_alarm(self):
        self.assertFalse(self.db.transition_state(
            'nope', 'ok', 'alarm', 'r', seconds(1), None, []))

    def test_repeat_keeps_the_state_timestamp(self):
        self.assertTrue(self.db.transition_state(
            self.alarm_id, 'ok', 'ok', 'again', seconds(1), None,
            [factory.delivery_values(self.alarm_id)]))
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual(T0, alarm['state_timestamp'])
        self.assertEqual('again', alarm['state_reason'])
        self.assertEqual(1, len(factory.stored_deliveries(self.db)))

    def test_only_one_of_two_racers_wins(self):
        results = [self.db.transition_state(
            self.alarm_id, 'ok', 'alarm', 'r', seconds(1),
            self._change(), []) for _ in range(2)]
        self.assertEqual([True, False], results)
        self.assertEqual(2, len(self.db.get_alarm_changes(self.alarm_id)))

    def test_deadline(self):
        self.assertTrue(self.db.transition_state(
            self.alarm_id, 'ok', 'alarm', 'r', seconds(1), None, [],
            deadline=seconds(31)))
        self.assertEqual(seconds(31),
                         self.db.get_alarm(self.alarm_id)['deadline'])
        self.assertFalse(self.db.transition_state(
            self.alarm_id, 'alarm', 'insufficient data', 'r', seconds(40),
            None, [], expected_deadline=seconds(30)))
        self.assertEqual('alarm', self.db.get_alarm(self.alarm_id)['state'])
        self.assertTrue(self.db.transition_state(
            self.alarm_id, 'alarm', 'insufficient data', 'r', seconds(40),
            None, [], expected_deadline=seconds(31)))
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual('insufficient data', alarm['state'])
        self.assertIsNone(alarm['deadline'])

    def test_no_deadline_keeps_it(self):
        self.db.set_deadline(self.alarm_id, seconds(30))
        self.db.transition_state(self.alarm_id, 'ok', 'alarm', 'r',
                                 seconds(1), None, [])
        self.assertEqual(seconds(30),
                         self.db.get_alarm(self.alarm_id)['deadline'])


class TestTransitionStates(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.ids = [factory.create_alarm(self.db, alarm_id='a%d' % i)
                    ['alarm_id'] for i in range(3)]

    def _move(self, alarm_id, expected='ok', new='alarm', **kwargs):
        return db_api.StateTransition(
            alarm_id, expected, new, 'r ' + alarm_id, seconds(1),
            factory.change_values(alarm_id, db_api.CHANGE_STATE,
                                  timestamp=seconds(1)),
            [factory.delivery_values(alarm_id)], **kwargs)

    def test_each_decided_on_its_own(self):
        # The middle one lost its race: the others still move.
        results = self.db.transition_states([
            self._move('a0'), self._move('a1', expected='alarm', new='ok'),
            self._move('a2')])
        self.assertEqual([True, False, True], results)
        self.assertEqual(['alarm', 'ok', 'alarm'],
                         [self.db.get_alarm(i)['state'] for i in self.ids])
        self.assertEqual('r a2', self.db.get_alarm('a2')['state_reason'])
        # Creation, and the state transition of the winners.
        self.assertEqual([2, 1, 2], [len(self.db.get_alarm_changes(i))
                                     for i in self.ids])
        self.assertEqual(['a0', 'a2'], sorted(
            d['alarm_id'] for d in factory.stored_deliveries(self.db)))

    def test_history_of_winners_only(self):
        self.db.transition_states([self._move('a0'),
                                   self._move('a1', expected='alarm')])
        self.assertEqual(2, len(self.db.get_alarm_changes('a0')))
        self.assertEqual(1, len(self.db.get_alarm_changes('a1')))

    def test_same_alarm_twice_in_order(self):
        results = self.db.transition_states([
            self._move('a0'), self._move('a0'),
            self._move('a0', expected='alarm', new='ok')])
        self.assertEqual([True, False, True], results)
        self.assertEqual('ok', self.db.get_alarm('a0')['state'])
        self.assertEqual(3, len(self.db.get_alarm_changes('a0')))

    def test_deadlines_and_unknown_alarms(self):
        self.db.set_deadline('a1', seconds(30))
        results = self.db.transition_states([
            self._move('nope'),
            self._move('a0', deadline=seconds(31)),
            self._move('a1', expected='ok', new='insufficient data',
                       expected_deadline=seconds(29)),
            self._move('a2', expected='ok', new='insufficient data',
                       expected_deadline=None)])
        self.assertEqual([False, True, False, True], results)
        self.assertEqual(seconds(31), self.db.get_alarm('a0')['deadline'])
        self.assertEqual('ok', self.db.get_alarm('a1')['state'])
        self.assertEqual(seconds(30), self.db.get_alarm('a1')['deadline'])

    def test_nothing_to_do(self):
        self.assertEqual([], self.db.transition_states([]))


class TestDeadlines(base.DBTestCase):

    def test_expired_alarms(self):
        create = factory.create_alarm
        late = create(self.db, alarm_id='late', deadline=seconds(5))
        create(self.db, alarm_id='later', deadline=seconds(15))
        create(self.db, alarm_id='none')
        create(self.db, alarm_id='off', deadline=seconds(1), enabled=False)
        create(self.db, alarm_id='nodata', deadline=seconds(1),
               state='insufficient data')
        first = create(self.db, alarm_id='first', deadline=seconds(2),
                       state='alarm')
        found = self.db.get_expired_alarms(seconds(10))
        self.assertEqual([first, late], found)
        self.assertEqual([first], self.db.get_expired_alarms(seconds(10),
                                                             limit=1))
        self.assertEqual([], self.db.get_expired_alarms(seconds(1)))
        self.assertEqual(['first', 'late'], [
            a['alarm_id'] for a in self.db.get_expired_alarms(seconds(5))])

    def test_set_deadline(self):
        alarm = factory.create_alarm(self.db)
        self.db.set_deadline(alarm['alarm_id'], seconds(5))
        self.assertEqual([alarm['alarm_id']], [
            a['alarm_id'] for a in self.db.get_expired_alarms(seconds(6))])
        self.db.set_deadline(alarm['alarm_id'], None)
        self.assertEqual([], self.db.get_expired_alarms(seconds(6)))


class TestHistory(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.alarm = factory.create_alarm(self.db)
        self.alarm_id = self.alarm['alarm_id']
        self.changes = [factory.change_values(
            self.alarm_id, db_api.CHANGE_STATE, timestamp=seconds(1 + n // 2),
            detail=jsonutils.dumps({'n': n})) for n in range(1, 7)]
        for change in self.changes:
            self.db.record_change(change)

    def _ns(self, changes):
        return [jsonutils.loads(c['detail']).get('n') for c in changes]

    def test_newest_first(self):
        changes = self.db.get_alarm_changes(self.alarm_id)
        self.assertEqual(7, len(changes))
        self.assertEqual(db_api.CHANGE_CREATION, changes[-1]['type'])
        timestamps = [c['timestamp'] for c in changes]
        self.assertEqual(sorted(timestamps, reverse=True), timestamps)
        self.assertEqual(self.changes[-1], changes[0])

    def test_paging(self):
        everything = self.db.get_alarm_changes(self.alarm_id)
        paged, marker = [], None
        while True:
            page = self.db.get_alarm_changes(self.alarm_id, limit=2,
                                             marker=marker)
            if not page:
                break
            paged.extend(page)
            marker = page[-1]['event_id']
        self.assertEqual(everything, paged)

    def test_other_alarms_are_apart(self):
        other = factory.create_alarm(self.db)
        self.assertEqual(1, len(self.db.get_alarm_changes(
            other['alarm_id'])))

    def test_unknown_marker(self):
        other = factory.create_alarm(self.db)
        foreign = self.db.get_alarm_changes(other['alarm_id'])[0]
        for marker in ('nope', foreign['event_id']):
            self.assertRaises(exception.NotFound,
                              self.db.get_alarm_changes, self.alarm_id,
                              marker=marker)


class TestDeliveries(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.alarm_id = factory.create_alarm(self.db)['alarm_id']

    def _store(self, *claimed: datetime.datetime, action: str | None = None,
               **overrides: object) -> list[dict]:
        """A delivery owed since each time of ``claimed``.

        Each to an action of its own, unless ``action`` is given: one
        chain then, in the order of the times.
        """
        deliveries = [factory.delivery_values(
            self.alarm_id, action=action or 'test://alarm/%d' % n,
            claimed_at=at, **overrides) for n, at in enumerate(claimed)]
        self.db.transition_state(self.alarm_id, 'ok', 'ok', 'r', T0, None,
                                 deliveries)
        return deliveries

    def test_claim_stale(self):
        old, older, fresh = self._store(seconds(1), seconds(0), seconds(9))
        claimed = self.db.claim_stale_deliveries(seconds(5), seconds(10))
        self.assertEqual([older['delivery_id'], old['delivery_id']],
                         [d['delivery_id'] for d in claimed])
        self.assertEqual(dict(older, claimed_at=seconds(10)), claimed[0])
        stored = {d['delivery_id']: d['claimed_at']
                  for d in factory.stored_deliveries(self.db)}
        self.assertEqual({old['delivery_id']: seconds(10),
                          older['delivery_id']: seconds(10),
                          fresh['delivery_id']: seconds(9)}, stored)

    def test_claimed_delivery_is_not_stale_again(self):
        self._store(seconds(0))
        self.assertEqual(1, len(self.db.claim_stale_deliveries(
            seconds(5), seconds(10))))
        self.assertEqual([], self.db.claim_stale_deliveries(
            seconds(5), seconds(11)))

    def test_limit(self):
        self._store(seconds(0), seconds(1), seconds(2))
        self.assertEqual(2, len(self.db.claim_stale_deliveries(
            seconds(5), seconds(10), limit=2)))

    def test_concurrent_claims_take_each_delivery_once(self):
        stored = self._store(*[seconds(0)] * 20)
        results = []
        barrier = threading.Barrier(4)

        def claim(n):
            barrier.wait()
            results.append(self.db.claim_stale_deliveries(
                seconds(5), seconds(10 + n)))
        threads = [threading.Thread(target=claim, args=(n,))
                   for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        claimed = [d['delivery_id'] for batch in results for d in batch]
        self.assertEqual(sorted(d['delivery_id'] for d in stored),
                         sorted(claimed))

    def test_stale_chain_goes_one_delivery_at_a_time(self):
        # Handovers lost with a notifier: every delivery of the chain is
        # in flight since its creation, and stale.
        first, second, third = self._store(
            seconds(0), seconds(1), seconds(2), action='test://vnfm/alarm')
        self.assertEqual([first['delivery_id']], [
            d['delivery_id'] for d in self.db.claim_stale_deliveries(
                seconds(5), seconds(10))])
        # The others stay behind the first while it is under way.
        self.assertEqual([], self.db.claim_stale_deliveries(
            seconds(9), seconds(11)))

        self.db.finish_deliveries([first['delivery_id']], [], [])
        self.assertEqual([second['delivery_id']], [
            d['delivery_id'] for d in self.db.claim_stale_deliveries(
                seconds(5), seconds(21))])

    def test_stale_behind_a_waiting_delivery_waits_for_it(self):
        [waiting] = self._store(seconds(0), action='test://vnfm/alarm',
                                attempts=1, next_attempt_at=seconds(30))
        [stale] = self._store(seconds(1), action='test://vnfm/alarm')
        self.assertEqual([], self.db.claim_stale_deliveries(
            seconds(5), seconds(10)))
        self.assertEqual([waiting['delivery_id']], [
            d['delivery_id'] for d in self.db.claim_stale_deliveries(
                seconds(5), seconds(30))])
        self.assertEqual({seconds(1)}, {
            d['claimed_at'] for d in factory.stored_deliveries(self.db)
            if d['delivery_id'] == stale['delivery_id']})

    def test_claim_handed_over(self):
        first, second = self._store(seconds(0), seconds(0))
        ids = [first['delivery_id'], second['delivery_id'], 'unknown']
        self.assertEqual(ids[:2], self.db.claim_deliveries(ids, seconds(1)))
        self.assertEqual([], self.db.claim_deliveries(ids, seconds(2)))
        self.assertEqual({seconds(1)}, {
            d['claimed_at'] for d in factory.stored_deliveries(self.db)})

    def test_stored_behind_an_older_one_of_its_chain(self):
        self._store(seconds(0), action='test://a')
        first = [factory.delivery_values(self.alarm_id, action=action,
                                         claimed_at=seconds(1))
                 for action in ('test://a', 'test://b')]
        second = [factory.delivery_values(self.alarm_id, action='test://b',
                                          claimed_at=seconds(2))]

        won = self.db.transition_states([
            db_api.StateTransition(self.alarm_id, 'ok', 'alarm', 'r',
                                   seconds(1), None, first),
            db_api.StateTransition(self.alarm_id, 'alarm', 'ok', 'r',
                                   seconds(2), None, second)])

        self.assertEqual([True, True], won)
        # a: behind the one owed already; b: the first of its chain, then
        # the second transition's behind it.
        self.assertEqual([seconds(1), None, seconds(2)],
                         [d['next_attempt_at'] for d in first + second])
        stored = {d['delivery_id']: d['next_attempt_at']
                  for d in factory.stored_deliveries(self.db)}
        self.assertEqual([seconds(1), None, seconds(2)],
                         [stored[d['delivery_id']] for d in first + second])

    def test_claim_handed_over_in_bulk(self):
        heads = self._store(*[seconds(0)] * 50)
        # One chain: its older delivery heads it, the newer one is parked.
        older, newer = self._store(seconds(0), seconds(1),
                                   action='test://vnfm/alarm')
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement.split()[0].upper())

        sa.event.listen(self.db.engine, 'before_cursor_execute', count)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'before_cursor_execute', count)
        ids = [d['delivery_id'] for d in heads + [newer, older]]

        claimed = self.db.claim_deliveries(ids, seconds(2))

        self.assertEqual(ids[:50] + [older['delivery_id']], claimed)
        # One read, one UPDATE for the heads, one for the parked one.
        self.assertEqual(['SELECT', 'UPDATE', 'UPDATE'],
                         [s for s in statements if s != 'BEGIN'
                          and s != 'COMMIT'])
        parked = {d['delivery_id']: d for d in
                  factory.stored_deliveries(self.db)}[newer['delivery_id']]
        self.assertEqual((seconds(2), seconds(2)),
                         (parked['claimed_at'], parked['next_attempt_at']))

    def test_taken_over_is_not_claimed_as_handed_over(self):
        [delivery] = self._store(seconds(0))
        self.db.claim_stale_deliveries(seconds(5), seconds(10))
        self.assertEqual([], self.db.claim_deliveries(
            [delivery['delivery_id']], seconds(11)))
        # Nor the other way round.
        [fresh] = self._store(seconds(20))
        self.db.claim_deliveries([fresh['delivery_id']], seconds(21))
        # Stale by its creation time, but claimed since.
        self.assertNotIn(fresh['delivery_id'], [
            d['delivery_id'] for d in self.db.claim_stale_deliveries(
                seconds(20.5), seconds(30))])

    def test_delete(self):
        first, second = self._store(seconds(0), seconds(1))
        self.db.delete_deliveries([first['delivery_id'], 'unknown'])
        self.db.delete_deliveries([])
        self.assertEqual([second], factory.stored_deliveries(self.db))
