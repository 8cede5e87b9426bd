"""Recording checkpoints without holding up the fault they time.

A service that records a checkpoint only appends it to a bounded buffer;
a thread of the recorder writes what is buffered in one bulk insert every
``[profiler] flush_interval`` seconds, and logs each checkpoint as one
parseable line (:func:`doctor.profiler.checkpoints.log_line`). When the
buffer is full (the database is down or slower than the faults), further
checkpoints are dropped and counted, never waited for.
"""

import atexit
from collections.abc import Callable
import datetime
import threading
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
    :param interval: seconds between two writes.
    """

    def __init__(self, write: Writer, capacity: int = 10000,
                 interval: float = 0.1) -> None:
        self._write = write
        self._capacity = capacity
        self._interval = interval
        self._buffer: list[dict] = []
        self._lock = threading.Lock()
        # Held while a batch is being written: flush() waits for it.
        self._writing = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def record(self, fault_id: str, name: str, component: str,
               alarm_id: str | None = None,
               timestamp: datetime.datetime | None = None) -> None:
        """Buffer one checkpoint, timed now unless ``timestamp`` says."""
        entry = {'fault_id': fault_id, 'name': name,
                 'component': component, 'alarm_id': alarm_id,
                 'timestamp': timestamp or _now()}
        with self._lock:
            if len(self._buffer) >= self._capacity:
                self.dropped += 1
                return
            self._buffer.append(entry)
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
        while not self._stopped.wait(self._interval):
            self.flush()
        self.flush()

    def flush(self) -> int:
        """Write what is buffered now; returns how many were written."""
        with self._writing:
            with self._lock:
                batch, self._buffer = self._buffer, []
                dropped, self.dropped = self.dropped, 0
            if dropped:
                LOG.warning('Profiler: %d checkpoints dropped, the buffer '
                            'of %d was full', dropped, self._capacity)
            if not batch:
                return 0
            try:
                self._write(batch)
            except Exception as e:
                LOG.warning('Profiler: could not store %d checkpoints: %s',
                            len(batch), e)
                return 0
            for entry in batch:
                LOG.info(checkpoints.log_line(
                    entry['fault_id'], entry['name'], entry['component'],
                    entry['timestamp'], entry['alarm_id']))
            self.written += len(batch)
            return len(batch)

    def stop(self) -> None:
        """Write what is left and stop the thread."""
        self._stopped.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        self.flush()


class _Off(Recorder):
    """The recorder of a service whose ``[profiler] record`` is off."""

    def __init__(self) -> None:
        super().__init__(lambda batch: None)

    def record(self, fault_id, name, component, alarm_id=None,
               timestamp=None) -> None:
        pass


OFF: Recorder = _Off()

_recorders: 'weakref.WeakKeyDictionary[typing.Any, Recorder]' = (
    weakref.WeakKeyDictionary())
_recorders_lock = threading.Lock()
_flush_at_exit = False


def of(conf, connection) -> Recorder:
    """The recorder that writes through ``connection``, made at first use.

    One per connection, so that a service's checkpoints share its
    database pool; :data:`OFF` when ``[profiler] record`` is off.
    """
    recorder = _recorders.get(connection)
    if recorder is not None:
        return recorder
    with _recorders_lock:
        recorder = _recorders.get(connection)
        if recorder is None:
            if conf.profiler.record:
                recorder = Recorder(connection.add_fault_checkpoints,
                                    capacity=conf.profiler.buffer_size,
                                    interval=conf.profiler.flush_interval)
            else:
                recorder = OFF
            global _flush_at_exit
            if not _flush_at_exit and recorder is not OFF:
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
    for entry in entries:
        LOG.info(checkpoints.log_line(fault_id, entry['name'],
                                      entry['component'],
                                      entry['timestamp'], host=host))


def flush_all() -> int:
    """Write every recorder's buffer now (tests, shutdown)."""
    with _recorders_lock:
        recorders = list(_recorders.values())
    return sum(recorder.flush() for recorder in recorders)
