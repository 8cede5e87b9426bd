"""The checkpoints of faults recorded after the inspector's, on Core.

The evaluator and the consumers record them (see
:mod:`doctor.profiler.recorder`): rows inserted in bulk, never updated.
"""

from collections.abc import Iterable
import datetime
import typing

from oslo_utils import timeutils
import sqlalchemy as sa

from doctor.db.sqlalchemy import models
from doctor.profiler import checkpoints as names

_checkpoint = typing.cast(sa.Table, models.FaultCheckpoint.__table__)

# Fault ids per IN (...) list.
_CHUNK = 500


def _naive(value: datetime.datetime) -> datetime.datetime:
    return timeutils.normalize_time(value)


def add(connection: sa.Connection, entries: list[dict]) -> None:
    """Insert ``entries`` in one statement."""
    if not entries:
        return
    connection.execute(_checkpoint.insert(), [
        {'fault_id': entry['fault_id'], 'name': entry['name'],
         'component': entry['component'],
         'timestamp': _naive(entry['timestamp']),
         'alarm_id': entry.get('alarm_id')}
        for entry in entries])


def get(connection: sa.Connection,
        fault_ids: Iterable[str]) -> dict[str, list[dict]]:
    """The checkpoints of each fault that has any, in time order."""
    wanted = sorted(set(fault_ids))
    found: dict[str, list[dict]] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        query = (sa.select(_checkpoint)
                 .where(_checkpoint.c.fault_id.in_(chunk))
                 .order_by(_checkpoint.c.timestamp, _checkpoint.c.id))
        for row in connection.execute(query).mappings():
            found.setdefault(row['fault_id'], []).append({
                'number': names.number(row['name']),
                'name': row['name'], 'component': row['component'],
                'timestamp': names.iso(row['timestamp']),
                'alarm_id': row['alarm_id']})
    return found
