"""The notification alarm evaluator: events in, state changes and firings out.

Each event is routed to one of a fixed set of worker threads by its resource
id, so the events of one resource are evaluated in the order they arrived
while different resources are evaluated in parallel. An alarm's state moves
only through a compare-and-set in the database; the firing's deliveries are
stored in the same transaction and then handed to the deliverer.
"""

from collections.abc import Callable
import datetime
import queue
import threading
import uuid
import zlib

from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from doctor.db import api as db_api
from doctor.evaluator import announcer as announcer_mod
from doctor.evaluator import index as index_mod
from doctor.evaluator import transformer as transformer_mod
from doctor.objects import firing as firing_obj

LOG = log.getLogger(__name__)


class NotificationEvaluator:
    """Evaluates notification alarms against the events of the bus."""

    def __init__(self, conf, connection: db_api.Connection,
                 index: index_mod.AlarmIndex,
                 transformer: transformer_mod.Transformer,
                 fire: Callable[[firing_obj.AlarmFiring], object],
                 announcer: announcer_mod.Announcer | None = None,
                 has_peers: Callable[[], bool] | None = None) -> None:
        """Evaluate against ``index``, storing through ``connection``.

        :param fire: hands a stored firing to delivery (inline deliverer or
            the notifier RPC API); what it returns is ignored.
        :param announcer: told of each transition this evaluator stored,
            to notify the world and the other evaluators.
        :param has_peers: whether other evaluator replicas run now; while
            they do, an alarm whose indexed state says "nothing to do" is
            checked against the database first. None: this one is alone.
        """
        self.conf = conf
        self._has_peers = has_peers or (lambda: False)
        self._db = connection
        self.index = index
        self._transformer = transformer
        self._fire = fire
        self._announcer = announcer or announcer_mod.Announcer()
        # One queue of events per worker; None tells the worker to stop.
        self._queues: list[queue.SimpleQueue[transformer_mod.Event | None]] = [
            queue.SimpleQueue()
            for _ in range(conf.evaluator.executor_threads)]
        # Events evaluated, one counter per worker so none is contended.
        self._evaluated = [0] * len(self._queues)
        self._workers: list[threading.Thread] = []

    # lifecycle

    def start(self) -> None:
        self._announcer.start()
        for number, work in enumerate(self._queues):
            worker = threading.Thread(target=self._work,
                                      args=(number, work),
                                      name='doctor-evaluate-%d' % number,
                                      daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        for work in self._queues:
            work.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._workers = []
        self._announcer.stop()

    def load_index(self) -> int:
        """(Re)build the index from the database; returns its size."""
        return self.index.replace_all(
            self._db.iter_enabled_alarms('notification'))

    # intake

    def submit(self, ctxt, publisher_id, event_type, payload,
               metadata) -> None:
        """Take one raw notification: transform it and queue its event.

        A malformed notification is logged and dropped.
        """
        try:
            event = self._transformer.transform(
                publisher_id, event_type, payload, metadata, ctxt)
        except Exception as e:
            LOG.warning('Dropping malformed notification %s from %s: %s',
                        (metadata or {}).get('message_id')
                        if isinstance(metadata, dict) else None,
                        publisher_id, e)
            return
        if event is None:
            return
        resource_id = event.resource_id
        if resource_id is None:
            if event.project_id is None:
                return
            # Only the project's resource-less alarms can care about it.
            shard_key = str(event.project_id)
        else:
            if not isinstance(resource_id, str):
                resource_id = str(resource_id)
                event.traits['resource_id'] = resource_id
            shard_key = resource_id
        shard = zlib.crc32(shard_key.encode()) % len(self._queues)
        self._queues[shard].put(event)

    @property
    def events_evaluated(self) -> int:
        """How many queued events the workers have evaluated so far."""
        return sum(self._evaluated)

    def _work(self, number: int,
              work: queue.SimpleQueue[transformer_mod.Event | None]
              ) -> None:
        while True:
            event = work.get()
            if event is None:
                return
            try:
                self.evaluate(event)
            except Exception:
                LOG.exception('Evaluating event %s (%s) failed',
                              event.message_id, event.event_type)
            self._evaluated[number] += 1

    # evaluation

    def evaluate(self, event: transformer_mod.Event) -> int:
        """Evaluate every alarm that watches ``event``; returns firings."""
        project_id = event.project_id
        moves = []
        unchanged = []
        for alarm in self.index.candidates(event.resource_id, project_id):
            if not alarm.rule.watches(event.event_type):
                continue
            if project_id is None:
                if not alarm.infrastructure:
                    # An event of no project is about the infrastructure
                    # (a compute service, a host): only alarms the policy
                    # allowed such events see it.
                    continue
            elif (alarm.project_id is not None
                    and alarm.project_id != project_id):
                # A tenant's alarm never sees another tenant's resources.
                continue
            matched = alarm.rule.matches(event)
            new_state = 'alarm' if matched else 'ok'
            if new_state != alarm.state or (matched and
                                            alarm.repeat_actions):
                moves.append((alarm, matched, new_state))
            else:
                unchanged.append((alarm, matched, new_state))
        if unchanged and self._has_peers():
            # Another replica may have moved these alarms without this one
            # knowing yet (its word is on the way, or never sent while RPC
            # 1.0 evaluators run): the stored state decides, read for all
            # of them at once.
            stored = self._db.get_alarm_states(
                [alarm.alarm_id for alarm, _m, _s in unchanged])
            still = []
            for alarm, matched, new_state in unchanged:
                state = stored.get(alarm.alarm_id)
                if state is None:
                    self.index.remove(alarm.alarm_id)
                    continue
                alarm.state = state
                if state != new_state:
                    moves.append((alarm, matched, new_state))
                else:
                    still.append((alarm, matched, new_state))
            unchanged = still
        for alarm, _matched, _state in unchanged:
            if alarm.rule.timeout:
                self._db.set_deadline(alarm.alarm_id,
                                      self._deadline(alarm))
        if not moves:
            return 0
        # What the firings of this event share, made once for all of them.
        reason_data = {'type': 'event', 'event': event.as_dict()}
        fault_id = event.traits.get('fault_id')
        request_id = event.traits.get('request_id')
        fired = 0
        for alarm, matched, new_state in moves:
            verb = 'hits' if matched else 'does not hit'
            reason = ('Event <id=%s,event_type=%s> %s the query <%s>.'
                      % (event.message_id, event.event_type, verb,
                         alarm.rule.describe()))
            if self._transition(alarm, alarm.state, new_state, reason,
                                reason_data, fault_id, request_id,
                                deadline=self._deadline(alarm)):
                fired += 1
        return fired

    @staticmethod
    def _deadline(alarm) -> datetime.datetime | None:
        if not alarm.rule.timeout:
            return None
        return timeutils.utcnow() + datetime.timedelta(
            seconds=alarm.rule.timeout)

    def check_timeouts(self) -> int:
        """Move alarms whose expected event did not come in time.

        They go to 'insufficient data'; returns how many moved.
        """
        moved = 0
        for row in self._db.get_expired_alarms(timeutils.utcnow()):
            alarm = self.index.get(row['alarm_id'])
            if alarm is None:
                self.index.put(row)
                alarm = self.index.get(row['alarm_id'])
                if alarm is None:
                    continue
            reason = ('No %s event for resource %s within %s seconds.'
                      % (alarm.rule.event_type, alarm.resource_id,
                         alarm.rule.timeout))
            if self._transition(alarm, row['state'], 'insufficient data',
                                reason, {'type': 'timeout',
                                         'timeout': alarm.rule.timeout},
                                None, None, deadline=None,
                                expected_deadline=row['deadline']):
                moved += 1
        return moved

    def _transition(self, alarm: index_mod.IndexedAlarm, previous: str,
                    new_state: str, reason: str, reason_data: dict,
                    fault_id: str | None, request_id: str | None,
                    deadline: datetime.datetime | None = None,
                    expected_deadline: datetime.datetime | None = None
                    ) -> bool:
        now = timeutils.utcnow()
        firing = firing_obj.AlarmFiring(
            alarm_id=alarm.alarm_id, alarm_name=alarm.name,
            severity=alarm.severity, previous=previous, current=new_state,
            reason=reason, reason_data=reason_data, deliveries={},
            request_id=request_id if isinstance(request_id, str) else None,
            fault_id=fault_id if isinstance(fault_id, str) else None)
        actions = alarm.actions_for(new_state)
        firing.deliveries = {str(uuid.uuid4()): action for action in actions}
        deliveries = []
        if actions:
            record = firing.to_record()
            deliveries = [{'delivery_id': delivery_id,
                           'alarm_id': alarm.alarm_id, 'action': action,
                           'firing': record, 'created_at': now,
                           'claimed_at': now}
                          for delivery_id, action
                          in firing.deliveries.items()]
        change = None
        if new_state != previous:
            change = {
                'event_id': str(uuid.uuid4()), 'alarm_id': alarm.alarm_id,
                'type': db_api.CHANGE_STATE,
                'detail': jsonutils.dumps({'state': new_state,
                                           'previous': previous,
                                           'transition_reason': reason}),
                'severity': alarm.severity, 'on_behalf_of':
                alarm.project_id, 'project_id': None, 'user_id': None,
                'timestamp': now,
            }
        if not self._db.transition_state(
                alarm.alarm_id, previous, new_state, reason, now, change,
                deliveries, deadline=deadline,
                expected_deadline=expected_deadline):
            self._refresh(alarm.alarm_id)
            return False
        alarm.state = new_state
        if deliveries:
            try:
                self._fire(firing)
            except Exception:
                LOG.exception('Handing alarm %s to delivery failed; the '
                              'stored deliveries will be retried',
                              alarm.alarm_id)
        if change is not None:
            self._announcer.transitioned(alarm, change)
        return True

    def _refresh(self, alarm_id: str) -> None:
        """Reload an alarm after losing a compare-and-set race."""
        try:
            self.index.put(self._db.get_alarm(alarm_id))
        except Exception:
            self.index.remove(alarm_id)
