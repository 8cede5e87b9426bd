"""Membership of service replicas through tooz.

A replica joins its service's group and keeps, refreshed on a thread of
its own, the number of members the group has, so that asking "am I
alone?" costs nothing on a hot path. Without ``[coordination]
backend_url`` there is no coordinator and a service is alone by
definition.
"""

import threading

from oslo_log import log
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def members(self) -> int:
        """Replicas in the group at the last refresh, this one included.

        1 until the first refresh succeeds.
        """
        return self._members

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
        try:
            self._members = max(1, len(
                self._coordinator.get_members(self.group).get()))
        except coordination.ToozError as e:
            # Unsure who else is there: behave as if not alone.
            LOG.warning('Cannot list the members of %s: %s',
                        self.group.decode(), e)
            self._members = 2

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
