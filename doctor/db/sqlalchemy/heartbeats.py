"""Heartbeat status of the guests, on SQLAlchemy Core.

Each function runs inside a transaction its caller opened; see
:class:`doctor.db.api.Connection`. Times are naive UTC.
"""

from collections.abc import Iterable
import typing

from oslo_utils import timeutils
import sqlalchemy as sa

from doctor.db.sqlalchemy import models

_heartbeat = typing.cast(sa.Table, models.Heartbeat.__table__)

FIELDS = ('instance_id', 'host', 'project_id', 'interval_ms', 'threshold',
          'status', 'reason', 'last_seen', 'updated_at')


def _view(row: typing.Mapping) -> dict:
    return {name: row[name] for name in FIELDS}


def _values(record: dict) -> dict:
    values = {name: record.get(name) for name in FIELDS}
    for name in ('last_seen', 'updated_at'):
        when = values[name]
        if when is not None:
            values[name] = timeutils.normalize_time(when)
    if values['updated_at'] is None:
        values['updated_at'] = timeutils.utcnow()
    return values


def put(connection: sa.Connection, records: Iterable[dict]) -> None:
    """Insert or replace the row of each record's instance."""
    for record in records:
        values = _values(record)
        updated = connection.execute(
            _heartbeat.update()
            .where(_heartbeat.c.instance_id == values['instance_id'])
            .values(**values))
        if not updated.rowcount:
            connection.execute(_heartbeat.insert().values(**values))


def delete(connection: sa.Connection, instance_ids: Iterable[str]) -> None:
    wanted = list(instance_ids)
    if wanted:
        connection.execute(_heartbeat.delete().where(
            _heartbeat.c.instance_id.in_(wanted)))


def get_list(connection: sa.Connection, project_id: str | None = None,
             host: str | None = None, status: str | None = None
             ) -> list[dict]:
    query = sa.select(_heartbeat).order_by(_heartbeat.c.instance_id)
    if project_id is not None:
        query = query.where(_heartbeat.c.project_id == project_id)
    if host is not None:
        query = query.where(_heartbeat.c.host == host)
    if status is not None:
        query = query.where(_heartbeat.c.status == status)
    return [_view(row) for row in connection.execute(query).mappings()]


def get(connection: sa.Connection, instance_id: str) -> dict | None:
    row = connection.execute(sa.select(_heartbeat).where(
        _heartbeat.c.instance_id == instance_id)).mappings().first()
    return _view(row) if row is not None else None
