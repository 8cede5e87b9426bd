"""The storage interface every doctor service talks to.

Callers see :class:`Connection`; the SQLAlchemy implementation behind it is
picked by ``[database] connection``. Alarms and history entries travel as
plain dicts whose keys are the column names of
:mod:`doctor.db.sqlalchemy.models`.
"""

import abc
from collections.abc import Collection
from collections.abc import Iterable
import dataclasses
import datetime

from oslo_config import cfg
import sqlalchemy as sa

ALARM_STATES = ('ok', 'alarm', 'insufficient data')

CHANGE_CREATION = 'creation'
CHANGE_RULE = 'rule change'
CHANGE_STATE = 'state transition'
CHANGE_DELETION = 'deletion'
CHANGE_ACTION = 'action'
CHANGE_TYPES = (CHANGE_CREATION, CHANGE_RULE, CHANGE_STATE,
                CHANGE_DELETION, CHANGE_ACTION)

FAULT_OPEN = 'open'
FAULT_CLOSED = 'closed'
FAULT_STATUSES = (FAULT_OPEN, FAULT_CLOSED)

HEARTBEAT_STATUSES = ('ok', 'missed', 'unhealthy', 'unregistered')


@dataclasses.dataclass
class StateTransition:
    """One compare-and-set of :meth:`Connection.transition_states`.

    The fields are the arguments of :meth:`Connection.transition_state`.
    """

    alarm_id: str
    expected_state: str
    new_state: str
    reason: str
    timestamp: datetime.datetime
    change: dict | None
    deliveries: list[dict]
    deadline: datetime.datetime | None = None
    expected_deadline: datetime.datetime | None = None


@dataclasses.dataclass
class DeliveryRetry:
    """A failed delivery to attempt again (:meth:`finish_deliveries`)."""

    delivery_id: str
    # The claim it was attempted under.
    claimed_at: datetime.datetime
    # Failed attempts so far, this one included.
    attempts: int
    next_attempt_at: datetime.datetime


@dataclasses.dataclass
class DeliveryGiveUp:
    """A delivery given up, and its ``action`` history entry."""

    delivery_id: str
    claimed_at: datetime.datetime
    # The history entry; its project and severity are the alarm's when the
    # alarm still exists.
    change: dict


