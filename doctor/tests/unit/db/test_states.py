"""Tests of bulk state transitions and deadlines on the embedded SQLite."""

import datetime

import fixtures
import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.tests import base
from doctor.tests.unit.db import factory

T0 = factory.T0


def seconds(n: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=n)


def _verb(statement: str) -> str:
    """What a statement does: UPDATE for a WITH ... UPDATE too."""
    words = statement.upper().split()
    if words[0] == 'WITH' and 'UPDATE' in words:
        return 'UPDATE'
    return words[0]


class TestBulkTransitions(base.DBTestCase):
    """``transition_states`` with many alarms and every kind of move."""

    def _alarms(self, count: int, **overrides) -> list[str]:
        return [factory.create_alarm(self.db, alarm_id='a%03d' % n,
                                     **overrides)['alarm_id']
                for n in range(count)]

    @staticmethod
    def _move(alarm_id: str, expected: str = 'ok', new: str = 'alarm',
              at: float = 1, **kwargs) -> db_api.StateTransition:
        change = None
        if new != expected:
            change = factory.change_values(
                alarm_id, db_api.CHANGE_STATE, timestamp=seconds(at))
        return db_api.StateTransition(
            alarm_id, expected, new, 'r %s %s' % (alarm_id, new),
            seconds(at), change, [factory.delivery_values(alarm_id)],
            **kwargs)

    def _statements(self) -> list[str]:
        """The SQL statements the test's database runs from now on."""
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context,
                   executemany):
            seen.append(_verb(statement))
        sa.event.listen(self.db.engine, 'before_cursor_execute', record)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'before_cursor_execute', record)
        return seen

    def _transitions(self, alarm_id: str) -> int:
        return len([c for c in self.db.get_alarm_changes(alarm_id)
                    if c['type'] == db_api.CHANGE_STATE])

    def _check_mixed_batch(self) -> list[str]:
        """Store a mixed batch, check it; the statements it took."""
        # 500 alarms: every third already moved elsewhere (its
        # compare-and-set loses), every fifth sees a repeated firing.
        ids = self._alarms(500)
        lost = set(ids[::3])
        for alarm_id in lost:
            self.assertTrue(self.db.transition_state(
                alarm_id, 'ok', 'alarm', 'elsewhere', seconds(0.5), None,
                []))
        batch = []
        for n, alarm_id in enumerate(ids):
            if n % 5 == 0 and alarm_id not in lost:
                batch.append(self._move(alarm_id, 'ok', 'ok'))
            else:
                batch.append(self._move(alarm_id))
        # Given out of order: the answer is still in the given order.
        batch.reverse()

        statements = self._statements()
        won = self.db.transition_states(batch)
        statements = list(statements)

        self.assertEqual([t.alarm_id not in lost for t in batch], won)
        alarms = {a['alarm_id']: a for a in self.db.get_alarms()}
        for transition in batch:
            alarm = alarms[transition.alarm_id]
            if transition.alarm_id in lost:
                self.assertEqual(('alarm', 'elsewhere', seconds(0.5)),
                                 (alarm['state'], alarm['state_reason'],
                                  alarm['state_timestamp']))
                self.assertEqual(0, self._transitions(transition.alarm_id))
            elif transition.new_state == 'ok':
                # A repeated firing: the reason is new, the state and its
                # timestamp are not, and no transition is recorded.
                self.assertEqual(('ok', transition.reason, T0),
                                 (alarm['state'], alarm['state_reason'],
                                  alarm['state_timestamp']))
                self.assertEqual(0, self._transitions(transition.alarm_id))
            else:
                self.assertEqual(('alarm', transition.reason, seconds(1)),
                                 (alarm['state'], alarm['state_reason'],
                                  alarm['state_timestamp']))
                self.assertEqual(1, self._transitions(transition.alarm_id))
        delivered = sorted(d['alarm_id']
                           for d in factory.stored_deliveries(self.db))
        self.assertEqual(sorted(set(ids) - lost), delivered)
        return statements

    def test_batch_of_500_winners_and_losers(self):
        statements = self._check_mixed_batch()
        # A state change and a repeat: two kinds of compare-and-set.
        self.assertEqual(2, statements.count('UPDATE'))

    def test_batch_takes_a_statement_per_kind_not_per_alarm(self):
        ids = self._alarms(200)
        statements = self._statements()
        won = self.db.transition_states(
            [self._move(alarm_id) for alarm_id in ids[:150]]
            + [self._move(alarm_id, 'ok', 'ok') for alarm_id in ids[150:]])
        self.assertEqual([True] * 200, won)
        # Two kinds of move (state change, repeat), then the history
        # entries and the deliveries.
        self.assertEqual(['UPDATE', 'UPDATE', 'INSERT', 'INSERT'],
                         [s for s in statements if s in ('UPDATE',
                                                         'INSERT')])

    def test_without_update_returning_each_moves_on_its_own(self):
        # SQLite before 3.35 has no UPDATE ... RETURNING: the same
        # outcome, one UPDATE per alarm.
        self.db.engine  # noqa: B018 - set the engine up first
        self.useFixture(fixtures.MockPatchObject(
            self.db.engine.dialect, 'server_version_info', (3, 31, 1)))
        statements = self._check_mixed_batch()
        self.assertEqual(500, statements.count('UPDATE'))

    def test_same_alarm_several_times_in_order(self):
        [a, b] = self._alarms(2)
        won = self.db.transition_states([
            self._move(a), self._move(b, 'alarm', 'ok'),
            self._move(a, 'alarm', 'alarm', at=2),
            self._move(a, 'alarm', 'ok', at=3),
            self._move(a, 'alarm', 'ok', at=4)])
        self.assertEqual([True, False, True, True, False], won)
        alarm = self.db.get_alarm(a)
        self.assertEqual(('ok', 'r %s ok' % a, seconds(3)),
                         (alarm['state'], alarm['state_reason'],
                          alarm['state_timestamp']))
        self.assertEqual(2, self._transitions(a))
        self.assertEqual(3, len([d for d in factory.stored_deliveries(
            self.db) if d['alarm_id'] == a]))

    def test_deadline_variants_in_one_batch(self):
        ids = self._alarms(6)
        for alarm_id in ids[2:]:
            self.db.set_deadline(alarm_id, seconds(30))
        won = self.db.transition_states([
            # An event sets a deadline, or leaves the one there.
            self._move(ids[0], deadline=seconds(31.000001)),
            self._move(ids[1]),
            # Timeouts: the deadline read is still there, or was moved.
            self._move(ids[2], 'ok', 'insufficient data',
                       expected_deadline=seconds(30)),
            self._move(ids[3], 'ok', 'insufficient data',
                       expected_deadline=seconds(29)),
            # An event moves the deadline on.
            self._move(ids[4], deadline=seconds(40)),
            # A repeat that pushes the deadline.
            self._move(ids[5], 'ok', 'ok', deadline=seconds(50)),
        ])
        self.assertEqual([True, True, True, False, True, True], won)
        self.assertEqual(
            [('alarm', seconds(31.000001)), ('alarm', None),
             ('insufficient data', None), ('ok', seconds(30)),
             ('alarm', seconds(40)), ('ok', seconds(50))],
            [(a['state'], a['deadline'])
             for a in map(self.db.get_alarm, ids)])

    def test_disabled_and_unknown_alarms_lose(self):
        [on, off] = self._alarms(2)
        self.db.update_alarm(off, {'enabled': False}, [])
        won = self.db.transition_states([
            self._move('gone'), self._move(off), self._move(on)])
        self.assertEqual([False, False, True], won)
        self.assertEqual(['ok', 'alarm'],
                         [self.db.get_alarm(i)['state'] for i in (off, on)])


