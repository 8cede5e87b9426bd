"""Membership and leadership of service replicas through tooz.

A replica joins its service's group and keeps, refreshed on a thread of
its own, the number of members the group has, so that asking "am I
alone?" costs nothing on a hot path. Without ``[coordination]
backend_url`` there is no coordinator and a service is alone by
definition.

Tasks that one replica at a time must run (a synchronizer's collectors)
go to the leader of each task: :func:`leadership`.
"""

import datetime
import threading
import typing

from oslo_log import log
from oslo_utils import timeutils
from oslo_utils import uuidutils
from tooz import coordination

LOG = log.getLogger(__name__)


class GroupMembership:
    """This replica's membership of one tooz group."""

    def __init__(self, conf, group: str) -> None:
        self.conf = conf
        self.group = group.encode()
        self.member_id = ('%s-%s' % (conf.host, uuidutils.generate_uuid())
                          ).encode()
        self._coordinator = coordination.get_coordinator(
            conf.coordination.backend_url, self.member_id)
        self._members = 1
        self._listed: tuple[frozenset[str], datetime.datetime] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def members(self) -> int:
        """Replicas in the group at the last refresh, this one included.

        1 until the first refresh succeeds.
        """
        return self._members

    @property
    def listed(self) -> tuple[frozenset[str], datetime.datetime] | None:
        """The members' ids at the last refresh, and when (naive UTC).

        None until a refresh succeeds, and after one fails.
        """
        return self._listed

    def start(self) -> None:
        self._coordinator.start(start_heart=True)
        try:
            self._coordinator.create_group(self.group).get()
        except coordination.GroupAlreadyExist:
            pass
        self._coordinator.join_group(self.group).get()
        self._refresh()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-coordination')
        self._thread.start()

    def _refresh(self) -> None:
        asked = timeutils.utcnow()
        try:
            members = self._coordinator.get_members(self.group).get()
        except coordination.ToozError as e:
            # Unsure who else is there: behave as if not alone.
            LOG.warning('Cannot list the members of %s: %s',
                        self.group.decode(), e)
            self._members = 2
            self._listed = None
            return
        self._members = max(1, len(members))
        self._listed = (frozenset(
            member.decode() if isinstance(member, bytes) else str(member)
            for member in members), asked)

    def _run(self) -> None:
        while not self._stop.wait(self.conf.coordination.heartbeat_interval):
            self._refresh()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self._coordinator.leave_group(self.group).get()
        except coordination.ToozError as e:
            LOG.warning('Cannot leave %s: %s', self.group.decode(), e)
        self._coordinator.stop()


def join(conf, group: str) -> GroupMembership | None:
    """Join ``group`` if coordination is configured, else None."""
    if not conf.coordination.backend_url:
        return None
    membership = GroupMembership(conf, group)
    membership.start()
    return membership


class Leadership:
    """This replica's leadership of named tasks, one leader per task.

    A task is led by whoever holds its tooz lock; the holder keeps it by
    the coordinator's heartbeat and loses it when it stops (or stops
    beating, after the backend's lock timeout: ``?timeout=`` on Redis).
    Each call of :meth:`is_leader` tries to take the lock of a task
    without a leader, so that a replica takes over within one interval of
    the lock's expiry.
    """

    def __init__(self, conf, prefix: str) -> None:
        self.conf = conf
        self.prefix = prefix
        self.member_id = ('%s-%s' % (conf.host, uuidutils.generate_uuid())
                          ).encode()
        self._coordinator = coordination.get_coordinator(
            conf.coordination.backend_url, self.member_id)
        self._locks: dict[str, typing.Any] = {}
        self._held: set[str] = set()
        self._guard = threading.Lock()
        self._started = False

    def start(self) -> None:
        self._coordinator.start(start_heart=True)
        self._started = True

    def is_leader(self, task: str) -> bool:
        """Whether this replica leads ``task`` now; tries to become it."""
        with self._guard:
            lock = self._locks.get(task)
            if lock is None:
                lock = self._locks[task] = self._coordinator.get_lock(
                    ('%s-%s' % (self.prefix, task)).encode())
            try:
                if task in self._held:
                    still = getattr(lock, 'is_still_owner', None)
                    if still is None or still():
                        return True
                    LOG.warning('Lost the leadership of %s', task)
                    self._held.discard(task)
                if lock.acquire(blocking=False):
                    LOG.info('This replica now leads %s', task)
                    self._held.add(task)
                    return True
            except coordination.ToozError as e:
                LOG.warning('Cannot tell who leads %s: %s', task, e)
                self._held.discard(task)
            return False

    def stop(self) -> None:
        """Give up every leadership and leave; a second call does nothing.
        """
        with self._guard:
            if not self._started:
                return
            self._started = False
            for task in list(self._held):
                try:
                    self._locks[task].release()
                except coordination.ToozError as e:
                    LOG.warning('Cannot give up the leadership of %s: %s',
                                task, e)
            self._held.clear()
            self._coordinator.stop()


class SoleLeadership:
    """Leadership without a coordination backend: one replica leads all."""

    def start(self) -> None:
        pass

    def is_leader(self, task: str) -> bool:
        return True

    def stop(self) -> None:
        pass


def leadership(conf, prefix: str) -> 'Leadership | SoleLeadership':
    """Leadership of ``prefix`` tasks, through tooz when it is configured."""
    if not conf.coordination.backend_url:
        return SoleLeadership()
    return Leadership(conf, prefix)
