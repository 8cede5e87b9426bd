"""Delivery of fired alarms through the notifier plugins.

Every delivery was stored in the database in the same transaction as the
state change that fired it. The deliverer runs the actions of one firing
concurrently on a bounded pool, forgets each stored delivery once it is
done, records in the alarm's history the ones that still fail after their
retries, and periodically takes over deliveries that nobody finished (a
notifier that was restarted mid-way): delivery is at least once.
"""

from concurrent import futures
import datetime
import threading
from urllib import parse
import uuid

from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from stevedore import extension

from doctor.common import exception
from doctor.db import api as db_api
from doctor.notifier.plugins import base as notifier_base
from doctor.objects import firing as firing_obj

LOG = log.getLogger(__name__)

NAMESPACE = 'doctor.notifiers'


def load_notifiers(conf) -> extension.ExtensionManager:
    """Every notifier plugin, keyed by the URL scheme it serves."""
    return extension.ExtensionManager(
        NAMESPACE, invoke_on_load=True, invoke_args=(conf,),
        on_load_failure_callback=_log_load_failure)


def _log_load_failure(manager, entrypoint, error):
    LOG.error('Notifier plugin %s failed to load: %s', entrypoint, error)


class Deliverer:
    """Delivers :class:`AlarmFiring` objects and cleans up after them."""

    def __init__(self, conf, connection: db_api.Connection,
                 notifiers: extension.ExtensionManager | None = None
                 ) -> None:
        self.conf = conf
        self._db = connection
        self._notifiers = notifiers or load_notifiers(conf)
        self._pool = futures.ThreadPoolExecutor(
            max_workers=conf.notifier.workers,
            thread_name_prefix='doctor-deliver')
        self._done: list[str] = []
        self._done_lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = False
        self._flusher = threading.Thread(target=self._flush_loop,
                                         name='doctor-deliver-flush',
                                         daemon=True)
        self._flusher.start()

    @property
    def schemes(self) -> list[str]:
        return self._notifiers.names()

    def deliver(self, firing: firing_obj.AlarmFiring) -> list[futures.Future]:
        """Start every delivery of ``firing``; returns their futures."""
        return self._submit(firing, firing.deliveries.items())

    def deliver_handed_over(self, firing: firing_obj.AlarmFiring
                            ) -> list[futures.Future]:
        """Deliver a firing an evaluator handed over, unless taken over.

        The firing may have waited on the bus while no notifier ran, long
        enough for a scan to take its stored deliveries over: only those
        still unclaimed are delivered here, so none goes out twice.
        """
        try:
            claimed = set(self._db.claim_deliveries(
                list(firing.deliveries), timeutils.utcnow()))
        except Exception:
            LOG.exception('Cannot claim the deliveries of alarm %s; '
                          'delivering them anyway', firing.alarm_id)
            return self.deliver(firing)
        return self._submit(firing, [
            (delivery_id, action)
            for delivery_id, action in firing.deliveries.items()
            if delivery_id in claimed])

    def _submit(self, firing: firing_obj.AlarmFiring,
                deliveries) -> list[futures.Future]:
        """Queue ``(delivery_id, action)`` pairs of one firing.

        The webhook body and the request id are made once for all of them.
        """
        body = firing.webhook_body()
        request_id = firing.request_id or 'req-' + str(uuid.uuid4())
        return [self._pool.submit(self._deliver_one, firing, body,
                                  request_id, delivery_id, action)
                for delivery_id, action in deliveries]

    def _deliver_one(self, firing, body: dict, request_id: str,
                     delivery_id: str, action: str) -> bool:
        parsed = parse.SplitResult('', '', action, '', '')
        try:
            parsed = parse.urlsplit(action)
            try:
                notifier = self._notifiers[parsed.scheme].obj
            except KeyError:
                raise exception.NotifierNotFound(scheme=parsed.scheme)
            # Plugins are invoked on load: a loaded one has its object.
            assert notifier is not None
            notifier.notify(parsed, body, request_id)
        except Exception as e:  # a plugin may fail in any way
            reason = (str(e) if isinstance(e, exception.DoctorException)
                      else '%s: %s' % (type(e).__name__, e))
            LOG.warning('Giving up delivering alarm %s to %s: %s',
                        firing.alarm_id, notifier_base.safe_url(parsed),
                        reason)
            # A refused target is not retried: it is refused again.
            self._record_failure(
                firing, parsed, reason,
                'refused' if isinstance(e, exception.TargetDenied)
                else 'failed')
            ok = False
        else:
            ok = True
        with self._done_lock:
            self._done.append(delivery_id)
        self._wakeup.set()
        return ok

    def _owner(self, firing) -> tuple[str | None, str]:
        """The alarm's project and severity; None and the firing's if gone.

        Every other history entry names the project the alarm belongs to:
        the project reading its history, or an alarm's history after the
        alarm is deleted, is matched on it.
        """
        try:
            alarm = self._db.get_alarm(firing.alarm_id)
        except exception.AlarmNotFound:
            return None, firing.severity
        return alarm['project_id'], alarm['severity']

    def _record_failure(self, firing, parsed, reason: str,
                        result: str = 'failed') -> None:
        try:
            project_id, severity = self._owner(firing)
            self._db.record_change({
                'event_id': str(uuid.uuid4()),
                'alarm_id': firing.alarm_id,
                'type': db_api.CHANGE_ACTION,
                'detail': jsonutils.dumps({
                    'action': notifier_base.safe_url(parsed),
                    'state': firing.current,
                    'result': result, 'reason': reason}),
                'severity': severity, 'on_behalf_of': project_id,
                'project_id': None, 'user_id': None,
                'timestamp': timeutils.utcnow(),
            })
        except Exception:
            LOG.exception('Cannot record the failed delivery of alarm %s',
                          firing.alarm_id)

    def _flush_loop(self) -> None:
        while not self._stopping:
            self._wakeup.wait(1.0)
            self._wakeup.clear()
            # Let a burst of deliveries finish so they go in one DELETE.
            threading.Event().wait(0.02)
            self.flush()

    def flush(self) -> None:
        """Forget the stored deliveries that are done."""
        with self._done_lock:
            done, self._done = self._done, []
        if not done:
            return
        try:
            self._db.delete_deliveries(done)
        except Exception:
            LOG.exception('Cannot forget %d finished deliveries; they may '
                          'be delivered again', len(done))

    def redeliver_stale(self) -> int:
        """Take over and deliver what nobody finished; returns how many."""
        now = timeutils.utcnow()
        stale_before = now - datetime.timedelta(
            seconds=self.conf.notifier.redelivery_after)
        rows = self._db.claim_stale_deliveries(stale_before, now)
        for row in rows:
            try:
                firing = firing_obj.AlarmFiring.from_record(row['firing'])
            except Exception:
                LOG.exception('Stored delivery %s is unreadable; dropping '
                              'it', row['delivery_id'])
                self._db.delete_deliveries([row['delivery_id']])
                continue
            LOG.info('Redelivering alarm %s to %s', row['alarm_id'],
                     notifier_base.safe_url(parse.urlsplit(row['action'])))
            self._submit(firing, [(row['delivery_id'], row['action'])])
        return len(rows)

    def stop(self) -> None:
        self._pool.shutdown(wait=True)
        self._stopping = True
        self._wakeup.set()
        self._flusher.join(timeout=5)
        self.flush()
        for ext in self._notifiers:
            if ext.obj is not None:
                ext.obj.close()
