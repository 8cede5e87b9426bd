"""The in-memory alarm index of an evaluator.

Alarms are found by the resource id of an event (and, when alarms without a
resource are allowed, by the event's project), so the cost of an event does
not grow with the number of alarms on other resources. The index is built
from the database at start, kept current by the alarm change messages the
API and other evaluators send, and reloaded periodically as a safety net.
"""

import datetime
import threading

from oslo_log import log
from oslo_utils import timeutils

from doctor.common import exception
from doctor.evaluator import rule as rule_mod

LOG = log.getLogger(__name__)


class IndexedAlarm:
    """What the evaluator keeps of one alarm: compact, rule compiled."""

    __slots__ = ('alarm_id', 'name', 'severity', 'project_id', 'user_id',
                 'resource_id', 'rule', 'alarm_actions', 'ok_actions',
                 'insufficient_data_actions', 'repeat_actions', 'state',
                 'state_timestamp', 'timestamp', 'infrastructure',
                 'last_event_at')

    def __init__(self, alarm: dict) -> None:
        self.alarm_id: str = alarm['alarm_id']
        self.name: str = alarm['name']
        self.severity: str = alarm['severity']
        self.project_id: str | None = alarm.get('project_id')
        self.user_id: str | None = alarm.get('user_id')
        self.resource_id: str | None = alarm.get('resource_id')
        self.rule = rule_mod.compile_rule(alarm['rule'])
        self.alarm_actions = tuple(alarm.get('alarm_actions') or ())
        self.ok_actions = tuple(alarm.get('ok_actions') or ())
        self.insufficient_data_actions = tuple(
            alarm.get('insufficient_data_actions') or ())
        self.repeat_actions: bool = bool(alarm.get('repeat_actions'))
        self.state: str = alarm['state']
        # When the state was stored: what orders the announcements of
        # transitions, so that a late one never moves the state backwards.
        self.state_timestamp = _timestamp(alarm, 'state_timestamp')
        self.timestamp = _timestamp(alarm)
        # When the newest event this alarm was evaluated against was
        # generated (naive UTC): an older one, delivered again or late, is
        # not evaluated. Kept in memory only.
        self.last_event_at: datetime.datetime | None = None
        # Whether it sees the events that name no project; an alarm from
        # an API older than the flag does not.
        self.infrastructure: bool = bool(alarm.get('infrastructure'))

    def actions_for(self, state: str) -> tuple[str, ...]:
        if state == 'alarm':
            return self.alarm_actions
        if state == 'ok':
            return self.ok_actions
        return self.insufficient_data_actions


def _timestamp(alarm: dict, key: str = 'timestamp'
               ) -> datetime.datetime | None:
    return _naive(alarm.get(key))


def _naive(timestamp) -> datetime.datetime | None:
    # Rows from the database carry naive UTC datetimes, alarms that came
    # over the bus timezone-aware ones, announcements ISO 8601 text:
    # compare them as naive UTC.
    if isinstance(timestamp, str):
        try:
            timestamp = timeutils.parse_isotime(timestamp)
        except ValueError:
            return None
    if isinstance(timestamp, datetime.datetime):
        return timeutils.normalize_time(timestamp)
    return None


_FOREVER = datetime.datetime.max


def _newer(a: datetime.datetime | None,
           b: datetime.datetime | None) -> bool:
    """Whether ``a`` is known to come after ``b``."""
    return a is not None and (b is None or a > b)


