"""Benchmark of the inspector: a host fault to its alarms, and host lookup.

Two figures, each against the targets of the inspector's issue:

* **chain**: a monitor reports a host down (``POST /v1/events``, as
  ``doctor-monitor`` does) and the clock runs until the last alarm of the
  host's instances reaches the tenant's consumer. Hosts carry 1, 10, 25,
  50, 100 or 1,000 instances, each with a port and one notification alarm
  (``compute.instance.update``, ``traits.state == error``, on the
  instance) whose action is doctor's sample consumer, in a process of its
  own. Each repetition fails another host of the same size, prepared
  beforehand, so nothing is reset between faults; every alarm must arrive
  exactly once. Beside the delay to the last alarm: the fault's own
  checkpoints (``GET /v1/faults/{id}``: raw failure received, affected
  found, host marked down, every instance set, notified) and the delay to
  the first alarm, which show where the time goes.
  The services are doctor-all's (notifier, evaluator, synchronizer with the
  ``static`` datasource, inspector with the ``local`` controller, API): on
  the embedded default (SQLite, ``inproc:/``) all in one process, as
  ``doctor-all`` runs them; on RabbitMQ with PostgreSQL one process per
  service (``--rabbit-layout split``: API, inspector, synchronizer,
  evaluator with the notifier) or all in one (``one``).
* **lookup**: ``HostCache.lookup`` of a host of 50 instances and their
  ports in a cloud of 1,000, 10,000 or 100,000 instances (50 a host, a
  port each, with the attributes Nova and Neutron report), each size in a
  fresh process: p50/p99 of many lookups of random hosts, the time to
  build the cache from the store's entities (read beforehand: reading the
  database is not counted), the RSS that build adds, and, in a second fresh
  process, what the cache keeps allocated (tracemalloc).

OPNFV Doctor's published figures for the same numbers of instances (its
fastest configuration) are printed beside doctor's.

Run from the repository root:

    .venv/bin/python tools/bench/inspector.py --phase all --backend all

``--cloud openstack`` (first) runs the Doctor scenario against a real
Nova instead: see ``openstack_scenario.py``.
"""

import argparse
import collections
import datetime
import gc
import json
import math
import multiprocessing
import os
import queue
import random
import statistics
import sys
import threading
import time
import traceback
import tracemalloc
import typing
import uuid

# Imported first: doctor selects oslo.service's threading backend, which
# oslo.messaging would otherwise load as eventlet's.
import doctor  # noqa: F401

# isort: split

import alarms
import backends
from oslo_config import cfg
import psutil
import requests
import synchronizer as sync_bench

from doctor.api import service as api_service
from doctor.cmd import all as all_cmd
from doctor.common import rpc
from doctor.common import service as doctor_service
from doctor.evaluator import service as evaluator_service
from doctor.inspector import cache as cache_mod
from doctor.inspector import service as inspector_service
from doctor.notifier import service as notifier_service
from doctor.profiler import checkpoints as profiler_points
from doctor.profiler import recorder as profiler_recorder
from doctor.profiler import report as profiler_report
from doctor.profiler import timeline as profiler_timeline
from doctor.synchronizer import service as synchronizer_service

MiB = 2 ** 20

PG_DATABASE = 'doctor_bench_inspector'
PG_URL = backends.postgresql_url(PG_DATABASE)
RABBIT_VHOST = 'doctor-bench-inspector'
RABBIT_URL = backends.rabbit_url(RABBIT_VHOST)

# The monitor's headers: POST /v1/events is for admins.
ADMIN = {'X-Project-Id': alarms.PROJECT, 'X-User-Id': 'bench-monitor',
         'X-Roles': 'admin'}

# Seconds from a host reported down to its consumer receiving the alarm of
# every instance, as OPNFV Doctor published them for its fastest
# configuration, by number of instances on the host.
OPNFV_DOCTOR_S = {1: 0.122, 10: 0.201, 25: 0.32, 50: 0.584}

# The targets: p99 of fault to last alarm, in ms, by backend and
# number of instances; lookup p99 and its growth over the cloud's size.
CHAIN_TARGETS_MS = {('embedded', 50): 50.0, ('rabbit', 50): 100.0,
                    ('embedded', 1000): 500.0, ('rabbit', 1000): 500.0}
LOOKUP_TARGET_MS = 1.0
LOOKUP_RATIO_TARGET = 1.5

LOOKUP_HOST_INSTANCES = 50
LOOKUP_WARMUP = 200
WARMUP_INSTANCES = 10
T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)

BACKEND_LABELS = {
    'embedded': 'embedded default: SQLite, inproc:/, local controller',
    'rabbit': 'RabbitMQ + PostgreSQL, local controller',
}
LAYOUTS: dict[str, list[tuple[str, ...]]] = {
    'one': [('notifier', 'evaluator', 'synchronizer', 'inspector', 'api')],
    'split': [('api',), ('inspector',), ('synchronizer',),
              ('notifier', 'evaluator')],
}
_KINDS = ((api_service.APIService, 'api'),
          (inspector_service.InspectorService, 'inspector'),
          (synchronizer_service.SynchronizerService, 'synchronizer'),
          (evaluator_service.EvaluatorService, 'evaluator'),
          (notifier_service.NotifierService, 'notifier'))


def stats(values: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank), min, max and mean of ``values``."""
    if not values:
        nan = float('nan')
        return {'p50': nan, 'p99': nan, 'min': nan, 'max': nan, 'mean': nan}
    return {'p50': alarms.percentile(values, 0.50),
            'p99': alarms.percentile(values, 0.99),
            'min': min(values), 'max': max(values),
            'mean': statistics.fmean(values)}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).isoformat()


def _wall(timestamp: str) -> float:
    """An ISO 8601 timestamp as seconds since the epoch (naive: UTC)."""
    parsed = datetime.datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


# -- host lookup, in a fresh process per size

def _view(entity, datasource: str) -> dict:
    """``entity`` as the entity store's ``get_entities`` returns it."""
    return {'key': entity.key, 'type': entity.type, 'id': entity.id,
            'name': entity.name, 'state': entity.state,
            'project_id': entity.project_id, 'datasource': datasource,
            'parents': list(entity.parents),
            'attributes': entity.attributes, 'updated_at': T0}


