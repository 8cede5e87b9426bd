"""What a fault is to do, stored with it, and its progress as it goes.

When the inspector accepts a host fault it writes, in the same insert as
the fault, every step it is about to take (:func:`plan`): the host forced
down, each instance set to its fault state, each port set data-plane
DOWN and, with ``[inspector] notify_early``, each instance's early
notification. Each step carries what its controller call needs, so that
an inspector that did not build the plan (a restarted one, or another
replica) can run it from the database alone.

As each step ends, :class:`Recorder` marks it done in the fault, with the
action's record: one thread stores the steps of every fault together,
group-committed, so that a host of a hundred instances costs a few
transactions and one database connection rather than a hundred.
"""

import collections
from collections.abc import Callable
import dataclasses
import threading
import typing

from oslo_log import log

from doctor.common import exception
from doctor.db import api as db_api
from doctor.inspector.controllers import base

LOG = log.getLogger(__name__)

# Kinds of step: the three kinds of controller action, and the early
# notification of an instance.
ANNOUNCE = 'announce'

# Instances a host fault leaves alone: gone, going, being resized, or
# already failed.
SKIPPED_STATES = frozenset(('deleted', 'soft-delete', 'soft_deleted',
                            'soft-deleted', 'resized', 'error'))

# Seconds the recorder waits before writing again after the database
# failed, doubled each time up to MAX_BACKOFF.
BACKOFF = 0.1
MAX_BACKOFF = 5.0

# Seconds that stopping waits for the recorder to store what is queued.
STOP_TIMEOUT = 10.0


def step_key(name: str, target: str) -> str:
    """The key of a step (and of its action's record): ``name:target``."""
    return '%s:%s' % (name, target)


def _step(kind: str, name: str, target: str, entity: typing.Any) -> dict:
    fields = dataclasses.asdict(entity)
    return {'key': step_key(name, target), 'kind': kind, 'name': name,
            'target': target, 'entity': fields}


@dataclasses.dataclass(slots=True)
class Plan:
    """The affected resources of a fault and the steps to take."""

    affected: list[dict]
    steps: list[dict]


def plan(host: str, lookup: typing.Any, state: str, early: bool) -> Plan:
    """What a fault of ``host`` is to do, from the cache's ``lookup``.

    :param lookup: :class:`~doctor.inspector.cache.Lookup` or None.
    :param state: ``[inspector] instance_fault_state``.
    :param early: ``[inspector] notify_early``.
    """
    target_host = lookup.host if lookup else base.Host(name=host)
    instances = lookup.instances if lookup else []
    ports = lookup.ports if lookup else []
    skipped = SKIPPED_STATES | {state}
    affected: list[dict] = []
    steps = [_step(base.HOST, 'set_host_down', 'host:%s' % host,
                   target_host)]
    announcements = []
    for instance in instances:
        left_alone = instance.state in skipped
        affected.append({
            'type': 'instance', 'id': instance.id,
            'project_id': instance.project_id, 'state': instance.state,
            'action': ('none: already %s' % instance.state
                       if left_alone else 'set %s' % state)})
        if left_alone:
            continue
        target = 'instance:%s' % instance.id
        steps.append(_step(base.INSTANCE, 'set_instance_state', target,
                           instance))
        if early:
            announcements.append(_step(ANNOUNCE, 'announce_instance',
                                       target, instance))
    for port in ports:
        affected.append({
            'type': 'port', 'id': port.id,
            'project_id': port.project_id, 'device_id': port.device_id,
            'data_plane_status': port.data_plane_status,
            'action': 'set data-plane DOWN'})
        steps.append(_step(base.PORT, 'set_port_dp_down',
                           'port:%s' % port.id, port))
    return Plan(affected, steps + announcements)


_ENTITIES: dict[str, type] = {base.HOST: base.Host,
                              base.INSTANCE: base.Instance,
                              base.PORT: base.Port,
                              ANNOUNCE: base.Instance}


def entity(step: dict) -> typing.Any:
    """The Host, Instance or Port a stored step acts on."""
    cls = _ENTITIES[step['kind']]
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in step['entity'].items()
                  if name in names})


@dataclasses.dataclass(slots=True)
class _Item:
    fault_id: str
    keys: list[str]
    records: list[dict]
    # Set on the last item of a fault: the values of its end, and what
    # to call once they are stored.
    finish: dict | None = None
    then: Callable[[], None] | None = None


class Recorder:
    """Stores the progress of faults, on one thread of its own.

    :param connection: the database.
    """

    def __init__(self, connection: db_api.Connection) -> None:
        self._db = connection
        self._queue: collections.deque[_Item] = collections.deque()
        self._ready = threading.Condition()
        self._running = False
        self._idle = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._ready:
            self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-fault-progress')
        self._thread.start()

    def stop(self) -> None:
        """Store what is queued (within STOP_TIMEOUT), then stop."""
        with self._ready:
            self._running = False
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
        with self._ready:
            left = len(self._queue)
        if left:
            LOG.warning('%d fault steps ended but were not recorded; the '
                        'inspector that resumes their faults runs them '
                        'again', left)

    def step_done(self, fault_id: str, key: str,
                  record: dict | None = None) -> None:
        """Record that a step of a fault ended (with its action's record).
        """
        self._put(_Item(fault_id, [key], [record] if record else []))

    def finish(self, fault_id: str, values: dict,
               then: Callable[[], None]) -> None:
        """Store ``values`` (see ``update_fault``) after every step queued
        before, then call ``then``.
        """
        self._put(_Item(fault_id, [], [], values, then))

    def idle(self) -> bool:
        """Whether everything queued is stored (tools and tests)."""
        with self._ready:
            return not self._queue and self._idle

    def _put(self, item: _Item) -> None:
        with self._ready:
            self._queue.append(item)
            self._ready.notify()

    def _take(self) -> list[_Item] | None:
        with self._ready:
            self._idle = True
            while not self._queue:
                if not self._running:
                    return None
                self._ready.wait()
            self._idle = False
            batch = list(self._queue)
            self._queue.clear()
            return batch

    def _run(self) -> None:
        backoff = BACKOFF
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._write(batch)
            except Exception as e:
                LOG.warning('Cannot record the progress of %d faults (%s); '
                            'trying again', len({i.fault_id for i in batch}),
                            e)
                with self._ready:
                    self._queue.extendleft(reversed(batch))
                    if not self._running:
                        return
                    self._ready.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = BACKOFF

    def _write(self, batch: list[_Item]) -> None:
        progress: dict[str, tuple[list[str], list[dict]]] = {}
        for item in batch:
            keys, records = progress.setdefault(item.fault_id, ([], []))
            keys.extend(item.keys)
            records.extend(item.records)
        progress = {fault_id: entry for fault_id, entry in progress.items()
                    if entry[0]}
        if progress:
            self._db.record_fault_steps(progress)
        for index, item in enumerate(batch):
            if item.finish is None:
                continue
            try:
                self._db.update_fault(item.fault_id, item.finish)
            except exception.FaultNotFound:
                LOG.warning('Fault %s was deleted before its end could be '
                            'recorded', item.fault_id)
            except Exception:
                # What follows is tried again: the ended steps (stored
                # already, and not stored twice) and the ends.
                del batch[:index]
                raise
            item.finish = None
            if item.then is not None:
                item.then()
