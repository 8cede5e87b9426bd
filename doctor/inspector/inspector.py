"""The inspector: from a raw failure to corrected state, in parallel.

A raw failure names a host. The inspector opens a fault for it (or finds
that the host already has one: several monitors, or the same one again,
make one fault), takes what is on the host from its cache, and sets every
action going at once on a bounded pool of workers:

* the host's compute service forced down, then ``doctor.host.down``;
* each affected instance set to ``[inspector] instance_fault_state``;
  with ``[inspector] notify_early`` the instance's
  ``compute.instance.update`` is emitted first, by the inspector, without
  waiting for the controller;
* each port bound to the host set data-plane DOWN, then
  ``port.data_plane_status.update`` when the value toggled.

A transient failure of one call is retried with a backoff on its own
worker; no call waits for another. When the last action has ended, the
fault's record (affected resources, each action with its result and
duration, checkpoints 0 to 5) is written to the database.
"""

from collections.abc import Callable
from concurrent import futures
import dataclasses
import datetime
import threading
import time
import typing

from oslo_log import log
from oslo_utils import timeutils
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.common import plugins
from doctor.inspector import cache as cache_mod
from doctor.inspector import notifications
from doctor.inspector.controllers import base

LOG = log.getLogger(__name__)

HOST_DOWN_EVENT = 'compute.host.down'

# Instances a host fault leaves alone: gone, going, being resized, or
# already failed.
SKIPPED_STATES = frozenset(('deleted', 'soft-delete', 'soft_deleted',
                            'soft-deleted', 'resized', 'error'))

# Checkpoints of ARCHITECTURE.md that the monitor and the inspector record.
HOSTDOWN = (0, 'hostdown')
RAW_FAILURE = (1, 'raw_failure_received')
FOUND_AFFECTED = (2, 'found_affected')
MARKED_HOST_DOWN = (3, 'marked_host_down')
SET_VM_STATE = (4, 'set_vm_error')
NOTIFIED_VM_STATE = (5, 'notified_vm_error')

INSPECTOR = 'inspector'
CONTROLLER = 'controller'


