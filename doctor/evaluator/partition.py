"""Partitioned evaluation: several evaluator processes, each resource in order.

Several consumers of one queue break the order of a resource's events:
two consecutive ones may be taken by two processes and evaluated in
either order. When the evaluators are partitioned
(:func:`doctor.conf.evaluator.is_partitioned`) the work goes through two
hops instead:

* the **intake**: one process, the leader of the evaluators' tooz group
  (the holder of its ``intake`` lock), consumes the notification pool
  queue in order. It transforms each notification only to learn the
  resource it is about, and forwards it to the partition queue of that
  resource (``doctor-evaluator-partition.<n>``, on the control exchange):
  one message per partition and batch, the notifications in the order
  they came. It takes the next pool batch while the forwards of the last
  are on their way; each partition is a lane, whose part of a batch
  leaves once the broker has confirmed its part of the batch before
  (with any other parts waiting by then, as one message). A
  pool batch is acknowledged once every part of it is confirmed. A
  forward that fails stops the intake: that batch and every later one go
  back to the pool queue, and the intake starts again on a new listener
  (see :class:`IntakeEndpoint`). The other processes stand by and take
  over when the leader's lock expires.
* the **partition consumers**: each partition queue is consumed by one
  process at a time, its owner on a hash ring of the group's members
  (tooz's). A process consumes all the partitions it owns with one
  listener (one connection, whatever their number), the batches
  submitted in the order they came, each acknowledged once what it
  causes is stored, as the one-process evaluator does with the pool
  queue. When the members change, the partitions that move are stopped
  by their old owner (its listener stopped, its batches in flight
  finished and acknowledged, and started again on the partitions it
  keeps) and started by the new one after a hand-over delay of two
  heartbeats.

The resource's events thus stay in one queue and one consumer from the
pool to the database. What is not guaranteed, and the admin guide says:
during a hand-over where the old owner cannot stop in time (it is cut off
rather than gone) and while two processes both believe they lead the
intake, two consumers may briefly hold one resource's events. The
compare-and-set in the database still keeps every transition stored once
per state change; only the order may then differ from the bus's.
"""

import collections
from collections.abc import Callable
from collections.abc import Iterable
from concurrent import futures
import hashlib
import threading
import time
import typing
import uuid

from oslo_log import log
import oslo_messaging as messaging
from oslo_utils import timeutils
from tooz import hashring

from doctor.common import listener as listener_mod
from doctor.evaluator import evaluator as evaluator_mod
from doctor.evaluator import transformer as transformer_mod

LOG = log.getLogger(__name__)

#: Partition queues are ``<TOPIC>.<n>.<PRIORITY>``.
TOPIC = 'doctor-evaluator-partition'
PRIORITY = 'info'
#: The tooz lock whose holder runs the intake.
LEADER_TASK = 'intake'
FORWARD_EVENT_TYPE = 'doctor.evaluator.forward'
# Ids of notifications this process evaluated, remembered to skip a copy
# that comes again: redelivered because its acknowledgement was lost with
# the connection (the driver's own memory of them holds 16), or forwarded
# again by an intake that died between the broker's confirmation and its
# acknowledgement.
_RECENT_IDS = 20000
# Tries of a forward before the intake requeues its batch.
_FORWARD_RETRY = 2
#: Parts of a batch the intake sends at once (each on a connection of the
#: transport's pool).
FORWARD_THREADS = 8


def partition_of(key: str, partitions: int) -> int:
    """The partition of an ordering key (a resource or project id).

    Not the crc32 that picks an evaluator thread within a process: the
    resources of one partition must still spread over every thread.
    """
    digest = hashlib.blake2b(key.encode('utf-8', 'surrogatepass'),
                             digest_size=8).digest()
    return int.from_bytes(digest, 'big') % partitions


def partition_topic(number: int) -> str:
    """The topic of partition ``number`` (its queue adds ``.info``)."""
    return '%s.%d' % (TOPIC, number)


def assign(members: Iterable[str], partitions: int) -> dict[int, str]:
    """The owner of every partition among ``members``.

    Every process computes it from the member list of the group alone, so
    that processes seeing the same members agree; a member joining or
    leaving moves only about its share of the partitions.
    """
    nodes = sorted(set(members))
    if not nodes:
        return {}
    ring = hashring.HashRing(nodes)
    return {number: next(iter(ring.get_nodes(b'partition-%d' % number)))
            for number in range(partitions)}


def owned(members: Iterable[str], me: str, partitions: int) -> set[int]:
    """The partitions ``me`` owns among ``members``."""
    return {number for number, owner in assign(members, partitions).items()
            if owner == me}


