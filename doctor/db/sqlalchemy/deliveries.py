"""Stored deliveries of alarm actions, on SQLAlchemy Core.

Each function runs inside a transaction its caller opened; see
:class:`doctor.db.api.Connection` for what each means.

A delivery is in one of two states: *in flight* (``next_attempt_at`` is
NULL), claimed at ``claimed_at`` by the notifier delivering it, or
*waiting* for ``next_attempt_at`` after a failed attempt, or behind an
older delivery of its alarm to the same action. The deliveries of one
alarm to one action form a chain ordered by ``created_at`` (the time of
the state transition that owes them); only the oldest of a chain, its
head, may be delivered.
"""

from collections.abc import Collection
from collections.abc import Iterable
import datetime
import typing

import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models

_delivery = typing.cast(sa.Table, models.AlarmDelivery.__table__)
_alarm = typing.cast(sa.Table, models.Alarm.__table__)
_change = typing.cast(sa.Table, models.AlarmChange.__table__)

# Ids per IN (...) list: well below every database's limit on parameters.
_CHUNK = 500


def _has_older() -> sa.Exists:
    """Whether an older delivery of the same alarm and action is stored.

    Correlated to the ``alarm_delivery`` row of the enclosing query.
    Deliveries of one firing share their creation time and are not
    ordered among themselves.
    """
    older = _delivery.alias('older')
    return sa.exists().where(older.c.alarm_id == _delivery.c.alarm_id,
                             older.c.action == _delivery.c.action,
                             older.c.created_at < _delivery.c.created_at)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def claim_due(connection: sa.Connection, stale_before: datetime.datetime,
              now: datetime.datetime, limit: int,
              exclude: Collection[str]) -> list[dict]:
    """Claim the deliveries a notifier should attempt now.

    Those waiting whose time has come and those in flight that nobody
    finished (claimed before ``stale_before``), of each chain only its
    head. A delivery whose handover never reached a notifier is in flight
    since its creation: it goes only once the older ones of its chain are
    gone, whatever state they are in, and no scan takes two deliveries of
    one chain at once.
    """
    waiting_due = sa.and_(_delivery.c.next_attempt_at.is_not(None),
                          _delivery.c.next_attempt_at <= now)
    abandoned = sa.and_(_delivery.c.next_attempt_at.is_(None),
                        _delivery.c.claimed_at < stale_before)
    candidates = connection.execute(
        sa.select(_delivery)
        .where(sa.or_(waiting_due, abandoned), ~_has_older())
        .order_by(_delivery.c.created_at, _delivery.c.delivery_id)
        .limit(limit + len(exclude))).mappings().all()
    claimed = []
    for row in candidates:
        if row['delivery_id'] in exclude:
            continue
        # Compare-and-set: of two notifiers scanning at once, one wins.
        waited = row['next_attempt_at']
        result = connection.execute(
            _delivery.update()
            .where(_delivery.c.delivery_id == row['delivery_id'],
                   _delivery.c.claimed_at == row['claimed_at'],
                   (_delivery.c.next_attempt_at.is_(None) if waited is None
                    else _delivery.c.next_attempt_at == waited))
            .values(claimed_at=now, next_attempt_at=None))
        if result.rowcount == 1:
            claimed.append(dict(row, claimed_at=now, next_attempt_at=None))
            if len(claimed) == limit:
                break
    return claimed


def claim_fresh(connection: sa.Connection, delivery_ids: Iterable[str],
                now: datetime.datetime) -> list[str]:
    """Claim fresh deliveries that head their chain; park the others.

    A few statements for the lot where the database returns what an
    UPDATE changed (PostgreSQL, SQLite); one compare-and-set a delivery
    where it does not (MySQL, MariaDB).
    """
    ids = list(dict.fromkeys(delivery_ids))
    fresh = sa.and_(_delivery.c.claimed_at == _delivery.c.created_at,
                    _delivery.c.next_attempt_at.is_(None))
    claimed = []
    for chunk in _chunks(ids):
        rows = connection.execute(
            sa.select(_delivery.c.delivery_id, _has_older().label('behind'))
            .where(_delivery.c.delivery_id.in_(chunk), fresh)).all()
        behind = {row.delivery_id for row in rows if row.behind}
        heads = {row.delivery_id for row in rows if not row.behind}
        if behind:
            # Due at once, but delivered only once the older ones of
            # their chain are gone.
            connection.execute(
                _delivery.update()
                .where(_delivery.c.delivery_id.in_(sorted(behind)), fresh)
                .values(claimed_at=now, next_attempt_at=now))
        if not heads:
            continue
        if connection.dialect.update_returning:
            won = {row.delivery_id for row in connection.execute(
                _delivery.update()
                .where(_delivery.c.delivery_id.in_(sorted(heads)), fresh)
                .values(claimed_at=now)
                .returning(_delivery.c.delivery_id))}
        else:
            won = set()
            for delivery_id in sorted(heads):
                result = connection.execute(
                    _delivery.update()
                    .where(_delivery.c.delivery_id == delivery_id, fresh)
                    .values(claimed_at=now))
                if result.rowcount == 1:
                    won.add(delivery_id)
        claimed.extend(delivery_id for delivery_id in chunk
                       if delivery_id in won)
    return claimed


def finish(connection: sa.Connection, delivered: Iterable[str],
           retries: list[db_api.DeliveryRetry],
           give_ups: list[db_api.DeliveryGiveUp]) -> list[str]:
    """Forget, reschedule and give up deliveries; return those given up.

    A retry or a give-up applies only while the delivery is still claimed
    under the claim it was attempted with: a delivery that another
    notifier took over is left to it, and its give-up is not recorded
    twice.
    """
    done = list(dict.fromkeys(delivered))
    for chunk in _chunks(done):
        connection.execute(
            _delivery.delete().where(_delivery.c.delivery_id.in_(chunk)))
    for retry in retries:
        connection.execute(
            _delivery.update()
            .where(_delivery.c.delivery_id == retry.delivery_id,
                   _delivery.c.claimed_at == retry.claimed_at,
                   _delivery.c.next_attempt_at.is_(None))
            .values(attempts=retry.attempts,
                    next_attempt_at=retry.next_attempt_at))
    given_up = []
    owners: dict[str, tuple[str | None, str]] = {}
    alarm_ids = list({give_up.change['alarm_id'] for give_up in give_ups})
    for chunk in _chunks(alarm_ids):
        for row in connection.execute(
                sa.select(_alarm.c.alarm_id, _alarm.c.project_id,
                          _alarm.c.severity)
                .where(_alarm.c.alarm_id.in_(chunk))):
            owners[row.alarm_id] = (row.project_id, row.severity)
    for give_up in give_ups:
        result = connection.execute(
            _delivery.delete()
            .where(_delivery.c.delivery_id == give_up.delivery_id,
                   _delivery.c.claimed_at == give_up.claimed_at))
        owner = owners.get(give_up.change['alarm_id'])
        if result.rowcount != 1 and owner is not None:
            # Another notifier took it over: its outcome is its to record.
            # (Deleting an alarm forgets its deliveries: the failure of one
            # that was under way is still recorded in its history.)
            continue
        change = dict(give_up.change)
        if owner is not None:
            # Like every other entry of the history: the alarm's project
            # reads it as its own.
            change['on_behalf_of'], change['severity'] = owner
        connection.execute(_change.insert(), change)
        given_up.append(give_up.delivery_id)
    return given_up
