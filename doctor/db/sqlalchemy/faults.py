"""The inspector's faults, on SQLAlchemy Core.

Each function runs inside a transaction its caller opened; see
:class:`doctor.db.api.Connection` for what each means. Times are stored
and returned as naive UTC datetimes, like every other time of the
database.
"""

from collections.abc import Iterable
import datetime
import typing

from oslo_utils import timeutils
import sqlalchemy as sa

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models

_fault = typing.cast(sa.Table, models.Fault.__table__)

OPEN = db_api.FAULT_OPEN
CLOSED = db_api.FAULT_CLOSED

# What update() may replace: the record of what the inspector did.
RECORDED = frozenset(('affected', 'actions', 'checkpoints', 'handled_at'))

# A monitor that keeps reporting a host for as long as it is down would
# grow a fault without end: a fault keeps its first report and the newest
# ones, this many in all.
MAX_REPORTS = 1000

# Hosts per IN (...) list: well below every database's limit on parameters.
_CHUNK = 500


def _naive(value: datetime.datetime) -> datetime.datetime:
    """``value`` as naive UTC, the way the database keeps times."""
    return timeutils.normalize_time(value)


def _optional(value: datetime.datetime | None) -> datetime.datetime | None:
    return _naive(value) if value is not None else None


def _view(row: typing.Mapping) -> dict:
    return {'id': row['id'], 'host': row['host'], 'type': row['type'],
            'status': row['status'], 'created_at': row['created_at'],
            'closed_at': row['closed_at'],
            'affected': list(row['affected'] or ()),
            'actions': list(row['actions'] or ()),
            'checkpoints': list(row['checkpoints'] or ()),
            'reports': list(row['reports'] or ()),
            'steps': list(row['steps'] or ()),
            'done': list(row['done'] or ()),
            'owner': row['owner'], 'heartbeat_at': row['heartbeat_at'],
            'handled_at': row['handled_at'],
            'resumes': list(row['resumes'] or ())}


def _for_update(connection: sa.Connection, query: sa.Select) -> sa.Select:
    # SQLite has no row locks; its writers are serialised as a whole.
    if connection.dialect.name == 'sqlite':
        return query
    return query.with_for_update()


def _current_fault(connection: sa.Connection, host: str,
                   duplicate_after: datetime.datetime,
                   detected_at: datetime.datetime | None) -> dict | None:
    """The fault a new report of ``host`` belongs to, locked, or None.

    The open fault if there is one, else the newest fault begun after
    ``duplicate_after`` and, when the report says when its failure was
    detected, closed no earlier than that: a late report of the failure
    the fault was about. A failure detected after the host was reported
    recovered is a new fault.
    """
    recent = _fault.c.created_at > duplicate_after
    if detected_at is not None:
        recent = sa.and_(recent, sa.or_(_fault.c.closed_at.is_(None),
                                        _fault.c.closed_at >= detected_at))
    query = (sa.select(_fault)
             .where(_fault.c.host == host,
                    sa.or_(_fault.c.open_host == host, recent))
             .order_by(_fault.c.open_host.is_(None),
                       _fault.c.created_at.desc(), _fault.c.id.desc())
             .limit(1))
    row = connection.execute(_for_update(connection, query)
                             ).mappings().first()
    return _view(row) if row is not None else None


def add_report(reports: list, report: dict) -> list:
    """``reports`` with ``report`` added, at most MAX_REPORTS long."""
    kept = list(reports)
    if len(kept) >= MAX_REPORTS:
        # The first report is the one the fault began with: keep it.
        del kept[1:len(kept) - MAX_REPORTS + 2]
    kept.append(report)
    return kept


def create(connection: sa.Connection, fault: dict,
           duplicate_after: datetime.datetime) -> tuple[dict, bool]:
    """Open ``fault``, or add its report to the host's current fault.

    ``fault['detected_at']``, when given, is when the report's failure
    was detected (see :func:`_current_fault`).

    A second open fault of the host, inserted meanwhile by another
    connection, makes the insert raise DBDuplicateEntry: the caller runs
    this again, and then finds that fault.
    """
    host = fault['host']
    detected_at = fault.get('detected_at')
    existing = _current_fault(
        connection, host, _naive(duplicate_after),
        _naive(detected_at) if detected_at is not None else None)
    if existing is not None:
        reports = existing['reports']
        for report in list(fault.get('reports') or ())[:1]:
            reports = add_report(reports, report)
        connection.execute(
            _fault.update().where(_fault.c.id == existing['id'])
            .values(reports=reports))
        existing['reports'] = reports
        return existing, False
    row = {
        'id': fault['id'], 'host': host, 'type': fault['type'],
        'status': OPEN, 'open_host': host,
        'created_at': _naive(fault['created_at']), 'closed_at': None,
        'affected': list(fault.get('affected') or ()),
        'actions': list(fault.get('actions') or ()),
        'checkpoints': list(fault.get('checkpoints') or ()),
        'reports': list(fault.get('reports') or ())[:1],
        'steps': list(fault.get('steps') or ()),
        'done': [], 'resumes': [],
        'owner': fault.get('owner'),
        'heartbeat_at': _optional(fault.get('heartbeat_at')),
        'handled_at': _optional(fault.get('handled_at')),
    }
    connection.execute(_fault.insert(), row)
    return _view(row), True


def update(connection: sa.Connection, fault_id: str, values: dict) -> bool:
    """Replace recorded values of a fault; False if there is no such fault.
    """
    unknown = set(values) - RECORDED
    if unknown:
        raise ValueError('a fault records only %s, not %s'
                         % (', '.join(sorted(RECORDED)),
                            ', '.join(sorted(unknown))))
    if not values:
        return get(connection, fault_id) is not None
    stored = {name: (_optional(value) if name == 'handled_at'
                     else list(value))
              for name, value in values.items()}
    result = connection.execute(
        _fault.update().where(_fault.c.id == fault_id).values(stored))
    return result.rowcount == 1


