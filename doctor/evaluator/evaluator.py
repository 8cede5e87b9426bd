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

A notification is acknowledged only once what it causes is decided and
stored: :meth:`NotificationEvaluator.submit` hands back a ticket the
listener's thread waits on. While the database cannot be reached a worker
keeps its events and tries again with backoff; when the database answers
but refuses one transition, that transition alone is dropped (and logged),
never the rest of its batch.
"""

from collections.abc import Callable
import dataclasses
import datetime
import enum
import queue
import random
import threading
import uuid
import zlib

from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from doctor.common import exception
from doctor.db import api as db_api
from doctor.evaluator import announcer as announcer_mod
from doctor.evaluator import index as index_mod
from doctor.evaluator import transformer as transformer_mod
from doctor.objects import firing as firing_obj
from doctor.profiler import recorder as profiler_recorder

LOG = log.getLogger(__name__)

# Events a worker takes from its queue to evaluate together.
_BATCH = 100
# Seconds between tries while the database cannot be reached: doubling
# from the first to the last, with jitter so replicas do not try in step.
_RETRY_FIRST = 0.1
_RETRY_MAX = 5.0
# Kinds of malformed notification remembered, to log each kind once.
_MALFORMED_KINDS = 1000
# Compare-and-set losses after which an event gives up on one alarm: each
# loss means another replica moved it meanwhile, and it is re-read.
_CAS_TRIES = 5


class Outcome(enum.Enum):
    """What became of a submitted notification."""

    #: Its transitions (or the decision that it causes none) are stored.
    DONE = 'done'
    #: The evaluator stopped first: the notification goes back to the bus.
    REQUEUE = 'requeue'


class Ticket:
    """Tells the listener's thread when its notification may be acked."""

    __slots__ = ('_done', 'outcome')

    def __init__(self) -> None:
        self._done = threading.Event()
        self.outcome: Outcome | None = None

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self._done.set()

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """The outcome, or None if it is not known within ``timeout``."""
        self._done.wait(timeout)
        return self.outcome


#: The ticket of a notification that needs no work (dropped, or not
#: watched by any alarm): ack it at once.
DONE = Ticket()
DONE.finish(Outcome.DONE)


