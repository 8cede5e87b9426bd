"""SQLAlchemy models: the one definition of each stored concept."""

import datetime

from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import mysql


def _precise_datetime() -> sa.types.TypeEngine:
    # MySQL keeps whole seconds unless told otherwise; state changes and
    # history must keep their order, so store microseconds everywhere.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql')


class Base(orm.DeclarativeBase):
    """Base of doctor's models, with a dict view of a row."""

    def as_dict(self) -> dict:
        return {c.key: getattr(self, c.key)
                for c in sa.inspect(self).mapper.column_attrs}


class Alarm(Base):
    """An alarm; ``rule`` is the type's rule (``notification_rule``)."""

    __tablename__ = 'alarm'
    __table_args__ = (
        sa.Index('ix_alarm_project_id', 'project_id'),
        sa.Index('ix_alarm_user_id', 'user_id'),
        sa.Index('ix_alarm_resource_id', 'resource_id'),
        sa.Index('ix_alarm_deadline', 'deadline'),
    )

    alarm_id: orm.Mapped[str] = orm.mapped_column(sa.String(36),
                                                  primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    description: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(50))
    enabled: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    severity: orm.Mapped[str] = orm.mapped_column(sa.String(50))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    resource_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    rule: orm.Mapped[dict] = orm.mapped_column(db_types.JsonEncodedDict)
    alarm_actions: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList)
    ok_actions: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList)
    insufficient_data_actions: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList)
    repeat_actions: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)
    state: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    state_reason: orm.Mapped[str | None] = orm.mapped_column(sa.Text)
    state_timestamp: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    timestamp: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    # When the notification rule has a timeout: the moment the alarm goes
    # to 'insufficient data' unless a matching event moves it further.
    deadline: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        _precise_datetime())
    # Whether the alarm sees the events that name no project (compute
    # services, hosts): the policy's word on whoever last defined it.
    infrastructure: orm.Mapped[bool] = orm.mapped_column(
        sa.Boolean, server_default=sa.false())


class AlarmChange(Base):
    """One entry of an alarm's history."""

    __tablename__ = 'alarm_change'
    __table_args__ = (
        sa.Index('ix_alarm_change_alarm_id_timestamp', 'alarm_id',
                 'timestamp'),
    )

    event_id: orm.Mapped[str] = orm.mapped_column(sa.String(36),
                                                  primary_key=True)
    alarm_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    on_behalf_of: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    user_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    type: orm.Mapped[str] = orm.mapped_column(sa.String(32))
    detail: orm.Mapped[str] = orm.mapped_column(sa.Text)
    severity: orm.Mapped[str | None] = orm.mapped_column(sa.String(50))
    timestamp: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())


class AlarmDelivery(Base):
    """An alarm action owed to a URL, kept until it is delivered or given up.

    Stored in the same transaction as the state change that fired it, so a
    notifier that restarts before delivering loses nothing. A delivery that
    failed waits for ``next_attempt_at`` (NULL while it is being delivered,
    since ``claimed_at``); the deliveries of one alarm to one action go out
    in ``created_at`` order.
    """

    __tablename__ = 'alarm_delivery'
    __table_args__ = (
        sa.Index('ix_alarm_delivery_claimed_at', 'claimed_at'),
        sa.Index('ix_alarm_delivery_next_attempt_at', 'next_attempt_at'),
        sa.Index('ix_alarm_delivery_alarm_id_created_at', 'alarm_id',
                 'created_at'),
    )

    delivery_id: orm.Mapped[str] = orm.mapped_column(sa.String(36),
                                                     primary_key=True)
    alarm_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    action: orm.Mapped[str] = orm.mapped_column(sa.Text)
    # AlarmFiring.to_record(): what the delivery is rebuilt from.
    firing: orm.Mapped[dict] = orm.mapped_column(db_types.JsonEncodedDict)
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    claimed_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    # Attempts that failed so far.
    attempts: orm.Mapped[int] = orm.mapped_column(sa.Integer,
                                                  server_default='0')
    next_attempt_at: orm.Mapped[datetime.datetime | None] = (
        orm.mapped_column(_precise_datetime()))


class Entity(Base):
    """An entity of the synchronizer's store: what a datasource last said.

    ``updated_at`` is the time of the report, as the source stamped it;
    a report older than it is ignored. A deleted entity is kept for a
    while as a tombstone (``deleted``), so that a late older report does
    not bring it back.
    """

    __tablename__ = 'entity'
    __table_args__ = (
        sa.Index('ix_entity_type', 'type'),
        sa.Index('ix_entity_datasource', 'datasource'),
        sa.Index('ix_entity_deleted_updated_at', 'deleted', 'updated_at'),
    )

    key: orm.Mapped[str] = orm.mapped_column(sa.String(255),
                                             primary_key=True)
    type: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    entity_id: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    name: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    state: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(128))
    datasource: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    parents: orm.Mapped[list] = orm.mapped_column(db_types.JsonEncodedList)
    attributes: orm.Mapped[dict] = orm.mapped_column(
        db_types.JsonEncodedDict)
    digest: orm.Mapped[str | None] = orm.mapped_column(sa.String(64))
    updated_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    deleted: orm.Mapped[bool] = orm.mapped_column(sa.Boolean)