def cloud_views(instances: int, seed: int = 1) -> list[dict]:
    """A cloud of ``instances`` instances, 50 a host, each with a port.

    In the order the cache reads the store in: by key, so hosts, then
    instances, then ports, each kind in the random order of their ids.
    """
    rng = random.Random(seed)
    views = []
    for host_number in range(math.ceil(instances / LOOKUP_HOST_INSTANCES)):
        host = sync_bench.host_entity(host_number)
        views.append(_view(host, 'nova'))
        for slot in range(LOOKUP_HOST_INSTANCES):
            instance = sync_bench.instance_entity(
                rng, host.key, host_number * LOOKUP_HOST_INSTANCES + slot)
            views.append(_view(instance, 'nova'))
            views.append(_view(sync_bench.port_entity(rng, host.key,
                                                      instance), 'neutron'))
    views.sort(key=lambda view: view['key'])
    return views


def _cache_bytes() -> int:
    """The size of this machine's last-level CPU cache (32 MiB if unknown).
    """
    found = (0, 32 * MiB)
    root = '/sys/devices/system/cpu/cpu0/cache'
    try:
        names = os.listdir(root)
    except OSError:
        return found[1]
    for name in names:
        try:
            with open(os.path.join(root, name, 'level')) as level_file:
                level = int(level_file.read())
            with open(os.path.join(root, name, 'size')) as size_file:
                size = size_file.read().strip()
        except (OSError, ValueError):
            continue
        units = {'K': 2 ** 10, 'M': MiB, 'G': 2 ** 30}
        if size[-1:] in units and size[:-1].isdigit():
            found = max(found, (level, int(size[:-1]) * units[size[-1]]))
    return found[1]


class CacheFlusher:
    """Evicts the CPU caches: copies twice their size from one buffer to
    another, then yields the CPU, so that the next measurement starts as
    a lookup after other work does, and rarely at the end of a time slice.
    """

    def __init__(self) -> None:
        size = 2 * _cache_bytes()
        self.size = size
        self._source = bytearray(size)
        self._target = bytearray(size)

    def __call__(self) -> None:
        self._target[:] = self._source
        os.sched_yield()


def _time_lookups(cache: cache_mod.HostCache, hosts: list[str],
                  before: typing.Callable[[], None] | None = None
                  ) -> tuple[list[float], int]:
    """Microseconds each lookup of ``hosts`` took; how many were wrong."""
    timings: list[float] = []
    wrong = 0
    for host in hosts:
        if before is not None:
            before()
        started_ns = time.perf_counter_ns()
        found = cache.lookup(host)
        elapsed_ns = time.perf_counter_ns() - started_ns
        timings.append(elapsed_ns / 1e3)
        if (found is None or len(found.instances) != LOOKUP_HOST_INSTANCES
                or len(found.ports) != LOOKUP_HOST_INSTANCES):
            wrong += 1
    return timings, wrong


def _lookup_main(instances: int, lookups: int, cold_lookups: int,
                 results) -> None:
    gc.collect()
    before = sync_bench.rss_bytes()
    entities = [cloud_views(instances)]
    hosts = [view['id'] for view in entities[0] if view['type'] == 'host']
    cache = cache_mod.HostCache()
    started = time.perf_counter()
    # Handed over, so that the entities are freed once the cache is built,
    # as when it reads them from the store.
    cache.reload(entities.pop)
    build_s = time.perf_counter() - started
    gc.collect()
    added = sync_bench.rss_bytes() - before
    rng = random.Random(5)
    _time_lookups(cache, [rng.choice(hosts) for _ in range(LOOKUP_WARMUP)])
    in_a_row, wrong = _time_lookups(
        cache, [rng.choice(hosts) for _ in range(lookups)])
    flusher = CacheFlusher()
    cold, wrong_cold = _time_lookups(
        cache, [rng.choice(hosts) for _ in range(cold_lookups)], flusher)
    results.put({'instances': instances, 'counts': cache.counts(),
                 'lookups': lookups, 'cold_lookups': cold_lookups,
                 'flush_mb': flusher.size / MiB,
                 'wrong_lookups': wrong + wrong_cold,
                 'lookup_us': stats(in_a_row),
                 'cold_lookup_us': stats(cold), 'build_s': build_s,
                 'rss_added_mb': added / MiB})


def _cache_memory_main(instances: int, results) -> None:
    # Traced from before the entities are made, so that what the cache
    # shares with them (ids, nested attributes) counts, and what it does
    # not keep is freed by the end.
    tracemalloc.start()
    cache = cache_mod.HostCache()
    cache.reload(lambda: cloud_views(instances))
    gc.collect()
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results.put({'cache_traced_mb': current / MiB,
                 'cached': cache.counts()})


def run_lookup(instances: int, lookups: int, cold_lookups: int) -> dict:
    """Lookup time, build time and memory of one cloud size."""
    figures = sync_bench._in_fresh_process(_lookup_main, instances, lookups,
                                           cold_lookups)
    figures.update(sync_bench._in_fresh_process(_cache_memory_main,
                                                instances))
    return figures


# -- the cloud the faults fail

