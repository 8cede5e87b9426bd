"""Delivery jobs on a shared pool of threads, a few at a time per target."""

import collections
from collections.abc import Callable
from concurrent import futures
import threading
from urllib import parse


def target_of(action: str) -> str:
    """The consumer an action URL reaches: scheme, host and port.

    Credentials and path do not count: two alarms of one consumer share
    its limit. An action that does not parse is a target of its own.
    """
    try:
        parsed = parse.urlsplit(action)
        return '%s://%s:%s' % (parsed.scheme, (parsed.hostname or '').lower(),
                               parsed.port or '')
    except ValueError:
        return action


class TargetQueues:
    """Runs jobs on ``workers`` threads, at most ``per_target`` per target.

    A job beyond its target's limit waits in that target's queue, not in
    the pool's: the jobs of a consumer that answers slowly, or not at all,
    never hold more than ``per_target`` threads, and the jobs of other
    consumers run meanwhile.
    """

    def __init__(self, workers: int, per_target: int,
                 name: str = 'doctor-deliver') -> None:
        self._pool = futures.ThreadPoolExecutor(max_workers=workers,
                                                thread_name_prefix=name)
        self._per_target = per_target
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running: dict[str, int] = {}
        self._waiting: dict[str, collections.deque] = {}
        self._pending = 0
        self._closed = False

    def submit(self, target: str, job: Callable[[], None]) -> bool:
        """Run ``job`` when ``target`` has room; False once shut down."""
        with self._lock:
            if self._closed:
                return False
            self._pending += 1
            if self._running.get(target, 0) >= self._per_target:
                self._waiting.setdefault(target,
                                         collections.deque()).append(job)
                return True
            self._running[target] = self._running.get(target, 0) + 1
        self._pool.submit(self._run, target, job)
        return True

    def _run(self, target: str, job: Callable[[], None]) -> None:
        # The thread runs the target's waiting jobs after this one.
        current: Callable[[], None] | None = job
        while current is not None:
            try:
                current()
            finally:
                with self._lock:
                    self._pending -= 1
                    queue = self._waiting.get(target)
                    if queue and not self._closed:
                        current = queue.popleft()
                        if not queue:
                            del self._waiting[target]
                    else:
                        current = None
                        self._running[target] -= 1
                        if not self._running[target]:
                            del self._running[target]
                    if not self._pending:
                        self._idle.notify_all()

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished, waiting or running."""
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every submitted job is done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def shutdown(self) -> list[Callable[[], None]]:
        """Refuse new jobs, wait for the running ones; return the waiting.

        The jobs still waiting for their target are not run.
        """
        with self._lock:
            self._closed = True
            dropped = [job for queue in self._waiting.values()
                       for job in queue]
            self._pending -= len(dropped)
            self._waiting.clear()
        self._pool.shutdown(wait=True)
        return dropped