class EntityParent(Base):
    """That an entity belongs to another (an instance to its host)."""

    __tablename__ = 'entity_parent'
    __table_args__ = (
        sa.Index('ix_entity_parent_parent_key', 'parent_key'),
    )

    child_key: orm.Mapped[str] = orm.mapped_column(sa.String(255),
                                                   primary_key=True)
    parent_key: orm.Mapped[str] = orm.mapped_column(sa.String(255),
                                                    primary_key=True)


class Fault(Base):
    """A fault of a host: what was reported, affected and done about it.

    ``open_host`` is the host while the fault is open and NULL once it is
    closed: being unique, it lets the database itself refuse a second open
    fault of a host, so that two inspector replicas handed reports of one
    host at the same moment open one fault between them.
    """

    __tablename__ = 'fault'
    __table_args__ = (
        sa.UniqueConstraint('open_host', name='uniq_fault0open_host'),
        sa.Index('ix_fault_host_created_at', 'host', 'created_at'),
        sa.Index('ix_fault_created_at', 'created_at'),
        sa.Index('ix_fault_owner', 'owner'),
    )

    id: orm.Mapped[str] = orm.mapped_column(sa.String(36), primary_key=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    type: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    open_host: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    created_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    closed_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        _precise_datetime())
    # A host of many instances makes long lists: past MySQL's TEXT.
    affected: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList(mysql_as_long=True))
    actions: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList(mysql_as_long=True))
    checkpoints: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList)
    reports: orm.Mapped[list] = orm.mapped_column(
        db_types.JsonEncodedList(mysql_as_long=True))
    # What the inspector is to do about the fault, stored before it acts
    # (``steps``), the steps it has finished (``done``), the replica that
    # runs them (``owner``) and its last sign of life (``heartbeat_at``),
    # and when every step had ended (``handled_at``): enough for another
    # replica, or the same one restarted, to finish the fault.
    # Faults recorded before these existed have NULL lists.
    steps: orm.Mapped[list | None] = orm.mapped_column(
        db_types.JsonEncodedList(mysql_as_long=True))
    done: orm.Mapped[list | None] = orm.mapped_column(
        db_types.JsonEncodedList(mysql_as_long=True))
    owner: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    heartbeat_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        _precise_datetime())
    handled_at: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        _precise_datetime())
    resumes: orm.Mapped[list | None] = orm.mapped_column(
        db_types.JsonEncodedList)


class FaultCheckpoint(Base):
    """A checkpoint of a fault recorded after the inspector's record:
    the evaluator's (per event, per alarm) and the consumers' (per alarm).

    A row each, written in bulk, so that concurrent recorders never
    rewrite one another's list.
    """

    __tablename__ = 'fault_checkpoint'
    __table_args__ = (
        sa.Index('ix_fault_checkpoint_fault_id', 'fault_id'),
    )

    id: orm.Mapped[int] = orm.mapped_column(sa.Integer, primary_key=True,
                                            autoincrement=True)
    fault_id: orm.Mapped[str] = orm.mapped_column(sa.String(36))
    name: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    component: orm.Mapped[str] = orm.mapped_column(sa.String(64))
    timestamp: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
    alarm_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(36))


class Heartbeat(Base):
    """A guest watched by a compute agent, and its heartbeat status.

    The compute agent of ``host`` writes the row: at once when the status
    changes, and every ``[compute_agent] status_interval`` otherwise.
    """

    __tablename__ = 'heartbeat'
    __table_args__ = (
        sa.Index('ix_heartbeat_project_id', 'project_id'),
        sa.Index('ix_heartbeat_host', 'host'),
    )

    instance_id: orm.Mapped[str] = orm.mapped_column(sa.String(255),
                                                     primary_key=True)
    host: orm.Mapped[str] = orm.mapped_column(sa.String(255))
    project_id: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    interval_ms: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    threshold: orm.Mapped[int | None] = orm.mapped_column(sa.Integer)
    status: orm.Mapped[str] = orm.mapped_column(sa.String(16))
    reason: orm.Mapped[str | None] = orm.mapped_column(sa.String(255))
    last_seen: orm.Mapped[datetime.datetime | None] = orm.mapped_column(
        _precise_datetime())
    updated_at: orm.Mapped[datetime.datetime] = orm.mapped_column(
        _precise_datetime())