class AlarmIndex:
    """Alarms by resource id (and by project for resource-less alarms)."""

    def __init__(self, allow_without_resource: bool = False) -> None:
        self._allow_without_resource = allow_without_resource
        self._lock = threading.Lock()
        self._by_id: dict[str, IndexedAlarm] = {}
        self._by_resource: dict[str, dict[str, IndexedAlarm]] = {}
        self._by_project: dict[str | None, dict[str, IndexedAlarm]] = {}
        # Alarms removed (deleted, disabled) and the timestamp of that
        # change, so that an older copy arriving late does not bring them
        # back. Emptied by each full reload.
        self._removed: dict[str, datetime.datetime] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, alarm_id: str) -> IndexedAlarm | None:
        return self._by_id.get(alarm_id)

    def candidates(self, resource_id: str | None,
                   project_id: str | None) -> list[IndexedAlarm]:
        """Alarms that may care about an event of this resource/project."""
        found: list[IndexedAlarm] = []
        if resource_id is not None:
            bucket = self._by_resource.get(resource_id)
            if bucket:
                found.extend(bucket.values())
        if self._by_project and project_id is not None:
            bucket = self._by_project.get(project_id)
            if bucket:
                found.extend(bucket.values())
        return found

    def put(self, alarm: dict, force_state: bool = False) -> None:
        """Add or replace an alarm; a disabled one is removed instead.

        An alarm older than the indexed copy (by ``timestamp``) is ignored,
        so that change messages arriving out of order cannot undo a newer
        change. A copy whose state is older than the indexed one (by
        ``state_timestamp``) keeps the indexed state, unless
        ``force_state``: the copy was just read from the database, which
        decides.
        """
        entry = None
        if alarm.get('enabled', True) and (
                alarm.get('type', 'notification') == 'notification'):
            try:
                entry = IndexedAlarm(alarm)
            except exception.Invalid as e:
                LOG.warning('Alarm %s has an invalid rule and is not '
                            'evaluated: %s', alarm.get('alarm_id'), e)
        timestamp = _timestamp(alarm)
        alarm_id = alarm['alarm_id']
        with self._lock:
            old = self._by_id.get(alarm_id)
            newest = old.timestamp if old is not None else self._removed.get(
                alarm_id)
            if newest is not None and (
                    newest is _FOREVER if timestamp is None
                    else timestamp < newest):
                return
            if old is not None:
                self._unlink(old)
                if entry is not None:
                    entry.last_event_at = old.last_event_at
                if (entry is not None and not force_state
                        and _newer(old.state_timestamp,
                                   entry.state_timestamp)):
                    entry.state = old.state
                    entry.state_timestamp = old.state_timestamp
            if entry is not None:
                self._link(entry)
                self._removed.pop(alarm_id, None)
            else:
                self._removed[alarm_id] = timestamp or _FOREVER

    def remove(self, alarm_id: str) -> None:
        """Forget a deleted alarm; later copies of it are ignored."""
        with self._lock:
            old = self._by_id.get(alarm_id)
            if old is not None:
                self._unlink(old)
            self._removed[alarm_id] = _FOREVER

    def replace_all(self, alarms) -> int:
        """Rebuild the index from ``alarms``, swapping it in at once."""
        fresh = AlarmIndex(self._allow_without_resource)
        for alarm in alarms:
            fresh.put(alarm)
        with self._lock:
            # What each alarm has seen of the events stays known.
            for alarm_id, entry in fresh._by_id.items():
                old = self._by_id.get(alarm_id)
                if old is not None:
                    entry.last_event_at = old.last_event_at
            # A removal that happened while the database was being read
            # still wins over the copy read before it.
            for alarm_id, removed_at in self._removed.items():
                stale = fresh._by_id.get(alarm_id)
                if stale is not None and (stale.timestamp is None
                                          or stale.timestamp < removed_at):
                    fresh._unlink(stale)
            self._by_id = fresh._by_id
            self._by_resource = fresh._by_resource
            self._by_project = fresh._by_project
            self._removed = {}
        return len(fresh)

    def set_state(self, alarm_id: str, state: str,
                  timestamp: datetime.datetime | str | None = None) -> bool:
        """Follow a transition stored elsewhere, unless it is stale.

        ``timestamp`` is when the transition was stored; one older than the
        indexed state's is discarded, so announcements arriving out of
        order never move the state backwards. Without a timestamp (from an
        evaluator older than RPC 1.2) the state is taken as it comes.
        Returns whether the state was taken.
        """
        stamp = _naive(timestamp)
        with self._lock:
            entry = self._by_id.get(alarm_id)
            if entry is None:
                return False
            if stamp is not None:
                if entry.state_timestamp is not None and (
                        stamp < entry.state_timestamp):
                    return False
                entry.state_timestamp = stamp
            entry.state = state
            return True

    def _link(self, entry: IndexedAlarm) -> None:
        self._by_id[entry.alarm_id] = entry
        if entry.resource_id is not None:
            self._by_resource.setdefault(
                entry.resource_id, {})[entry.alarm_id] = entry
        elif self._allow_without_resource:
            self._by_project.setdefault(
                entry.project_id, {})[entry.alarm_id] = entry

    def _unlink(self, entry: IndexedAlarm) -> None:
        self._by_id.pop(entry.alarm_id, None)
        for table, key in ((self._by_resource, entry.resource_id),
                           (self._by_project, entry.project_id)):
            bucket = table.get(key)  # type: ignore[arg-type]
            if bucket is not None:
                bucket.pop(entry.alarm_id, None)
                if not bucket:
                    del table[key]  # type: ignore[arg-type]
