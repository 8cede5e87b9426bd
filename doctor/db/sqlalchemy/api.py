"""SQLAlchemy implementation of :class:`doctor.db.api.Connection`."""

from collections.abc import Iterable
import contextlib
import os
import threading
import typing

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
from oslo_log import log
import sqlalchemy as sa

from doctor.common import exception
from doctor.db import api
from doctor.db.sqlalchemy import checkpoints
from doctor.db.sqlalchemy import deliveries
from doctor.db.sqlalchemy import entities
from doctor.db.sqlalchemy import faults
from doctor.db.sqlalchemy import heartbeats
from doctor.db.sqlalchemy import migration
from doctor.db.sqlalchemy import models
from doctor.db.sqlalchemy import states

LOG = log.getLogger(__name__)

_retry_on_deadlock = oslo_db_api.wrap_db_retry(
    max_retries=5, retry_on_deadlock=True, retry_interval=0.05,
    inc_retry_interval=True)
# Two synchronizer replicas may create the same entity at once, and two
# inspector replicas the open fault of a host: the loser reads again and
# finds it.
_retry_on_race = oslo_db_api.wrap_db_retry(
    max_retries=5, retry_on_deadlock=True, retry_interval=0.05,
    inc_retry_interval=True,
    exception_checker=lambda e: isinstance(e, db_exc.DBDuplicateEntry))

SORT_KEYS = ('alarm_id', 'name', 'type', 'enabled', 'severity', 'state',
             'resource_id', 'project_id', 'user_id', 'state_timestamp',
             'timestamp')

# The declarative models type __table__ as a FromClause; they are Tables.
_alarm = typing.cast(sa.Table, models.Alarm.__table__)
_change = typing.cast(sa.Table, models.AlarmChange.__table__)
_delivery = typing.cast(sa.Table, models.AlarmDelivery.__table__)


_INSERT_ALARM = _alarm.insert()
_INSERT_CHANGE = _change.insert()


_sqlite_locks: dict[str, threading.Lock] = {}


def _sqlite_write_lock(url: str) -> threading.Lock:
    """The lock shared by every writer of one SQLite database here."""
    with _sqlite_locks_guard:
        return _sqlite_locks.setdefault(url, threading.Lock())


_sqlite_locks_guard = threading.Lock()


class _Context:
    """A holder for enginefacade's per-call transaction state."""


def _sqlite_pragmas(dbapi_connection, connection_record):
    # Several threads of one process share the embedded database: WAL lets
    # readers run beside the writer and busy_timeout makes writers queue
    # instead of failing with 'database is locked'.
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA journal_mode=WAL')
    cursor.execute('PRAGMA busy_timeout=10000')
    cursor.execute('PRAGMA synchronous=NORMAL')
    cursor.close()


def _after(marker: models.Alarm, sort: list[tuple[str, str]]):
    """The alarms after ``marker`` in ``sort`` order, NULL the smallest.

    oslo.db's paginate_query compares with NULL when the marker's value is
    missing (a resource-less alarm sorted by resource_id), which skips or
    repeats alarms from one page to the next.
    """
    criteria = []
    same: list = []
    for key, direction in sort:
        column = getattr(models.Alarm, key)
        value = getattr(marker, key)
        if isinstance(value, bool):
            # SQLAlchemy compares booleans only for equality.
            column, value = sa.cast(column, sa.Integer), int(value)
        if value is None:
            after = column.is_not(None) if direction == 'asc' else sa.false()
            equal = column.is_(None)
        else:
            after = (column > value if direction == 'asc'
                     else sa.or_(column < value, column.is_(None)))
            equal = column == value
        criteria.append(sa.and_(*same, after))
        same.append(equal)
    return sa.or_(*criteria)


