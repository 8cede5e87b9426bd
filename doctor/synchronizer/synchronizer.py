"""The synchronizer's engine: changes in, entity store and followers out.

Collectors and listeners hand their changes to :meth:`Synchronizer.submit`,
which never blocks: a writer thread stores them in batches, and the
changes the store took go, in the order it took them, to every consumer
registered in this process and to the bus for the followers in others.
Each consumer has a queue and a thread of its own, so a slow one stalls
neither collection nor the others.
"""

import collections
from collections.abc import Callable
from collections.abc import Iterable
import threading
import time

from oslo_db import exception as db_exc
from oslo_log import log

from doctor.db import api as db_api
from doctor.synchronizer import entity as entity_mod

LOG = log.getLogger(__name__)

Callback = Callable[[list[dict]], None]

# Seconds to wait before writing again after the database failed.
RETRY_INTERVAL = 1.0


class Consumer:
    """A callback for the changes of some entity types, on its own thread."""

    def __init__(self, types: Iterable[str] | None, callback: Callback,
                 name: str, backlog_warning: int) -> None:
        self.types = frozenset(types) if types is not None else None
        self.name = name
        self._callback = callback
        self._backlog_warning = backlog_warning
        self._queue: collections.deque[dict] = collections.deque()
        self._ready = threading.Condition()
        self._busy = False
        self._stopping = False
        self._warned = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-consumer-%s' % name)
        self._thread.start()

    def offer(self, changes: list[dict]) -> None:
        """Queue the changes of the consumer's types; return at once."""
        if self.types is not None:
            changes = [change for change in changes
                       if change['type'] in self.types]
        if not changes:
            return
        with self._ready:
            self._queue.extend(changes)
            backlog = len(self._queue)
            self._ready.notify()
        if backlog >= self._backlog_warning and not self._warned:
            self._warned = True
            LOG.warning('Consumer %s of entity changes has %d waiting: it '
                        'is slower than the changes arrive', self.name,
                        backlog)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._busy = False
                    self._ready.notify_all()
                    self._ready.wait()
                if not self._queue:
                    self._busy = False
                    self._ready.notify_all()
                    return
                changes = list(self._queue)
                self._queue.clear()
                self._busy = True
                self._warned = False
            try:
                self._callback(changes)
            except Exception:
                LOG.exception('Consumer %s of entity changes failed on %d '
                              'changes', self.name, len(changes))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued change is handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(remaining)
        return True

    def stop(self) -> None:
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        self._thread.join(timeout=10)


class Synchronizer:
    """Stores changes and hands the ones that took to consumers.

    :param publish: called with each batch the store took, to put it on
        the bus (None: nothing is published).
    """

    def __init__(self, conf, connection: db_api.Connection,
                 publish: Callback | None = None) -> None:
        self.conf = conf
        self._db = connection
        self._publish = publish
        self._consumers: list[Consumer] = []
        self._queue: collections.deque[dict] = collections.deque()
        self._ready = threading.Condition()
        self._writing = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # consumers

    def register(self, types: Iterable[str] | None, callback: Callback,
                 name: str | None = None) -> Consumer:
        """Call ``callback`` with the stored changes of ``types``.

        ``callback`` gets lists of change records (see
        :meth:`doctor.synchronizer.entity.Change.as_record`), in the order
        the store took them, on a thread of its own. ``types`` None means
        every type.
        """
        consumer = Consumer(
            types, callback,
            name or str(getattr(callback, '__qualname__', callback)),
            self.conf.synchronizer.consumer_backlog_warning)
        self._consumers.append(consumer)
        return consumer

    def unregister(self, consumer: Consumer) -> None:
        self._consumers.remove(consumer)
        consumer.stop()

    # changes

    def submit(self, changes: Iterable[entity_mod.Change]) -> None:
        """Queue changes for the store; never blocks on the store."""
        records = [change.as_record() for change in changes]
        if not records:
            return
        with self._ready:
            self._queue.extend(records)
            self._ready.notify()

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-synchronizer-writer')
        self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then stop the writer and the consumers."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for consumer in self._consumers:
            consumer.stop()
        self._consumers = []

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until queued changes are stored and consumed (tests, tools).
        """
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._queue or self._writing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._ready.wait(remaining)
        return all(consumer.wait_idle(max(0.0, deadline - time.monotonic()))
                   for consumer in list(self._consumers))

    def _take(self) -> list[dict] | None:
        with self._ready:
            while not self._queue:
                self._writing = False
                self._ready.notify_all()
                if self._stopping:
                    return None
                self._ready.wait()
            count = min(self.conf.synchronizer.batch_size, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._writing = True
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            applied = self._store(batch)
            if applied:
                self._hand_over(applied)

    def _store(self, batch: list[dict]) -> list[dict]:
        while True:
            try:
                return self._db.apply_entity_changes(batch)
            except db_exc.DBConnectionError as e:
                if self._stopping:
                    LOG.error('Entity store unreachable while stopping: %d '
                              'changes not stored: %s', len(batch), e)
                    return []
                LOG.warning('Entity store unreachable, retrying in %.0f s: '
                            '%s', RETRY_INTERVAL, e)
                time.sleep(RETRY_INTERVAL)
            except Exception:
                if len(batch) == 1:
                    LOG.exception('Entity change of %s cannot be stored; '
                                  'dropped', batch[0].get('key'))
                    return []
                # One bad change must not cost the others: store them one
                # by one to find it.
                LOG.warning('A batch of %d entity changes failed; storing '
                            'them one at a time', len(batch))
                applied: list[dict] = []
                for change in batch:
                    applied.extend(self._store([change]))
                return applied

    def _hand_over(self, applied: list[dict]) -> None:
        for consumer in list(self._consumers):
            consumer.offer(applied)
        if self._publish is not None:
            try:
                self._publish(applied)
            except Exception:
                LOG.exception('Cannot publish %d entity changes on the bus',
                              len(applied))
