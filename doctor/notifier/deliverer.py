"""Delivery of fired alarms through the notifier plugins.

Every delivery was stored in the database in the same transaction as the
state change that fired it, and stays stored until it is done. The
deliverer claims the deliveries it is handed (or that it finds due in the
database), runs them on a bounded pool with a few at a time per consumer,
and writes down what came of them in batches from one thread:

* delivered: the stored delivery is forgotten;
* failed for now (connection error, timeout, 429 or 5xx): it waits in the
  database for its next attempt, with exponential backoff and jitter,
  until ``[notifier] retry_horizon`` after its transition;
* failed for good, or past the horizon: it is forgotten and an ``action``
  entry is added to the alarm's history, once.

The deliveries of one alarm to one action go out in the order of its
transitions. A write that fails is kept in memory and tried again until
it succeeds; meanwhile the deliveries it is about are not delivered again
by this deliverer. Delivery is at least once: a notifier that dies
between delivering and writing it down delivers again after a restart
(or another replica does).
"""

import collections
from concurrent import futures
import dataclasses
import datetime
import functools
import threading
import time
import typing
from urllib import parse
import uuid

from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from stevedore import extension

from doctor.common import exception
from doctor.db import api as db_api
from doctor.notifier import dispatch
from doctor.notifier import retry
from doctor.notifier.plugins import base as notifier_base
from doctor.objects import firing as firing_obj

LOG = log.getLogger(__name__)

NAMESPACE = 'doctor.notifiers'

# Deliveries one scan of the database takes over at most.
SCAN_LIMIT = 100
# Seconds stop() lets handed-over firings and running deliveries finish.
STOP_WAIT = 30.0
# Longest pause between two tries of a bookkeeping write that failed.
MAX_WRITE_BACKOFF = 5.0


def load_notifiers(conf) -> extension.ExtensionManager:
    """Every notifier plugin, keyed by the URL scheme it serves."""
    return extension.ExtensionManager(
        NAMESPACE, invoke_on_load=True, invoke_args=(conf,),
        on_load_failure_callback=_log_load_failure)


def _log_load_failure(manager, entrypoint, error):
    LOG.error('Notifier plugin %s failed to load: %s', entrypoint, error)


@dataclasses.dataclass
class _Job:
    """One attempt of one stored delivery."""

    delivery_id: str
    action: str
    firing: firing_obj.AlarmFiring
    body: dict
    request_id: str
    # The claim the attempt is made under, and when the delivery was owed.
    claimed_at: datetime.datetime
    created_at: datetime.datetime
    # Failed attempts before this one.
    attempts: int
    # Found due in the database rather than handed over fresh.
    redelivery: bool
    future: futures.Future


def _retryable(error: Exception) -> bool:
    """Whether a failed attempt may succeed later (consumer away)."""
    return (isinstance(error, exception.DeliveryFailed)
            and not error.kwargs.get('permanent'))


