"""The notification alarm evaluator: events in, state changes and firings out.

Each event is routed to one of a fixed set of worker threads by its resource
id, so the events of one resource are evaluated in the order they arrived
while different resources are evaluated in parallel. An alarm's state moves
only through a compare-and-set in the database; the firing's deliveries are
stored in the same transaction and then handed to the deliverer.

A worker takes every event already waiting in its queue (up to
``_BATCH``) and stores the transitions they cause in one transaction: a
host fault moves hundreds of alarms at once, and one commit for all of
them costs a fraction of one each. Each compare-and-set is still decided
on its own, and an event whose alarms a previous event of the batch is
moving is evaluated only once those moves are stored, so every alarm sees
its events in order and with its current state.
"""

from collections.abc import Callable
import dataclasses
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

# Events a worker takes from its queue to evaluate together.
_BATCH = 100


@dataclasses.dataclass
class _Move:
    """A transition prepared for storing, and what follows once stored."""

    alarm: index_mod.IndexedAlarm
    transition: db_api.StateTransition
    firing: firing_obj.AlarmFiring
    # The events whose evaluation prepared it, to name them on failure.
    event: transformer_mod.Event | None = None


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
            events = [event]
            stop = False
            # Whatever else is already waiting is evaluated with it.
            while len(events) < _BATCH:
                try:
                    event = work.get_nowait()
                except queue.Empty:
                    break
                if event is None:
                    stop = True
                    break
                events.append(event)
            try:
                self.evaluate_batch(events)
            except Exception:
                LOG.exception('Evaluating %d events failed', len(events))
            self._evaluated[number] += len(events)
            if stop:
                return

    # evaluation

    def evaluate(self, event: transformer_mod.Event) -> int:
        """Evaluate every alarm that watches ``event``; returns firings."""
        return self.evaluate_batch([event])

    def evaluate_batch(self, events: list[transformer_mod.Event]) -> int:
        """Evaluate ``events`` in order; returns the firings they caused.

        Their transitions are stored together; an event whose alarms an
        earlier one of the batch is moving waits for those moves to be
        stored first. An event whose evaluation fails is logged and
        skipped, and so are the events whose transitions were to be stored
        with the same failing transaction.
        """
        fired = 0
        moves: list[_Move] = []
        moving: set[str] = set()
        for event in events:
            try:
                candidates = self._candidates(event)
                if moving and any(alarm.alarm_id in moving
                                  for alarm in candidates):
                    fired += self._store(moves)
                    moves = []
                    moving = set()
                prepared = self._evaluate(event, candidates)
            except Exception:
                LOG.exception('Evaluating event %s (%s) failed',
                              event.message_id, event.event_type)
                continue
            moves.extend(prepared)
            moving.update(move.alarm.alarm_id for move in prepared)
        return fired + self._store(moves)

    def _candidates(self, event: transformer_mod.Event
                    ) -> list[index_mod.IndexedAlarm]:
        """The alarms that watch ``event`` and may see it."""
        project_id = event.project_id
        candidates = []
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
            candidates.append(alarm)
        return candidates

    def _evaluate(self, event: transformer_mod.Event,
                  candidates: list[index_mod.IndexedAlarm]
                  ) -> list[_Move]:
        """The transitions ``event`` causes, prepared for storing."""
        moves = []
        unchanged = []
        for alarm in candidates:
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
            return []
        # What the firings of this event share, made once for all of them.
        reason_data = {'type': 'event', 'event': event.as_dict()}
        fault_id = event.traits.get('fault_id')
        request_id = event.traits.get('request_id')
        prepared = []
        for alarm, matched, new_state in moves:
            verb = 'hits' if matched else 'does not hit'
            reason = ('Event <id=%s,event_type=%s> %s the query <%s>.'
                      % (event.message_id, event.event_type, verb,
                         alarm.rule.describe()))
            move = self._prepare(alarm, alarm.state, new_state, reason,
                                 reason_data, fault_id, request_id,
                                 deadline=self._deadline(alarm))
            move.event = event
            prepared.append(move)
        return prepared

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
        return self._store([self._prepare(
            alarm, previous, new_state, reason, reason_data, fault_id,
            request_id, deadline=deadline,
            expected_deadline=expected_deadline)]) == 1

    def _prepare(self, alarm: index_mod.IndexedAlarm, previous: str,
                 new_state: str, reason: str, reason_data: dict,
                 fault_id: str | None, request_id: str | None,
                 deadline: datetime.datetime | None = None,
                 expected_deadline: datetime.datetime | None = None
                 ) -> _Move:
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
        return _Move(alarm, db_api.StateTransition(
            alarm.alarm_id, previous, new_state, reason, now, change,
            deliveries, deadline=deadline,
            expected_deadline=expected_deadline), firing)

    def _store(self, moves: list[_Move]) -> int:
        """Store ``moves`` in one transaction, then fire and announce them.

        Returns how many were stored; a lost compare-and-set refreshes its
        alarm from the database.
        """
        if not moves:
            return 0
        try:
            won = self._db.transition_states(
                [move.transition for move in moves])
        except Exception:
            events = {id(move.event): move.event for move in moves
                      if move.event is not None}
            if not events:
                raise
            for event in events.values():
                LOG.exception('Evaluating event %s (%s) failed',
                              event.message_id, event.event_type)
            return 0
        stored = 0
        for move, ok in zip(moves, won):
            alarm = move.alarm
            if not ok:
                self._refresh(alarm.alarm_id)
                continue
            stored += 1
            transition = move.transition
            alarm.state = transition.new_state
            if transition.deliveries:
                try:
                    self._fire(move.firing)
                except Exception:
                    LOG.exception('Handing alarm %s to delivery failed; '
                                  'the stored deliveries will be retried',
                                  alarm.alarm_id)
            if transition.change is not None:
                self._announcer.transitioned(alarm, transition.change)
        return stored

    def _refresh(self, alarm_id: str) -> None:
        """Reload an alarm after losing a compare-and-set race."""
        try:
            self.index.put(self._db.get_alarm(alarm_id))
        except Exception:
            self.index.remove(alarm_id)
