"""Which inspector replica runs an unfinished fault, and when another
one takes it over.

Each fault is owned by the replica that accepted it (``owner``, an id
unique to each run of each replica). While its steps run, the owner
stamps ``heartbeat_at`` on it every ``[inspector]
fault_heartbeat_interval`` seconds. A fault whose steps have not all
ended is *stuck* when:

* its owner's heartbeat is older than ``[inspector]
  fault_takeover_timeout`` (the owner died, hung, or lost the database);
* with ``[coordination] backend_url``, its owner has left the
  inspectors' group (and was already gone when the group was last
  listed, after its last heartbeat);
* without coordination, at the start of a replica: an inspector without
  coordination is alone by definition, so every other owner is an
  earlier run of itself;
* its owner is this run but this run is not running it.

A stuck fault is taken over, by a compare-and-set on its owner and
heartbeat so that one replica wins, by the replica that finds it: at its
start, at each heartbeat, or on a new report of the fault's host.
"""

from collections.abc import Callable
import dataclasses
import datetime

from oslo_utils import timeutils

# Why a fault was taken over, as its ``resumes`` say.
RESTART = 'restart'
TAKEOVER = 'takeover'
REPORT = 'report'


@dataclasses.dataclass(frozen=True, slots=True)
class Members:
    """The inspectors' group as last listed: who, and when."""

    ids: frozenset[str]
    listed_at: datetime.datetime  # naive UTC


@dataclasses.dataclass(slots=True)
class Rule:
    """The takeover rule of one replica.

    :param owner: this run's owner id.
    :param timeout: ``[inspector] fault_takeover_timeout``.
    :param members: the group as last listed, or None without
        coordination (or when it could not be listed).
    :param coordinated: whether ``[coordination] backend_url`` is set.
    """

    owner: str
    timeout: float
    members: Callable[[], Members | None]
    coordinated: bool

    def stuck(self, fault: dict, running: bool, starting: bool = False,
              now: datetime.datetime | None = None) -> bool:
        """Whether ``fault`` is stuck, to this replica's knowledge.

        :param running: whether this run is running the fault's steps.
        :param starting: whether this replica is starting.
        """
        if (fault.get('handled_at') is not None or not fault.get('steps')
                or fault.get('status', 'open') != 'open'):
            return False
        owner = fault.get('owner')
        if owner == self.owner:
            return not running
        if owner is None:
            return True
        heartbeat = fault.get('heartbeat_at')
        if heartbeat is None:
            return True
        now = now or timeutils.utcnow()
        if now - heartbeat > datetime.timedelta(seconds=self.timeout):
            return True
        if not self.coordinated:
            return starting
        members = self.members()
        return (members is not None and owner not in members.ids
                and members.listed_at > heartbeat)