class Deliverer:
    """Delivers :class:`AlarmFiring` objects and keeps their books."""

    def __init__(self, conf, connection: db_api.Connection,
                 notifiers: extension.ExtensionManager | None = None
                 ) -> None:
        self.conf = conf
        self._db = connection
        self._notifiers = notifiers or load_notifiers(conf)
        self._queues = dispatch.TargetQueues(
            conf.notifier.workers, conf.notifier.per_target_workers)
        self._lock = threading.Lock()
        # Handed-over firings waiting to be claimed.
        self._fresh: list[tuple[firing_obj.AlarmFiring,
                                list[tuple[str, str, futures.Future]]]] = []
        # Outcomes waiting to be written.
        self._delivered: list[str] = []
        self._retries: list[db_api.DeliveryRetry] = []
        self._give_ups: list[db_api.DeliveryGiveUp] = []
        # Deliveries claimed here whose outcome is not written yet: no scan
        # of this deliverer takes them again.
        self._held: set[str] = set()
        # Targets whose last attempt failed: until when the deliveries
        # found due for them wait instead, and why.
        self._down: dict[str, tuple[datetime.datetime, str]] = {}
        self._next_scan: float | None = None
        # Chains (alarm, action) with deliveries parked behind an older one
        # here, and whether one of their deliveries finished since the
        # last write: the next of the chain may then go.
        self._parked: collections.Counter = collections.Counter()
        self._chain_moved = False
        self._last_scan = 0.0
        self._periodic_scan = (time.monotonic()
                               + conf.notifier.redelivery_interval)
        self._write_failures = 0
        self._wakeup = threading.Event()
        self._stopping = False
        self._keeper = threading.Thread(target=self._keep_loop,
                                        name='doctor-deliver-keeper',
                                        daemon=True)
        self._keeper.start()

    @property
    def schemes(self) -> list[str]:
        return self._notifiers.names()

    # intake

    def deliver(self, firing: firing_obj.AlarmFiring) -> list[futures.Future]:
        """Deliver the stored deliveries of ``firing``.

        Each is claimed first, so that one a scan took over meanwhile is
        not delivered twice, and one behind an older delivery of its alarm
        to the same action waits for it. Returns a future per delivery:
        True once delivered, False if the attempt failed (retried later or
        given up), None if it was not attempted here.
        """
        items: list[tuple[str, str, futures.Future]] = [
            (delivery_id, action, futures.Future())
            for delivery_id, action in firing.deliveries.items()]
        if items:
            with self._lock:
                self._fresh.append((firing, items))
            self._wakeup.set()
        return [future for _id, _action, future in items]

    def deliver_stored(self, firing: firing_obj.AlarmFiring,
                       stored: list[dict]) -> list[futures.Future]:
        """Deliver a firing this process has just stored.

        ``stored`` are its delivery rows as the transaction wrote them:
        each in flight since its creation, which stands for this
        deliverer's claim (a scan takes it only once that claim is stale,
        as it would after a claim made now), or waiting behind an older
        delivery of its chain (``next_attempt_at`` set), left to a scan
        once the older ones are gone. Returns a future per delivery, as
        :meth:`deliver` does.
        """
        body = firing.webhook_body()
        request_id = firing.request_id or 'req-' + str(uuid.uuid4())
        results = []
        for row in stored:
            future: futures.Future = futures.Future()
            results.append(future)
            if row.get('next_attempt_at') is not None:
                with self._lock:
                    self._parked[firing.alarm_id, row['action']] += 1
                future.set_result(None)
                continue
            self._start(_Job(row['delivery_id'], row['action'], firing,
                             body, request_id, row['claimed_at'],
                             row['created_at'], 0, False, future))
        return results

    def deliver_handed_over(self, firing: firing_obj.AlarmFiring
                            ) -> list[futures.Future]:
        """Deliver a firing an evaluator handed over the bus.

        The firing may have waited on the bus while no notifier ran, long
        enough for a scan to take its stored deliveries over: like every
        firing, only those still unclaimed are delivered here.
        """
        return self.deliver(firing)

    def _claim_fresh(self) -> bool:
        """Claim the handed-over firings and start them; False on error."""
        with self._lock:
            batch, self._fresh = self._fresh, []
        if not batch:
            return True
        now = timeutils.utcnow()
        try:
            claimed = set(self._db.claim_deliveries(
                [delivery_id for _firing, items in batch
                 for delivery_id, _action, _future in items], now))
        except Exception:
            LOG.exception('Cannot claim the deliveries of %d firings; '
                          'trying again', len(batch))
            with self._lock:
                self._fresh[:0] = batch
            return False
        for firing, items in batch:
            body = firing.webhook_body()
            request_id = firing.request_id or 'req-' + str(uuid.uuid4())
            for delivery_id, action, future in items:
                if delivery_id not in claimed:
                    # Taken over by a scan, gone, or behind an older
                    # delivery of its alarm to the same action.
                    with self._lock:
                        self._parked[firing.alarm_id, action] += 1
                    future.set_result(None)
                    continue
                self._start(_Job(delivery_id, action, firing, body,
                                 request_id, now, now, 0, False, future))
        return True

    def redeliver_stale(self) -> int:
        """Take over and deliver what is due; returns how many.

        Due are the deliveries waiting for an attempt whose time has come
        and those in flight that nobody finished (a notifier that died).
        """
        now = timeutils.utcnow()
        stale_before = now - datetime.timedelta(
            seconds=self.conf.notifier.redelivery_after)
        with self._lock:
            held = set(self._held)
        rows = self._db.claim_stale_deliveries(stale_before, now,
                                               limit=SCAN_LIMIT,
                                               exclude=held)
        self._last_scan = time.monotonic()
        for row in rows:
            future: futures.Future = futures.Future()
            try:
                firing = firing_obj.AlarmFiring.from_record(row['firing'])
                body = firing.webhook_body()
            except Exception:
                LOG.exception('Stored delivery %s is unreadable; dropping '
                              'it', row['delivery_id'])
                with self._lock:
                    self._held.add(row['delivery_id'])
                    self._delivered.append(row['delivery_id'])
                continue
            LOG.info('Delivering alarm %s to %s (attempt %d)',
                     row['alarm_id'], self._safe(row['action']),
                     row['attempts'] + 1)
            self._start(_Job(
                row['delivery_id'], row['action'], firing, body,
                firing.request_id or 'req-' + str(uuid.uuid4()),
                row['claimed_at'], row['created_at'], row['attempts'], True,
                future))
        if len(rows) == SCAN_LIMIT:
            self._scan_at(time.monotonic())
        self._wakeup.set()
        return len(rows)

    def _start(self, job: _Job) -> None:
        with self._lock:
            self._held.add(job.delivery_id)
        if not self._queues.submit(dispatch.target_of(job.action),
                                   functools.partial(self._attempt, job)):
            # Stopping: left claimed, taken over once stale.
            job.future.set_result(None)

    # attempts

    @staticmethod
    def _safe(action: str) -> str:
        try:
            return notifier_base.safe_url(parse.urlsplit(action))
        except ValueError:
            return action

    def _attempt(self, job: _Job) -> None:
        target = dispatch.target_of(job.action)
        if job.redelivery:
            with self._lock:
                down = self._down.get(target)
            if down is not None and down[0] > timeutils.utcnow():
                # The consumer failed a moment ago: wait with it rather
                # than hold a worker on an attempt bound to fail.
                self._failed(job, down[1], attempted=False)
                return
        parsed = parse.SplitResult('', '', job.action, '', '')
        try:
            parsed = parse.urlsplit(job.action)
            try:
                notifier = self._notifiers[parsed.scheme].obj
            except KeyError:
                raise exception.NotifierNotFound(scheme=parsed.scheme)
            # Plugins are invoked on load: a loaded one has its object.
            assert notifier is not None
            notifier.notify(parsed, job.body, job.request_id)
        except Exception as e:  # a plugin may fail in any way
            reason = (str(e) if isinstance(e, exception.DoctorException)
                      else '%s: %s' % (type(e).__name__, e))
            if _retryable(e):
                self._failed(job, reason)
            else:
                self._give_up(job, reason, _result(e))
            job.future.set_result(False)
            return
        with self._lock:
            self._down.pop(target, None)
            self._delivered.append(job.delivery_id)
            self._chain_done(job)
        self._wakeup.set()
        job.future.set_result(True)

    def _chain_done(self, job: _Job) -> None:
        """Note that ``job`` left its chain; call with the lock held."""
        chain = (job.firing.alarm_id, job.action)
        if job.redelivery:
            # A scan takes only the head of a chain: the next one of it
            # may have been left for a scan too (its handover was lost).
            self._chain_moved = True
        if chain in self._parked:
            self._chain_moved = True
            if job.redelivery:
                self._parked[chain] -= 1
                if self._parked[chain] <= 0:
                    del self._parked[chain]

    def _failed(self, job: _Job, reason: str, attempted: bool = True
                ) -> None:
        """Schedule the next attempt of ``job``, or give it up."""
        opts = self.conf.notifier
        attempts = job.attempts + (1 if attempted else 0)
        now = timeutils.utcnow()
        next_at = retry.next_attempt(
            now, job.created_at, max(attempts, 1), opts.retry_horizon,
            opts.retry_initial_backoff, opts.retry_max_backoff)
        if next_at is None:
            self._give_up(job, '%s; given up after %d attempt(s) over '
                          '%d s' % (reason, attempts, opts.retry_horizon))
            if not attempted:
                job.future.set_result(None)
            return
        wait = (next_at - now).total_seconds()
        target = dispatch.target_of(job.action)
        if attempted:
            LOG.info('Delivery of alarm %s to %s failed (%s); attempt %d '
                     'in %.1f s', job.firing.alarm_id,
                     self._safe(job.action), reason, attempts + 1, wait)
        with self._lock:
            if attempted:
                self._down[target] = (next_at, reason)
            self._retries.append(db_api.DeliveryRetry(
                job.delivery_id, job.claimed_at, attempts, next_at))
        self._scan_at(time.monotonic() + wait)
        self._wakeup.set()
        if not attempted:
            job.future.set_result(None)

    def _give_up(self, job: _Job, reason: str,
                 result: str = 'failed') -> None:
        LOG.warning('Giving up delivering alarm %s to %s: %s',
                    job.firing.alarm_id, self._safe(job.action), reason)
        change = {
            'event_id': str(uuid.uuid4()),
            'alarm_id': job.firing.alarm_id,
            'type': db_api.CHANGE_ACTION,
            'detail': jsonutils.dumps({
                'action': self._safe(job.action),
                'state': job.firing.current,
                'result': result, 'reason': reason}),
            # The alarm's own, when it still exists (see
            # finish_deliveries).
            'severity': job.firing.severity, 'on_behalf_of': None,
            'project_id': None, 'user_id': None,
            'timestamp': timeutils.utcnow(),
        }
        with self._lock:
            self._give_ups.append(db_api.DeliveryGiveUp(
                job.delivery_id, job.claimed_at, change))
            self._chain_done(job)
        self._wakeup.set()

    # bookkeeping

    def scan_soon(self) -> None:
        """Have the deliverer's own thread scan for due deliveries now.

        It also scans every ``[notifier] redelivery_interval`` seconds by
        itself, and whenever a retry falls due.
        """
        self._scan_at(time.monotonic())
        self._wakeup.set()

    def _scan_at(self, when: float) -> None:
        with self._lock:
            if self._next_scan is None or when < self._next_scan:
                self._next_scan = when

    def flush(self) -> bool:
        """Write down the outcomes of attempts; False if it failed.

        What could not be written stays in memory for the next flush.
        """
        with self._lock:
            delivered, self._delivered = self._delivered, []
            retries, self._retries = self._retries, []
            give_ups, self._give_ups = self._give_ups, []
        if not (delivered or retries or give_ups):
            return True
        try:
            self._db.finish_deliveries(delivered, retries, give_ups)
        except Exception:
            LOG.exception('Cannot write down %d delivered, %d to retry and '
                          '%d given-up deliveries; trying again',
                          len(delivered), len(retries), len(give_ups))
            with self._lock:
                self._delivered[:0] = delivered
                self._retries[:0] = retries
                self._give_ups[:0] = give_ups
            return False
        with self._lock:
            self._held.difference_update(delivered)
            self._held.difference_update(r.delivery_id for r in retries)
            self._held.difference_update(g.delivery_id for g in give_ups)
            moved, self._chain_moved = self._chain_moved, False
        if moved:
            # A delivery parked behind those just forgotten may go now.
            self._scan_at(self._last_scan + 0.1)
        return True

    def _keep_loop(self) -> None:
        while not self._stopping:
            self._wakeup.wait(self._keeper_timeout())
            self._wakeup.clear()
            if self._stopping:
                break
            claimed = self._claim_fresh()
            # Let a burst of deliveries finish so they go in one write.
            threading.Event().wait(0.01)
            if not (self.flush() and claimed):
                self._write_failures += 1
                continue
            self._write_failures = 0
            now = time.monotonic()
            with self._lock:
                due = self._next_scan is not None and self._next_scan <= now
                if due:
                    self._next_scan = None
            if now >= self._periodic_scan:
                # Deliveries another notifier left unfinished.
                due = True
            if due:
                self._periodic_scan = (
                    now + self.conf.notifier.redelivery_interval)
            if due:
                try:
                    self.redeliver_stale()
                except Exception:
                    LOG.exception('Cannot scan for due deliveries')
                    self._scan_at(time.monotonic() + 1.0)

    def _keeper_timeout(self) -> float:
        if self._write_failures:
            return min(MAX_WRITE_BACKOFF,
                       0.1 * 2 ** min(self._write_failures, 10))
        timeout = min(1.0, max(0.0, self._periodic_scan - time.monotonic()))
        with self._lock:
            if self._next_scan is not None:
                timeout = min(timeout,
                              max(0.0, self._next_scan - time.monotonic()))
        return timeout

    def stop(self) -> None:
        """Finish what was handed over and is under way; write it down.

        Deliveries waiting for a later attempt stay stored for the next
        notifier to start.
        """
        deadline = time.monotonic() + STOP_WAIT
        while time.monotonic() < deadline:
            with self._lock:
                fresh = bool(self._fresh)
            if not fresh and self._queues.wait_idle(0.05):
                break
            self._wakeup.set()
        self._stopping = True
        self._wakeup.set()
        self._keeper.join(timeout=5)
        for dropped in self._queues.shutdown():
            # Left claimed: taken over once stale, here or elsewhere.
            job = typing.cast(functools.partial, dropped).args[0]
            with self._lock:
                self._held.discard(job.delivery_id)
            job.future.set_result(None)
        self._claim_fresh_abandon()
        for _ in range(3):
            if self.flush():
                break
        else:
            with self._lock:
                lost = len(self._delivered) + len(self._give_ups)
            LOG.error('Stopping with %d finished deliveries not written '
                      'down: those delivered will be delivered again',
                      lost)
        for ext in self._notifiers:
            if ext.obj is not None:
                ext.obj.close()

    def _claim_fresh_abandon(self) -> None:
        """Resolve the futures of firings never claimed before stopping."""
        with self._lock:
            batch, self._fresh = self._fresh, []
        for _firing, items in batch:
            for _id, _action, future in items:
                if not future.done():
                    future.set_result(None)


def _result(error: Exception) -> str:
    """The history ``result`` of a delivery given up because of ``error``.

    A refused target is not retried: it would be refused again.
    """
    if isinstance(error, exception.TargetDenied):
        return 'refused'
    return 'failed'
