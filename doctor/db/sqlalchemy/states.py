"""Alarm states: compare-and-set transitions and deadlines, on Core.

Each function runs inside a transaction its caller opened; see
:meth:`doctor.db.api.Connection.transition_states` for what a transition
means.

A burst of transitions (a host's instances failing together) is stored
with a few statements rather than one per alarm: one compare-and-set
``UPDATE`` per kind of transition for up to ``_CHUNK`` alarms, joined to
the expected and new values of each alarm, then one insert of the
winners' history entries and one of their deliveries. Where the database
can say which rows an ``UPDATE`` changed (PostgreSQL; SQLite from 3.35,
``RETURNING``) that statement alone decides every compare-and-set of the
chunk. MySQL and MariaDB cannot: there the chunk's rows are read and
locked first (``SELECT ... FOR UPDATE``), each compare-and-set decided on
what was read, and the winners updated with one joined ``UPDATE``.
Either way no other writer can change a row between its comparison and
its update, so of two evaluators racing on one transition exactly one
wins it.
"""

from collections.abc import Iterable
from collections.abc import Mapping
import datetime
import typing

import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models

_alarm = typing.cast(sa.Table, models.Alarm.__table__)
_change = typing.cast(sa.Table, models.AlarmChange.__table__)
_delivery = typing.cast(sa.Table, models.AlarmDelivery.__table__)

# Alarms per statement: a few thousand parameters, below every database's
# limit.
_CHUNK = 500

# (changes_state, moves_deadline, checks_deadline): what a transition
# writes and compares besides the state and its reason.
_Kind = tuple[bool, bool, bool]

_INSERT_CHANGE = _change.insert()
_INSERT_DELIVERY = _delivery.insert()
_SET_DEADLINE = (_alarm.update()
                 .where(_alarm.c.alarm_id == sa.bindparam('a_id'))
                 .values(deadline=sa.bindparam('deadline')))
_SINGLE: dict[_Kind, sa.Update] = {}


def _kind(transition: db_api.StateTransition) -> _Kind:
    return (transition.new_state != transition.expected_state,
            (transition.deadline is not None
             or transition.expected_deadline is not None),
            transition.expected_deadline is not None)


# -- one transition at a time


def _single_statement(kind: _Kind) -> sa.Update:
    """The compare-and-set UPDATE of one transition of ``kind``."""
    changes_state, moves_deadline, checks_deadline = kind
    conditions = [_alarm.c.alarm_id == sa.bindparam('a_id'),
                  _alarm.c.state == sa.bindparam('expected'),
                  _alarm.c.enabled.is_(True)]
    if checks_deadline:
        conditions.append(
            _alarm.c.deadline == sa.bindparam('expected_deadline'))
    values: dict[str, sa.BindParameter[typing.Any]] = {
        'state': sa.bindparam('state'),
        'state_reason': sa.bindparam('reason'),
    }
    if changes_state:
        values['state_timestamp'] = sa.bindparam('state_timestamp')
    if moves_deadline:
        values['deadline'] = sa.bindparam('deadline')
    return _alarm.update().where(*conditions).values(**values)


def store_one(connection: sa.Connection,
              transition: db_api.StateTransition) -> bool:
    """Compare-and-set one transition; record it if it wins."""
    if not _update_one(connection, transition):
        return False
    if transition.change is not None:
        connection.execute(_INSERT_CHANGE, transition.change)
    if transition.deliveries:
        _park_behind(connection, [transition])
        connection.execute(_INSERT_DELIVERY, transition.deliveries)
    return True


def _park_behind(connection: sa.Connection,
                 transitions: list[db_api.StateTransition]) -> None:
    """Store waiting the deliveries behind an older one of their chain.

    A chain is an alarm's deliveries to one action; any delivery of it
    already stored is older than these, and so are those of an earlier
    transition of the list. A parked delivery's dict gets
    ``next_attempt_at``: it is due once the older ones are gone, as a
    scan finds it (see :mod:`.deliveries`).
    """
    alarm_ids = sorted({transition.alarm_id for transition in transitions
                        if transition.deliveries})
    owed: set[tuple[str, str]] = set()
    for chunk in _chunks(alarm_ids):
        owed.update((row.alarm_id, row.action) for row in connection.execute(
            sa.select(_delivery.c.alarm_id, _delivery.c.action).distinct()
            .where(_delivery.c.alarm_id.in_(chunk))))
    for transition in transitions:
        chains = []
        for delivery in transition.deliveries:
            chain = (delivery['alarm_id'], delivery['action'])
            if chain in owed:
                delivery['next_attempt_at'] = delivery['created_at']
            else:
                # One shape for every row of the insert.
                delivery.setdefault('next_attempt_at', None)
            chains.append(chain)
        owed.update(chains)