class Forwarder:
    """Sends a partition its notifications; returns once the broker has them.

    On RabbitMQ the transport publishes with publisher confirms, so a
    return means the partition queue holds the message; the queue is
    declared by the first send if no owner declared it yet. The public
    notifier API logs a failed send and goes on, which would lose the
    batch once acknowledged: the transport's own send raises instead.
    """

    def __init__(self, transport: messaging.Transport,
                 publisher_id: str) -> None:
        self._transport = transport
        self._publisher_id = publisher_id

    def forward(self, partition: int, notifications: list[dict]) -> None:
        """Send ``notifications`` (in this order) to ``partition``.

        :raises Exception: if the broker did not take them.
        """
        target = messaging.Target(
            topic='%s.%s' % (partition_topic(partition), PRIORITY))
        message = {'message_id': str(uuid.uuid4()),
                   'publisher_id': self._publisher_id,
                   'event_type': FORWARD_EVENT_TYPE,
                   'priority': PRIORITY.upper(),
                   'payload': {'notifications': notifications},
                   'timestamp': str(timeutils.utcnow())}
        self._transport._send_notification(
            target, {}, message, version=2.0, retry=_FORWARD_RETRY)


class _Lane:
    """A partition's parts of batches, sent one message at a time."""

    __slots__ = ('waiting', 'busy')

    def __init__(self) -> None:
        self.waiting: list[tuple[futures.Future, list[dict]]] = []
        # Whether a message of the lane is on its way (or about to be).
        self.busy = False


class ForwardNotSent(Exception):
    """A part of a batch not forwarded: an earlier forward failed."""


def _requeue() -> messaging.NotificationResult:
    return messaging.NotificationResult.REQUEUE


