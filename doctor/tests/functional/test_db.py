"""doctor's storage on SQLite, PostgreSQL and MariaDB.

One set of tests, run on each backend by the subclasses at the end.
"""

import datetime
import threading
import typing
import uuid

from oslo_db.sqlalchemy import test_migrations
from oslo_serialization import jsonutils
from oslo_utils import timeutils
import sqlalchemy as sa

from doctor.common import exception
from doctor.db import api as db_api
from doctor.db.sqlalchemy import migration
from doctor.db.sqlalchemy import models
from doctor.tests import base as doctor_base
from doctor.tests.functional import base

_delivery = models.AlarmDelivery.__table__


def _at(microsecond: int, seconds: int = 0) -> datetime.datetime:
    return (datetime.datetime(2026, 1, 2, 3, 4, 5, microsecond)
            + datetime.timedelta(seconds=seconds))


def _race(count: int, function) -> list:
    """Run ``function(i)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i):
        try:
            barrier.wait(10)
            results[i] = function(i)
        except Exception as e:  # reported by the test below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    return results


class SQLiteStorageTest(test_migrations.ModelsMigrationsSync,
                        base.FunctionalTestCase):
    """The storage tests on the embedded default, SQLite."""

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.db = self.use_database(self.backend)
        self.project_id = uuid.uuid4().hex
        self._sync_engine = None

    def _create(self, **values) -> dict:
        values.setdefault('project_id', self.project_id)
        alarm, change = base.new_alarm(**values)
        return self.db.create_alarm(alarm, change)

    def _connection(self) -> db_api.Connection:
        """Another connection to the database, as another process has."""
        connection = db_api.get_connection(self.conf)
        self.addCleanup(connection.close)
        return connection

    def _deliveries(self, alarm_id: str) -> list[dict]:
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(_delivery).where(_delivery.c.alarm_id == alarm_id)
                .order_by(_delivery.c.delivery_id)).mappings().all()
        return [dict(row) for row in rows]

    @staticmethod
    def _delivery(alarm_id: str, action: str, claimed_at, **firing) -> dict:
        return {'delivery_id': str(uuid.uuid4()), 'alarm_id': alarm_id,
                'action': action, 'firing': firing,
                'created_at': claimed_at, 'claimed_at': claimed_at}

    @staticmethod
    def _state_change(alarm_id: str, state: str, timestamp) -> dict:
        return {'event_id': str(uuid.uuid4()), 'alarm_id': alarm_id,
                'type': db_api.CHANGE_STATE,
                'detail': jsonutils.dumps({'state': state}),
                'severity': 'moderate', 'on_behalf_of': None,
                'project_id': None, 'user_id': None,
                'timestamp': timestamp}

    # ModelsMigrationsSync: the migrations, run on an empty database of
    # this backend, build exactly what the models describe.

    def get_engine(self):
        if self._sync_engine is None:
            self._sync_engine = sa.create_engine(
                self.empty_database_url(self.backend))
            self.addCleanup(self._sync_engine.dispose)
        return self._sync_engine

    def get_metadata(self):
        return models.Base.metadata

    def db_sync(self, engine):
        migration.upgrade(engine)

    # schema

    def test_migrations_reach_head_on_an_empty_database(self):
        conf = doctor_base.new_conf()
        conf.set_override('connection', self.empty_database_url(self.backend),
                          group='database')
        connection = db_api.get_connection(conf)
        self.addCleanup(connection.close)
        self.assertIsNone(connection.schema_version())

        connection.upgrade()

        self.assertEqual(migration.head(), connection.schema_version())
        tables = set(sa.inspect(connection.engine).get_table_names())
        self.assertTrue({'alarm', 'alarm_change',
                         'alarm_delivery'}.issubset(tables), tables)
        connection.upgrade()  # at head already: nothing to do
        self.assertEqual(migration.head(), connection.schema_version())

    def test_alarms_of_0001_do_not_see_events_of_no_project(self):
        engine = self.get_engine()
        migration.upgrade(engine, '0001')
        alarm, _change = base.new_alarm()
        alarm.pop('infrastructure', None)
        table = typing.cast(sa.Table, models.Alarm.__table__)
        with engine.begin() as connection:
            # The new column is left out of the insert, as 0001 has none.
            connection.execute(table.insert(), alarm)

        migration.upgrade(engine)

        with engine.connect() as connection:
            stored = connection.execute(
                sa.select(table.c.infrastructure)
                .where(table.c.alarm_id == alarm['alarm_id'])).scalar_one()
        self.assertIs(False, stored)

    # alarms

    def test_create_get_and_list_alarms(self):
        resource_id = str(uuid.uuid4())
        first = self._create(resource_id=resource_id, name='first',
                             alarm_actions=['http://site/alarm'],
                             repeat_actions=True)
        second = self._create(resource_id=resource_id, name='second',
                              state='alarm')
        disabled = self._create(name='third', enabled=False)
        self._create(name='first', project_id=uuid.uuid4().hex)

        stored = self.db.get_alarm(first['alarm_id'])
        self.assertEqual(first, stored)
        self.assertIs(True, stored['repeat_actions'])
        self.assertEqual(['http://site/alarm'], stored['alarm_actions'])
        self.assertEqual('error', stored['rule']['query'][0]['value'])

        def ids(**filters):
            return {a['alarm_id'] for a in self.db.get_alarms(**filters)}
        mine = {first['alarm_id'], second['alarm_id'], disabled['alarm_id']}
        self.assertEqual(mine, ids(project_id=self.project_id))
        self.assertEqual({first['alarm_id'], second['alarm_id']},
                         ids(project_id=self.project_id,
                             resource_id=resource_id))
        self.assertEqual({second['alarm_id']},
                         ids(project_id=self.project_id, state='alarm'))
        self.assertEqual({disabled['alarm_id']},
                         ids(project_id=self.project_id, enabled=False))
        self.assertEqual({first['alarm_id']},
                         ids(project_id=self.project_id, name='first'))
        self.assertEqual(mine, ids(project_id=self.project_id,
                                   alarm_type='notification'))
        self.assertEqual(set(), ids(alarm_type='threshold'))
        self.assertEqual(3, self.db.count_alarms(project_id=self.project_id))
        self.assertEqual(4, self.db.count_alarms())

        history = self.db.get_alarm_changes(first['alarm_id'])
        self.assertEqual([db_api.CHANGE_CREATION],
                         [change['type'] for change in history])
        alarm, change = base.new_alarm(alarm_id=first['alarm_id'])
        self.assertRaises(exception.Conflict, self.db.create_alarm, alarm,
                          change)
        self.assertRaises(exception.AlarmNotFound, self.db.get_alarm,
                          str(uuid.uuid4()))

    def test_paging_and_sorting(self):
        created = [self._create(name='alarm-%d' % (i % 4),
                                severity=('low', 'critical')[i % 2],
                                timestamp=_at(i))
                   for i in range(9)]

        def pages(sort, limit=2):
            found, marker = [], None
            while True:
                page = self.db.get_alarms(project_id=self.project_id,
                                          sort=sort, limit=limit,
                                          marker=marker)
                found.extend(page)
                if len(page) < limit:
                    return [a['alarm_id'] for a in found]
                marker = page[-1]['alarm_id']

        def ordered(key, reverse=False):
            return [a['alarm_id'] for a in sorted(
                created, key=lambda a: (a[key], a['alarm_id']),
                reverse=reverse)]

        # The newest first by default.
        self.assertEqual(ordered('timestamp', reverse=True),
                         [a['alarm_id'] for a in self.db.get_alarms(
                             project_id=self.project_id)])
        # Names repeat: the alarm id breaks ties, so paging is stable.
        self.assertEqual(ordered('name'), pages([('name', 'asc')]))
        self.assertEqual(ordered('name', reverse=True),
                         pages([('name', 'desc')], limit=3))
        expected = [a['alarm_id'] for a in sorted(
            created, key=lambda a: (a['severity'], a['timestamp']))]
        self.assertEqual(expected, pages([('severity', 'asc'),
                                          ('timestamp', 'asc')], limit=4))
        self.assertRaises(exception.AlarmNotFound, self.db.get_alarms,
                          marker=str(uuid.uuid4()))

    def test_iter_enabled_alarms_reads_in_batches(self):
        enabled = {self._create()['alarm_id'] for _ in range(5)}
        self._create(enabled=False)
        found = list(self.db.iter_enabled_alarms('notification',
                                                 batch_size=2))
        self.assertEqual(enabled, {a['alarm_id'] for a in found})
        self.assertEqual(5, len(found))

    def test_update_and_delete_keep_history(self):
        alarm = self._create(alarm_actions=['http://site/a'],
                             timestamp=_at(0))
        alarm_id = alarm['alarm_id']
        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', _at(1),
            self._state_change(alarm_id, 'alarm', _at(1)),
            [self._delivery(alarm_id, 'http://site/a', _at(1))]))
        rule_change = dict(self._state_change(alarm_id, 'x', _at(2)),
                           type=db_api.CHANGE_RULE)
        updated = self.db.update_alarm(
            alarm_id, {'name': 'renamed', 'timestamp': _at(2)},
            [rule_change])
        self.assertEqual('renamed', updated['name'])
        self.assertEqual('alarm', updated['state'])

        deletion = dict(self._state_change(alarm_id, 'x', _at(3)),
                        type=db_api.CHANGE_DELETION)
        self.db.delete_alarm(alarm_id, deletion)

        self.assertRaises(exception.AlarmNotFound, self.db.get_alarm,
                          alarm_id)
        self.assertEqual([], self._deliveries(alarm_id))
        self.assertEqual(
            [db_api.CHANGE_DELETION, db_api.CHANGE_RULE, db_api.CHANGE_STATE,
             db_api.CHANGE_CREATION],
            [c['type'] for c in self.db.get_alarm_changes(alarm_id)])
        self.assertRaises(exception.AlarmNotFound, self.db.update_alarm,
                          alarm_id, {'name': 'x'}, [])
        self.assertRaises(exception.AlarmNotFound, self.db.delete_alarm,
                          alarm_id, deletion)

    # compare-and-set

    def test_transition_state_has_exactly_one_winner(self):
        actions = ['http://site/a', 'http://site/b']
        racers = 8
        for _round in range(3):
            alarm_id = self._create(alarm_actions=actions)['alarm_id']
            connections = [self._connection() for _ in range(racers)]
            now = timeutils.utcnow()

            def transition(i):
                return connections[i].transition_state(
                    alarm_id, 'ok', 'alarm', 'racer %d' % i, now,
                    self._state_change(alarm_id, 'alarm', now),
                    [self._delivery(alarm_id, action, now, racer=i)
                     for action in actions])
            results = _race(racers, transition)

            self.assertEqual(1, results.count(True), results)
            winner = results.index(True)
            alarm = self.db.get_alarm(alarm_id)
            self.assertEqual(('alarm', 'racer %d' % winner),
                             (alarm['state'], alarm['state_reason']))
            transitions = [c for c in self.db.get_alarm_changes(alarm_id)
                           if c['type'] == db_api.CHANGE_STATE]
            self.assertEqual(1, len(transitions))
            deliveries = self._deliveries(alarm_id)
            self.assertEqual(sorted(actions),
                             sorted(d['action'] for d in deliveries))
            self.assertEqual([{'racer': winner}] * 2,
                             [d['firing'] for d in deliveries])
            for connection in connections:
                connection.close()

    def test_transition_states_have_exactly_one_winner_each(self):
        # Replicas storing overlapping bursts: every alarm moves once, and
        # its history and deliveries are those of the batch that won it.
        racers = 4
        alarm_ids = [self._create(alarm_actions=['http://site/a'])
                     ['alarm_id'] for _ in range(6)]
        connections = [self._connection() for _ in range(racers)]
        now = timeutils.utcnow()

        def transition(i):
            return connections[i].transition_states([
                db_api.StateTransition(
                    alarm_id, 'ok', 'alarm', 'racer %d' % i, now,
                    self._state_change(alarm_id, 'alarm', now),
                    [self._delivery(alarm_id, 'http://site/a', now,
                                    racer=i)])
                for alarm_id in alarm_ids])
        results = _race(racers, transition)

        for n, alarm_id in enumerate(alarm_ids):
            won = [i for i in range(racers) if results[i][n]]
            self.assertEqual(1, len(won), results)
            self.assertEqual('racer %d' % won[0],
                             self.db.get_alarm(alarm_id)['state_reason'])
            transitions = [c for c in self.db.get_alarm_changes(alarm_id)
                           if c['type'] == db_api.CHANGE_STATE]
            self.assertEqual(1, len(transitions))
            self.assertEqual([{'racer': won[0]}],
                             [d['firing'] for d in
                              self._deliveries(alarm_id)])

    def test_transition_states_lost_one_in_the_middle(self):
        alarm_ids = [self._create()['alarm_id'] for _ in range(3)]
        self.assertTrue(self.db.transition_state(
            alarm_ids[1], 'ok', 'alarm', 'elsewhere', _at(1), None, []))
        results = self.db.transition_states([
            db_api.StateTransition(
                alarm_id, 'ok', 'alarm', 'burst', _at(2),
                self._state_change(alarm_id, 'alarm', _at(2)),
                [self._delivery(alarm_id, 'http://site/a', _at(2))])
            for alarm_id in alarm_ids])
        self.assertEqual([True, False, True], results)
        self.assertEqual(['burst', 'elsewhere', 'burst'],
                         [self.db.get_alarm(a)['state_reason']
                          for a in alarm_ids])
        self.assertEqual([1, 0, 1], [len(self._deliveries(a))
                                     for a in alarm_ids])

    def _bulk_create(self, count: int, **values) -> list[str]:
        """``count`` alarms written in one statement; their ids, sorted."""
        alarms = []
        for _n in range(count):
            alarm, _change = base.new_alarm(project_id=self.project_id,
                                            **values)
            alarms.append(alarm)
        with self.db.engine.begin() as connection:
            connection.execute(models.Alarm.__table__.insert(), alarms)
        return sorted(alarm['alarm_id'] for alarm in alarms)

    def _move(self, alarm_id: str, expected: str, new: str, reason: str,
              at: datetime.datetime, **kwargs) -> db_api.StateTransition:
        change = (self._state_change(alarm_id, new, at)
                  if new != expected else None)
        return db_api.StateTransition(
            alarm_id, expected, new, reason, at, change,
            [self._delivery(alarm_id, 'http://site/a', at, reason=reason)],
            **kwargs)

    def _state_changes(self, alarm_ids: list[str]) -> dict[str, int]:
        table = models.AlarmChange.__table__
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table.c.alarm_id, sa.func.count())
                .where(table.c.type == db_api.CHANGE_STATE,
                       table.c.alarm_id.in_(alarm_ids))
                .group_by(table.c.alarm_id)).all()
        counts = dict.fromkeys(alarm_ids, 0)
        counts.update({alarm_id: count for alarm_id, count in rows})
        return counts

    def _stored(self, alarm_ids: list[str]) -> dict[str, dict]:
        table = models.Alarm.__table__
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(table).where(table.c.alarm_id.in_(alarm_ids))
            ).mappings().all()
        return {row['alarm_id']: dict(row) for row in rows}

    def _delivered(self) -> dict[str, list[str]]:
        """The reasons of the stored deliveries, by alarm."""
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(_delivery.c.alarm_id, _delivery.c.firing)).all()
        found: dict[str, list[str]] = {}
        for alarm_id, firing in rows:
            found.setdefault(alarm_id, []).append(firing['reason'])
        return found

    def test_transition_states_batch_of_500(self):
        # Winners and losers, state changes, repeated firings and every
        # deadline variant in one call: each decided on its own.
        ids = self._bulk_create(500, deadline=_at(0, 60))
        lost = set(ids[::7])
        for alarm_id in lost:
            self.assertTrue(self.db.transition_state(
                alarm_id, 'ok', 'alarm', 'elsewhere', _at(1), None, []))
        batch = []
        expected = {}
        for n, alarm_id in enumerate(ids):
            kind = n % 5
            if kind == 0:
                move = self._move(alarm_id, 'ok', 'alarm', 'change',
                                  _at(2))
                expected[alarm_id] = ('alarm', _at(2), _at(0, 60))
            elif kind == 1:
                move = self._move(alarm_id, 'ok', 'ok', 'repeat', _at(2),
                                  deadline=_at(3, 60))
                expected[alarm_id] = ('ok', None, _at(3, 60))
            elif kind == 2:
                move = self._move(alarm_id, 'ok', 'alarm', 'deadline',
                                  _at(2), deadline=_at(999999, 90))
                expected[alarm_id] = ('alarm', _at(2), _at(999999, 90))
            elif kind == 3:
                move = self._move(alarm_id, 'ok', 'insufficient data',
                                  'timeout', _at(2),
                                  expected_deadline=_at(0, 60))
                expected[alarm_id] = ('insufficient data', _at(2), None)
            else:
                # The deadline moved since the timeout check read it.
                move = self._move(alarm_id, 'ok', 'insufficient data',
                                  'late timeout', _at(2),
                                  expected_deadline=_at(0, 59))
            batch.append(move)
        batch.reverse()

        won = self.db.transition_states(batch)

        self.assertEqual([t.alarm_id in expected and t.alarm_id not in lost
                          for t in batch], won)
        stored = self._stored(ids)
        changes = self._state_changes(ids)
        delivered = self._delivered()
        for transition, ok in zip(batch, won):
            alarm = stored[transition.alarm_id]
            if not ok:
                self.assertNotEqual(transition.reason, alarm['state_reason'])
                self.assertNotIn(transition.alarm_id, delivered)
                self.assertEqual(0, changes[transition.alarm_id])
                continue
            state, state_timestamp, deadline = expected[transition.alarm_id]
            self.assertEqual(
                (state, transition.reason,
                 state_timestamp or alarm['timestamp'], deadline),
                (alarm['state'], alarm['state_reason'],
                 alarm['state_timestamp'], alarm['deadline']))
            self.assertEqual([transition.reason],
                             delivered[transition.alarm_id])
            self.assertEqual(0 if transition.change is None else 1,
                             changes[transition.alarm_id])
        for alarm_id in lost:
            self.assertEqual(('alarm', 'elsewhere', _at(0, 60)),
                             (stored[alarm_id]['state'],
                              stored[alarm_id]['state_reason'],
                              stored[alarm_id]['deadline']))

    def test_transition_states_same_alarm_again_in_one_call(self):
        [alarm_id] = self._bulk_create(1)
        won = self.db.transition_states([
            self._move(alarm_id, 'ok', 'alarm', 'first', _at(1)),
            self._move(alarm_id, 'ok', 'alarm', 'stale', _at(2)),
            self._move(alarm_id, 'alarm', 'alarm', 'repeat', _at(3)),
            self._move(alarm_id, 'alarm', 'ok', 'back', _at(4))])
        self.assertEqual([True, False, True, True], won)
        alarm = self.db.get_alarm(alarm_id)
        self.assertEqual(('ok', 'back', _at(4)),
                         (alarm['state'], alarm['state_reason'],
                          alarm['state_timestamp']))
        self.assertEqual(['first', 'repeat', 'back'],
                         sorted(self._delivered()[alarm_id],
                                key=['first', 'repeat', 'back'].index))
        self.assertEqual({alarm_id: 2}, self._state_changes([alarm_id]))

    def test_set_deadlines(self):
        ids = self._bulk_create(300, deadline=_at(0))
        deadlines = {alarm_id: _at(n, 10) for n, alarm_id in enumerate(ids)}
        deadlines[ids[0]] = None
        deadlines['gone'] = _at(5)
        self.db.set_deadlines(deadlines)
        stored = self._stored(ids)
        self.assertEqual([deadlines[alarm_id] for alarm_id in ids],
                         [stored[alarm_id]['deadline'] for alarm_id in ids])

    def test_two_batches_race_on_the_same_alarms(self):
        # Two evaluators store overlapping bursts at once, in opposite
        # orders, one moving the alarms on events and the other timing
        # them out: every alarm moves once, and what it records is the
        # winner's alone.
        ids = self._bulk_create(300, deadline=_at(0, 60))
        connections = [self._connection() for _ in range(2)]

        def transition(i):
            if i == 0:
                batch = [self._move(alarm_id, 'ok', 'alarm', 'event',
                                    _at(1), deadline=_at(1, 60))
                         for alarm_id in ids]
            else:
                batch = [self._move(alarm_id, 'ok', 'insufficient data',
                                    'timeout', _at(2),
                                    expected_deadline=_at(0, 60))
                         for alarm_id in reversed(ids)]
            return connections[i].transition_states(batch)
        for _round in range(3):
            results = _race(2, transition)
            event_won = results[0]
            timeout_won = list(reversed(results[1]))
            self.assertEqual([True] * len(ids),
                             [a != b for a, b in zip(event_won,
                                                     timeout_won)])
            stored = self._stored(ids)
            delivered = self._delivered()
            self.assertEqual(dict.fromkeys(ids, 1),
                             self._state_changes(ids))
            for alarm_id, by_event in zip(ids, event_won):
                reason = 'event' if by_event else 'timeout'
                self.assertEqual(reason, stored[alarm_id]['state_reason'])
                self.assertEqual([reason], delivered[alarm_id])
            # Back to the start for the next round.
            with self.db.engine.begin() as connection:
                connection.execute(
                    models.Alarm.__table__.update()
                    .values(state='ok', deadline=_at(0, 60)))
                connection.execute(_delivery.delete())
                connection.execute(models.AlarmChange.__table__.delete())

    def test_transition_state_checks_the_deadline(self):
        alarm_id = self._create()['alarm_id']
        self.db.set_deadline(alarm_id, _at(100))
        expired = self.db.get_expired_alarms(_at(200))
        self.assertEqual([alarm_id], [a['alarm_id'] for a in expired])
        self.assertEqual([], self.db.get_expired_alarms(_at(99)))
        # An event moved the deadline after the timeout check read it.
        self.db.set_deadline(alarm_id, _at(300))
        self.assertFalse(self.db.transition_state(
            alarm_id, 'ok', 'insufficient data', 'timeout', _at(200), None,
            [], deadline=None, expected_deadline=expired[0]['deadline']))
        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'insufficient data', 'timeout', _at(400), None,
            [], deadline=None, expected_deadline=_at(300)))
        alarm = self.db.get_alarm(alarm_id)
        self.assertEqual(('insufficient data', None),
                         (alarm['state'], alarm['deadline']))
        self.assertEqual([], self.db.get_expired_alarms(_at(500)))

    def test_disabled_alarm_does_not_transition(self):
        alarm_id = self._create(enabled=False)['alarm_id']
        self.assertFalse(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', _at(1), None, []))
        self.assertEqual('ok', self.db.get_alarm(alarm_id)['state'])

    def test_timestamps_keep_microseconds(self):
        alarm = self._create(timestamp=_at(123456),
                             state_timestamp=_at(654321))
        alarm_id = alarm['alarm_id']
        stored = self.db.get_alarm(alarm_id)
        self.assertEqual((_at(123456), _at(654321)),
                         (stored['timestamp'], stored['state_timestamp']))

        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', _at(789012, 1), None, [],
            deadline=_at(1, 60)))
        stored = self.db.get_alarm(alarm_id)
        self.assertEqual((_at(789012, 1), _at(1, 60)),
                         (stored['state_timestamp'], stored['deadline']))

        # History entries one microsecond apart come back newest first.
        for microsecond in (5, 3, 4):
            self.db.record_change(self._state_change(
                alarm_id, str(microsecond), _at(microsecond, 10)))
        history = self.db.get_alarm_changes(alarm_id, limit=3)
        self.assertEqual([_at(5, 10), _at(4, 10), _at(3, 10)],
                         [c['timestamp'] for c in history])
        older = self.db.get_alarm_changes(alarm_id,
                                          marker=history[0]['event_id'])
        self.assertEqual([_at(4, 10), _at(3, 10), _at(123456)],
                         [c['timestamp'] for c in older])
        self.assertRaises(exception.NotFound, self.db.get_alarm_changes,
                          alarm_id, marker=str(uuid.uuid4()))

        if self.backend == 'mysql':
            columns = sa.inspect(self.db.engine).get_columns('alarm')
            fsp = {c['name']: getattr(c['type'], 'fsp', None)
                   for c in columns}
            self.assertEqual({'state_timestamp': 6, 'timestamp': 6,
                              'deadline': 6},
                             {name: fsp[name] for name in
                              ('state_timestamp', 'timestamp', 'deadline')})

    # deliveries

    def test_stale_deliveries_are_claimed_by_exactly_one_caller(self):
        alarm_id = self._create()['alarm_id']
        count = 20
        deliveries = [self._delivery(alarm_id, 'http://site/%d' % i,
                                     _at(i))
                      for i in range(count)]
        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', _at(0), None, deliveries))
        connections = [self._connection(), self._connection()]

        def claim(i):
            return connections[i].claim_stale_deliveries(
                stale_before=_at(0, 30), now=_at(i + 1, 60))
        first, second = _race(2, claim)

        first_ids = {d['delivery_id'] for d in first}
        second_ids = {d['delivery_id'] for d in second}
        self.assertEqual(set(), first_ids & second_ids)
        self.assertEqual({d['delivery_id'] for d in deliveries},
                         first_ids | second_ids)
        for claimed, now in ((first, _at(1, 60)), (second, _at(2, 60))):
            self.assertEqual({now}, {d['claimed_at'] for d in claimed}
                             or {now})
        stored = {d['delivery_id']: d['claimed_at']
                  for d in self._deliveries(alarm_id)}
        self.assertEqual({i: _at(1, 60) for i in first_ids},
                         {i: stored[i] for i in first_ids})

        # Claimed just now: not stale for another scan until it ages.
        self.assertEqual([], self.db.claim_stale_deliveries(
            stale_before=_at(0, 60), now=_at(0, 61)))
        again = self.db.claim_stale_deliveries(stale_before=_at(0, 120),
                                               now=_at(0, 121), limit=5)
        self.assertEqual(5, len(again))

        self.db.delete_deliveries(list(first_ids | second_ids))
        self.assertEqual([], self._deliveries(alarm_id))

    def test_handed_over_delivery_is_claimed_once(self):
        alarm_id = self._create()['alarm_id']
        deliveries = [self._delivery(alarm_id, 'http://site/%d' % i, _at(i))
                      for i in range(3)]
        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', _at(0), None, deliveries))
        ids = [d['delivery_id'] for d in deliveries]
        # A scan took the first one over while the firing was on its way.
        self.assertEqual(1, len(self.db.claim_stale_deliveries(
            stale_before=_at(1), now=_at(0, 10))))

        self.assertEqual(ids[1:], self.db.claim_deliveries(ids, _at(0, 11)))
        self.assertEqual([], self.db.claim_deliveries(ids, _at(0, 12)))
        self.assertEqual([], self.db.claim_deliveries([str(uuid.uuid4())],
                                                      _at(0, 12)))

        # Racing a scan for fresh deliveries: each is claimed once.
        alarm_id = self._create()['alarm_id']
        now = timeutils.utcnow()
        deliveries = [self._delivery(alarm_id, 'http://site/%d' % i, now)
                      for i in range(20)]
        self.assertTrue(self.db.transition_state(
            alarm_id, 'ok', 'alarm', 'fired', now, None, deliveries))
        ids = [d['delivery_id'] for d in deliveries]
        connections = [self._connection(), self._connection()]
        later = now + datetime.timedelta(seconds=60)

        def claim(i):
            if i:
                return [d['delivery_id'] for d in
                        connections[i].claim_stale_deliveries(
                            stale_before=later, now=later)
                        if d['alarm_id'] == alarm_id]
            return connections[i].claim_deliveries(ids, later)
        handed_over, scanned = _race(2, claim)
        self.assertEqual(set(), set(handed_over) & set(scanned))
        self.assertEqual(set(ids), set(handed_over) | set(scanned))


class PostgreSQLStorageTest(SQLiteStorageTest):
    """The storage tests on PostgreSQL."""

    backend = 'postgresql'


class MariaDBStorageTest(SQLiteStorageTest):
    """The storage tests on MariaDB (MySQL)."""

    backend = 'mysql'