def _update_one(connection: sa.Connection,
                transition: db_api.StateTransition) -> bool:
    kind = _kind(transition)
    statement = _SINGLE.get(kind)
    if statement is None:
        statement = _SINGLE[kind] = _single_statement(kind)
    params: dict[str, typing.Any] = {
        'a_id': transition.alarm_id, 'expected': transition.expected_state,
        'state': transition.new_state, 'reason': transition.reason}
    if kind[0]:
        params['state_timestamp'] = transition.timestamp
    if kind[1]:
        params['deadline'] = transition.deadline
    if kind[2]:
        params['expected_deadline'] = transition.expected_deadline
    return connection.execute(statement, params).rowcount == 1


# -- many transitions together


def store_many(connection: sa.Connection,
               transitions: list[db_api.StateTransition]) -> list[bool]:
    """Compare-and-set ``transitions``; record the winners.

    Each is decided on its own, in the given order: an alarm that comes
    twice sees the first transition's outcome at its second. Returns, for
    each, whether it won.
    """
    won = [False] * len(transitions)
    decide = _decider(connection)
    for round_ in _rounds(transitions):
        by_kind: dict[_Kind, list[int]] = {}
        for number in round_:
            by_kind.setdefault(_kind(transitions[number]), []).append(number)
        for kind, numbers in by_kind.items():
            # One order for every writer, so that two locking the same
            # rows take them in the same order.
            numbers.sort(key=lambda n: transitions[n].alarm_id)
            for start in range(0, len(numbers), _CHUNK):
                chunk = numbers[start:start + _CHUNK]
                # A lone one takes the plain UPDATE: one statement too,
                # and the cheapest to plan.
                winners = (_one_by_one if len(chunk) == 1 else decide)(
                    connection, kind, [transitions[n] for n in chunk])
                for number in chunk:
                    won[number] = transitions[number].alarm_id in winners
    changes = []
    deliveries = []
    winners = []
    for transition, ok in zip(transitions, won):
        if ok:
            winners.append(transition)
            if transition.change is not None:
                changes.append(transition.change)
            deliveries.extend(transition.deliveries)
    if changes:
        connection.execute(_INSERT_CHANGE, changes)
    if deliveries:
        _park_behind(connection, winners)
        connection.execute(_INSERT_DELIVERY, deliveries)
    return won


def _rounds(transitions: list[db_api.StateTransition]) -> list[list[int]]:
    """The transitions' positions, an alarm at most once per round.

    One statement updates a row once however many of its joined rows
    match it, so an alarm's second transition waits for the next round.
    """
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for number, transition in enumerate(transitions):
        round_ = seen.get(transition.alarm_id, 0)
        seen[transition.alarm_id] = round_ + 1
        if round_ == len(rounds):
            rounds.append([])
        rounds[round_].append(number)
    return rounds


_Decider = typing.Callable[
    [sa.Connection, _Kind, list[db_api.StateTransition]], set[str]]


def _decider(connection: sa.Connection) -> _Decider:
    dialect = connection.dialect
    if dialect.name == 'postgresql':
        return _update_returning
    if dialect.name == 'sqlite':
        if (dialect.server_version_info or (0,)) >= (3, 35):
            return _update_returning
        return _one_by_one
    if dialect.name == 'mysql':
        return _lock_then_update
    return _one_by_one


def _one_by_one(connection: sa.Connection, kind: _Kind,
                transitions: list[db_api.StateTransition]) -> set[str]:
    """Without UPDATE ... FROM ... RETURNING (SQLite before 3.35)."""
    return {transition.alarm_id for transition in transitions
            if _update_one(connection, transition)}