class IntakeEndpoint:
    """The leader's endpoint on the pool queue: forwards batches in order.

    Its listener (:class:`doctor.common.listener.PipelinedBatchListener`)
    hands it the pool batches in bus order and takes the next while the
    forwards of the previous are on their way. Each partition is a lane:
    the part of a batch for a partition is sent only once the part of the
    previous batch for the same partition is confirmed, so that a
    partition queue gets its notifications in the pool's order. The parts
    that wait behind a forward leave together, as one message, when it is
    confirmed: the busier the intake, the fewer and larger its forwards.
    A batch is acknowledged (HANDLED) only once every partition it feeds
    has confirmed its part.

    A forward that fails *breaks* the intake: nothing more is sent, the
    failed batch and every batch taken after it go back to the pool queue
    (REQUEUE, the parts already forwarded included: their copies are
    skipped by their owner, :class:`RecentIds`), and ``on_broken`` is
    called, once, for the intake to be started again on a new listener
    (:meth:`Partitioning.restart_intake`). Then the broker delivers the
    batches sent back in their order again, and :meth:`reset` makes the
    endpoint forward again.
    """

    def __init__(self, transformer: transformer_mod.Transformer,
                 forward: Callable[[int, list[dict]], None],
                 partitions: int,
                 executor: futures.Executor | None = None,
                 on_broken: Callable[[], None] | None = None) -> None:
        """Forward through ``forward``, on ``executor``'s threads if given.

        Without ``executor`` each part is sent in the caller's thread.
        """
        self._transformer = transformer
        self._forward = forward
        self._partitions = partitions
        self._executor = executor
        self._on_broken = on_broken
        self._lock = threading.Lock()
        # Each partition's parts waiting to be sent.
        self._lanes: dict[int, _Lane] = {}
        self._broken = False

    @property
    def broken(self) -> bool:
        """Whether a forward failed since the last :meth:`reset`."""
        return self._broken

    def reset(self) -> None:
        """Forward again; call it once every batch taken is settled."""
        with self._lock:
            self._lanes = {}
            self._broken = False

    def partition(self, message: dict) -> int | None:
        """The partition of a raw notification; None if no alarm may care.

        A notification that cannot be transformed still goes to a
        partition, whose evaluator logs it as malformed.
        """
        try:
            event = self._transformer.transform(
                message['publisher_id'], message['event_type'],
                message['payload'], message['metadata'], message['ctxt'])
        except Exception:
            return partition_of('', self._partitions)
        if event is None:
            return None
        key = evaluator_mod.ordering_key(event)
        if key is None:
            return None
        return partition_of(key, self._partitions)

    def submit(self, messages: list[dict]) -> listener_mod.Waiter:
        """Queue the forwards of a batch; returns what to wait on."""
        if self._broken:
            return _requeue
        bundles: dict[int, list[dict]] = {}
        for message in messages:
            number = self.partition(message)
            if number is None:
                continue
            bundles.setdefault(number, []).append({
                'ctxt': message['ctxt'],
                'publisher_id': message['publisher_id'],
                'event_type': message['event_type'],
                'payload': message['payload'],
                'metadata': message['metadata']})
        parts = [self._send(number, notifications)
                 for number, notifications in bundles.items()]

        def wait() -> messaging.NotificationResult:
            # Every part is waited for, so that none is still on its way
            # when the batch is requeued and sent again.
            futures.wait(parts)
            if any(part.exception() is not None for part in parts):
                return messaging.NotificationResult.REQUEUE
            return messaging.NotificationResult.HANDLED
        return wait

    def _send(self, number: int, notifications: list[dict]
              ) -> futures.Future:
        """Send a part once the previous part of its partition is sent."""
        part: futures.Future = futures.Future()
        with self._lock:
            lane = self._lanes.setdefault(number, _Lane())
            lane.waiting.append((part, notifications))
            if lane.busy:
                # Sent with whatever else waits once the lane is free.
                return part
            lane.busy = True
        self._schedule(number, lane)
        return part

    def _schedule(self, number: int, lane: '_Lane') -> None:
        if self._executor is None:
            self._drain(number, lane)
            return
        try:
            self._executor.submit(self._drain, number, lane)
        except RuntimeError as e:
            # Shut down: the service stops.
            with self._lock:
                count = sum(len(items) for _part, items in lane.waiting)
            self._break(number, count, e)
            self._drain(number, lane)

    def _drain(self, number: int, lane: '_Lane') -> None:
        """Send what waits in ``lane`` as one message, then free the lane.

        Once per call: a lane that has more waiting goes to the back of
        the executor's queue, behind the other partitions' lanes.
        """
        with self._lock:
            parts, lane.waiting = lane.waiting, []
        notifications = [item for _part, items in parts for item in items]
        error: Exception | None = None
        if self._broken:
            error = ForwardNotSent(number)
        else:
            try:
                self._forward(number, notifications)
            except Exception as e:
                self._break(number, len(notifications), e)
                error = e
        for part, _items in parts:
            if error is None:
                part.set_result(None)
            else:
                part.set_exception(error)
        with self._lock:
            if not lane.waiting:
                lane.busy = False
                return
        self._schedule(number, lane)

    def _break(self, number: int, count: int, error: Exception) -> None:
        with self._lock:
            first = not self._broken
            self._broken = True
        if not first:
            return
        LOG.warning('Cannot forward %d notifications to partition %d (%s): '
                    'their batch and every later one go back to the pool '
                    'queue, and the intake starts again', count, number,
                    error)
        if self._on_broken is not None:
            self._on_broken()


class RecentIds:
    """The ids of the notifications this process evaluates or evaluated.

    A notification is *in flight* from its submission until its ticket is
    done, then *recent* (the last ``size`` of them) if it was evaluated.
    """

    def __init__(self, size: int = _RECENT_IDS) -> None:
        self._size = size
        self._ids: collections.OrderedDict[str, None] = (
            collections.OrderedDict())
        self._flying: dict[str, evaluator_mod.Ticket] = {}
        self._lock = threading.Lock()

    def __contains__(self, message_id: object) -> bool:
        with self._lock:
            return message_id in self._ids

    def take(self, message_id: str,
             submit: Callable[[], evaluator_mod.Ticket]
             ) -> evaluator_mod.Ticket | None:
        """The ticket to wait on for ``message_id``; None: evaluated already.

        A copy of a notification in flight (redelivered while the first
        one is still evaluated) shares the first one's ticket, so that it
        is acknowledged, or sent back, with it. Otherwise ``submit()``
        queues the notification, and its ticket is in flight.
        """
        with self._lock:
            if message_id in self._ids:
                return None
            ticket = self._flying.get(message_id)
            if ticket is None:
                ticket = self._flying[message_id] = submit()
            return ticket

    def settle(self, message_id: str, ticket: evaluator_mod.Ticket,
               outcome: evaluator_mod.Outcome | None) -> None:
        """``ticket`` of ``message_id`` is done with ``outcome``."""
        with self._lock:
            if self._flying.get(message_id) is ticket:
                del self._flying[message_id]
            if outcome is evaluator_mod.Outcome.REQUEUE:
                return
            self._ids[message_id] = None
            self._ids.move_to_end(message_id)
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)