def now_iso() -> str:
    """The wall-clock time, UTC, as ISO 8601 with microseconds."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).isoformat()


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
    Router(load_controllers(conf))


def _validate_event(event: typing.Any, index: int) -> tuple[str, bool]:
    """The host and direction (down: True) of one raw failure."""
    where = 'event %d' % index
    if not isinstance(event, dict):
        raise exception.Invalid(reason='%s is not an object' % where)
    details = event.get('details')
    if not isinstance(details, dict):
        raise exception.InvalidField(field='%s details' % where,
                                     reason='must be an object')
    host = details.get('hostname')
    if not isinstance(host, str) or not host:
        raise exception.InvalidField(field='%s details.hostname' % where,
                                     reason='must be a non-empty string')
    status = details.get('status', 'down')
    if status not in ('down', 'up'):
        raise exception.InvalidField(field='%s details.status' % where,
                                     reason='must be "down" or "up"')
    return host, status == 'down'


@dataclasses.dataclass(slots=True)
class _Outcome:
    """How one action ended."""

    record: dict
    ended: float  # wall clock
    ok: bool


class _FaultRun:
    """The actions of one fault, and what is recorded when they end."""

    def __init__(self, inspector: 'Inspector', fault_id: str, host: str,
                 checkpoints: list[dict]) -> None:
        self.inspector = inspector
        self.fault_id = fault_id
        self.host = host
        self.checkpoints = checkpoints
        self.affected: list[dict] = []
        self.actions: list[dict] = []
        self._lock = threading.Lock()
        self._pending = 0
        self._host_done: float | None = None
        self._instances_done: float | None = None
        self._announced: float | None = None
        self._controller_announced = False
        self.done = threading.Event()

    def add_pending(self, count: int) -> None:
        with self._lock:
            self._pending += count

    def finished(self, outcome: _Outcome | None, kind: str | None) -> None:
        """One piece of work ended (an action, or the early announcements).
        """
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
        self.actions.sort(key=lambda action: action['started_at'])
        try:
            self.inspector.connection.update_fault(
                self.fault_id, {'affected': self.affected,
                                'actions': self.actions,
                                'checkpoints': self.checkpoints})
        except Exception:
            LOG.exception('Could not record the end of fault %s of host %s',
                          self.fault_id, self.host)
        failed = [action for action in self.actions
                  if action['result'] == 'failed']
        LOG.info('Fault %(fault)s of host %(host)s handled: %(count)d '
                 'actions, %(failed)d failed',
                 {'fault': self.fault_id, 'host': self.host,
                  'count': len(self.actions), 'failed': len(failed)})
        self.inspector.forget(self.fault_id)
        self.done.set()


class Inspector:
    """Takes raw failures and corrects the cloud's state through controllers.

    :param connection: the database (faults are recorded there).
    :param cache: the host cache, kept current by the caller.
    :param router: the controllers, by kind of action.
    :param announcer: emits the inspector's notifications.
    """

    def __init__(self, conf, connection, cache: cache_mod.HostCache,
                 router: Router,
                 announcer: notifications.Announcer) -> None:
        self.conf = conf
        self.connection = connection
        self.cache = cache
        self.router = router
        self.announcer = announcer
        self._pool = futures.ThreadPoolExecutor(
            max_workers=conf.inspector.action_workers,
            thread_name_prefix='doctor-action')
        # Early announcements run apart from the actions, so that they do
        # not queue behind controller calls.
        self._announcers = futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix='doctor-announce')
        self._runs: dict[str, _FaultRun] = {}
        self._runs_lock = threading.Lock()

    def stop(self) -> None:
        """Finish the actions under way, then stop."""
        self._announcers.shutdown(wait=True)
        self._pool.shutdown(wait=True)

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
            if not self.cache.knows_host(host):
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
            if down:
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

    def _host_down(self, context, host: str, report: dict,
                   received: str) -> str:
        # The cache first: a dict lookup, and the fault's record is then
        # written with what it found already timed.
        lookup = self.cache.lookup(host)
        checkpoints = [
            checkpoint(HOSTDOWN, report.get('monitor') or 'monitor',
                       report['time']),
            checkpoint(RAW_FAILURE, INSPECTOR, received),
            checkpoint(FOUND_AFFECTED, INSPECTOR, now_iso()),
        ]
        fault: dict[str, typing.Any] = {
            'id': uuidutils.generate_uuid(), 'host': host,
            'type': HOST_DOWN_EVENT,
            'created_at': timeutils.utcnow(),
            'detected_at': _parse_time(report['time']),
            'checkpoints': checkpoints, 'reports': [report],
        }
        window = datetime.timedelta(
            seconds=self.conf.inspector.duplicate_window)
        stored, created = self.connection.create_fault(
            fault, duplicate_after=fault['created_at'] - window)
        if not created:
            LOG.info('Host %(host)s reported down again (%(monitor)s, event '
                     '%(event)s): part of fault %(fault)s',
                     {'host': host, 'monitor': report.get('monitor'),
                      'event': report.get('id'), 'fault': stored['id']})
            return stored['id']
        LOG.info('Host %(host)s reported down by %(monitor)s (event '
                 '%(event)s): fault %(fault)s',
                 {'host': host, 'monitor': report.get('monitor'),
                  'event': report.get('id'), 'fault': fault['id']})
        self._start(host, fault['id'], checkpoints, lookup)
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
            outcome = self._act('unset_host_down', 'host:%s' % host,
                                controller, lambda: controller.set_host_down(
                                    action_context, target, False))
            if outcome.ok:
                self.announcer.host_state(host, False, closed['id'])
            else:
                LOG.error('Host %s reported up but could not be set up: '
                          '%s', host, outcome.record['error'])

        self._pool.submit(recover)
        return closed['id']

    # acting

    def _act(self, name: str, target: str, controller: base.Controller,
             call: Callable[[], None]) -> _Outcome:
        """Run one controller call, retrying transient failures."""
        retries = self.conf.inspector.action_retries
        interval = self.conf.inspector.action_retry_interval
        started_wall = time.time()
        started = time.monotonic()
        attempts = 0
        error = None
        while True:
            attempts += 1
            try:
                call()
                ok = True
                break
            except base.TransientError as e:
                error = str(e) or type(e).__name__
                if attempts > retries:
                    ok = False
                    break
                LOG.warning('%(name)s of %(target)s failed (%(error)s); '
                            'trying again', {'name': name, 'target': target,
                                             'error': error})
                time.sleep(interval * 2 ** (attempts - 1))
            except Exception as e:
                error = str(e) or type(e).__name__
                ok = False
                if not isinstance(e, exception.DoctorException):
                    LOG.exception('%s of %s failed', name, target)
                break
        ended = time.time()
        record: dict[str, typing.Any] = {
            'name': name, 'target': target, 'controller': controller.name,
            'result': 'ok' if ok else 'failed',
            'duration_ms': round((time.monotonic() - started) * 1000.0, 3),
            'attempts': attempts, 'started_at': _iso(started_wall),
        }
        if not ok:
            record['error'] = error
            LOG.error('%(name)s of %(target)s failed after %(attempts)d '
                      'attempt(s): %(error)s',
                      {'name': name, 'target': target, 'attempts': attempts,
                       'error': error})
        return _Outcome(record, ended, ok)

    def _start(self, host: str, fault_id: str, checkpoints: list[dict],
               lookup: cache_mod.Lookup | None) -> _FaultRun:
        """Set every action of the fault going."""
        run = _FaultRun(self, fault_id, host, checkpoints)
        with self._runs_lock:
            self._runs[fault_id] = run
        state = self.conf.inspector.instance_fault_state
        early = self.conf.inspector.notify_early
        target_host = lookup.host if lookup else base.Host(name=host)
        instances = lookup.instances if lookup else []
        ports = lookup.ports if lookup else []
        skipped = SKIPPED_STATES | {state}
        to_set = []
        for instance in instances:
            left_alone = instance.state in skipped
            run.affected.append({
                'type': 'instance', 'id': instance.id,
                'project_id': instance.project_id, 'state': instance.state,
                'action': ('none: already %s' % instance.state
                           if left_alone else 'set %s' % state)})
            if not left_alone:
                to_set.append(instance)
        for port in ports:
            run.affected.append({
                'type': 'port', 'id': port.id,
                'project_id': port.project_id, 'device_id': port.device_id,
                'data_plane_status': port.data_plane_status,
                'action': 'set data-plane DOWN'})
        # Everything pending is counted before the first piece is submitted,
        # so that the fault cannot complete early.
        run.add_pending(1 + len(to_set) + len(ports)
                        + (1 if early and to_set else 0))
        context = base.ActionContext(fault_id=fault_id, announced=early)
        host_controller = self.router[base.HOST]

        def host_task() -> None:
            outcome = self._act(
                'set_host_down', 'host:%s' % host, host_controller,
                lambda: host_controller.set_host_down(context, target_host,
                                                      True))
            if outcome.ok:
                self._announce(lambda: self.announcer.host_state(
                    host, True, fault_id))
            run.finished(outcome, base.HOST)

        self._pool.submit(host_task)
        if early and to_set:
            self._announcers.submit(self._announce_instances, run, to_set,
                                    state)
        instance_controller = self.router[base.INSTANCE]
        controller_announces = (not early
                                and instance_controller.name == 'local')
        for instance in to_set:
            self._pool.submit(self._instance_task, run, context,
                              instance_controller, instance, state,
                              controller_announces)
        port_controller = self.router[base.PORT]
        for port in ports:
            self._pool.submit(self._port_task, run, context,
                              port_controller, port)
        return run

    def _announce(self, emit: Callable[[], None]) -> bool:
        try:
            emit()
            return True
        except Exception:
            LOG.exception('A notification could not be emitted')
            return False

    def _announce_instances(self, run: _FaultRun,
                            instances: list[base.Instance],
                            state: str) -> None:
        try:
            for instance in instances:
                self._announce(lambda: self.announcer.instance_update(
                    instance, state, run.fault_id))
            run.announced(time.time())
        finally:
            run.finished(None, None)

    def _instance_task(self, run: _FaultRun, context: base.ActionContext,
                       controller: base.Controller,
                       instance: base.Instance, state: str,
                       controller_announces: bool) -> None:
        outcome = self._act(
            'set_instance_state', 'instance:%s' % instance.id, controller,
            lambda: controller.set_instance_state(context, instance, state))
        if outcome.ok and controller_announces:
            run.announced(outcome.ended, by_controller=True)
        run.finished(outcome, base.INSTANCE)

    def _port_task(self, run: _FaultRun, context: base.ActionContext,
                   controller: base.Controller, port: base.Port) -> None:
        outcome = self._act(
            'set_port_dp_down', 'port:%s' % port.id, controller,
            lambda: controller.set_port_dp_down(context, port, True))
        if outcome.ok and port.data_plane_status != base.DP_DOWN:
            self._announce(lambda: self.announcer.port_dp_update(
                port, base.DP_DOWN, run.fault_id))
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
        outcome = self._act(
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
