"""Recording checkpoints without holding up the fault they time.

A service that records a checkpoint only appends it to a bounded buffer.
A thread of the recorder writes what is buffered in one bulk insert once
no checkpoint has come for ``[profiler] flush_interval`` seconds: after
the burst of a fault rather than in the middle of it, where the write and
its logging would compete with the chain for the CPU (and, on SQLite, for
the database's one writer). Under a steady stream it still writes at least
every ``[profiler] flush_max_delay`` seconds, or as soon as half the
buffer is taken. Each write logs its checkpoints in one log record, one
parseable line each (:func:`doctor.profiler.checkpoints.log_line`), so
that plain-text log files hold one line per checkpoint at the cost of one
record per write. When the buffer is full (the database is down or slower
than the faults), further checkpoints are dropped and counted, never
waited for.
"""

import atexit
from collections.abc import Callable
import datetime
import threading
import time
import typing
import weakref

from oslo_log import log

from doctor.profiler import checkpoints

LOG = log.getLogger(__name__)

Writer = Callable[[list[dict]], None]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Recorder:
    """A bounded buffer of checkpoints and the thread that writes them.

    :param write: stores a list of checkpoints (dicts with ``fault_id``,
        ``name``, ``component``, ``timestamp`` as an aware datetime and
        ``alarm_id``) in one go.
    :param capacity: checkpoints buffered at most; more are dropped.
    :param interval: seconds without a new checkpoint before a write.
    :param max_delay: seconds a checkpoint waits for its write at most,
        however steady the stream (at least ``interval``).
    :param enabled: asked at each checkpoint whether to record it; by
        default always.
    """

    def __init__(self, write: Writer, capacity: int = 10000,
                 interval: float = 0.1, max_delay: float = 1.0,
                 enabled: Callable[[], bool] | None = None) -> None:
        self._write = write
        self._enabled = enabled
        self._capacity = capacity
        self._interval = interval
        self._max_delay = max(max_delay, interval)
        self._buffer: list[dict] = []
        # When the oldest and the newest buffered checkpoints came.
        self._first = self._last = 0.0
        self._lock = threading.Lock()
        # Held while a batch is being written: flush() waits for it.
        self._writing = threading.Lock()
        # Set while something is buffered (or to stop the thread).
        self._pending = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0
        # CPU seconds spent writing and logging, in whichever thread.
        self.cpu_s = 0.0

    def record(self, fault_id: str, name: str, component: str,
               alarm_id: str | None = None,
               timestamp: datetime.datetime | None = None) -> None:
        """Buffer one checkpoint, timed now unless ``timestamp`` says."""
        if self._enabled is not None and not self._enabled():
            return
        entry = {'fault_id': fault_id, 'name': name,
                 'component': component, 'alarm_id': alarm_id,
                 'timestamp': timestamp or _now()}
        now = time.monotonic()
        with self._lock:
            if len(self._buffer) >= self._capacity:
                self.dropped += 1
                return
            self._buffer.append(entry)
            self._last = now
            if len(self._buffer) == 1:
                self._first = now
                self._pending.set()
            if self._thread is None:
                self._start()

    # What the evaluator records, one call at each point.

    def transformed(self, event: typing.Any) -> None:
        """Checkpoint 6: an event of a fault came out of the transformer.
        """
        fault_id = event.traits.get('fault_id')
        if isinstance(fault_id, str):
            self.record(fault_id, 'transformed_event', 'evaluator')

    def evaluated(self, event: typing.Any) -> None:
        """Checkpoint 7: the alarms watching an event of a fault were
        evaluated against it.
        """
        fault_id = event.traits.get('fault_id')
        if isinstance(fault_id, str):
            self.record(fault_id, 'evaluated_event', 'evaluator')

    def fired(self, firing: typing.Any) -> None:
        """Checkpoint 8: an alarm moved by an event of a fault was handed
        to delivery.
        """
        if firing.fault_id:
            self.record(firing.fault_id, 'fired_alarm', 'evaluator',
                        alarm_id=firing.alarm_id)

    # writing

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-profiler-recorder',
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._pending.wait()
            if self._stopped.is_set():
                break
            delay = self.due_in(time.monotonic())
            while delay > 0 and not self._stopped.is_set():
                self._stopped.wait(delay)
                delay = self.due_in(time.monotonic())
            self.flush()
        self.flush()

    def due_in(self, now: float) -> float:
        """Seconds, from ``now``, before what is buffered is written: none
        once the checkpoints have stopped coming for the interval, the
        oldest has waited the longest delay or half the buffer is taken.
        """
        with self._lock:
            if not self._buffer or len(self._buffer) * 2 >= self._capacity:
                return 0.0
            return min(self._last + self._interval,
                       self._first + self._max_delay) - now

    def flush(self) -> int:
        """Write what is buffered now; returns how many were written."""
        with self._writing:
            started = time.thread_time()
            try:
                return self._flush()
            finally:
                self.cpu_s += time.thread_time() - started

    def _flush(self) -> int:
        """:meth:`flush`, with the write lock held."""
        with self._lock:
            batch, self._buffer = self._buffer, []
            dropped, self.dropped = self.dropped, 0
            if not self._stopped.is_set():
                self._pending.clear()
        if dropped:
            LOG.warning('Profiler: %d checkpoints dropped, the buffer '
                        'of %d was full', dropped, self._capacity)
        if not batch:
            return 0
        # Logged first: the log is the record of last resort when the
        # write fails.
        LOG.info('\n'.join(
            checkpoints.log_line(entry['fault_id'], entry['name'],
                                 entry['component'], entry['timestamp'],
                                 entry['alarm_id'])
            for entry in batch))
        try:
            self._write(batch)
        except Exception as e:
            LOG.warning('Profiler: could not store %d checkpoints: %s',
                        len(batch), e)
            return 0
        self.written += len(batch)
        return len(batch)

    def stop(self) -> None:
        """Write what is left and stop the thread."""
        self._stopped.set()
        self._pending.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()


