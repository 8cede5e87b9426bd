"""Running one collector: snapshot, compare with the baseline, submit.

Only the leader of a datasource runs its collector (one replica at a time,
see :mod:`doctor.common.coordination`). A replica that becomes the leader
rebuilds the baseline from the entity store, so that it reports only what
changed since the previous leader's last snapshot.
"""

from collections.abc import Callable
import concurrent.futures
import threading

from oslo_log import log
from oslo_utils import timeutils

from doctor.db import api as db_api
from doctor.synchronizer import baseline as baseline_mod
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.synchronizer.datasources import base

LOG = log.getLogger(__name__)


class CollectorRunner:
    """Takes the snapshots of one datasource while this replica leads it."""

    def __init__(self, datasource: base.Datasource,
                 synchronizer: synchronizer_mod.Synchronizer,
                 connection: db_api.Connection,
                 is_leader: Callable[[str], bool]) -> None:
        self.datasource = datasource
        self.baseline = baseline_mod.Baseline(datasource.name)
        self._synchronizer = synchronizer
        self._db = connection
        self._is_leader = is_leader
        self._leading = False
        self._lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix='doctor-snapshot-%s' % datasource.name)
        self._running: concurrent.futures.Future | None = None

    def record(self, changes: list[entity_mod.Change]) -> None:
        """Move the baseline by changes the datasource heard of on the bus.
        """
        with self._lock:
            for change in changes:
                self.baseline.record(change)

    def run(self) -> int | None:
        """Take one snapshot if this replica leads the datasource.

        Returns how many changes it yielded; None when no snapshot was
        compared (not the leader, nothing new, failure or timeout).
        """
        name = self.datasource.name
        if not self._is_leader(name):
            self._leading = False
            return None
        if self._running is not None and not self._running.done():
            LOG.warning('The previous snapshot of %s is still running; '
                        'skipping this one', name)
            return None
        if not self._leading:
            self._synchronizer.wait_idle(timeout=30.0)
            with self._lock:
                self.baseline.load(self._db.get_entity_digests(name))
            self.datasource.forget()
            self._leading = True
            LOG.info('Collecting %s from a baseline of %d entities', name,
                     len(self.baseline))
        timestamp = timeutils.utcnow()
        started = timeutils.now()
        self._running = self._executor.submit(self._snapshot)
        try:
            entities = self._running.result(
                timeout=self.datasource.snapshot_timeout)
        except concurrent.futures.TimeoutError:
            LOG.error('The snapshot of %s took more than %.0f s; given up, '
                      'retried at the next interval', name,
                      self.datasource.snapshot_timeout)
            return None
        except Exception as e:
            LOG.error('The snapshot of %s failed, retried at the next '
                      'interval: %s', name, e,
                      exc_info=not isinstance(e, base.SnapshotError))
            return None
        if entities is None:
            return None
        with self._lock:
            changes = self.baseline.diff(entities, timestamp)
        self._synchronizer.submit(changes)
        LOG.debug('Snapshot of %s: %d entities, %d changes in %.3f s', name,
                  len(entities), len(changes), timeutils.now() - started)
        return len(changes)

    def _snapshot(self) -> list[entity_mod.Entity] | None:
        entities = self.datasource.snapshot()
        return None if entities is None else list(entities)

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