class Connection(metaclass=abc.ABCMeta):
    """Access to doctor's database."""

    def close(self) -> None:
        """Release the database connections this object holds.

        The object stays usable: a later call connects again.
        """

    @property
    @abc.abstractmethod
    def engine(self) -> sa.engine.Engine:
        """The SQLAlchemy engine, for tools and tests."""

    @abc.abstractmethod
    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""

    @abc.abstractmethod
    def schema_version(self) -> str | None:
        """The current migration revision, or None for an empty database."""

    @abc.abstractmethod
    def get_alarms(self, *, project_id: str | None = None,
                   user_id: str | None = None,
                   alarm_type: str | None = None,
                   resource_id: str | None = None,
                   state: str | None = None, name: str | None = None,
                   enabled: bool | None = None,
                   limit: int | None = None, marker: str | None = None,
                   sort: list[tuple[str, str]] | None = None) -> list[dict]:
        """Alarms matching every given filter, in ``sort`` order.

        :param sort: ``(column, 'asc'|'desc')`` pairs; the alarm id is
            always the last key so that ``marker`` paging is stable. A
            missing value (NULL) sorts before any other, on every database.
        :param marker: id of the last alarm of the previous page.
        :raises AlarmNotFound: if ``marker`` is not an alarm.
        :raises InvalidField: if ``sort`` names a column that is not a
            sort key or a direction other than asc and desc.
        """

    @abc.abstractmethod
    def ping(self) -> None:
        """Make one round trip to the database.

        :raises Exception: whatever the driver raises when the database
            cannot be reached or refuses the connection.
        """

    @abc.abstractmethod
    def get_alarm(self, alarm_id: str) -> dict:
        """One alarm. :raises AlarmNotFound: if there is none."""

    @abc.abstractmethod
    def get_alarm_states(self, alarm_ids: Iterable[str]) -> dict[str, str]:
        """The stored state of each alarm that still exists, by id."""

    @abc.abstractmethod
    def get_alarm_owners(self, alarm_ids: Iterable[str]
                         ) -> dict[str, tuple[str | None, str | None]]:
        """The ``(project_id, user_id)`` of each alarm that still exists,
        by id.
        """

    @abc.abstractmethod
    def iter_enabled_alarms(self, alarm_type: str,
                            batch_size: int = 5000) -> Iterable[dict]:
        """Every enabled alarm of ``alarm_type``, read in batches."""

    @abc.abstractmethod
    def count_alarms(self, *, project_id: str | None = None,
                     user_id: str | None = None) -> int:
        """How many alarms the project (or user) owns."""

    @abc.abstractmethod
    def create_alarm(self, alarm: dict, change: dict) -> dict:
        """Store a new alarm and its ``creation`` history entry together."""

    @abc.abstractmethod
    def update_alarm(self, alarm_id: str, values: dict,
                     changes: list[dict]) -> dict:
        """Replace an alarm's values and record ``changes`` with them.

        :raises AlarmNotFound: if the alarm is gone.
        """

    @abc.abstractmethod
    def delete_alarm(self, alarm_id: str, change: dict) -> None:
        """Delete an alarm and its pending deliveries; keep its history.

        :raises AlarmNotFound: if the alarm is gone.
        """

    @abc.abstractmethod
    def transition_state(self, alarm_id: str, expected_state: str,
                         new_state: str, reason: str,
                         timestamp: datetime.datetime,
                         change: dict | None,
                         deliveries: list[dict],
                         deadline: datetime.datetime | None = None,
                         expected_deadline: datetime.datetime | None = None
                         ) -> bool:
        """Compare-and-set an alarm's state.

        The state changes only if it is still ``expected_state`` (and, when
        ``expected_deadline`` is given, the deadline is still that one);
        then ``change`` is recorded and ``deliveries`` stored, all in one
        transaction. ``expected_state == new_state`` records a repeated
        firing without a state change. Of two evaluators racing on the same
        transition, exactly one gets True.

        A delivery stored behind an older one of its alarm to the same
        action (still owed) is stored waiting: its dict in
        ``deliveries`` gets ``next_attempt_at`` (its creation time), and
        it goes once the older ones are gone. The others are stored in
        flight, claimed at their creation by the caller, who delivers
        them.
        """

    @abc.abstractmethod
    def transition_states(self, transitions: list[StateTransition]
                          ) -> list[bool]:
        """Several :meth:`transition_state` in one transaction.

        A burst of events (a host's instances failing together) moves many
        alarms at once: one commit for all of them costs far less than one
        each. Every compare-and-set is still decided on its own, in the
        given order, exactly as :meth:`transition_state` decides it: the
        result says, for each, whether it won; a lost one records and
        stores nothing, and does not stop the others.
        """

    @abc.abstractmethod
    def set_deadline(self, alarm_id: str,
                     deadline: datetime.datetime | None) -> None:
        """Move the insufficient-data deadline of an alarm."""

    @abc.abstractmethod
    def set_deadlines(self, deadlines: dict[str, datetime.datetime | None]
                      ) -> None:
        """Move the deadlines of several alarms, in one transaction.

        :param deadlines: the new deadline of each alarm id; alarms that
            are gone are skipped.
        """

    @abc.abstractmethod
    def get_expired_alarms(self, now: datetime.datetime,
                           limit: int = 1000) -> list[dict]:
        """Enabled alarms past their deadline, not yet 'insufficient data'."""

    @abc.abstractmethod
    def record_change(self, change: dict) -> None:
        """Add one history entry."""

    @abc.abstractmethod
    def get_alarm_changes(self, alarm_id: str, *, limit: int | None = None,
                          marker: str | None = None) -> list[dict]:
        """An alarm's history, newest first.

        :raises NotFound: if ``marker`` is not an entry of this alarm.
        """

    @abc.abstractmethod
    def claim_stale_deliveries(self, stale_before: datetime.datetime,
                               now: datetime.datetime,
                               limit: int = 100,
                               exclude: Collection[str] = ()
                               ) -> list[dict]:
        """Take over the deliveries that are due, oldest first.

        Due are a delivery in flight last claimed before ``stale_before``
        (its notifier did not finish it), and a delivery waiting for its
        next attempt once ``next_attempt_at`` has come, provided no older
        delivery of its alarm to the same action is stored: the
        deliveries of one alarm to one action go out in the order of its
        transitions. Each returned delivery has been claimed at ``now`` by
        this caller alone (compare-and-set on ``claimed_at``) and is in
        flight again. Deliveries of ``exclude`` (those the caller still
        holds) are left alone.
        """

    @abc.abstractmethod
    def claim_deliveries(self, delivery_ids: Iterable[str],
                         now: datetime.datetime) -> list[str]:
        """Claim, at ``now``, fresh deliveries nobody has taken over yet.

        For a firing handed to a notifier: a delivery still claimed at its
        creation time is claimed by this caller alone (compare-and-set on
        ``claimed_at``); one that a scan has taken over, or that is gone,
        is not. A delivery behind an older one of its alarm to the same
        action is not claimed either but set waiting, due at once, for
        :meth:`claim_stale_deliveries` to take once the older ones are
        gone. Returns the ids claimed.
        """

    @abc.abstractmethod
    def delete_deliveries(self, delivery_ids: Iterable[str]) -> None:
        """Forget deliveries that are done or given up."""

    @abc.abstractmethod
    def finish_deliveries(self, delivered: Iterable[str],
                          retries: list[DeliveryRetry],
                          give_ups: list[DeliveryGiveUp]) -> list[str]:
        """Record the outcome of attempts, in one transaction.

        Forgets the ``delivered`` ones; sets each of ``retries`` waiting
        for its next attempt, and forgets each of ``give_ups`` and records
        its history entry, each only if it is still in flight under the
        claim it was attempted with (one that another notifier took over
        is left to it, so a give-up is recorded once). Returns the ids of
        the deliveries given up.
        """

    # entities

    @abc.abstractmethod
    def apply_entity_changes(self, changes: list[dict]) -> list[dict]:
        """Store entity changes, in one transaction; return those that took.

        Each change is a record of :meth:`doctor.synchronizer.entity.Change.
        as_record`. Changes are applied in timestamp order. A change older
        than what the store has for its entity is ignored, and so is one
        that says nothing new (same digest), a delete of an entity that is
        not there, and a delete by a datasource other than the one that
        last reported the entity. The changes returned are those that
        changed the store, with ``action`` saying what they did to it
        (``create`` for an entity it did not have, even if the source
        reported an update).
        """

    @abc.abstractmethod
    def get_entities(self, *, entity_type: str | None = None,
                     parent: str | None = None, state: str | None = None,
                     datasource: str | None = None,
                     project_id: str | None = None,
                     limit: int | None = None,
                     marker: str | None = None,
                     keys: Iterable[str] | None = None) -> list[dict]:
        """Entities that are not deleted, matching every filter, by key.

        :param parent: key of an entity the entities must belong to.
        :param marker: key of the last entity of the previous page.
        :param keys: only the entities of these keys.
        """

    @abc.abstractmethod
    def get_entity(self, key: str) -> dict:
        """One entity, with the keys of its ``children``.

        :raises EntityNotFound: if there is none, or it is deleted.
        """

    @abc.abstractmethod
    def get_entity_digests(self, datasource: str
                           ) -> dict[str, tuple[str, datetime.datetime]]:
        """Digest and time of every entity ``datasource`` reported, by key.

        A collector's baseline is rebuilt from this.
        """

    @abc.abstractmethod
    def purge_entity_tombstones(self, before: datetime.datetime) -> int:
        """Forget entities deleted before ``before``; return how many."""

    # faults
    #
    # A fault travels as a dict: ``id``, ``host``, ``type``, ``status``
    # (``open`` or ``closed``), ``created_at`` and ``closed_at`` (naive
    # UTC datetimes, ``closed_at`` None while open), and the lists
    # ``affected``, ``actions``, ``checkpoints`` and ``reports``; and what
    # lets an inspector finish a fault another one began: ``steps`` (what
    # is to be done, stored with the fault), ``done`` (keys of the steps
    # that ended), ``owner`` (the inspector replica running the steps),
    # ``heartbeat_at`` (its last sign of life), ``handled_at`` (when every
    # step had ended; None while some have not) and ``resumes`` (each
    # time another run took the fault over).

    @abc.abstractmethod
    def create_fault(self, fault: dict, duplicate_after: datetime.datetime
                     ) -> tuple[dict, bool]:
        """Open ``fault`` for its host, unless the host has a fault.

        The host has one when a fault of it is open (not closed), or began
        after ``duplicate_after``. ``fault`` carries ``id``, ``host``,
        ``type``, ``created_at``, ``checkpoints`` and ``reports`` (a list
        of one report). Two callers racing for one host (two inspector
        replicas) get one fault: the database refuses a second open fault
        of a host.

        :returns: ``(fault, True)`` for the fault created, or ``(existing
            fault, False)``, in which case the report is appended to the
            existing fault's ``reports``.
        """

    @abc.abstractmethod
    def update_fault(self, fault_id: str, values: dict) -> None:
        """Replace any of ``affected``, ``actions``, ``checkpoints``,
        ``handled_at``.

        :raises FaultNotFound: if there is no such fault.
        """

    @abc.abstractmethod
    def record_fault_steps(
            self, progress: dict[str, tuple[list[str], list[dict]]]
    ) -> None:
        """Mark steps of faults done, in one transaction.

        ``progress`` maps a fault id to the keys of its steps that ended
        and the records of the actions among them (added to ``actions``).
        A step already done is not recorded again; an unknown fault is
        skipped.
        """

    @abc.abstractmethod
    def claim_fault(self, fault_id: str, owner: str,
                    expected_owner: str | None,
                    expected_heartbeat: datetime.datetime | None,
                    now: datetime.datetime, reason: str) -> dict | None:
        """Take over an unfinished open fault for ``owner``.

        A compare-and-set: only if the fault's owner and heartbeat are
        still those given. Adds ``{"at", "by", "previous_owner",
        "reason"}`` to its ``resumes``.

        :returns: the fault as it now is, or None if it was not taken.
        """

    @abc.abstractmethod
    def heartbeat_faults(self, owner: str, fault_ids: Iterable[str],
                         now: datetime.datetime) -> None:
        """Stamp ``now`` on the unfinished faults of ``fault_ids`` that
        ``owner`` owns.
        """

    @abc.abstractmethod
    def get_unfinished_faults(self) -> list[dict]:
        """Open faults whose steps have not all ended, oldest first."""

    @abc.abstractmethod
    def close_fault(self, host: str, closed_at: datetime.datetime
                    ) -> dict | None:
        """Close the open fault of ``host``; return it, or None if none."""

    @abc.abstractmethod
    def get_fault(self, fault_id: str) -> dict:
        """One fault, with everything recorded of it.

        :raises FaultNotFound: if there is no such fault.
        """

    @abc.abstractmethod
    def get_open_faults(self, hosts: Iterable[str] | None = None
                        ) -> dict[str, dict]:
        """The open fault of each host that has one (of ``hosts``)."""

    @abc.abstractmethod
    def get_faults(self, *, host: str | None = None,
                   status: str | None = None, limit: int | None = None,
                   marker: str | None = None) -> list[dict]:
        """Faults matching every filter, newest first.

        :param status: ``open`` or ``closed``.
        :param marker: id of the last fault of the previous page.
        :raises FaultNotFound: if ``marker`` is not a fault.
        """

    # checkpoints of faults after the inspector's (the profiler's)
    #
    # A checkpoint travels as a dict: ``fault_id``, ``name`` (see
    # :data:`doctor.profiler.checkpoints.NAMES`), ``component``,
    # ``timestamp`` and ``alarm_id`` (None where not about one alarm).

    @abc.abstractmethod
    def add_fault_checkpoints(self, entries: list[dict]) -> None:
        """Store ``entries`` together; their ``timestamp`` is a datetime.

        The faults are not checked: the caller knows they exist.
        """

    @abc.abstractmethod
    def get_fault_checkpoints(self, fault_ids: Iterable[str]
                              ) -> dict[str, list[dict]]:
        """The stored checkpoints of each of ``fault_ids`` that has any,
        in time order, each with ``number``, ``name``, ``component``,
        ``timestamp`` (ISO 8601 UTC) and ``alarm_id``.
        """

    # heartbeats of the HA guests

    @abc.abstractmethod
    def put_heartbeats(self, records: Iterable[dict]) -> None:
        """Record the heartbeat status of guests, replacing their rows.

        Each record has ``instance_id``, ``host``, ``project_id``,
        ``interval_ms``, ``threshold``, ``status`` (one of
        :data:`HEARTBEAT_STATUSES`), ``reason``, ``last_seen`` and
        ``updated_at`` (naive or aware UTC datetimes, or None).
        """

    @abc.abstractmethod
    def delete_heartbeats(self, instance_ids: Iterable[str]) -> None:
        """Forget the guests of ``instance_ids`` (their channel is gone).
        """

    @abc.abstractmethod
    def get_heartbeats(self, *, project_id: str | None = None,
                       host: str | None = None,
                       status: str | None = None) -> list[dict]:
        """The guests' heartbeat records matching every filter, by
        instance id.
        """

    @abc.abstractmethod
    def get_heartbeat(self, instance_id: str) -> dict | None:
        """The heartbeat record of one guest, or None."""


def get_connection(conf: cfg.ConfigOpts) -> Connection:
    """The storage connection configured by ``[database] connection``."""
    from doctor.db.sqlalchemy import api as sqla_api
    return sqla_api.Connection(conf)