def _columns(kind: _Kind) -> list[tuple[str, sa.types.TypeEngine]]:
    """The per-alarm values a transition of ``kind`` needs."""
    changes_state, moves_deadline, checks_deadline = kind
    columns = [('a_id', _alarm.c.alarm_id.type),
               ('expected', _alarm.c.state.type),
               ('state', _alarm.c.state.type),
               ('reason', _alarm.c.state_reason.type)]
    if changes_state:
        columns.append(('state_timestamp', _alarm.c.state_timestamp.type))
    if moves_deadline:
        columns.append(('deadline', _alarm.c.deadline.type))
    if checks_deadline:
        columns.append(('expected_deadline', _alarm.c.deadline.type))
    return columns


def _row(kind: _Kind, transition: db_api.StateTransition) -> tuple:
    row: tuple = (transition.alarm_id, transition.expected_state,
                  transition.new_state, transition.reason)
    if kind[0]:
        row += (transition.timestamp,)
    if kind[1]:
        row += (transition.deadline,)
    if kind[2]:
        row += (transition.expected_deadline,)
    return row


# The numbers of rows a joined statement is built for: a batch is padded
# with rows that match no alarm up to the next of them, so that each
# process builds and compiles a handful of statements, once, rather than
# one for every size of batch (compiling one of 500 rows takes longer than
# running it).
_SIZES = (1, 4, 16, 64, 128, 256, _CHUNK)
_JOINED: dict[tuple, sa.Update] = {}


def _size(count: int) -> int:
    return next(size for size in _SIZES if size >= count)


def _source(dialect: str, columns: list[tuple[str, sa.types.TypeEngine]],
            size: int) -> sa.Subquery:
    """A table of ``size`` rows of parameters to join in an UPDATE.

    The parameter of row ``n``'s column ``c`` is ``c_n``. PostgreSQL and
    SQLite take a VALUES list, whose columns both name column1, column2,
    ...; MySQL and MariaDB name them differently, and take a union of
    one-row ``SELECT`` statements. Written as text: SQLAlchemy does not
    cache the statements its own VALUES construct is part of.
    """
    names = [name for name, _type in columns]
    if dialect == 'mysql':
        sql = ' UNION ALL '.join(
            'SELECT ' + ', '.join(':%s_%d AS %s' % (name, n, name)
                                  for name in names)
            for n in range(size))
    else:
        sql = 'SELECT %s FROM (VALUES %s) AS t' % (
            ', '.join('column%d AS %s' % (number, name)
                      for number, name in enumerate(names, 1)),
            ', '.join('(%s)' % ', '.join(':%s_%d' % (name, n)
                                         for name in names)
                      for n in range(size)))
    return (sa.text(sql)
            .bindparams(*[sa.bindparam('%s_%d' % (name, n), type_=type_)
                          for n in range(size) for name, type_ in columns])
            .columns(*[sa.column(name, type_) for name, type_ in columns])
            .subquery('v'))


def _parameters(columns: list[tuple[str, sa.types.TypeEngine]],
                rows: list[tuple], size: int) -> dict[str, typing.Any]:
    """The parameters of :func:`_source` for ``rows``, padded with NULL."""
    parameters: dict[str, typing.Any] = {}
    for n in range(size):
        row = rows[n] if n < len(rows) else (None,) * len(columns)
        for (name, _type), value in zip(columns, row):
            parameters['%s_%d' % (name, n)] = value
    return parameters


def _value(dialect: str, column: sa.ColumnElement,
           type_: sa.types.TypeEngine) -> sa.ColumnElement:
    """``column`` of a joined table, typed as the alarm column it sets.

    A VALUES column of PostgreSQL whose every row is NULL is text, which
    no timestamp column takes without a cast. SQLite must not get one:
    its CAST to a date type turns the stored text into a number.
    """
    if dialect == 'postgresql':
        return sa.cast(column, type_)
    return column


def _joined_update(dialect: str, kind: _Kind, size: int,
                   returning: bool) -> sa.Update:
    """The compare-and-set UPDATE of ``size`` transitions of ``kind``."""
    key = (dialect, kind, size, returning)
    statement = _JOINED.get(key)
    if statement is not None:
        return statement
    changes_state, moves_deadline, checks_deadline = kind
    source = _source(dialect, _columns(kind), size)
    v = source.c
    conditions = [_alarm.c.alarm_id == v.a_id,
                  _alarm.c.state == v.expected,
                  _alarm.c.enabled.is_(True)]
    if checks_deadline:
        conditions.append(_alarm.c.deadline == _value(
            dialect, v.expected_deadline, _alarm.c.deadline.type))
    values: dict[str, sa.ColumnElement[typing.Any]] = {
        'state': v.state, 'state_reason': v.reason}
    if changes_state:
        values['state_timestamp'] = _value(
            dialect, v.state_timestamp, _alarm.c.state_timestamp.type)
    if moves_deadline:
        values['deadline'] = _value(dialect, v.deadline,
                                    _alarm.c.deadline.type)
    statement = _alarm.update().where(*conditions).values(**values)
    if returning:
        statement = statement.returning(_alarm.c.alarm_id)
    _JOINED[key] = statement
    return statement