class Connection(api.Connection):
    """doctor's storage on SQLite, PostgreSQL or MySQL/MariaDB."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        url = conf.database.connection
        if url.startswith('sqlite:///'):
            path = url[len('sqlite:///'):]
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
        self._facade = enginefacade.transaction_context()
        options = dict(conf.database.items())
        options['sqlite_fk'] = False
        # doctor's services run on native threads: the sleep(0) oslo.db
        # adds at each connection check-in, for eventlet's green threads,
        # only hands the GIL away on every transaction.
        options['thread_checkin'] = False
        self._facade.configure(**options)
        self._engine_lock = threading.Lock()
        self._engine_ready = False
        # SQLite takes one writer at a time and makes the others sleep and
        # retry (for milliseconds); queue this process's writers instead.
        self._write_lock: typing.ContextManager = (
            _sqlite_write_lock(url) if url.startswith('sqlite')
            else contextlib.nullcontext())

    @property
    def engine(self) -> sa.engine.Engine:
        engine = self._facade.writer.get_engine()
        if not self._engine_ready:
            with self._engine_lock:
                if not self._engine_ready:
                    if engine.dialect.name == 'sqlite':
                        # oslo.db gives file databases a NullPool: a new
                        # connection, its pragmas and a journal sync for
                        # every transaction (milliseconds each). Pool them
                        # like any other database instead.
                        engine.pool = sa.pool.QueuePool(
                            engine.pool._creator, pool_size=8,
                            max_overflow=32, dialect=engine.dialect)
                        sa.event.listen(engine, 'connect', _sqlite_pragmas)
                    self._engine_ready = True
        return engine

    @contextlib.contextmanager
    def _writer(self):
        """A write transaction through enginefacade (an ORM session)."""
        self.engine  # noqa: B018 - make sure the engine is set up first
        with self._write_lock, self._facade.writer.using(_Context()) as s:
            yield s

    @contextlib.contextmanager
    def _write(self):
        """A write transaction on a plain connection, for hot paths."""
        engine = self.engine
        with self._write_lock, engine.begin() as connection:
            yield connection

    def _reader(self):
        self.engine  # noqa: B018
        return self._facade.reader.using(_Context())

    def close(self) -> None:
        if self._engine_ready:
            self._facade.writer.get_engine().dispose()

    # schema

    def upgrade(self) -> None:
        migration.upgrade(self.engine)

    def schema_version(self) -> str | None:
        return migration.version(self.engine)

    # alarms

    def get_alarms(self, *, project_id=None, user_id=None, alarm_type=None,
                   resource_id=None, state=None, name=None, enabled=None,
                   limit=None, marker=None, sort=None):
        with self._reader() as session:
            query = session.query(models.Alarm)
            for column, value in (('project_id', project_id),
                                  ('user_id', user_id),
                                  ('type', alarm_type),
                                  ('resource_id', resource_id),
                                  ('state', state), ('name', name),
                                  ('enabled', enabled)):
                if value is not None:
                    query = query.filter(
                        getattr(models.Alarm, column) == value)
            sort = list(sort or [('timestamp', 'desc')])
            for key, direction in sort:
                if key not in SORT_KEYS or direction not in ('asc', 'desc'):
                    raise exception.InvalidField(
                        field='sort', reason='%s %s is not one of %s, each '
                        'asc or desc' % (key, direction,
                                         ', '.join(SORT_KEYS)))
            if 'alarm_id' not in [key for key, _direction in sort]:
                sort.append(('alarm_id', sort[0][1]))
            if marker is not None:
                marker_row = session.get(models.Alarm, marker)
                if marker_row is None:
                    raise exception.AlarmNotFound(alarm_id=marker)
                query = query.filter(_after(marker_row, sort))
            for key, direction in sort:
                column = getattr(models.Alarm, key)
                # NULL sorts as the smallest value on every database:
                # first ascending, last descending.
                if direction == 'asc':
                    query = query.order_by(column.is_(None).desc(),
                                           column.asc())
                else:
                    query = query.order_by(column.is_(None).asc(),
                                           column.desc())
            if limit is not None:
                query = query.limit(limit)
            return [row.as_dict() for row in query.all()]

    def ping(self):
        with self.engine.connect() as connection:
            connection.execute(sa.text('SELECT 1'))

    def get_alarm(self, alarm_id):
        with self._reader() as session:
            row = session.execute(
                sa.select(_alarm).where(_alarm.c.alarm_id == alarm_id)
            ).mappings().first()
        if row is None:
            raise exception.AlarmNotFound(alarm_id=alarm_id)
        return dict(row)

    def get_alarm_states(self, alarm_ids):
        ids = list(alarm_ids)
        if not ids:
            return {}
        with self._reader() as session:
            rows = session.execute(
                sa.select(_alarm.c.alarm_id, _alarm.c.state)
                .where(_alarm.c.alarm_id.in_(ids))).all()
        return {alarm_id: state for alarm_id, state in rows}

    def get_alarm_owners(self, alarm_ids):
        ids = sorted(set(alarm_ids))
        owners = {}
        with self._reader() as session:
            for start in range(0, len(ids), 500):
                for row in session.execute(
                        sa.select(_alarm.c.alarm_id, _alarm.c.project_id,
                                  _alarm.c.user_id)
                        .where(_alarm.c.alarm_id.in_(
                            ids[start:start + 500]))):
                    owners[row.alarm_id] = (row.project_id, row.user_id)
        return owners

    def iter_enabled_alarms(self, alarm_type, batch_size=5000):
        last_id = ''
        while True:
            with self._reader() as session:
                rows = session.execute(
                    sa.select(_alarm)
                    .where(_alarm.c.type == alarm_type,
                           _alarm.c.enabled.is_(True),
                           _alarm.c.alarm_id > last_id)
                    .order_by(_alarm.c.alarm_id)
                    .limit(batch_size)).mappings().all()
            for row in rows:
                yield dict(row)
            if len(rows) < batch_size:
                return
            last_id = rows[-1]['alarm_id']

    def count_alarms(self, *, project_id=None, user_id=None):
        query = sa.select(sa.func.count()).select_from(_alarm)
        if project_id is not None:
            query = query.where(_alarm.c.project_id == project_id)
        if user_id is not None:
            query = query.where(_alarm.c.user_id == user_id)
        with self._reader() as session:
            return session.execute(query).scalar_one()

    @_retry_on_deadlock
    def create_alarm(self, alarm, change):
        with self._writer() as session:
            try:
                session.execute(_INSERT_ALARM, alarm)
            except db_exc.DBDuplicateEntry:
                raise exception.Conflict(
                    reason='alarm %s exists already' % alarm['alarm_id'])
            session.execute(_INSERT_CHANGE, change)
        return dict(alarm)

    @_retry_on_deadlock
    def update_alarm(self, alarm_id, values, changes):
        with self._writer() as session:
            result = session.execute(
                _alarm.update().where(_alarm.c.alarm_id == alarm_id)
                .values(**values))
            if result.rowcount == 0:
                raise exception.AlarmNotFound(alarm_id=alarm_id)
            for change in changes:
                session.execute(_INSERT_CHANGE, change)
            row = session.execute(
                sa.select(_alarm).where(_alarm.c.alarm_id == alarm_id)
            ).mappings().one()
        return dict(row)

    @_retry_on_deadlock
    def delete_alarm(self, alarm_id, change):
        with self._writer() as session:
            result = session.execute(
                _alarm.delete().where(_alarm.c.alarm_id == alarm_id))
            if result.rowcount == 0:
                raise exception.AlarmNotFound(alarm_id=alarm_id)
            session.execute(
                _delivery.delete().where(_delivery.c.alarm_id == alarm_id))
            session.execute(_INSERT_CHANGE, change)

    @_retry_on_deadlock
    def transition_state(self, alarm_id, expected_state, new_state, reason,
                         timestamp, change, deliveries, deadline=None,
                         expected_deadline=None):
        # The evaluator's hot path: plain Core statements on a pooled
        # connection, each statement built once and cached by SQLAlchemy.
        with self._write() as connection:
            return states.store_one(connection, api.StateTransition(
                alarm_id, expected_state, new_state, reason, timestamp,
                change, deliveries, deadline=deadline,
                expected_deadline=expected_deadline))

    @_retry_on_deadlock
    def transition_states(self, transitions):
        if not transitions:
            return []
        with self._write() as connection:
            return states.store_many(connection, transitions)

    @_retry_on_deadlock
    def set_deadline(self, alarm_id, deadline):
        with self._write() as connection:
            states.set_deadlines(connection, {alarm_id: deadline})

    @_retry_on_deadlock
    def set_deadlines(self, deadlines):
        if not deadlines:
            return
        with self._write() as connection:
            states.set_deadlines(connection, deadlines)

    def get_expired_alarms(self, now, limit=1000):
        with self._reader() as session:
            rows = session.execute(
                sa.select(_alarm)
                .where(_alarm.c.deadline <= now,
                       _alarm.c.enabled.is_(True),
                       _alarm.c.state != 'insufficient data')
                .order_by(_alarm.c.deadline).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    # history

    @_retry_on_deadlock
    def record_change(self, change):
        with self._writer() as session:
            session.execute(_INSERT_CHANGE, change)

    def get_alarm_changes(self, alarm_id, *, limit=None, marker=None):
        query = (sa.select(_change).where(_change.c.alarm_id == alarm_id)
                 .order_by(_change.c.timestamp.desc(),
                           _change.c.event_id.desc()))
        with self._reader() as session:
            if marker is not None:
                marker_row = session.execute(
                    sa.select(_change).where(
                        _change.c.event_id == marker,
                        _change.c.alarm_id == alarm_id)).mappings().first()
                if marker_row is None:
                    raise exception.NotFound(
                        'History entry %s of alarm %s not found.'
                        % (marker, alarm_id))
                query = query.where(sa.or_(
                    _change.c.timestamp < marker_row['timestamp'],
                    sa.and_(_change.c.timestamp == marker_row['timestamp'],
                            _change.c.event_id < marker)))
            if limit is not None:
                query = query.limit(limit)
            rows = session.execute(query).mappings().all()
        return [dict(row) for row in rows]

    # deliveries

    @_retry_on_deadlock
    def claim_stale_deliveries(self, stale_before, now, limit=100,
                               exclude=()):
        with self._write() as connection:
            return deliveries.claim_due(connection, stale_before, now,
                                        limit, exclude)

    @_retry_on_deadlock
    def claim_deliveries(self, delivery_ids, now):
        with self._write() as connection:
            return deliveries.claim_fresh(connection, delivery_ids, now)

    @_retry_on_deadlock
    def finish_deliveries(self, delivered, retries, give_ups):
        with self._write() as connection:
            return deliveries.finish(connection, delivered, retries,
                                     give_ups)

    @_retry_on_deadlock
    def delete_deliveries(self, delivery_ids: Iterable[str]) -> None:
        ids = list(delivery_ids)
        if not ids:
            return
        with self._writer() as session:
            session.execute(
                _delivery.delete().where(_delivery.c.delivery_id.in_(ids)))

    # entities

    @_retry_on_race
    def apply_entity_changes(self, changes):
        if not changes:
            return []
        with self._write() as connection:
            return entities.apply_changes(connection, changes)

    def get_entities(self, *, entity_type=None, parent=None, state=None,
                     datasource=None, project_id=None, limit=None,
                     marker=None, keys=None):
        with self.engine.connect() as connection:
            return entities.get_entities(
                connection, entity_type=entity_type, parent=parent,
                state=state, datasource=datasource, project_id=project_id,
                limit=limit, marker=marker,
                keys=list(keys) if keys is not None else None)

    def get_entity(self, key):
        with self.engine.connect() as connection:
            entity = entities.get_entity(connection, key)
        if entity is None:
            raise exception.EntityNotFound(key=key)
        return entity

    def get_entity_digests(self, datasource):
        with self.engine.connect() as connection:
            return entities.get_digests(connection, datasource)

    @_retry_on_deadlock
    def purge_entity_tombstones(self, before):
        with self._write() as connection:
            return entities.purge_tombstones(connection, before)

    # faults

    @_retry_on_race
    def create_fault(self, fault, duplicate_after):
        with self._write() as connection:
            return faults.create(connection, fault, duplicate_after)

    @_retry_on_deadlock
    def update_fault(self, fault_id, values):
        with self._write() as connection:
            if not faults.update(connection, fault_id, values):
                raise exception.FaultNotFound(fault_id=fault_id)

    @_retry_on_deadlock
    def record_fault_steps(self, progress):
        with self._write() as connection:
            faults.record_steps(connection, progress)

    @_retry_on_deadlock
    def claim_fault(self, fault_id, owner, expected_owner,
                    expected_heartbeat, now, reason):
        with self._write() as connection:
            return faults.claim(connection, fault_id, owner, expected_owner,
                                expected_heartbeat, now, reason)

    @_retry_on_deadlock
    def heartbeat_faults(self, owner, fault_ids, now):
        with self._write() as connection:
            faults.heartbeat(connection, owner, fault_ids, now)

    def get_unfinished_faults(self):
        with self.engine.connect() as connection:
            return faults.get_unfinished(connection)

    @_retry_on_deadlock
    def close_fault(self, host, closed_at):
        with self._write() as connection:
            return faults.close(connection, host, closed_at)

    def get_fault(self, fault_id):
        with self.engine.connect() as connection:
            fault = faults.get(connection, fault_id)
        if fault is None:
            raise exception.FaultNotFound(fault_id=fault_id)
        return fault

    def get_open_faults(self, hosts=None):
        with self.engine.connect() as connection:
            return faults.get_open(connection, hosts)

    def get_faults(self, *, host=None, status=None, limit=None,
                   marker=None):
        with self.engine.connect() as connection:
            marker_fault = None
            if marker is not None:
                marker_fault = faults.get(connection, marker)
                if marker_fault is None:
                    raise exception.FaultNotFound(fault_id=marker)
            return faults.get_list(connection, host=host, status=status,
                                   limit=limit, marker=marker_fault)

    @_retry_on_deadlock
    def add_fault_checkpoints(self, entries):
        with self._write() as connection:
            checkpoints.add(connection, entries)

    def get_fault_checkpoints(self, fault_ids):
        with self.engine.connect() as connection:
            return checkpoints.get(connection, fault_ids)

    # heartbeats

    @_retry_on_deadlock
    def put_heartbeats(self, records):
        with self._write() as connection:
            heartbeats.put(connection, records)

    @_retry_on_deadlock
    def delete_heartbeats(self, instance_ids):
        with self._write() as connection:
            heartbeats.delete(connection, instance_ids)

    def get_heartbeats(self, *, project_id=None, host=None, status=None):
        with self.engine.connect() as connection:
            return heartbeats.get_list(connection, project_id=project_id,
                                       host=host, status=status)

    def get_heartbeat(self, instance_id):
        with self.engine.connect() as connection:
            return heartbeats.get(connection, instance_id)