_recorders: 'weakref.WeakKeyDictionary[typing.Any, Recorder]' = (
    weakref.WeakKeyDictionary())
_recorders_lock = threading.Lock()
_flush_at_exit = False


def of(conf, connection) -> Recorder:
    """The recorder that writes through ``connection``, made at first use.

    One per connection, so that a service's checkpoints share its
    database pool. It records while ``[profiler] record`` is on, which a
    reload of the configuration (SIGHUP) may change.
    """
    recorder = _recorders.get(connection)
    if recorder is not None:
        return recorder
    with _recorders_lock:
        recorder = _recorders.get(connection)
        if recorder is None:
            recorder = Recorder(
                connection.add_fault_checkpoints,
                capacity=conf.profiler.buffer_size,
                interval=conf.profiler.flush_interval,
                max_delay=conf.profiler.flush_max_delay,
                enabled=lambda: conf.profiler.record)
            global _flush_at_exit
            if not _flush_at_exit:
                # What is still buffered when the process ends (at most
                # one flush interval's worth) is written then.
                atexit.register(flush_all)
                _flush_at_exit = True
            _recorders[connection] = recorder
        return recorder


def log_recorded(fault_id: str, host: str | None,
                 entries: list[dict]) -> None:
    """Log checkpoints another record holds (the inspector's, 0 to 5)
    as the parseable lines doctor-profiler reads from log files.
    """
    if entries:
        LOG.info('\n'.join(
            checkpoints.log_line(fault_id, entry['name'],
                                 entry['component'], entry['timestamp'],
                                 host=host)
            for entry in entries))


def flush_all() -> int:
    """Write every recorder's buffer now (tests, shutdown)."""
    with _recorders_lock:
        recorders = list(_recorders.values())
    return sum(recorder.flush() for recorder in recorders)


def cpu_s() -> float:
    """CPU seconds every recorder of this process spent writing."""
    with _recorders_lock:
        recorders = list(_recorders.values())
    return sum(recorder.cpu_s for recorder in recorders)
