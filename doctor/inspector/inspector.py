"""The inspector: from a raw failure to corrected state, in parallel.

A raw failure names a host. The inspector opens a fault for it (or finds
that the host already has one: several monitors, or the same one again,
make one fault), takes what is on the host from its cache, and sets the
actions going:

* first, the host's compute service forced down, then
  ``doctor.host.down``: on a thread of its own, never queued behind
  other calls, since evacuation and every other recovery wait for it;
* once that call has returned (done or failed), each affected instance
  set to ``[inspector] instance_fault_state``, on a bounded pool of
  workers; with ``[inspector] notify_early`` the instance's
  ``compute.instance.update`` is emitted at once, by the inspector,
  without waiting for either;
* at once, on the same pool, each port bound to the host set data-plane
  DOWN, then ``port.data_plane_status.update`` when the value toggled.

A transient failure of one call is retried with a backoff on its own
worker; no call waits for another, the instances' for the host's alone.

Every step is stored with the fault before the first one runs, and each
is marked done, with its action's record, as it ends
(:mod:`doctor.inspector.progress`); when the last has ended, checkpoints
3 to 5 and ``handled_at`` complete the fault's record. A fault whose
steps did not all end (its inspector died) is resumed by the inspector
that finds it stuck (:mod:`doctor.inspector.ownership`): the steps not
yet done run again, and each of them is idempotent.
"""

from collections.abc import Callable
from concurrent import futures
import datetime
import threading
import time
import typing

from oslo_log import log
from oslo_utils import timeutils
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.common import plugins
from doctor.inspector import actions
from doctor.inspector import cache as cache_mod
from doctor.inspector import instance_faults
from doctor.inspector import notifications
from doctor.inspector import ownership
from doctor.inspector import progress
from doctor.inspector.controllers import base
from doctor.profiler import recorder as profiler_recorder

LOG = log.getLogger(__name__)

HOST_DOWN_EVENT = 'compute.host.down'

SKIPPED_STATES = progress.SKIPPED_STATES

# Checkpoints of ARCHITECTURE.md that the monitor and the inspector record.
HOSTDOWN = (0, 'hostdown')
RAW_FAILURE = (1, 'raw_failure_received')
FOUND_AFFECTED = (2, 'found_affected')
MARKED_HOST_DOWN = (3, 'marked_host_down')
SET_VM_STATE = (4, 'set_vm_error')
NOTIFIED_VM_STATE = (5, 'notified_vm_error')

INSPECTOR = 'inspector'
CONTROLLER = 'controller'

# Threads forcing hosts down (or up): one per host failing at once.
HOST_WORKERS = 4

# Seconds the instances' calls wait for the fault's early notifications
# to be sent at most (a bus that does not answer must not hold them).
ANNOUNCEMENTS_WAIT = 5.0


def _chunks(items: list, size: int) -> list[list]:
    return [items[start:start + size]
            for start in range(0, len(items), size)]


def now_iso() -> str:
    """The wall-clock time, UTC, as ISO 8601 with microseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


_iso = actions.iso_time


def _ended(record: dict) -> float | None:
    """When a stored action record's call ended, as a wall-clock time."""
    try:
        started = datetime.datetime.fromisoformat(record['started_at'])
        return started.timestamp() + float(record['duration_ms']) / 1000.0
    except (KeyError, TypeError, ValueError):
        return None


def _parse_time(value: typing.Any) -> datetime.datetime | None:
    """A report's detection time as naive UTC, or None if unreadable."""
    try:
        parsed = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(datetime.timezone.utc).replace(
            tzinfo=None)
    return parsed


def checkpoint(which: tuple[int, str], component: str,
               timestamp: str) -> dict:
    number, name = which
    return {'number': number, 'name': name, 'component': component,
            'timestamp': timestamp}


def load_controllers(conf) -> list[base.Controller]:
    """The configured controllers, instantiated, in order of preference.

    :raises ConfigInvalid: naming a controller that no plugin provides.
    """
    return plugins.load_named(conf, base.NAMESPACE,
                              conf.inspector.controllers,
                              '[inspector] controllers', 'controller')