class _Stopped(Exception):
    """The evaluator is stopping while waiting for the database."""


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
                 has_peers: Callable[[], bool] | None = None,
                 fire_stored: Callable[[firing_obj.AlarmFiring,
                                        list[dict]], object] | None = None
                 ) -> None:
        """Evaluate against ``index``, storing through ``connection``.

        :param fire: hands a stored firing to delivery (inline deliverer or
            the notifier RPC API); what it returns is ignored.
        :param fire_stored: instead of ``fire``, hands a stored firing with
            its deliveries as stored (in flight since their creation, or
            waiting behind an older one: see
            :meth:`doctor.db.api.Connection.transition_state`), to a
            deliverer in this process that needs no claim of its own.
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
        self._fire_stored = fire_stored
        self._announcer = announcer or announcer_mod.Announcer()
        # One queue of (event, ticket) per worker; None tells the worker
        # to stop.
        self._queues: list[queue.SimpleQueue[
            tuple[transformer_mod.Event, Ticket] | None]] = [
            queue.SimpleQueue()
            for _ in range(conf.evaluator.executor_threads)]
        self._stopping = threading.Event()
        self._malformed_seen: set[tuple] = set()
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
        """Stop the workers; what they had not stored goes back to the bus.
        """
        self._stopping.set()
        for work in self._queues:
            work.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._workers = []
        # Anything still queued was never evaluated: requeue it.
        for work in self._queues:
            while True:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].finish(Outcome.REQUEUE)
        self._announcer.stop()

    def load_index(self) -> int:
        """(Re)build the index from the database; returns its size."""
        return self.index.replace_all(
            self._db.iter_enabled_alarms('notification'))

    # intake

    def submit(self, ctxt, publisher_id, event_type, payload,
               metadata) -> Ticket:
        """Take one raw notification: transform it and queue its event.

        Returns the ticket to wait on before acknowledging the
        notification. A malformed notification is dropped (the first of
        each kind is logged) and its ticket is done at once.
        """
        if self._stopping.is_set():
            ticket = Ticket()
            ticket.finish(Outcome.REQUEUE)
            return ticket
        try:
            event = self._transformer.transform(
                publisher_id, event_type, payload, metadata, ctxt)
            if event is None:
                return DONE
            profiler_recorder.of(self.conf, self._db).transformed(event)
            shard_key = ordering_key(event)
            if shard_key is None:
                return DONE
            # A lone surrogate is a name nobody's alarm can hold: it still
            # needs a shard, not an exception.
            shard = zlib.crc32(shard_key.encode('utf-8', 'surrogatepass')
                               ) % len(self._queues)
        except Exception as e:
            self._malformed(publisher_id, event_type, metadata, e)
            return DONE
        ticket = Ticket()
        self._queues[shard].put((event, ticket))
        return ticket

    def _malformed(self, publisher_id, event_type, metadata,
                   error: Exception) -> None:
        """Log a dropped notification: each kind once, the rest quietly."""
        message_id = (metadata.get('message_id')
                      if isinstance(metadata, dict) else None)
        kind = (_printable(publisher_id), _printable(event_type),
                type(error).__name__)
        if kind in self._malformed_seen:
            LOG.debug('Dropping malformed notification %s: %s',
                      _printable(message_id), _printable(error))
            return
        if len(self._malformed_seen) < _MALFORMED_KINDS:
            self._malformed_seen.add(kind)
        LOG.warning('Dropping malformed notification %s (%s from %s): %s; '
                    'further ones of this kind are logged at debug level',
                    _printable(message_id), kind[1], kind[0],
                    _printable(error))

    @property
    def events_evaluated(self) -> int:
        """How many queued events the workers have evaluated so far."""
        return sum(self._evaluated)

    def _work(self, number: int,
              work: queue.SimpleQueue[
                  tuple[transformer_mod.Event, Ticket] | None]) -> None:
        while True:
            item = work.get()
            if item is None:
                return
            items = [item]
            stop = False
            # Whatever else is already waiting is evaluated with it.
            while len(items) < _BATCH:
                try:
                    item = work.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                items.append(item)
            # The listener's threads may queue one resource's events a
            # hair out of order: its events all come to this worker, and
            # the time they were generated puts them back in order.
            items.sort(key=lambda entry: _generated(entry[0]))
            outcome = Outcome.DONE
            try:
                self.evaluate_batch([event for event, _t in items])
            except _Stopped:
                outcome = Outcome.REQUEUE
            except Exception:
                # A bug, not the database: the events are not worth a
                # redelivery that would fail the same way.
                LOG.exception('Evaluating %d events failed', len(items))
            for _event, ticket in items:
                ticket.finish(outcome)
            self._evaluated[number] += len(items)
            if stop or outcome is Outcome.REQUEUE:
                return

    def _retrying(self, call: Callable, *args, **kwargs):
        """``call(*args, **kwargs)``, tried again while the database is away.

        A failure while the database answers a ping is the call's own and
        is raised; a failure while it does not is waited out, with backoff,
        until the database answers or the evaluator stops.

        :raises _Stopped: if the evaluator stops first.
        """
        delay = _RETRY_FIRST
        tries = 0
        while True:
            try:
                return call(*args, **kwargs)
            except Exception as e:
                if self._db_answers():
                    raise
                tries += 1
                if tries == 1 or tries % 10 == 0:
                    LOG.warning('The database cannot be reached (%s); '
                                'keeping the events and trying again '
                                '(try %d)', _printable(e), tries)
            if self._stopping.wait(delay * random.uniform(0.5, 1.0)):
                raise _Stopped()
            delay = min(delay * 2, _RETRY_MAX)

    def _db_answers(self) -> bool:
        try:
            self._db.ping()
        except Exception:
            return False
        return True

    # evaluation

    def evaluate(self, event: transformer_mod.Event) -> int:
        """Evaluate every alarm that watches ``event``; returns firings."""
        return self.evaluate_batch([event])

    def evaluate_batch(self, events: list[transformer_mod.Event]) -> int:
        """Evaluate ``events`` in order; returns the firings they caused.

        Their transitions are stored together; an event whose alarms an
        earlier one of the batch is moving waits for those moves to be
        stored first. While the database cannot be reached, evaluating and
        storing wait for it. An event whose evaluation fails while the
        database answers is logged and skipped; a transition the database
        refuses costs only itself.

        :raises _Stopped: if the evaluator stops while waiting for the
            database.
        """
        fired = 0
        moves: list[_Move] = []
        moving: set[str] = set()
        # The deadlines pushed by events that move no alarm, written
        # together before the moves that follow them.
        deadlines: dict[str, datetime.datetime | None] = {}
        for event in events:
            candidates = self._candidates(event)
            if moving and any(alarm.alarm_id in moving
                              for alarm in candidates):
                self._set_deadlines(deadlines)
                fired += self._store(moves)
                moves = []
                moving = set()
            try:
                prepared = self._retrying(self._evaluate, event, candidates,
                                          deadlines)
            except _Stopped:
                raise
            except Exception:
                LOG.exception('Evaluating event %s (%s) failed',
                              _printable(event.message_id),
                              _printable(event.event_type))
                continue
            profiler_recorder.of(self.conf, self._db).evaluated(event)
            moves.extend(prepared)
            moving.update(move.alarm.alarm_id for move in prepared)
        self._set_deadlines(deadlines)
        return fired + self._store(moves)

    def _set_deadlines(self, deadlines: dict[str, datetime.datetime | None]
                       ) -> None:
        """Write and forget ``deadlines``, waiting for the database.

        A deadline the database refuses is logged and dropped: the alarm
        then times out from its previous deadline, its events stand.

        :raises _Stopped: if the evaluator stops while waiting.
        """
        if not deadlines:
            return
        try:
            self._retrying(self._db.set_deadlines, dict(deadlines))
        except _Stopped:
            raise
        except Exception:
            LOG.exception('Cannot move the deadlines of %d alarms',
                          len(deadlines))
        deadlines.clear()

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
                  candidates: list[index_mod.IndexedAlarm],
                  deadlines: dict[str, datetime.datetime | None]
                  ) -> list[_Move]:
        """The transitions ``event`` causes, prepared for storing.

        The deadlines it pushes without moving an alarm are added to
        ``deadlines``, for the caller to write.
        """
        moves = []
        unchanged = []
        generated = _generated(event)
        for alarm in candidates:
            last = alarm.last_event_at
            if last is not None and generated < last:
                # Older than an event this alarm was already evaluated
                # against: a notification the bus delivers again (its
                # acknowledgement lost with the connection), or one that
                # came late. Its word is superseded; evaluating it again
                # would move the alarm backwards.
                LOG.debug('Event %s of %s is older than one alarm %s has '
                          'seen; skipping it for that alarm',
                          _printable(event.message_id), generated,
                          alarm.alarm_id)
                continue
            alarm.last_event_at = generated
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
                deadlines[alarm.alarm_id] = self._deadline(alarm)
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

        They go to 'insufficient data', all in one transaction; returns
        how many moved. One whose deadline an event moved meanwhile stays.
        """
        moves = []
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
            moves.append(self._prepare(
                alarm, row['state'], 'insufficient data', reason,
                {'type': 'timeout', 'timeout': alarm.rule.timeout}, None,
                None, deadline=None, expected_deadline=row['deadline']))
        try:
            return self._store(moves)
        except _Stopped:
            return 0

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

    def _store(self, moves: list[_Move], tries: int = 0) -> int:
        """Store ``moves`` in one transaction, then fire and announce them.

        Returns how many were stored. While the database cannot be reached
        this waits for it. If the database refuses the transaction, each
        move is stored on its own, so that a move it refuses costs only
        itself. A lost compare-and-set refreshes its alarm from the
        database, and the event that prepared the move is evaluated again
        against the state found there.

        :raises _Stopped: if the evaluator stops while waiting.
        """
        if not moves:
            return 0
        try:
            won = self._retrying(self._db.transition_states,
                                 [move.transition for move in moves])
        except _Stopped:
            raise
        except Exception:
            if len(moves) > 1:
                return sum(self._store([move], tries) for move in moves)
            self._refused(moves[0])
            return 0
        stored = 0
        again: list[_Move] = []
        for move, ok in zip(moves, won):
            alarm = move.alarm
            if not ok:
                again.extend(self._lost(move, tries))
                continue
            stored += 1
            transition = move.transition
            alarm.state = transition.new_state
            if transition.new_state != transition.expected_state:
                alarm.state_timestamp = transition.timestamp
            if transition.deliveries:
                try:
                    if self._fire_stored is not None:
                        self._fire_stored(move.firing,
                                          transition.deliveries)
                    else:
                        self._fire(move.firing)
                    profiler_recorder.of(self.conf, self._db).fired(
                        move.firing)
                except Exception:
                    LOG.exception('Handing alarm %s to delivery failed; '
                                  'the stored deliveries will be retried',
                                  alarm.alarm_id)
            if transition.change is not None:
                self._announcer.transitioned(alarm, transition.change)
        if again:
            stored += self._store(again, tries + 1)
        return stored

    def _refused(self, move: _Move) -> None:
        """The database answers but will not store ``move``: drop it alone.
        """
        event = move.event
        LOG.error('Cannot store the transition of alarm %s to %s caused by '
                  'event %s (%s); dropping that transition alone',
                  move.alarm.alarm_id, move.transition.new_state,
                  _printable(event.message_id) if event else None,
                  _printable(event.event_type) if event else None,
                  exc_info=True)

    def _lost(self, move: _Move, tries: int) -> list[_Move]:
        """The moves ``move``'s event causes once its alarm is re-read.

        Another replica, or the API, moved the alarm after this one read
        it: the event is not dropped but evaluated again against the state
        the database holds now.
        """
        alarm_id = move.alarm.alarm_id
        fresh = self._retrying(self._refresh, alarm_id)
        event = move.event
        if fresh is None or event is None:
            return []
        if tries + 1 >= _CAS_TRIES:
            LOG.error('Alarm %s moved under event %s %d times; giving up '
                      'on that event for it', alarm_id,
                      _printable(event.message_id), _CAS_TRIES)
            return []
        deadlines: dict[str, datetime.datetime | None] = {}
        moves = self._retrying(self._evaluate, event, [fresh], deadlines)
        self._set_deadlines(deadlines)
        return moves

    def _refresh(self, alarm_id: str) -> index_mod.IndexedAlarm | None:
        """Reload an alarm after losing a compare-and-set race.

        Returns its indexed copy, or None if it is gone or not evaluated.
        """
        try:
            row = self._db.get_alarm(alarm_id)
        except exception.NotFound:
            self.index.remove(alarm_id)
            return None
        self.index.put(row, force_state=True)
        return self.index.get(alarm_id)


def ordering_key(event: transformer_mod.Event) -> str | None:
    """What ``event`` is evaluated in order with: its resource.

    An event of no resource is ordered with its project's (only the
    project's resource-less alarms can care about it); an event of neither
    concerns no alarm: None. A resource id that is not text is made text,
    in the event too, as alarms hold it.
    """
    resource_id = event.resource_id
    if resource_id is None:
        if event.project_id is None:
            return None
        return str(event.project_id)
    if not isinstance(resource_id, str):
        resource_id = str(resource_id)
        event.traits['resource_id'] = resource_id
    return resource_id


def _generated(event: transformer_mod.Event) -> datetime.datetime:
    generated = event.generated
    if isinstance(generated, datetime.datetime):
        return timeutils.normalize_time(generated)
    return datetime.datetime.min


def _printable(value) -> str:
    """``value`` as text safe to log: no lone surrogate, bounded length."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return text if len(text) <= 200 else text[:200] + '...'