class Fleet:
    """The hosts the faults fail, each instance with a port and an alarm.

    ``repeats`` maps a number of instances to the hosts of that size; a
    host of ``WARMUP_INSTANCES`` instances is failed first, unmeasured.
    """

    def __init__(self, repeats: dict[int, int], seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self.hosts: dict[str, list[tuple[str, str]]] = {}
        self.warmup = self._add('warmup-h0', WARMUP_INSTANCES)
        self.by_count = {
            count: [self._add('n%d-h%d' % (count, number), count)
                    for number in range(hosts)]
            for count, hosts in repeats.items()}

    def _add(self, name: str, instances: int) -> str:
        self.hosts[name] = [(_uuid(self._rng), _uuid(self._rng))
                            for _ in range(instances)]
        return name

    @property
    def instances(self) -> list[str]:
        return [instance for members in self.hosts.values()
                for instance, _port in members]

    def write_inventory(self, path: str) -> None:
        """The static datasource's inventory of every host."""
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write('hosts:\n')
            for host, members in self.hosts.items():
                stream.write('  - name: %s\n    instances:\n' % host)
                for number, (instance, port) in enumerate(members):
                    stream.write(
                        '      - id: %s\n'
                        '        name: vm-%s-%d\n'
                        '        project_id: %s\n'
                        '        ports:\n'
                        '          - id: %s\n'
                        % (instance, host, number, alarms.PROJECT, port))


# -- doctor's services, in child processes

def service_conf(overrides: list[tuple[str, typing.Any, str | None]],
                 log_file: str) -> cfg.ConfigOpts:
    """A doctor config logging to ``log_file``, with ``overrides``."""
    conf = cfg.ConfigOpts()
    doctor_service.prepare_service(['--log-file', log_file], conf=conf,
                                   default_config_files=[])
    for name, value, group in overrides:
        conf.set_override(name, value, group=group)
    return conf


def _kind(member: typing.Any) -> str:
    for service_class, kind in _KINDS:
        if isinstance(member, service_class):
            return kind
    return type(member).__name__


def _wait_for_cache(service: inspector_service.InspectorService,
                    expected: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = service.cache.counts()
        if counts['instances'] >= expected and counts['ports'] >= expected:
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError('the inspector cache holds %s, not the %d '
                               'instances and ports of the inventory'
                               % (counts, expected))
        time.sleep(0.1)


def _services_main(kinds: tuple[str, ...], overrides, log_file: str,
                   expected: int, control, answers) -> None:
    """doctor-all's services of ``kinds``, until told to stop."""
    try:
        conf = service_conf(overrides, log_file)
        conf.register_opts(all_cmd.CLI_OPTS)
        members = [member for member in all_cmd.build(conf).services
                   if _kind(member) in kinds]
        group = doctor_service.ServiceGroup(members)
        started = time.perf_counter()
        group.start()
        info: dict[str, typing.Any] = {
            'services': [_kind(member) for member in members],
            'pid': os.getpid(),
            'start_s': time.perf_counter() - started}
        for member in members:
            if isinstance(member, inspector_service.InspectorService):
                info['cache'] = _wait_for_cache(member, expected, 600)
                info['cache_ready_s'] = time.perf_counter() - started
            elif isinstance(member, api_service.APIService):
                info['api_port'] = member.port
    except Exception:
        answers.put(('error', traceback.format_exc()))
        return
    answers.put(('ready', info))
    while True:
        command = control.get()
        if command == 'stop':
            break
        if command == 'recorder_cpu':
            answers.put(('recorder_cpu', profiler_recorder.cpu_s()))
            continue
        # ('record', on): [profiler] record changed, as a reload would.
        conf.set_override('record', command[1], group='profiler')
        answers.put(('record', command[1]))
    group.stop()
    rpc.cleanup()
    answers.put(('stopped', None))


class ServicesProcess:
    """A child process running some of doctor-all's services."""

    def __init__(self, kinds: tuple[str, ...], overrides, log_file: str,
                 expected: int) -> None:
        context = multiprocessing.get_context('spawn')
        self.kinds = kinds
        self.log_file = log_file
        self._control = context.Queue()
        self._answers = context.Queue()
        self._process = context.Process(
            target=_services_main,
            args=(kinds, overrides, log_file, expected, self._control,
                  self._answers))
        self._process.start()
        self._usage = psutil.Process(self._process.pid)

    def cpu_s(self) -> float:
        """CPU seconds the process has used so far."""
        times = self._usage.cpu_times()
        return times.user + times.system

    def _answer(self, timeout: float) -> tuple[str, typing.Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._answers.get(timeout=1)
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError(
                        'the process of %s died (exit code %s); see %s'
                        % ('+'.join(self.kinds), self._process.exitcode,
                           self.log_file))
                if time.monotonic() > deadline:
                    raise RuntimeError('%s did not answer in %.0f s; see %s'
                                       % ('+'.join(self.kinds), timeout,
                                          self.log_file))

    def ready(self, timeout: float = 900) -> dict:
        kind, info = self._answer(timeout)
        if kind != 'ready':
            raise RuntimeError('%s did not start:\n%s'
                               % ('+'.join(self.kinds), info))
        return info

    def set_record(self, on: bool) -> None:
        """Turn the services' ``[profiler] record`` on or off."""
        self._control.put(('record', on))
        kind, value = self._answer(30)
        if kind != 'record' or value != on:
            raise RuntimeError('%s answered %s to a change of [profiler] '
                               'record' % ('+'.join(self.kinds), kind))

    def recorder_cpu_s(self) -> float:
        """CPU seconds the profiler's recorders have spent writing."""
        self._control.put('recorder_cpu')
        kind, value = self._answer(30)
        if kind != 'recorder_cpu':
            raise RuntimeError('%s answered %s to recorder_cpu'
                               % ('+'.join(self.kinds), kind))
        return value

    def stop(self) -> None:
        if self._process.is_alive():
            self._control.put('stop')
            try:
                self._answer(120)
            except RuntimeError:
                pass
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)


# -- the chain

class ChainBench:
    """One backend's faults, from the monitor's POST to the last alarm."""

    def __init__(self, args, backend: str,
                 record: bool | str = True) -> None:
        self.args = args
        self.backend = backend
        # Whether the evaluator records its profiler checkpoints: True,
        # False, or 'both': faults with and without, in the order on,
        # off, off, on, ... so that a drift of the machine weighs on both
        # alike.
        self.record_mode = record
        self.record = record is not False
        self.state_path = os.path.join(args.workdir, 'inspector-bench',
                                       backend)
        self.layout = 'one' if backend == 'embedded' else args.rabbit_layout
        repeats = {count: (args.repeat if count <= 100
                           else args.repeat_large)
                   for count in args.instances}
        self.fleet = Fleet(repeats)
        self.received: collections.Counter = collections.Counter()
        self.records = 0
        self.session = requests.Session()
        self.api = ''
        self.alarm_of: dict[str, str] = {}
        self.processes: list[ServicesProcess] = []
        self.results: dict[str, typing.Any] = {
            'backend': backend, 'label': BACKEND_LABELS[backend],
            'profiler_record': record,
            'layout': ['+'.join(kinds) for kinds in LAYOUTS[self.layout]],
            'hosts': len(self.fleet.hosts),
            'instances': len(self.fleet.instances)}

    def run(self) -> dict:
        self.receiver = backends.StreamingReceiver()
        processes: list[ServicesProcess] = []
        try:
            overrides = self.prepare()
            processes = self.processes = self.start(overrides)
            self.fault(self.fleet.warmup, warmup=True)
            self.results['counts'] = []
            off: list[dict] = []
            for count in self.args.instances:
                faults = []
                for position, host in enumerate(self.fleet.by_count[count]):
                    if self.record_mode == 'both':
                        self.set_record(position % 4 in (0, 3))
                    faults.append(self.fault(host))
                if self.record_mode == 'both':
                    off.append(summarise(count, [
                        fault for fault in faults if not fault['record']]))
                    faults = [fault for fault in faults if fault['record']]
                summary = summarise(count, faults)
                self.results['counts'].append(summary)
                print(report_count(self.backend, summary), flush=True)
            self.results['delivery'] = self.tally()
            if self.record_mode == 'both':
                self.results['record_off_counts'] = off
        finally:
            stoppers = [threading.Thread(target=process.stop)
                        for process in processes]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join(150)
            self.receiver.stop()
        return self.results

    def prepare(self) -> list[tuple[str, typing.Any, str | None]]:
        """Inventory, database and alarms; the services' configuration."""
        started = time.perf_counter()
        os.makedirs(self.state_path, exist_ok=True)
        inventory = os.path.join(self.state_path, 'inventory.yaml')
        self.fleet.write_inventory(inventory)
        overrides: list[tuple[str, typing.Any, str | None]] = [
            ('state_path', self.state_path, None),
            ('port', 0, 'api'), ('auth_strategy', 'noauth', 'api'),
            ('datasources', ['static'], 'synchronizer'),
            ('inventory', inventory, 'static'),
            ('controllers', ['local'], 'inspector'),
            ('record', self.record, 'profiler'),
            # The bench's receiver listens on loopback, which [notifier]
            # denied_networks refuses by default.
            ('allowed_networks', ['127.0.0.1/32'], 'notifier'),
        ]
        if self.backend == 'embedded':
            database = os.path.join(self.state_path, 'doctor.sqlite')
            if os.path.exists(database):
                os.remove(database)
        else:
            backends.reset_postgresql(PG_DATABASE)
            backends.reset_rabbit_vhost(RABBIT_VHOST)
            overrides += [('connection', PG_URL, 'database'),
                          ('transport_url', RABBIT_URL, None)]
        conf = service_conf(overrides,
                            os.path.join(self.state_path, 'bench.log'))
        # Logging set up sends uncaught exceptions to the log file only:
        # the benchmark's own belong on the terminal.
        sys.excepthook = sys.__excepthook__
        rows = alarms.alarm_rows(self.fleet.instances, 1, self.receiver.url)
        alarms.prepare_database(conf, rows)
        self.alarm_of = {row['resource_id']: row['alarm_id']
                         for row in rows}
        self.results['alarms'] = len(rows)
        self.results['prepare_s'] = time.perf_counter() - started
        return overrides

    def start(self, overrides) -> list[ServicesProcess]:
        """Start the services; return once the inspector knows the cloud.
        """
        started = time.perf_counter()
        expected = len(self.fleet.instances)
        processes = [
            ServicesProcess(kinds, overrides, os.path.join(
                self.state_path, '%s.log' % '-'.join(kinds)), expected)
            for kinds in LAYOUTS[self.layout]]
        infos = []
        try:
            for process in processes:
                infos.append(process.ready())
        except BaseException:
            for process in processes:
                process.stop()
            raise
        self.results['services'] = infos
        self.results['services_ready_s'] = time.perf_counter() - started
        port = next(info['api_port'] for info in infos
                    if 'api_port' in info)
        self.api = 'http://127.0.0.1:%d/v1' % port
        return processes

    def set_record(self, on: bool) -> None:
        if on != self.record:
            for process in self.processes:
                process.set_record(on)
            self.record = on

    def _note(self, record: dict) -> str:
        alarm_id = record['alarm'].get('alarm_id')
        self.received[alarm_id] += 1
        self.records += 1
        return alarm_id

    def fault(self, host: str, warmup: bool = False) -> dict:
        """Fail ``host``; figures of its chain, in ms from the event."""
        members = self.fleet.hosts[host]
        expected = {self.alarm_of[instance] for instance, _port in members}
        sent = time.time()
        event = {'id': str(uuid.uuid4()), 'time': _iso(sent),
                 'type': 'compute.host.down',
                 'details': {'hostname': host, 'status': 'down',
                             'monitor': 'doctor-bench',
                             'monitor_event_id': 'bench-%s' % host}}
        cpu = self.cpu_s()
        recorder_cpu = self.recorder_cpu_s()
        fault_id = self.report(event)
        answered = time.time()
        arrivals: dict[str, float] = {}
        mismatched = 0
        deadline = time.monotonic() + 30 + 0.05 * len(members)
        while len(arrivals) < len(expected):
            record = self.receiver.get(deadline - time.monotonic())
            if record is None:
                break
            alarm_id = self._note(record)
            if alarm_id in expected and alarm_id not in arrivals:
                arrivals[alarm_id] = record['received_at']
                body = record['alarm']
                if (body.get('fault_id') != fault_id
                        or body.get('current') != 'alarm'):
                    mismatched += 1
        # The services' CPU is read once they are quiet, before the bench
        # asks for the fault record: the same window whether or not they
        # record checkpoints, and the bench's own polling left out of it.
        # The settle time is longer than [profiler] flush_interval, so a
        # recorder's write is inside the window; a record not yet complete
        # when read says it was not.
        time.sleep(self.args.settle + 0.0005 * len(members))
        cpu = self.cpu_s() - cpu
        recorder_cpu = self.recorder_cpu_s() - recorder_cpu
        fault, polls = self.fault_record(fault_id, len(expected))
        if warmup:
            return {}
        checkpoints = {
            str(point['number']): (_wall(point['timestamp']) - sent) * 1e3
            for point in fault.get('checkpoints', ())
            if point.get('number') is not None and point['number'] < 6}
        actions = fault.get('actions') or []
        # The bench's receiver does nothing with an alarm: it is handled
        # when received, and both checkpoints are its arrival.
        fault = dict(fault, checkpoints=list(fault.get('checkpoints') or ())
                     + [{'name': name, 'timestamp': _iso(arrived),
                         'alarm_id': alarm_id}
                        for alarm_id, arrived in arrivals.items()
                        for name in profiler_points.CONSUMER_NAMES])
        profile = profiler_timeline.build(fault)
        if self.record and not warmup:
            # As a consumer would, once the fault is measured: so that the
            # database holds every checkpoint for doctor-profiler.
            self.session.post(
                '%s/faults/%s/checkpoints' % (self.api, fault_id),
                headers=ADMIN, timeout=30, json={'checkpoints': [
                    entry for entry in fault['checkpoints']
                    if entry['name'] in profiler_points.CONSUMER_NAMES]})
        return {
            'host': host, 'instances': len(members), 'fault_id': fault_id,
            'post_ms': (answered - sent) * 1e3,
            'services_cpu_ms': cpu * 1e3,
            'record': self.record,
            'recorder_cpu_ms': recorder_cpu * 1e3,
            'record_late': self.record and polls > 1,
            'alarms': len(arrivals), 'expected': len(expected),
            'mismatched': mismatched,
            'first_alarm_ms': ((min(arrivals.values()) - sent) * 1e3
                               if arrivals else None),
            'last_alarm_ms': ((max(arrivals.values()) - sent) * 1e3
                              if len(arrivals) == len(expected) else None),
            'checkpoints_ms': checkpoints,
            'fault_complete': len(checkpoints) >= 6,
            'segments_ms': [segment.ms for segment in profile.segments],
            'profile_missing': profile.missing,
            'actions': len(actions),
            'failed_actions': sum(1 for action in actions
                                  if action.get('result') != 'ok'),
        }

    def cpu_s(self) -> float:
        """CPU seconds the services' processes have used so far."""
        return sum(process.cpu_s() for process in self.processes)

    def recorder_cpu_s(self) -> float:
        """CPU seconds their profiler recorders have spent writing."""
        return sum(process.recorder_cpu_s() for process in self.processes)

    def report(self, event: dict) -> str:
        """Post ``event`` as a monitor does; the id of its fault."""
        response = self.session.post(self.api + '/events', json=[event],
                                     headers=ADMIN, timeout=60)
        if response.status_code != 202:
            raise RuntimeError('POST /v1/events for %s answered %d: %s'
                               % (event['details']['hostname'],
                                  response.status_code, response.text))
        return response.json()['fault_ids'][0]

    def fault_record(self, fault_id: str, alarms: int,
                     timeout: float = 30) -> dict:
        """The fault as ``GET /v1/faults/{id}`` shows it, once complete:
        the inspector's checkpoints 0 to 5 and, when the evaluator records
        them, a fired alarm (8) of each of ``alarms``; and how many times
        it was asked for.
        """
        deadline = time.monotonic() + timeout
        fault: dict = {}
        polls = 0
        while time.monotonic() < deadline:
            polls += 1
            response = self.session.get(self.api + '/faults/' + fault_id,
                                        headers=ADMIN, timeout=30)
            if response.status_code == 200:
                fault = response.json()['fault']
                points = fault.get('checkpoints') or ()
                numbers = {point.get('number') for point in points}
                fired = sum(1 for point in points
                            if point.get('name') == 'fired_alarm')
                if numbers >= set(range(6)) and (
                        not self.record or fired >= alarms):
                    break
            time.sleep(0.01)
        return fault, polls

    def tally(self) -> dict:
        """Whether every alarm of a failed host came once, and no other."""
        for record in self.receiver.drain(2.0):
            self._note(record)
        wanted = {self.alarm_of[instance]
                  for host in [self.fleet.warmup] + [
                      host for hosts in self.fleet.by_count.values()
                      for host in hosts]
                  for instance, _port in self.fleet.hosts[host]}
        missing = sum(1 for alarm_id in wanted
                      if not self.received[alarm_id])
        duplicated = sum(1 for alarm_id in wanted
                         if self.received[alarm_id] > 1)
        unexpected = sum(count for alarm_id, count in self.received.items()
                         if alarm_id not in wanted)
        return {'expected': len(wanted), 'received': self.records,
                'missing': missing, 'duplicated': duplicated,
                'unexpected': unexpected,
                'exactly_once': not (missing or duplicated or unexpected)}


def summarise(count: int, faults: list[dict]) -> dict:
    """The figures of the faults of hosts of ``count`` instances."""
    done = [fault for fault in faults if fault['last_alarm_ms'] is not None]
    checkpoints = {}
    for number in '12345':
        values = [fault['checkpoints_ms'][number] for fault in faults
                  if number in fault['checkpoints_ms']]
        checkpoints[number] = stats(values)
    lookups = [fault['checkpoints_ms']['2'] - fault['checkpoints_ms']['1']
               for fault in faults
               if {'1', '2'} <= set(fault['checkpoints_ms'])]
    segments = []
    for position, (start, end) in enumerate(zip(
            profiler_points.POINTS, profiler_points.POINTS[1:])):
        values = [fault['segments_ms'][position] for fault in faults
                  if fault['segments_ms'][position] is not None]
        segments.append({
            'segment': '%d>%d' % (start.number, end.number),
            'component': profiler_timeline.SEGMENT_COMPONENTS[end.number],
            'faults': len(values),
            'p50': profiler_report.percentile(values, 50),
            'p95': profiler_report.percentile(values, 95),
            'p99': profiler_report.percentile(values, 99)})
    return {
        'instances': count, 'faults': len(faults),
        'all_alarms_received': len(done),
        'mismatched_alarms': sum(fault['mismatched'] for fault in faults),
        'faults_recorded_complete': sum(1 for fault in faults
                                        if fault['fault_complete']),
        'failed_actions': sum(fault['failed_actions'] for fault in faults),
        'last_alarm_ms': stats([fault['last_alarm_ms'] for fault in done]),
        'first_alarm_ms': stats([fault['first_alarm_ms'] for fault in faults
                                 if fault['first_alarm_ms'] is not None]),
        'post_ms': stats([fault['post_ms'] for fault in faults]),
        'services_cpu_ms': stats([fault['services_cpu_ms']
                                  for fault in faults]),
        'recorder_cpu_ms': stats([fault.get('recorder_cpu_ms', 0.0)
                                  for fault in faults]),
        # Faults whose checkpoints were not all stored when the services'
        # CPU was read: their recording cost is partly outside the window.
        'records_late': sum(1 for fault in faults
                            if fault.get('record_late')),
        'checkpoints_ms': checkpoints,
        'lookup_ms': stats(lookups),
        'profiler_segments_ms': segments,
        'opnfv_doctor_ms': (OPNFV_DOCTOR_S[count] * 1e3
                            if count in OPNFV_DOCTOR_S else None),
        'faults_detail': faults,
    }


# -- report

def _ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return '-'
    return '%.1f' % value


def verdict(value: float, target: float, complete: bool = True) -> str:
    if not complete or math.isnan(value):
        return 'MISSED'
    return 'MET' if value <= target else 'MISSED'


def report_count(backend: str, summary: dict) -> str:
    """One line as the run goes: a size done."""
    return ('%s, %d instances: %d faults, fault -> last alarm p50 %s ms, '
            'p99 %s ms' % (backend, summary['instances'], summary['faults'],
                           _ms(summary['last_alarm_ms']['p50']),
                           _ms(summary['last_alarm_ms']['p99'])))


def report_chain(result: dict) -> str:
    lines = ['', '== fault -> last alarm, %s; %s ==' % (
        result['label'], 'all services in one process'
        if len(result['layout']) == 1 else 'one process each: '
        + ', '.join(result['layout']))]
    lines.append('%9s %6s %8s %8s %8s %11s %14s %s' % (
        'instances', 'faults', 'p50 ms', 'p99 ms', 'max ms',
        'OPNFV ms', 'target', 'result'))
    for summary in result['counts']:
        last = summary['last_alarm_ms']
        target = CHAIN_TARGETS_MS.get((result['backend'],
                                       summary['instances']))
        complete = summary['all_alarms_received'] == summary['faults']
        lines.append('%9d %6d %8s %8s %8s %11s %14s %s' % (
            summary['instances'], summary['faults'], _ms(last['p50']),
            _ms(last['p99']), _ms(last['max']),
            _ms(summary['opnfv_doctor_ms']),
            'p99 <= %.0f ms' % target if target else '',
            verdict(last['p99'], target, complete) if target else ''))
    lines.append('profile, p50 ms after the event (0): (1) raw failure '
                 'received, 1->2 lookup, (3) host marked down, (4) all '
                 'instances set, (5) notified; first and last alarm at the '
                 'consumer; POST answered; CPU ms the services used')
    lines.append('%9s %7s %7s %7s %7s %7s %7s %7s %7s %7s' % (
        'instances', '(1)', '1->2', '(3)', '(4)', '(5)', 'first', 'last',
        'POST', 'CPU'))
    for summary in result['counts']:
        points = summary['checkpoints_ms']
        lines.append('%9d %7s %7s %7s %7s %7s %7s %7s %7s %7s' % (
            summary['instances'], _ms(points['1']['p50']),
            _ms(summary['lookup_ms']['p50']), _ms(points['3']['p50']),
            _ms(points['4']['p50']), _ms(points['5']['p50']),
            _ms(summary['first_alarm_ms']['p50']),
            _ms(summary['last_alarm_ms']['p50']),
            _ms(summary['post_ms']['p50']),
            _ms(summary['services_cpu_ms']['p50'])))
    lines.append('profiler segments, p50/p99 ms (the bench\'s receiver '
                 'handles an alarm as it arrives: 9>10 is 0)%s' % (
                     '' if result['profiler_record'] else
                     '; [profiler] record off: 6 to 8 not recorded'))
    names = [segment['segment'] + ' ' + segment['component'][:4]
             for segment in result['counts'][0]['profiler_segments_ms']] \
        if result['counts'] else []
    lines.append('%9s ' % 'instances' + ' '.join('%13s' % name
                                                 for name in names))
    for summary in result['counts']:
        lines.append('%9d ' % summary['instances'] + ' '.join(
            '%13s' % ('%s/%s' % (_ms(segment['p50']), _ms(segment['p99'])))
            for segment in summary['profiler_segments_ms']))
    delivery = result['delivery']
    problems = [
        '%d faults without every alarm' % (
            summary['faults'] - summary['all_alarms_received'])
        for summary in result['counts']
        if summary['all_alarms_received'] != summary['faults']]
    problems += ['%d %s' % (delivery[name], name)
                 for name in ('missing', 'duplicated', 'unexpected')
                 if delivery[name]]
    mismatched = sum(s['mismatched_alarms'] for s in result['counts'])
    if mismatched:
        problems.append('%d alarms of another fault or state' % mismatched)
    failed = sum(s['failed_actions'] for s in result['counts'])
    if failed:
        problems.append('%d failed actions' % failed)
    unrecorded = sum(s['faults'] - s['faults_recorded_complete']
                     for s in result['counts'])
    if unrecorded:
        problems.append('%d faults without their 6 checkpoints'
                        % unrecorded)
    lines.append('alarms: %d expected, %d received: %s' % (
        delivery['expected'], delivery['received'],
        'each exactly once' if delivery['exactly_once'] and not problems
        else 'NOT exactly once (%s)' % ', '.join(problems)))
    lines.append('%d hosts, %d instances and as many ports and alarms; '
                 'prepared in %.1f s, services ready in %.1f s' % (
                     result['hosts'], result['instances'],
                     result['prepare_s'], result['services_ready_s']))
    return '\n'.join(lines)


def recording_overhead(on: dict, off: dict) -> list[dict]:
    """Fault to last alarm with the profiler recording and without, by
    size.
    """
    rows = []
    for with_, without in zip(on['counts'], off['counts']):
        rows.append({
            'instances': with_['instances'],
            'on_p50': with_['last_alarm_ms']['p50'],
            'off_p50': without['last_alarm_ms']['p50'],
            'on_p99': with_['last_alarm_ms']['p99'],
            'off_p99': without['last_alarm_ms']['p99'],
            'on_cpu_p50': with_['services_cpu_ms']['p50'],
            'off_cpu_p50': without['services_cpu_ms']['p50'],
            # The CPU is read in 10 ms ticks: the mean says more.
            'on_cpu_mean': with_['services_cpu_ms']['mean'],
            'off_cpu_mean': without['services_cpu_ms']['mean'],
            'recorder_cpu_mean': with_['recorder_cpu_ms']['mean'],
            'faults': [with_['faults'], without['faults']],
            'records_late': with_.get('records_late', 0)})
    return rows


def report_overhead(backend: str, rows: list[dict]) -> str:
    lines = ['', '== what recording costs, %s: fault -> last alarm and the '
             'services\' CPU, [profiler] record on / off ==' % backend,
             '%9s %13s %17s %17s %21s %13s' % (
                 'instances', 'faults on/off', 'p50 ms on/off',
                 'p99 ms on/off', 'CPU ms mean on/off', 'recorder ms')]
    for row in rows:
        lines.append('%9d %13s %17s %17s %21s %13s' % (
            row['instances'], '%d/%d' % tuple(row['faults']),
            '%s/%s' % (_ms(row['on_p50']), _ms(row['off_p50'])),
            '%s/%s' % (_ms(row['on_p99']), _ms(row['off_p99'])),
            '%s/%s' % (_ms(row['on_cpu_mean']),
                       _ms(row['off_cpu_mean'])),
            _ms(row['recorder_cpu_mean'])))
    lines.append('recorder ms: CPU the recorders\' writes and log lines '
                 'took per fault (mean), inside the services\' CPU')
    late = sum(row.get('records_late', 0) for row in rows)
    if late:
        lines.append('%d faults\' checkpoints were not all stored when the '
                     'CPU was read: raise --settle' % late)
    return '\n'.join(lines)


def report_lookup(results: list[dict]) -> str:
    lines = ['', '== host lookup: HostCache.lookup of a host of %d '
             'instances and their ports, fresh process per size ==' %
             LOOKUP_HOST_INSTANCES,
             '%9s %6s %17s %17s %8s %8s %9s  %s' % (
                 '', '', 'in a row, us', 'caches cold, us', '', '', '',
                 'target'),
             '%9s %6s %8s %8s %8s %8s %8s %8s %9s  %s' % (
                 'instances', 'hosts', 'p50', 'p99', 'p50', 'p99',
                 'build s', 'RSS MB', 'cache MB', 'p99 <= 1 ms')]
    for result in results:
        warm = result['lookup_us']
        cold = result['cold_lookup_us']
        worst = max(warm['p99'], cold['p99']) / 1e3
        lines.append('%9d %6d %8.1f %8.1f %8.1f %8.1f %8.2f %8.0f %9.1f  %s'
                     % (result['instances'], result['counts']['hosts'],
                        warm['p50'], warm['p99'], cold['p50'], cold['p99'],
                        result['build_s'], result['rss_added_mb'],
                        result['cache_traced_mb'],
                        verdict(worst, LOOKUP_TARGET_MS,
                                not result['wrong_lookups'])))
    if results:
        lines.append(
            'in a row: %d lookups of random hosts back to back; caches '
            'cold: %d, each after copying %.0f MB (twice the CPU\'s last '
            'cache); build: HostCache.reload from the entities in memory; '
            'RSS MB: what the process holds more once the cache is built '
            'and the entities are freed; cache MB: what the cache keeps '
            'allocated (tracemalloc, another process)' % (
                results[0]['lookups'], results[0]['cold_lookups'],
                results[0]['flush_mb']))
    for kind, ratio in lookup_ratios(results).items():
        lines.append('p50 at %d / p50 at %d instances, %s: %.2f (p99: '
                     '%.2f); target <= %.1f: %s' % (
                         ratio['largest'], ratio['smallest'], kind,
                         ratio['p50'], ratio['p99'], LOOKUP_RATIO_TARGET,
                         verdict(ratio['p50'], LOOKUP_RATIO_TARGET)))
    return '\n'.join(lines)


def lookup_ratios(results: list[dict]) -> dict[str, dict]:
    """How much slower a lookup is in the largest cloud than the smallest,
    back to back and with the CPU caches cold.
    """
    if len(results) < 2:
        return {}
    smallest = min(results, key=lambda result: result['instances'])
    largest = max(results, key=lambda result: result['instances'])
    ratios = {}
    for kind, key in (('in a row', 'lookup_us'),
                      ('caches cold', 'cold_lookup_us')):
        ratios[kind] = {
            'smallest': smallest['instances'],
            'largest': largest['instances'],
            'p50': largest[key]['p50'] / smallest[key]['p50'],
            'p99': largest[key]['p99'] / smallest[key]['p99']}
    return ratios


def targets(output: dict) -> list[dict]:
    """Each target of the issue that this run measured, and its verdict."""
    rows = []
    for result in output.get('chain', {}).values():
        for summary in result['counts']:
            target = CHAIN_TARGETS_MS.get((result['backend'],
                                           summary['instances']))
            if target is None:
                continue
            value = summary['last_alarm_ms']['p99']
            complete = (summary['all_alarms_received'] == summary['faults']
                        and result['delivery']['exactly_once'])
            rows.append({
                'figure': 'fault -> last alarm p99, %d instances, %s%s'
                          % (summary['instances'], result['backend'],
                             '' if result.get('profiler_record', True)
                             else ' (profiler record off)'),
                'target': '<= %.0f ms' % target, 'result': _ms(value)
                + ' ms', 'verdict': verdict(value, target, complete)})
    lookups = output.get('lookup') or []
    for result in lookups:
        for kind, key in (('in a row', 'lookup_us'),
                          ('caches cold', 'cold_lookup_us')):
            value = result[key]['p99'] / 1e3
            rows.append({
                'figure': 'host lookup p99, %s, cloud of %d'
                          % (kind, result['instances']),
                'target': '<= %.0f ms' % LOOKUP_TARGET_MS,
                'result': '%.3f ms' % value,
                'verdict': verdict(value, LOOKUP_TARGET_MS,
                                   not result['wrong_lookups'])})
    for kind, ratio in lookup_ratios(lookups).items():
        rows.append({
            'figure': 'host lookup p50 ratio, %s, %d / %d'
                      % (kind, ratio['largest'], ratio['smallest']),
            'target': '<= %.1fx' % LOOKUP_RATIO_TARGET,
            'result': '%.2fx' % ratio['p50'],
            'verdict': verdict(ratio['p50'], LOOKUP_RATIO_TARGET)})
    return rows


def report_targets(rows: list[dict]) -> str:
    lines = ['', '== targets ==', '%-52s %-10s %-11s %s' % (
        'figure', 'target', 'result', '')]
    for row in rows:
        lines.append('%-52s %-10s %-11s %s' % (
            row['figure'], row['target'], row['result'], row['verdict']))
    if not rows:
        lines.append('(none measured: the chain targets are for 50 and '
                     '1,000 instances)')
    return '\n'.join(lines)


def _counts(text: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(',') if value]
    except ValueError:
        raise argparse.ArgumentTypeError(
            'expected whole numbers separated by commas, not %r' % text)
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            'expected positive whole numbers, not %r' % text)
    return values


def main() -> int:
    if sys.argv[1:3] == ['--cloud', 'openstack']:
        # The Doctor scenario against a real Nova: openstack_scenario.py.
        import openstack_scenario
        return openstack_scenario.main(sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--phase', choices=['lookup', 'chain', 'all'],
                        default='all')
    parser.add_argument('--backend', choices=['embedded', 'rabbit', 'all'],
                        default='all', help='backends of the chain phase')
    parser.add_argument('--instances', type=_counts,
                        default=[1, 10, 25, 50, 100, 1000],
                        help='instances on the failed host, comma '
                             'separated (chain phase)')
    parser.add_argument('--repeat', type=int, default=20,
                        help='faults of each size up to 100 instances')
    parser.add_argument('--repeat-large', type=int, default=5,
                        help='faults of each size over 100 instances')
    parser.add_argument('--settle', type=float, default=0.2,
                        help='seconds between the end of a fault and the '
                             'next one, plus 0.5 ms an instance')
    parser.add_argument('--rabbit-layout', choices=sorted(LAYOUTS),
                        default='split',
                        help='on RabbitMQ: one process per service '
                             '(split) or all in one (one)')
    parser.add_argument('--sizes', type=_counts,
                        default=[1000, 10_000, 100_000],
                        help='instances in the cloud, comma separated '
                             '(lookup phase)')
    parser.add_argument('--lookups', type=int, default=5000,
                        help='lookups timed back to back per cloud size')
    parser.add_argument('--cold-lookups', type=int, default=500,
                        help='lookups timed per cloud size with the CPU '
                             'caches evicted before each')
    parser.add_argument('--workdir', default=os.path.join(
        os.path.expanduser('~'), '.cache', 'doctor-bench'))
    parser.add_argument('--profiler-record', choices=['on', 'off', 'both'],
                        default='on',
                        help='whether the evaluator records its profiler '
                             'checkpoints; both: alternate faults with and '
                             'without (on, off, off, on, ...) in one run, '
                             'and compare (chain phase)')
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    if min(args.repeat, args.repeat_large, args.lookups,
           args.cold_lookups) < 1:
        parser.error('--repeat, --repeat-large, --lookups and '
                     '--cold-lookups must be at least 1')

    output: dict[str, typing.Any] = {
        'command': ' '.join(['.venv/bin/python', 'tools/bench/'
                             'inspector.py'] + sys.argv[1:]),
        'date': datetime.date.today().isoformat(),
        'machine': sync_bench.machine(),
        'load_average_at_start': os.getloadavg()}
    if args.phase in ('lookup', 'all'):
        output['lookup'] = [run_lookup(size, args.lookups,
                                       args.cold_lookups)
                            for size in args.sizes]
        print(report_lookup(output['lookup']), flush=True)
    if args.phase in ('chain', 'all'):
        output['chain'] = {}
        chosen = (['embedded', 'rabbit'] if args.backend == 'all'
                  else [args.backend])
        record = {'on': True, 'off': False,
                  'both': 'both'}[args.profiler_record]
        for backend in chosen:
            result = ChainBench(args, backend, record).run()
            output['chain'][backend] = result
            if record != 'both':
                print(report_chain(result), flush=True)
            else:
                result['profiler_record'] = True
                without = dict(result, profiler_record=False,
                               counts=result.pop('record_off_counts'))
                output['chain'][backend + '-record-off'] = without
                print(report_chain(result), flush=True)
                print(report_chain(without), flush=True)
                output.setdefault('profiler_overhead', {})[backend] = (
                    recording_overhead(output['chain'][backend],
                                       output['chain'][backend
                                                       + '-record-off']))
                print(report_overhead(
                    backend, output['profiler_overhead'][backend]),
                    flush=True)
    output['targets'] = targets(output)
    print(report_targets(output['targets']), flush=True)
    output['load_average_at_end'] = os.getloadavg()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(output, f, indent=2, sort_keys=True)
            f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