def _started(action: dict) -> str:
    return str(action.get('started_at') or '')


def record_steps(connection: sa.Connection,
                 progress: dict[str, tuple[list[str], list[dict]]]) -> None:
    """Mark steps of faults done and add the records of their actions.

    ``progress`` maps a fault id to the keys of the steps that ended and
    the records of the actions among them. A step already marked done (by
    another replica that ran it too) is not recorded twice.
    """
    for fault_id in sorted(progress):
        keys, records = progress[fault_id]
        row = connection.execute(_for_update(connection, sa.select(
            _fault.c.done, _fault.c.actions).where(_fault.c.id == fault_id))
        ).mappings().first()
        if row is None:
            continue
        done = list(row['done'] or ())
        seen = set(done)
        new = [key for key in keys if key not in seen]
        if not new:
            continue
        fresh = set(new)
        actions = list(row['actions'] or ())
        actions.extend(record for record in records
                       if step_key(record) in fresh)
        actions.sort(key=_started)
        connection.execute(
            _fault.update().where(_fault.c.id == fault_id)
            .values(done=done + new, actions=actions))


def step_key(action: dict) -> str:
    """The key of the step an action record is of."""
    return '%s:%s' % (action['name'], action['target'])


def claim(connection: sa.Connection, fault_id: str, owner: str,
          expected_owner: str | None,
          expected_heartbeat: datetime.datetime | None,
          now: datetime.datetime, reason: str) -> dict | None:
    """Make ``owner`` the owner of an unfinished open fault.

    Only if the fault still has the owner and heartbeat the caller read
    (compare-and-set): of two replicas taking over one fault, one wins.
    """
    row = connection.execute(_for_update(connection, sa.select(_fault).where(
        _fault.c.id == fault_id))).mappings().first()
    if (row is None or row['open_host'] is None
            or row['handled_at'] is not None
            or row['owner'] != expected_owner
            or row['heartbeat_at'] != _optional(expected_heartbeat)):
        return None
    now = _naive(now)
    resumes = list(row['resumes'] or ())
    resumes.append({'at': now.isoformat(), 'by': owner,
                    'previous_owner': expected_owner, 'reason': reason})
    connection.execute(
        _fault.update().where(_fault.c.id == fault_id)
        .values(owner=owner, heartbeat_at=now, resumes=resumes))
    fault = _view(row)
    fault.update(owner=owner, heartbeat_at=now, resumes=resumes)
    return fault


def heartbeat(connection: sa.Connection, owner: str,
              fault_ids: Iterable[str], now: datetime.datetime) -> None:
    """Stamp ``now`` on those of ``fault_ids`` that ``owner`` still runs.
    """
    wanted = sorted(set(fault_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        connection.execute(
            _fault.update().where(_fault.c.id.in_(chunk),
                                  _fault.c.owner == owner,
                                  _fault.c.handled_at.is_(None))
            .values(heartbeat_at=_naive(now)))


def get_unfinished(connection: sa.Connection) -> list[dict]:
    """Open faults whose steps have not all ended, oldest first."""
    query = (sa.select(_fault)
             .where(_fault.c.open_host.is_not(None),
                    _fault.c.handled_at.is_(None))
             .order_by(_fault.c.created_at, _fault.c.id))
    return [_view(row) for row in connection.execute(query).mappings()]


def close(connection: sa.Connection, host: str,
          closed_at: datetime.datetime) -> dict | None:
    """Close the open fault of ``host``; return it, or None if none."""
    row = connection.execute(_for_update(
        connection, sa.select(_fault).where(_fault.c.open_host == host))
    ).mappings().first()
    if row is None:
        return None
    closed_at = _naive(closed_at)
    connection.execute(
        _fault.update().where(_fault.c.id == row['id'])
        .values(status=CLOSED, closed_at=closed_at, open_host=None))
    fault = _view(row)
    fault.update(status=CLOSED, closed_at=closed_at)
    return fault


def get(connection: sa.Connection, fault_id: str) -> dict | None:
    row = connection.execute(
        sa.select(_fault).where(_fault.c.id == fault_id)).mappings().first()
    return _view(row) if row is not None else None


def get_open(connection: sa.Connection,
             hosts: Iterable[str] | None) -> dict[str, dict]:
    query = sa.select(_fault).where(_fault.c.open_host.is_not(None))
    if hosts is None:
        return {row['host']: _view(row)
                for row in connection.execute(query).mappings()}
    wanted = sorted(set(hosts))
    found: dict[str, dict] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        for row in connection.execute(
                query.where(_fault.c.open_host.in_(chunk))).mappings():
            found[row['host']] = _view(row)
    return found


def get_list(connection: sa.Connection, *, host: str | None,
             status: str | None, limit: int | None,
             marker: dict | None) -> list[dict]:
    """Faults, newest first; ``marker`` is the last fault of the previous
    page.
    """
    query = sa.select(_fault)
    if host is not None:
        query = query.where(_fault.c.host == host)
    if status is not None:
        query = query.where(_fault.c.status == status)
    if marker is not None:
        query = query.where(sa.or_(
            _fault.c.created_at < marker['created_at'],
            sa.and_(_fault.c.created_at == marker['created_at'],
                    _fault.c.id < marker['id'])))
    query = query.order_by(_fault.c.created_at.desc(), _fault.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_view(row) for row in connection.execute(query).mappings()]