def submit_in_order(engine: evaluator_mod.NotificationEvaluator,
                    recent: RecentIds, notifications: Iterable[dict]
                    ) -> Callable[[], messaging.NotificationResult]:
    """Queue raw notifications for evaluation, in order; returns the waiter.

    The waiter returns HANDLED once what each of them causes is stored,
    REQUEUE if the evaluator stopped first. A notification whose id
    ``recent`` holds was evaluated already (a copy redelivered because its
    acknowledgement was lost with the connection, or forwarded again by an
    intake) and is skipped: evaluated again after later events of its
    resource, it would replay their transitions. A copy of one still in
    flight waits for it instead.
    """
    tickets: list[tuple[str | None, evaluator_mod.Ticket]] = []
    for item in notifications:
        metadata = item.get('metadata')
        message_id = (metadata.get('message_id')
                      if isinstance(metadata, dict) else None)
        if not isinstance(message_id, str):
            # Not an id oslo.messaging gives: nothing to recognise a copy
            # by.
            message_id = None

        def submit(item=item, metadata=metadata):
            return engine.submit(
                item.get('ctxt'), item.get('publisher_id'),
                item.get('event_type'), item.get('payload'), metadata)
        if message_id is None:
            tickets.append((None, submit()))
            continue
        ticket = recent.take(message_id, submit)
        if ticket is None:
            LOG.debug('Skipping notification %s: evaluated already',
                      message_id)
            continue
        tickets.append((message_id, ticket))

    def wait() -> messaging.NotificationResult:
        requeue = False
        for message_id, ticket in tickets:
            outcome = ticket.wait()
            if message_id is not None:
                recent.settle(message_id, ticket, outcome)
            if outcome is evaluator_mod.Outcome.REQUEUE:
                requeue = True
        if requeue:
            return messaging.NotificationResult.REQUEUE
        return messaging.NotificationResult.HANDLED
    return wait


class PartitionEndpoint:
    """A partition owner's endpoint: evaluates forwarded notifications.

    Its listener listens at ``info`` (:data:`PRIORITY`) alone: the intake
    forwards at that priority, so a partition has one queue. A batch is
    acknowledged once what each of its notifications causes is stored, as
    on the pool queue.
    """

    def __init__(self, engine: evaluator_mod.NotificationEvaluator,
                 recent: RecentIds) -> None:
        self._engine = engine
        self._recent = recent

    def submit(self, messages: list[dict]
               ) -> Callable[[], messaging.NotificationResult]:
        """Queue the forwarded notifications; see :func:`submit_in_order`."""
        notifications: list[dict] = []
        for message in messages:
            payload = message.get('payload')
            forwarded = (payload.get('notifications')
                         if isinstance(payload, dict) else None)
            if not isinstance(forwarded, list):
                LOG.warning('Dropping a malformed forward %s',
                            message.get('metadata'))
                continue
            notifications.extend(item for item in forwarded
                                 if isinstance(item, dict))
        return submit_in_order(self._engine, self._recent, notifications)


class Server(typing.Protocol):
    """What a listener is to :class:`Partitioning`."""

    def start(self, override_pool_size: int | None = None) -> None:
        """Start listening."""

    def stop(self) -> None:
        """Stop taking messages."""

    def wait(self) -> None:
        """Wait for the batch in flight to be handled."""