class Router:
    """Which controller carries out each kind of action.

    :raises ConfigInvalid: if no controller handles one of the kinds.
    """

    def __init__(self, controllers: list[base.Controller]) -> None:
        self.controllers = list(controllers)
        self._by_kind: dict[str, base.Controller] = {}
        for kind in base.KINDS:
            for controller in self.controllers:
                if kind in controller.handles:
                    self._by_kind[kind] = controller
                    break
        missing = [kind for kind in base.KINDS if kind not in self._by_kind]
        if missing:
            raise exception.ConfigInvalid(
                reason='[inspector] controllers: none of %s acts on %s; add '
                       'one that does (local acts on all of them)'
                       % (', '.join(c.name for c in self.controllers)
                          or 'no controller', ', '.join(missing)))

    def __getitem__(self, kind: str) -> base.Controller:
        return self._by_kind[kind]


def check_config(conf) -> None:
    """Refuse, before launching, controllers the inspector can't run with.

    :raises ConfigInvalid: saying what is wrong.
    """
    group = conf.inspector
    if group.fault_takeover_timeout <= group.fault_heartbeat_interval:
        raise exception.ConfigInvalid(
            reason='[inspector] fault_takeover_timeout (%s) must exceed '
                   'fault_heartbeat_interval (%s), or every fault would '
                   'look stuck' % (group.fault_takeover_timeout,
                                   group.fault_heartbeat_interval))
    Router(load_controllers(conf))


def _validate_event(event: typing.Any, index: int) -> tuple[str, bool]:
    """The host and direction (down: True) of one raw failure.

    The "host" of an instance fault is its subject, ``instance:<id>``.
    """
    where = 'event %d' % index
    if not isinstance(event, dict):
        raise exception.Invalid(reason='%s is not an object' % where)
    details = event.get('details')
    if not isinstance(details, dict):
        raise exception.InvalidField(field='%s details' % where,
                                     reason='must be an object')
    if event.get('type') == instance_faults.INSTANCE_DOWN_EVENT:
        instance_id = details.get('instance_id')
        if not isinstance(instance_id, str) or not instance_id:
            raise exception.InvalidField(
                field='%s details.instance_id' % where,
                reason='must be a non-empty string')
        host = instance_faults.subject(instance_id)
    else:
        host = details.get('hostname')
        if not isinstance(host, str) or not host:
            raise exception.InvalidField(
                field='%s details.hostname' % where,
                reason='must be a non-empty string')
    status = details.get('status', 'down')
    if status not in ('down', 'up'):
        raise exception.InvalidField(field='%s details.status' % where,
                                     reason='must be "down" or "up"')
    return host, status == 'down'


class _FaultRun:
    """The actions of one fault, and what is recorded when they end."""

    def __init__(self, inspector: 'Inspector', fault_id: str, host: str,
                 checkpoints: list[dict],
                 previous: list[dict] | None = None) -> None:
        self.inspector = inspector
        self.fault_id = fault_id
        self.host = host
        # Those of checkpoints 0 to 2: a resumed fault may have more.
        self.checkpoints = [point for point in checkpoints
                            if point.get('number', 0) <= 2]
        self.actions: list[dict] = list(previous or ())
        self._lock = threading.Lock()
        self._pending = 0
        self._host_done: float | None = None
        self._instances_done: float | None = None
        self._announced: float | None = None
        self._controller_announced = False
        for record in self.actions:
            ended = _ended(record)
            if ended is None:
                continue
            if record['name'] == 'set_host_down':
                self._host_done = ended
            elif record['name'] == 'set_instance_state':
                self._instances_done = max(self._instances_done or 0.0,
                                           ended)
        self.done = threading.Event()
        # Set once the early notifications have all been tried.
        self.announcements_sent = threading.Event()

    def add_pending(self, count: int) -> None:
        with self._lock:
            self._pending += count

    def finished(self, outcome: actions.Outcome | None,
                 kind: str | None) -> None:
        """One step ended (an action, or the early announcements).
        """
        if outcome is not None:
            record = outcome.record
            self.inspector.recorder.step_done(
                self.fault_id,
                progress.step_key(record['name'], record['target']), record)
        with self._lock:
            if outcome is not None:
                self.actions.append(outcome.record)
                if kind == base.HOST:
                    self._host_done = outcome.ended
                elif kind == base.INSTANCE:
                    self._instances_done = max(self._instances_done or 0.0,
                                               outcome.ended)
            self._pending -= 1
            last = self._pending == 0
        if last:
            self.complete()

    def announced(self, wall: float, by_controller: bool = False) -> None:
        with self._lock:
            self._announced = max(self._announced or 0.0, wall)
            self._controller_announced = by_controller

    def complete(self) -> None:
        found = self.checkpoints[-1]['timestamp']
        host_done = (_iso(self._host_done) if self._host_done is not None
                     else found)
        instances_done = (_iso(self._instances_done)
                          if self._instances_done is not None else found)
        announced = (_iso(self._announced) if self._announced is not None
                     else instances_done)
        self.checkpoints.extend([
            checkpoint(MARKED_HOST_DOWN, INSPECTOR, host_done),
            checkpoint(SET_VM_STATE, INSPECTOR, instances_done),
            checkpoint(NOTIFIED_VM_STATE,
                       CONTROLLER if self._controller_announced
                       else INSPECTOR, announced),
        ])
        failed = [action for action in self.actions
                  if action['result'] == 'failed']
        LOG.info('Fault %(fault)s of host %(host)s handled: %(count)d '
                 'actions, %(failed)d failed',
                 {'fault': self.fault_id, 'host': self.host,
                  'count': len(self.actions), 'failed': len(failed)})
        profiler_recorder.log_recorded(self.fault_id, self.host,
                                       self.checkpoints)

        def recorded() -> None:
            self.inspector.forget(self.fault_id)
            self.done.set()

        # After every step's record, which the recorder stores first.
        self.inspector.recorder.finish(
            self.fault_id, {'checkpoints': self.checkpoints,
                            'handled_at': timeutils.utcnow()}, recorded)