def _execute_joined(connection: sa.Connection, kind: _Kind,
                    transitions: list[db_api.StateTransition],
                    returning: bool) -> sa.CursorResult:
    size = _size(len(transitions))
    statement = _joined_update(connection.dialect.name, kind, size,
                               returning)
    return connection.execute(statement, _parameters(
        _columns(kind), [_row(kind, t) for t in transitions], size))


def _update_returning(connection: sa.Connection, kind: _Kind,
                      transitions: list[db_api.StateTransition]) -> set[str]:
    """One UPDATE decides them all and names the rows it changed.

    A writer that finds a row another transaction is updating waits for
    it, then compares with the row as that one left it.
    """
    return set(_execute_joined(connection, kind, transitions,
                               returning=True).scalars())


def _lock_then_update(connection: sa.Connection, kind: _Kind,
                      transitions: list[db_api.StateTransition]
                      ) -> set[str]:
    """MySQL and MariaDB: read and lock the rows, then update the winners.

    Neither has UPDATE ... RETURNING, and the number of rows a joined
    UPDATE changed does not say which; so each compare-and-set is decided
    on the locked row, which nobody else changes until this transaction
    ends. The UPDATE keeps the comparison all the same.
    """
    ids = sorted({transition.alarm_id for transition in transitions})
    rows = {row.alarm_id: row for row in connection.execute(
        _LOCK, {'ids': ids})}
    winners = []
    for transition in transitions:
        row = rows.get(transition.alarm_id)
        if (row is None or not row.enabled
                or row.state != transition.expected_state
                or (kind[2] and row.deadline != transition.expected_deadline)):
            continue
        winners.append(transition)
    if winners:
        _execute_joined(connection, kind, winners, returning=False)
    return {transition.alarm_id for transition in winners}


_LOCK = (sa.select(_alarm.c.alarm_id, _alarm.c.state, _alarm.c.enabled,
                   _alarm.c.deadline)
         .where(_alarm.c.alarm_id.in_(sa.bindparam('ids', expanding=True)))
         .order_by(_alarm.c.alarm_id).with_for_update())


# -- deadlines

_DEADLINE_COLUMNS = [('a_id', _alarm.c.alarm_id.type),
                     ('deadline', _alarm.c.deadline.type)]
_DEADLINES: dict[tuple[str, int], sa.Update] = {}


def _deadlines_update(dialect: str, size: int) -> sa.Update:
    statement = _DEADLINES.get((dialect, size))
    if statement is None:
        source = _source(dialect, _DEADLINE_COLUMNS, size)
        statement = _DEADLINES[(dialect, size)] = (
            _alarm.update().where(_alarm.c.alarm_id == source.c.a_id)
            .values(deadline=_value(dialect, source.c.deadline,
                                    _alarm.c.deadline.type)))
    return statement


def set_deadlines(connection: sa.Connection,
                  deadlines: Mapping[str, datetime.datetime | None]
                  ) -> None:
    """Move the insufficient-data deadline of each alarm named."""
    ids = sorted(deadlines)
    dialect = connection.dialect
    joined = (dialect.name in ('postgresql', 'mysql')
              or (dialect.name == 'sqlite'
                  and (dialect.server_version_info or (0,)) >= (3, 33)))
    for chunk in _chunks(ids):
        if not joined or len(chunk) == 1:
            connection.execute(_SET_DEADLINE, [
                {'a_id': alarm_id, 'deadline': deadlines[alarm_id]}
                for alarm_id in chunk])
            continue
        size = _size(len(chunk))
        connection.execute(
            _deadlines_update(dialect.name, size),
            _parameters(_DEADLINE_COLUMNS,
                        [(alarm_id, deadlines[alarm_id])
                         for alarm_id in chunk], size))


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]