class Partitioning:
    """This process's share of the partitioned work, kept current.

    Every heartbeat it asks whether it leads the intake (and starts or
    stops the intake's listener on the pool queue) and which partitions
    the group's members give it (and starts or stops their consumers).
    """

    def __init__(self, partitions: int, interval: float,
                 listen_pool: Callable[[], Server],
                 listen_partitions: Callable[[frozenset[int]], Server],
                 is_leader: Callable[[], bool],
                 members: Callable[[], frozenset[str] | None],
                 me: str | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Follow the group's ``members`` every ``interval`` seconds.

        :param listen_pool: a new listener for the intake (not started).
        :param listen_partitions: a new listener for some partitions, all
            on one connection.
        :param is_leader: whether this process leads the intake now.
        :param members: the group's members, None when unknown (then the
            partitions owned stay as they are).
        :param me: this process's member id; None: alone, it owns all.
        """
        self.partitions = partitions
        self._interval = interval
        self._listen_pool = listen_pool
        self._listen_partitions = listen_partitions
        self._is_leader = is_leader
        self._members = members
        self._me = me
        self._clock = clock
        self._intake: Server | None = None
        # One listener for every partition consumed: one connection and
        # two threads, whatever their number.
        self._consumer: Server | None = None
        self._consuming: frozenset[int] = frozenset()
        # Partitions gained, and from when they may be consumed.
        self._pending: dict[int, float] = {}
        self._stop = threading.Event()
        # Set to tick before the heartbeat, by stop and restart_intake.
        self._wake = threading.Event()
        self._restart = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def consuming(self) -> frozenset[int]:
        """The partitions this process consumes now."""
        return self._consuming

    @property
    def leading(self) -> bool:
        """Whether this process runs the intake now."""
        return self._intake is not None

    def start(self) -> None:
        """Take this process's share now, then follow the group."""
        self.tick(first=True)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-partitioning')
        self._thread.start()

    def restart_intake(self) -> None:
        """Start the intake again on a new listener, at once.

        The old one is stopped first and every batch it took settled;
        once its connection is gone the broker delivers what it did not
        acknowledge again, in the queue's order.
        """
        self._restart.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except Exception:
                LOG.exception('Rebalancing the evaluator partitions failed')

    def _wanted(self) -> tuple[set[int] | None, bool]:
        """The partitions to own, None if unknown; and whether alone."""
        if self._me is None:
            return set(range(self.partitions)), True
        members = self._members()
        if members is None:
            return None, False
        if self._me not in members:
            # Not listed (yet, or any more): take nothing new, keep what
            # is consumed until the list says otherwise.
            return None, False
        return (owned(members, self._me, self.partitions),
                members == {self._me})

    def tick(self, first: bool = False) -> None:
        """Bring the intake and the partitions in line with the group."""
        with self._lock:
            if self._stop.is_set():
                return
            wanted, alone = self._wanted()
            if wanted is not None:
                # Alone at its start, a process takes its partitions at
                # once: nobody else consumes them.
                self._rebalance(wanted, immediate=first and alone)
            try:
                leading = self._is_leader()
            except Exception as e:
                # Unsure: another process may hold the intake by now.
                LOG.warning('Cannot tell who leads the evaluator intake: '
                            '%s', e)
                leading = False
            if self._restart.is_set():
                self._restart.clear()
                if leading and self._intake is not None:
                    LOG.warning('Starting the evaluator intake again')
                    _stop_all([self._intake])
                    self._intake = None
            if leading and self._intake is None:
                LOG.info('Leading the evaluator intake: forwarding the '
                         'notification pool to %d partitions',
                         self.partitions)
                self._intake = self._listen_pool()
                self._intake.start(override_pool_size=1)
            elif not leading and self._intake is not None:
                LOG.warning('No longer leading the evaluator intake')
                _stop_all([self._intake])
                self._intake = None

    def _rebalance(self, wanted: set[int], immediate: bool) -> None:
        lost = self._consuming - wanted
        for number in list(self._pending):
            if number not in wanted:
                del self._pending[number]
        now = self._clock()
        # A partition that another process may be consuming waits until
        # that process, which sees the same change within a heartbeat,
        # has stopped.
        delay = 0.0 if immediate else 2 * self._interval
        for number in wanted:
            if number not in self._consuming:
                self._pending.setdefault(number, now + delay)
        ready = frozenset(number for number, at in self._pending.items()
                          if at <= now)
        if not lost and not ready:
            return
        # The listener is started again on the partitions kept and those
        # gained: those lost are handed over once it stopped, their
        # batches in flight finished and acknowledged.
        if lost:
            LOG.info('Handing over evaluator partitions %s',
                     _ranges(lost))
        keep = (self._consuming - lost) | ready
        if self._consumer is not None:
            _stop_all([self._consumer])
            self._consumer = None
            self._consuming = frozenset()
        if ready:
            LOG.info('Consuming evaluator partitions %s', _ranges(ready))
        for number in ready:
            del self._pending[number]
        if keep:
            consumer = self._listen_partitions(keep)
            consumer.start(override_pool_size=1)
            self._consumer = consumer
            self._consuming = keep

    def stop(self) -> None:
        """Stop the intake and every consumer; batches in flight finish."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            servers = [server for server in (self._consumer, self._intake)
                       if server is not None]
            _stop_all(servers)
            self._consumer = None
            self._consuming = frozenset()
            self._pending = {}
            self._intake = None


def _stop_all(servers: list[Server]) -> None:
    """Stop listeners together: an idle one notices only at its poll."""
    stoppers = [threading.Thread(target=server.stop,
                                 name='doctor-partition-stop')
                for server in servers]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    for server in servers:
        server.wait()


def _ranges(numbers: Iterable[int]) -> str:
    return ','.join(str(number) for number in sorted(numbers))