class Inspector:
    """Takes raw failures and corrects the cloud's state through controllers.

    :param connection: the database (faults are recorded there).
    :param cache: the host cache, kept current by the caller.
    :param router: the controllers, by kind of action.
    :param announcer: emits the inspector's notifications.
    :param owner: this run's id as the owner of faults; a new one by
        default.
    :param members: the inspectors' group as last listed (see
        :class:`ownership.Rule`); None without coordination.
    """

    def __init__(self, conf, connection, cache: cache_mod.HostCache,
                 router: Router,
                 announcer: notifications.Announcer,
                 owner: str | None = None,
                 members: Callable[[], ownership.Members | None]
                 | None = None) -> None:
        self.conf = conf
        self.connection = connection
        self.cache = cache
        self.router = router
        self.announcer = announcer
        self.owner = owner or '%s-%s' % (conf.host,
                                         uuidutils.generate_uuid())
        self.rule = ownership.Rule(
            self.owner, conf.inspector.fault_takeover_timeout,
            members or (lambda: None), members is not None)
        self.recorder = progress.Recorder(connection)
        self.recorder.start()
        self._pool = futures.ThreadPoolExecutor(
            max_workers=conf.inspector.action_workers,
            thread_name_prefix='doctor-action')
        self.actions = actions.Actions(conf, self._pool)
        # Hosts forced down (or up) apart from the pool, so that they are
        # never queued behind other faults' actions.
        self._hosts = futures.ThreadPoolExecutor(
            max_workers=HOST_WORKERS, thread_name_prefix='doctor-host')
        # Early announcements run apart from the actions, so that they do
        # not queue behind controller calls.
        self._announcers = futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix='doctor-announce')
        self._runs: dict[str, _FaultRun] = {}
        self._runs_lock = threading.Lock()
        self._batch_size = conf.inspector.action_batch_size

    def stop(self) -> None:
        """Finish the actions under way, record them, then stop."""
        self._announcers.shutdown(wait=True)
        # The hosts first: a host's action hands its fault's instances to
        # the pool when it ends.
        self._hosts.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        self.announcer.close()
        self.recorder.stop()

    def forget(self, fault_id: str) -> None:
        with self._runs_lock:
            self._runs.pop(fault_id, None)

    def wait(self, fault_id: str, timeout: float | None = None) -> bool:
        """Wait until this inspector has ended the actions of a fault.

        True if they ended (or the fault is not one this inspector runs).
        """
        with self._runs_lock:
            run = self._runs.get(fault_id)
        return run.done.wait(timeout) if run is not None else True

    # raw failures in

    def report_failures(self, context, events: list[dict]) -> list:
        """Handle raw failures; return the fault id of each (see rpcapi).
        """
        received = now_iso()
        if not isinstance(events, list):
            raise exception.Invalid(reason='events must be a list')
        checked = [_validate_event(event, index)
                   for index, event in enumerate(events)]
        for host, _down in checked:
            if instance_faults.is_instance_subject(host):
                instance_id = host[len(instance_faults.PREFIX):]
                if self.cache.instance(instance_id) is None:
                    raise exception.InstanceNotFound(
                        instance_id=instance_id)
            elif not self.cache.knows_host(host):
                raise exception.HostNotFound(host=host)
        fault_ids: list[str | None] = []
        for event, (host, down) in zip(events, checked):
            details = event['details']
            report = {
                'id': event.get('id'),
                'time': event.get('time') or received,
                'monitor': details.get('monitor'),
                'monitor_event_id': details.get('monitor_event_id'),
                'received_at': received,
            }
            if instance_faults.is_instance_subject(host):
                report['reason'] = details.get('reason')
                report['hostname'] = details.get('hostname')
                fault_ids.append(self._instance_fault(context, host, down,
                                                      report, received))
            elif down:
                fault_ids.append(self._host_down(context, host, report,
                                                 received))
            else:
                fault_ids.append(self._host_up(context, host))
        return fault_ids

    def report_host(self, context, host: str, down: bool) -> dict:
        """Handle a host reported down or recovered through the API."""
        received = now_iso()
        if not self.cache.knows_host(host):
            raise exception.HostNotFound(host=host)
        if down:
            report = {'id': uuidutils.generate_uuid(), 'time': received,
                      'monitor': 'api', 'monitor_event_id': None,
                      'received_at': received}
            fault_id = self._host_down(context, host, report, received)
            return {'host': host, 'state': 'down', 'fault_id': fault_id}
        self._host_up(context, host)
        return {'host': host, 'state': 'up', 'fault_id': None}

    def _instance_fault(self, context, subject: str, down: bool,
                        report: dict, received: str) -> str | None:
        """An instance reported down (or recovered) by its compute agent.
        """
        if not down:
            closed = self.connection.close_fault(subject, timeutils.utcnow())
            LOG.info('%(subject)s reported recovered: %(fault)s', {
                'subject': subject,
                'fault': 'fault %s closed' % closed['id'] if closed
                else 'it had no open fault'})
            return closed['id'] if closed is not None else None
        instance = self.cache.instance(subject[len(instance_faults.PREFIX):])
        if instance is None:
            raise exception.InstanceNotFound(instance_id=subject)
        planned = instance_faults.plan(
            instance, self.conf.inspector.instance_fault_state,
            self.conf.inspector.notify_early, report.get('reason'))
        return self._host_down(context, subject, report, received,
                               planned=planned,
                               fault_type=instance_faults.INSTANCE_DOWN_EVENT)

    def _host_down(self, context, host: str, report: dict,
                   received: str, planned: progress.Plan | None = None,
                   fault_type: str = HOST_DOWN_EVENT) -> str:
        """Open (or join) the fault of ``host``, or of the subject of a
        ``planned`` instance fault, and set its steps going.
        """
        # The cache first: a dict lookup, and the fault's record is then
        # written with what it found already timed.
        lookup = self.cache.lookup(host) if planned is None else None
        checkpoints = [
            checkpoint(HOSTDOWN, report.get('monitor') or 'monitor',
                       report['time']),
            checkpoint(RAW_FAILURE, INSPECTOR, received),
            checkpoint(FOUND_AFFECTED, INSPECTOR, now_iso()),
        ]
        # What is to be done is stored with the fault, before anything
        # is done: whichever inspector finds the fault unfinished can
        # finish it.
        steps = planned or progress.plan(
            host, lookup, self.conf.inspector.instance_fault_state,
            self.conf.inspector.notify_early)
        now = timeutils.utcnow()
        fault: dict[str, typing.Any] = {
            'id': uuidutils.generate_uuid(), 'host': host,
            'type': fault_type,
            'created_at': now,
            'detected_at': _parse_time(report['time']),
            'checkpoints': checkpoints, 'reports': [report],
            'affected': steps.affected, 'steps': steps.steps,
            'owner': self.owner, 'heartbeat_at': now,
        }
        window = datetime.timedelta(
            seconds=self.conf.inspector.duplicate_window)
        stored, created = self.connection.create_fault(
            fault, duplicate_after=fault['created_at'] - window)
        if not created:
            if self._running(stored['id']) or not self.rule.stuck(
                    stored, running=False):
                LOG.info('Host %(host)s reported down again (%(monitor)s, '
                         'event %(event)s): part of fault %(fault)s',
                         {'host': host, 'monitor': report.get('monitor'),
                          'event': report.get('id'),
                          'fault': stored['id']})
                return stored['id']
            # The fault is stuck: the report does not join it, it takes it
            # over.
            LOG.warning('Host %(host)s reported down again (%(monitor)s, '
                        'event %(event)s) while its fault %(fault)s is '
                        'stuck with %(owner)s: taking it over',
                        {'host': host, 'monitor': report.get('monitor'),
                         'event': report.get('id'), 'fault': stored['id'],
                         'owner': stored.get('owner')})
            self.take_over(stored, ownership.REPORT)
            return stored['id']
        LOG.info('Host %(host)s reported down by %(monitor)s (event '
                 '%(event)s): fault %(fault)s',
                 {'host': host, 'monitor': report.get('monitor'),
                  'event': report.get('id'), 'fault': fault['id']})
        stored.update(steps=steps.steps, done=[], actions=[])
        self._start(stored)
        return fault['id']

    def _host_up(self, context, host: str) -> str | None:
        closed = self.connection.close_fault(host, timeutils.utcnow())
        if closed is None:
            LOG.info('Host %s reported up; it had no open fault', host)
            return None
        LOG.info('Host %(host)s reported up: fault %(fault)s closed',
                 {'host': host, 'fault': closed['id']})
        lookup = self.cache.lookup(host)
        target = lookup.host if lookup is not None else base.Host(name=host)
        controller = self.router[base.HOST]
        action_context = base.ActionContext(fault_id=closed['id'])

        def recover() -> None:
            outcome = self.actions.act(
                'unset_host_down', 'host:%s' % host, controller,
                lambda: controller.set_host_down(action_context, target,
                                                 False))
            if outcome.ok:
                self.announcer.host_state(host, False, closed['id'])
            else:
                LOG.error('Host %s reported up but could not be set up: '
                          '%s', host, outcome.record['error'])

        self._hosts.submit(recover)
        return closed['id']

    # acting

    def _running(self, fault_id: str) -> bool:
        with self._runs_lock:
            return fault_id in self._runs

    def _start(self, fault: dict) -> _FaultRun | None:
        """Set every step of the fault not yet done going.

        None if this run runs the fault already.
        """
        fault_id, host = fault['id'], fault['host']
        done = set(fault.get('done') or ())
        steps = [step for step in fault.get('steps') or ()
                 if step['key'] not in done]
        run = _FaultRun(self, fault_id, host, list(fault['checkpoints']),
                        previous=fault.get('actions'))
        with self._runs_lock:
            if fault_id in self._runs:
                return None
            self._runs[fault_id] = run
        state = self.conf.inspector.instance_fault_state
        # Whether the instances' notifications are steps of their own is
        # the plan's choice, made when the fault was accepted.
        early = any(step['kind'] == progress.ANNOUNCE
                    for step in fault.get('steps') or ())
        announcements = [step for step in steps
                         if step['kind'] == progress.ANNOUNCE]
        actions = [step for step in steps
                   if step['kind'] != progress.ANNOUNCE]
        # Everything pending is counted before the first piece is submitted,
        # so that the fault cannot complete early.
        run.add_pending(len(actions) + (1 if announcements else 0))
        if not actions and not announcements:
            run.complete()
            return run
        context = base.ActionContext(fault_id=fault_id, announced=early)
        instance_controller = self.router[base.INSTANCE]
        controller_announces = (not early
                                and instance_controller.name == 'local')
        if announcements:
            self._announcers.submit(self._announce_instances, run,
                                    announcements, state)
        hosts = [progress.entity(step) for step in actions
                 if step['kind'] == base.HOST]
        instances = [progress.entity(step) for step in actions
                     if step['kind'] == base.INSTANCE]

        released = threading.Lock()

        def release() -> None:
            # The early notifications of the whole fault leave before
            # any instance's call.
            if announcements and not run.announcements_sent.wait(
                    ANNOUNCEMENTS_WAIT):
                LOG.warning('The notifications of fault %s are not all '
                            'sent after %.0f s; setting its instances all '
                            'the same', fault_id, ANNOUNCEMENTS_WAIT)
            if base.takes_batches(instance_controller, base.INSTANCE):
                for chunk in _chunks(instances, self._batch_size):
                    self._pool.submit(self._instances_task, run, context,
                                      instance_controller, chunk, state,
                                      controller_announces)
                return
            for instance in instances:
                self._pool.submit(self._instance_task, run, context,
                                  instance_controller, instance, state,
                                  controller_announces)

        def set_instances() -> None:
            if not released.acquire(blocking=False):
                return  # by another host step of the fault already
            if announcements:
                self._pool.submit(release)
            else:
                release()

        if hosts:
            # The host first: the instances go to the pool once its call
            # has returned.
            for host_target in hosts:
                self._hosts.submit(self._host_task, run, context,
                                   host_target, set_instances)
        else:
            set_instances()
        ports = [progress.entity(step) for step in actions
                 if step['kind'] == base.PORT]
        port_controller = self.router[base.PORT] if ports else None
        if port_controller is not None and base.takes_batches(
                port_controller, base.PORT):
            for chunk in _chunks(ports, self._batch_size):
                self._pool.submit(self._ports_task, run, context,
                                  port_controller, chunk)
        else:
            for port in ports:
                self._pool.submit(self._port_task, run, context,
                                  port_controller, port)
        return run

    def _host_task(self, run: _FaultRun, context: base.ActionContext,
                   target: base.Host, then: Callable[[], None]) -> None:
        controller = self.router[base.HOST]
        try:
            outcome = self.actions.act(
                'set_host_down', 'host:%s' % target.name, controller,
                lambda: controller.set_host_down(context, target, True))
        finally:
            # Done or failed, the instances are not held back any longer.
            then()
        if outcome.ok:
            self._announce(lambda: self.announcer.host_state(
                target.name, True, run.fault_id))
        run.finished(outcome, base.HOST)

    # resuming

    def take_over(self, fault: dict, reason: str) -> bool:
        """Take a stuck fault over and run the steps it has not done.

        False if another replica took it first (or it ended meanwhile).
        """
        claimed = self.connection.claim_fault(
            fault['id'], self.owner, fault.get('owner'),
            fault.get('heartbeat_at'), timeutils.utcnow(), reason)
        if claimed is None:
            LOG.info('Fault %s was taken over by another inspector first',
                     fault['id'])
            return False
        left = len(claimed['steps']) - len(set(claimed['done']))
        LOG.warning('Resuming fault %(fault)s of host %(host)s (%(reason)s; '
                    'it was run by %(owner)s): %(left)d of %(all)d steps '
                    'left', {'fault': claimed['id'],
                             'host': claimed['host'], 'reason': reason,
                             'owner': fault.get('owner'), 'left': left,
                             'all': len(claimed['steps'])})
        self._start(claimed)
        return True

    def resume_stuck(self, starting: bool = False) -> list[str]:
        """Take over every unfinished fault that is stuck; return their ids.

        :param starting: whether this replica is starting (see
            :mod:`doctor.inspector.ownership`).
        """
        resumed = []
        for fault in self.connection.get_unfinished_faults():
            if not self.rule.stuck(fault, self._running(fault['id']),
                                   starting=starting):
                continue
            reason = ownership.RESTART if starting else ownership.TAKEOVER
            if self.take_over(fault, reason):
                resumed.append(fault['id'])
        return resumed

    def heartbeat(self) -> None:
        """Stamp this run's faults as alive, then take over stuck ones."""
        with self._runs_lock:
            running = list(self._runs)
        if running:
            self.connection.heartbeat_faults(self.owner, running,
                                             timeutils.utcnow())
        self.resume_stuck()

    def _announce(self, emit: Callable[[], None]) -> bool:
        try:
            emit()
            return True
        except Exception:
            LOG.exception('A notification could not be emitted')
            return False

    def _announce_instances(self, run: _FaultRun, steps: list[dict],
                            state: str) -> None:
        def emit(instance: base.Instance) -> Callable[[], None]:
            return lambda: self.announcer.instance_update(
                instance, state, run.fault_id)
        try:
            errors = self.announcer.emit_all(
                [emit(progress.entity(step)) for step in steps])
            for step, error in zip(steps, errors):
                if error is None:
                    self.recorder.step_done(run.fault_id, step['key'])
                else:
                    LOG.error('A notification could not be emitted',
                              exc_info=error)
            run.announced(time.time())
        finally:
            run.announcements_sent.set()
            run.finished(None, None)

    def _instance_task(self, run: _FaultRun, context: base.ActionContext,
                       controller: base.Controller,
                       instance: base.Instance, state: str,
                       controller_announces: bool) -> None:
        outcome = self.actions.act(
            'set_instance_state', 'instance:%s' % instance.id, controller,
            lambda: controller.set_instance_state(context, instance, state))
        if outcome.ok and controller_announces:
            run.announced(outcome.ended, by_controller=True)
        run.finished(outcome, base.INSTANCE)

    def _instances_task(self, run: _FaultRun, context: base.ActionContext,
                        controller: base.Controller,
                        instances: list[base.Instance], state: str,
                        controller_announces: bool) -> None:
        def then(instance: base.Instance, outcome: actions.Outcome) -> None:
            if outcome.ok and controller_announces:
                run.announced(outcome.ended, by_controller=True)
            run.finished(outcome, base.INSTANCE)

        self.actions.batch(
            'set_instance_state', base.INSTANCE, instances, controller,
            lambda items: controller.set_instance_states(context, items,
                                                         state),
            lambda instance: lambda: controller.set_instance_state(
                context, instance, state),
            then)

    def _port_task(self, run: _FaultRun, context: base.ActionContext,
                   controller: base.Controller, port: base.Port) -> None:
        outcome = self.actions.act(
            'set_port_dp_down', 'port:%s' % port.id, controller,
            lambda: controller.set_port_dp_down(context, port, True))
        self._ports_done(run, [(port, outcome)])

    def _ports_task(self, run: _FaultRun, context: base.ActionContext,
                    controller: base.Controller,
                    ports: list[base.Port]) -> None:
        # The outcomes of the batch call are gathered and their ports
        # announced together; a port tried again alone is announced when
        # its own call ends.
        gathered: list[tuple[base.Port, actions.Outcome]] = []
        lock = threading.Lock()
        gathering = [True]

        def then(port: base.Port, outcome: actions.Outcome) -> None:
            with lock:
                if gathering[0]:
                    gathered.append((port, outcome))
                    return
            self._ports_done(run, [(port, outcome)])
        try:
            self.actions.batch(
                'set_port_dp_down', base.PORT, ports, controller,
                lambda items: controller.set_ports_dp_down(context, items,
                                                           True),
                lambda port: lambda: controller.set_port_dp_down(
                    context, port, True),
                then)
        finally:
            with lock:
                gathering[0] = False
                done = list(gathered)
            self._ports_done(run, done)

    def _ports_done(self, run: _FaultRun,
                    done: list[tuple[base.Port, actions.Outcome]]) -> None:
        """Announce the ports set down, together, then count them done."""
        def emit(port: base.Port) -> Callable[[], None]:
            return lambda: self.announcer.port_dp_update(
                port, base.DP_DOWN, run.fault_id)
        try:
            errors = self.announcer.emit_all(
                [emit(port) for port, outcome in done
                 if outcome.ok and port.data_plane_status != base.DP_DOWN])
            for error in errors:
                if error is not None:
                    LOG.error('A notification could not be emitted',
                              exc_info=error)
        finally:
            for _port, outcome in done:
                run.finished(outcome, base.PORT)

    # ports through the API

    def set_port_dp_down(self, context, port_id: str, down: bool) -> dict:
        """Set one port's data-plane status; return the port's view."""
        port = self.cache.port(port_id)
        if port is None:
            raise exception.PortNotFound(port_id=port_id)
        controller = self.router[base.PORT]
        action_context = base.ActionContext(
            request_id=getattr(context, 'request_id', None))
        status = base.DP_DOWN if down else base.DP_ACTIVE
        outcome = self.actions.act(
            'set_port_dp_down' if down else 'unset_port_dp_down',
            'port:%s' % port_id, controller,
            lambda: controller.set_port_dp_down(action_context, port, down))
        if not outcome.ok:
            raise exception.ServiceUnavailable(
                reason='the data-plane status of port %s could not be set: '
                       '%s' % (port_id, outcome.record.get('error')))
        if port.data_plane_status != status:
            self._announce(lambda: self.announcer.port_dp_update(
                port, status))
        return {
            'id': port.id, 'name': port.name, 'project_id': port.project_id,
            'host': port.host or None, 'device_id': port.device_id,
            'status': port.state, 'data_plane_status': status,
            'dp_down': down,
        }