class TestSetDeadlines(base.DBTestCase):

    def test_moves_each_named_deadline(self):
        ids = [factory.create_alarm(self.db, deadline=seconds(1))
               ['alarm_id'] for _ in range(3)]
        self.db.set_deadlines({ids[0]: seconds(10.5), ids[1]: None,
                               'gone': seconds(3)})
        self.assertEqual([seconds(10.5), None, seconds(1)],
                         [self.db.get_alarm(i)['deadline'] for i in ids])
        self.assertEqual([ids[2]], [
            a['alarm_id'] for a in self.db.get_expired_alarms(seconds(5))])

    def test_many_in_one_statement_each_chunk(self):
        ids = [factory.create_alarm(self.db)['alarm_id']
               for _ in range(120)]
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context,
                   executemany):
            seen.append(_verb(statement))
        sa.event.listen(self.db.engine, 'before_cursor_execute', record)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'before_cursor_execute', record)
        self.db.set_deadlines({alarm_id: seconds(n)
                               for n, alarm_id in enumerate(ids)})
        self.assertEqual(1, seen.count('UPDATE'))
        self.assertEqual([seconds(n) for n in range(120)],
                         [self.db.get_alarm(i)['deadline'] for i in ids])

    def test_nothing_to_do(self):
        self.db.set_deadlines({})
