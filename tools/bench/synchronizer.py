"""Benchmark of the synchronizer: snapshot diff and message-bus throughput.

Two figures, each against the targets of the synchronizer's issue:

* **diff**: for each size (10,000 and 100,000 entities by default) a
  snapshot shaped like a cloud's (hosts; instances with a host parent and
  the attributes of a Nova server; ports with host and instance parents)
  is compared once with an empty baseline, which then holds it; 1% of the
  entities are changed (mostly state and attribute updates, a few created
  and a few deleted) and the new snapshot is compared with that baseline,
  ``--repeat`` times. Each size runs in a fresh process, where the wall and
  CPU time of one comparison, the process's peak RSS and the RSS the
  comparison adds on top of the snapshot and the baseline are measured;
  a second fresh process measures what the comparison allocates with
  tracemalloc (which slows it down, so it is not timed there).
* **bus**: ``--notifications`` Nova ``compute.instance.update``
  notifications, each changing an instance's state, are published on the
  bus; a synchronizer service (the real ``SynchronizerService``, in a
  process of its own) turns them into entity changes, stores them and
  hands them to a consumer registered with ``Synchronizer.register``.
  Measured: changes stored and delivered a second from the first publish
  to the last change delivered. On RabbitMQ + PostgreSQL the publishers
  are separate processes, as Nova's would be, and the same notifications
  are also queued first and then drained by a synchronizer started
  afterwards (its capacity, whatever the publishers manage); on the
  embedded default (``inproc:/`` and SQLite) the bus exists only inside
  one process, so the publisher is a thread of the synchronizer's process.

The datasource is doctor's ``nova`` plugin when it is installed and follows
notifications, else a bench-local one reading the same notifications.

Run from the repository root:

    .venv/bin/python tools/bench/synchronizer.py --phase all --backend all
"""

import argparse
import collections
import copy
import datetime
import gc
import json
import multiprocessing
import os
import platform
import queue
import random
import resource
import statistics
import sys
import threading
import time
import tracemalloc
import typing
from unittest import mock
import uuid

# Imported first: doctor selects oslo.service's threading backend, which
# oslo.messaging would otherwise load as eventlet's.
import doctor  # noqa: F401

# isort: split

import backends
import oslo_messaging as messaging
import psutil

from doctor.common import rpc
from doctor.db import api as db_api
from doctor.synchronizer import baseline as baseline_mod
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import service as service_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.synchronizer.datasources import base as datasource_base
from doctor.tests import base as test_base

PG_DATABASE = 'doctor_bench_sync'
PG_URL = backends.postgresql_url(PG_DATABASE)
RABBIT_VHOST = 'doctor-bench-sync'
RABBIT_URL = backends.rabbit_url(RABBIT_VHOST)

INSTANCES_PER_HOST = 20
EVENT_TYPE = 'compute.instance.update'
NOVA_EXCHANGE = 'nova'
BENCH_DATASOURCE = 'bench-nova'
T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)

MiB = 2 ** 20


# -- a cloud's snapshot

def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def host_entity(number: int) -> entity_mod.Entity:
    """A compute host, with what Nova's hypervisor API says of it."""
    name = 'compute-%05d' % number
    return entity_mod.Entity(
        entity_mod.HOST, name, state='up', name=name,
        attributes={
            'hypervisor_type': 'QEMU', 'hypervisor_version': 8002000,
            'host_ip': '10.%d.%d.%d' % (number >> 16, (number >> 8) & 255,
                                        number & 255),
            'vcpus': 64, 'memory_mb': 262144, 'local_gb': 1800,
            'status': 'enabled', 'availability_zone': 'nova',
            'service_id': number + 1})


def instance_entity(rng: random.Random, host_key: str,
                    number: int) -> entity_mod.Entity:
    """An instance with the attributes of a Nova server."""
    instance_id = _uuid(rng)
    return entity_mod.Entity(
        entity_mod.INSTANCE, instance_id, state='active',
        name='vnf-%06d' % number, project_id=uuid.UUID(
            int=rng.getrandbits(128)).hex, parents=(host_key,),
        attributes={
            'flavor': {'original_name': 'm1.medium', 'vcpus': 2,
                       'ram': 4096, 'disk': 40, 'ephemeral': 0,
                       'extra_specs': {'hw:cpu_policy': 'dedicated'}},
            'image': _uuid(rng),
            'user_id': uuid.UUID(int=rng.getrandbits(128)).hex,
            'created': '2026-11-01T09:%02d:%02dZ' % (number % 60,
                                                     number % 59),
            'launched_at': '2026-11-01T09:%02d:%02d.000000' % (
                number % 60, (number + 7) % 60),
            'power_state': 1, 'task_state': None, 'vm_state': 'active',
            'availability_zone': 'nova', 'key_name': 'vnf-key',
            'metadata': {'vnf': 'vnf-%d' % (number % 97), 'tier': 'data'},
            'locked': False})


def port_entity(rng: random.Random, host_key: str,
                instance: entity_mod.Entity) -> entity_mod.Entity:
    """An instance's port, with what Neutron's port API says of it."""
    port_id = _uuid(rng)
    return entity_mod.Entity(
        entity_mod.PORT, port_id, state='ACTIVE',
        project_id=instance.project_id,
        parents=(host_key, instance.key),
        attributes={
            'network_id': _uuid(rng),
            'mac_address': 'fa:16:3e:%02x:%02x:%02x' % (
                rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            'fixed_ips': [{'subnet_id': _uuid(rng),
                           'ip_address': '192.168.%d.%d' % (
                               rng.randrange(256), rng.randrange(1, 255))}],
            'device_owner': 'compute:nova', 'admin_state_up': True,
            'binding:vnic_type': 'normal', 'binding:vif_type': 'ovs',
            'security_groups': [_uuid(rng)]})


def build_snapshot(count: int, seed: int = 1) -> list[entity_mod.Entity]:
    """``count`` entities: hosts, each with instances, each with a port."""
    rng = random.Random(seed)
    entities: list[entity_mod.Entity] = []
    host_number = 0
    while len(entities) < count:
        host = host_entity(host_number)
        entities.append(host)
        for slot in range(INSTANCES_PER_HOST):
            instance = instance_entity(
                rng, host.key, host_number * INSTANCES_PER_HOST + slot)
            entities.append(instance)
            entities.append(port_entity(rng, host.key, instance))
        host_number += 1
    return entities[:count]


def change_snapshot(entities: list[entity_mod.Entity], fraction: float,
                    seed: int = 2) -> dict[str, int]:
    """Change ``fraction`` of ``entities`` in place, as a cloud would.

    Four changes in five are updates (an instance that failed, a port whose
    link went down, a host marked down, an instance migrated), one in ten
    is a new instance and one in ten an entity that is gone.
    """
    rng = random.Random(seed)
    total = max(3, round(len(entities) * fraction))
    creates = max(1, total // 10)
    deletes = max(1, total // 10)
    updates = total - creates - deletes
    chosen = rng.sample(range(len(entities)), updates + deletes)
    hosts = [entity for entity in entities
             if entity.type == entity_mod.HOST]
    for index in chosen[:updates]:
        current = entities[index]
        changed = copy.deepcopy(current)
        if changed.type == entity_mod.INSTANCE:
            if rng.random() < 0.8:
                changed.state = 'error'
                changed.attributes['vm_state'] = 'error'
                changed.attributes['power_state'] = 4
            else:
                changed.parents = (rng.choice(hosts).key,)
                changed.attributes['task_state'] = None
        elif changed.type == entity_mod.PORT:
            changed.state = 'DOWN'
        else:
            changed.state = 'down'
            changed.attributes['status'] = 'disabled'
        entities[index] = changed
    gone = set(chosen[updates:])
    entities[:] = [entity for index, entity in enumerate(entities)
                   if index not in gone]
    for number in range(creates):
        host = rng.choice(hosts)
        entities.append(instance_entity(rng, host.key, 10_000_000 + number))
    return {'updates': updates, 'creates': creates, 'deletes': deletes}


# -- diff, in a fresh process per size

def rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def _peak_rss_bytes() -> int:
    """The process's peak RSS (VmHWM) since start or the last reset."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> bool:
    """Make VmHWM the current RSS (Linux); False where it cannot."""
    try:
        with open('/proc/self/clear_refs', 'w') as clear_refs:
            clear_refs.write('5')
    except OSError:
        return False
    return True


def _prepared_baseline(count: int, fraction: float
                       ) -> tuple[baseline_mod.Baseline, dict,
                                  list[entity_mod.Entity], dict[str, int]]:
    """A baseline loaded from a first diff, and the changed snapshot.

    Also returns the baseline's entries, to load again before each diff.
    """
    baseline = baseline_mod.Baseline(BENCH_DATASOURCE)
    first = build_snapshot(count)
    initial = baseline.diff(first, T0)
    assert len(initial) == count, len(initial)
    saved = {change.key: (change.digest, change.timestamp)
             for change in initial}
    del first, initial
    snapshot = build_snapshot(count)
    kinds = change_snapshot(snapshot, fraction)
    gc.collect()
    return baseline, saved, snapshot, kinds


def _diff_main(count: int, fraction: float, repeat: int, results) -> None:
    baseline, saved, snapshot, kinds = _prepared_baseline(count, fraction)
    expected = kinds['updates'] + kinds['creates'] + kinds['deletes']
    setup_peak = _peak_rss_bytes()
    walls: list[float] = []
    cpus: list[float] = []
    rss_before: list[int] = []
    peaks: list[int] = []
    reset = True
    for number in range(repeat):
        baseline.load(saved)
        gc.collect()
        rss_before.append(rss_bytes())
        reset = _reset_peak_rss() and reset
        when = T0 + datetime.timedelta(seconds=60 + number)
        cpu = time.process_time()
        started = time.perf_counter()
        changes = baseline.diff(snapshot, when)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        peaks.append(_peak_rss_bytes())
        actions = collections.Counter(change.action for change in changes)
        assert len(changes) == expected, (len(changes), expected)
        assert actions[entity_mod.DELETE] == kinds['deletes'], actions
        del changes
    results.put({
        'entities': count, 'changed': expected, 'kinds': kinds,
        'repeat': repeat,
        'wall_s': {'min': min(walls), 'median': statistics.median(walls),
                   'max': max(walls), 'all': walls},
        'cpu_s': {'min': min(cpus), 'median': statistics.median(cpus)},
        'setup_peak_rss_mb': setup_peak / MiB,
        'rss_before_diff_mb': max(rss_before) / MiB,
        'diff_peak_rss_mb': max(peaks) / MiB,
        'diff_peak_rss_increment_mb': (
            max(peak - before for peak, before in zip(peaks, rss_before))
            / MiB if reset else None),
    })


def _diff_alloc_main(count: int, fraction: float, results) -> None:
    baseline, _saved, snapshot, _kinds = _prepared_baseline(count, fraction)
    tracemalloc.start()
    changes = baseline.diff(snapshot, T0 + datetime.timedelta(seconds=60))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results.put({'diff_traced_peak_mb': peak / MiB,
                 'diff_traced_kept_mb': current / MiB,
                 'changes': len(changes)})


def _in_fresh_process(target, *args) -> dict:
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    process = context.Process(target=target, args=args + (results,))
    process.start()
    try:
        figures = results.get(timeout=1800)
    finally:
        process.join(60)
    return figures


def run_diff(count: int, fraction: float, repeat: int) -> dict:
    """Time and memory of one diff of ``count`` entities, fresh processes."""
    figures = _in_fresh_process(_diff_main, count, fraction, repeat)
    figures.update(_in_fresh_process(_diff_alloc_main, count, fraction))
    return figures


# -- the message-bus path

def nova_payload(instance_id: str, host: str, state: str, sequence: int,
                 project_id: str) -> dict[str, typing.Any]:
    """A legacy ``compute.instance.update`` payload, as Nova sends it."""
    old_state = 'active' if state == 'error' else 'error'
    return {
        'instance_id': instance_id, 'tenant_id': project_id,
        'user_id': 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
        'display_name': 'vnf-%06d' % (sequence % 1_000_000),
        'host': host, 'node': host, 'availability_zone': 'nova',
        'instance_type': 'm1.medium', 'instance_type_id': 3,
        'instance_flavor_id': '3', 'memory_mb': 4096, 'vcpus': 2,
        'root_gb': 40, 'ephemeral_gb': 0, 'disk_gb': 40,
        'image_ref_url': 'http://127.0.0.1:9292/images/'
                         'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
        'os_type': None, 'architecture': 'x86_64',
        'kernel_id': '', 'ramdisk_id': '',
        'state': state, 'old_state': old_state,
        'state_description': '', 'old_task_state': None,
        'new_task_state': None, 'progress': '',
        'created_at': '2026-11-01 09:00:00+00:00',
        'launched_at': '2026-11-01T09:00:30.000000',
        'terminated_at': '', 'deleted_at': '',
        'audit_period_beginning': '2026-11-22T09:00:00.000000',
        'audit_period_ending': '2026-11-22T10:00:00.000000',
        'bandwidth': {}, 'cell_name': '', 'access_ip_v4': None,
        'access_ip_v6': None, 'metadata': {'vnf': 'bench'},
        'reservation_id': 'r-%08x' % sequence,
        'image_meta': {'base_image_ref':
                       'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f',
                       'hw_disk_bus': 'virtio'},
    }


def nova_context(project_id: str) -> dict[str, typing.Any]:
    """The request context Nova sends along, as a dict."""
    return {'user_id': 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
            'project_id': project_id, 'is_admin': True,
            'request_id': 'req-%s' % uuid.uuid4(), 'roles': ['admin'],
            'read_deleted': 'no', 'show_deleted': False}


class Plan:
    """Which instance each notification is about, and the state it has.

    Notification ``n`` is about instance ``n % instances``; each visit to
    an instance flips its state, so that every notification is a change.
    Publisher ``p`` of ``P`` sends the notifications ``n`` with
    ``n % P == p``: with ``instances`` a multiple of ``P`` each instance's
    notifications come from one publisher, in order.
    """

    def __init__(self, count: int, instances: int, seed: int = 3) -> None:
        rng = random.Random(seed)
        self.count = count
        self.instances = [_uuid(rng) for _ in range(instances)]
        self.projects = [uuid.UUID(int=rng.getrandbits(128)).hex
                         for _ in range(max(1, instances // 50))]

    def event(self, sequence: int) -> tuple[dict, dict]:
        slot = sequence % len(self.instances)
        visit = sequence // len(self.instances)
        project = self.projects[slot % len(self.projects)]
        host = 'compute-%05d' % (slot // INSTANCES_PER_HOST)
        payload = nova_payload(
            self.instances[slot], host,
            'error' if visit % 2 == 0 else 'active', sequence, project)
        return nova_context(project), payload

    def share(self, share: int, shares: int) -> list[tuple[dict, dict]]:
        """The notifications publisher ``share`` of ``shares`` sends.

        Made before the clock starts: building them is Nova's work, not
        the synchronizer's.
        """
        return [self.event(sequence)
                for sequence in range(share, self.count, shares)]


def _notifier(transport: messaging.Transport) -> messaging.Notifier:
    return messaging.Notifier(transport, publisher_id='compute.bench',
                              driver='messagingv2',
                              topics=['notifications'])


def publish(notifier: messaging.Notifier,
            events: list[tuple[dict, dict]]) -> tuple[float, float, int]:
    """Publish ``events``; the first and last publish times, and how many.
    """
    first = time.time()
    for ctxt, payload in events:
        notifier.info(ctxt, EVENT_TYPE, payload)
    return first, time.time(), len(events)


def publish_singles(notifier: messaging.Notifier, count: int,
                    interval: float) -> dict[str, float]:
    """One notification every ``interval`` s, each about a new instance.

    Returns when each was published, by instance id.
    """
    rng = random.Random(4)
    project = uuid.UUID(int=rng.getrandbits(128)).hex
    sent: dict[str, float] = {}
    for sequence in range(count):
        instance_id = _uuid(rng)
        payload = nova_payload(instance_id, 'compute-00000', 'active',
                               sequence, project)
        sent[instance_id] = time.time()
        notifier.info(nova_context(project), EVENT_TYPE, payload)
        time.sleep(interval)
    return sent


def publisher_transport(url: str) -> messaging.Transport:
    """A notification transport publishing on Nova's exchange."""
    from oslo_config import cfg
    from oslo_messaging import opts as messaging_opts
    conf = cfg.ConfigOpts()
    conf([], project='doctor-bench-publisher', default_config_files=[])
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    conf.set_override('control_exchange', NOVA_EXCHANGE)
    return messaging.get_notification_transport(conf, url=url)


def _publisher_main(url: str, count: int, instances: int, share: int,
                    shares: int, start, results) -> None:
    transport = publisher_transport(url)
    notifier = _notifier(transport)
    events = Plan(count, instances).share(share, shares)
    notifier.info({}, 'bench.warmup', {})
    results.put(('ready', share))
    start.wait()
    results.put(('done', publish(notifier, events)))
    transport.cleanup()


def _singles_main(url: str, count: int, interval: float, results) -> None:
    transport = publisher_transport(url)
    notifier = _notifier(transport)
    notifier.info({}, 'bench.warmup', {})
    time.sleep(1.0)
    results.put(publish_singles(notifier, count, interval))
    transport.cleanup()


def _gather(results, workers: list, count: int, kind: str,
            timeout: float) -> list:
    """``count`` answers of ``kind`` from ``workers``; fails if one died."""
    answers: list = []
    deadline = time.monotonic() + timeout
    while len(answers) < count:
        try:
            answer_kind, answer = results.get(timeout=5)
        except queue.Empty:
            if any(process.exitcode not in (None, 0) for process in workers):
                raise RuntimeError('a publisher process failed')
            if time.monotonic() > deadline:
                raise RuntimeError('publishers did not answer in time')
            continue
        if answer_kind == kind:
            answers.append(answer)
    return answers


def publish_remote(url: str, count: int, instances: int,
                   processes: int) -> dict[str, float]:
    """Publish the plan from ``processes`` processes, as Nova would.

    Each connects, makes its notifications and sends a warm-up one (of a
    type the datasource ignores) before the clock starts.
    """
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    start = context.Event()
    workers = [context.Process(
        target=_publisher_main,
        args=(url, count, instances, share, processes, start, results))
        for share in range(processes)]
    for process in workers:
        process.start()
    try:
        _gather(results, workers, processes, 'ready', 300)
        start.set()
        spans = _gather(results, workers, processes, 'done', 3600)
    finally:
        for process in workers:
            process.join(60)
    return {'first_publish': min(span[0] for span in spans),
            'last_publish': max(span[1] for span in spans),
            'published': sum(span[2] for span in spans)}


class BenchNovaDatasource(datasource_base.Datasource):
    """Instances from Nova's legacy instance notifications (bench-local).

    Used when doctor's own ``nova`` datasource is not installed: it turns
    ``compute.instance.update`` into an instance change as a message-bus
    datasource would, with the notification's time as the change's.
    """

    types = (entity_mod.INSTANCE,)

    def notification_targets(self) -> list[messaging.Target]:
        return [messaging.Target(topic='notifications',
                                 exchange=NOVA_EXCHANGE)]

    def changes_from_notification(self, event_type, payload, metadata):
        if event_type != EVENT_TYPE:
            return []
        instance_id = datasource_base.required(payload, 'instance_id',
                                               event_type)
        host = payload.get('host')
        parents = ((entity_mod.make_key(entity_mod.HOST, host),)
                   if host else ())
        attributes = {name: payload.get(name) for name in (
            'instance_type', 'memory_mb', 'vcpus', 'root_gb',
            'availability_zone', 'image_ref_url', 'launched_at',
            'created_at', 'metadata', 'user_id', 'old_task_state',
            'new_task_state')}
        entity = entity_mod.Entity(
            entity_mod.INSTANCE, instance_id, state=payload.get('state'),
            name=payload.get('display_name'),
            project_id=payload.get('tenant_id'), parents=parents,
            attributes=attributes)
        return [self.change(entity_mod.UPDATE, entity,
                            datasource_base.notification_time(metadata))]


def _nova_datasource_class() -> type | None:
    """doctor's own ``nova`` datasource, if it is installed."""
    try:
        from doctor.synchronizer.datasources import nova
    except ImportError:
        return None
    return getattr(nova, 'NovaDatasource', None)


class Probe:
    """Counts changes as the store takes them and as the consumer gets them.

    :meth:`arm` starts a phase: counters from zero, ``expected`` changes
    to wait for; with ``track`` the time each instance's change reached
    the consumer is kept too.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.arm(0)

    def arm(self, expected: int, track: bool = False) -> None:
        with self.lock:
            self.expected = expected
            self.track = track
            self.stored = 0
            self.delivered = 0
            self.batches = 0
            self.last_stored: float | None = None
            self.last_delivered: float | None = None
            self.arrivals: dict[str, float] = {}
            self.done.clear()

    def wrap(self, connection: db_api.Connection) -> db_api.Connection:
        """Count what ``connection`` stores, as it returns."""
        apply = connection.apply_entity_changes

        def apply_entity_changes(changes: list[dict]) -> list[dict]:
            applied = apply(changes)
            now = time.time()
            with self.lock:
                self.stored += len(applied)
                self.batches += 1
                self.last_stored = now
            return applied

        connection.apply_entity_changes = apply_entity_changes  # type: ignore
        return connection

    def consume(self, changes: list[dict]) -> None:
        """The registered consumer's callback."""
        now = time.time()
        with self.lock:
            self.delivered += len(changes)
            self.last_delivered = now
            if self.track:
                for change in changes:
                    self.arrivals[change['id']] = now
            if self.expected and self.delivered >= self.expected:
                self.done.set()


def _bus_conf(url: str, database: str, datasource: str):
    conf = test_base.new_conf()
    conf.set_override('connection', database, group='database')
    conf.set_override('transport_url', url)
    conf.set_override('datasources', [datasource], group='synchronizer')
    # Without credentials the nova collector's snapshots fail, and are
    # logged: one at start is enough.
    conf.set_override('snapshot_interval', 3600.0, group='nova')
    return conf


def _start_service(conf, probe: Probe, datasource_name: str
                   ) -> service_mod.SynchronizerService:
    """The synchronizer service, with the probe on its store and consumer.
    """
    real_get_connection = db_api.get_connection
    real_synchronizer = synchronizer_mod.Synchronizer

    class Measured(real_synchronizer):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            # Registered before any listener starts: no change is missed.
            self.register(None, probe.consume, name='bench')

    datasources: list[datasource_base.Datasource] | None = None
    if datasource_name == BENCH_DATASOURCE:
        datasources = [BenchNovaDatasource(conf, BENCH_DATASOURCE)]
    with mock.patch.object(db_api, 'get_connection',
                           lambda conf: probe.wrap(real_get_connection(conf))
                           ), mock.patch.object(synchronizer_mod,
                                                'Synchronizer', Measured):
        service = service_mod.SynchronizerService(conf, datasources)
        service.start()
    return service


def _wait(probe: Probe, timeout: float, stall: float) -> bool:
    """Wait for every change; give up after ``stall`` s without progress."""
    deadline = time.monotonic() + timeout
    seen = -1
    last_progress = time.monotonic()
    while time.monotonic() < deadline:
        if probe.done.wait(0.5):
            return True
        if probe.delivered != seen:
            seen = probe.delivered
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > stall:
            return False
    return False


def _cpu_s() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _raw(probe: Probe, complete: bool, cpu: float) -> dict:
    """What the synchronizer's process saw, with absolute times."""
    return {'expected': probe.expected, 'stored': probe.stored,
            'delivered': probe.delivered, 'batches': probe.batches,
            'complete': complete, 'last_stored': probe.last_stored,
            'last_delivered': probe.last_delivered,
            'synchronizer_cpu_s': _cpu_s() - cpu}


def rates(raw: dict, begin: float, spans: dict) -> dict:
    """Changes a second stored and delivered, counted from ``begin``."""
    figures = {key: value for key, value in raw.items()
               if not key.startswith('last_')}
    for name in ('stored', 'delivered'):
        end = raw['last_' + name] or begin
        figures[name + '_s'] = end - begin
        figures[name + '_per_s'] = raw[name] / max(end - begin, 1e-9)
    publish_s = spans['last_publish'] - spans['first_publish']
    figures.update(
        published=spans['published'], publish_s=publish_s,
        published_per_s=spans['published'] / max(publish_s, 1e-9))
    figures['cpu_ms_per_change'] = (
        1e3 * raw['synchronizer_cpu_s'] / max(raw['delivered'], 1))
    return figures


def delays(sent: dict[str, float], arrivals: dict[str, float]) -> dict:
    """Publish-to-consumer delays of single notifications, in ms."""
    values = sorted((arrivals[key] - when) * 1e3
                    for key, when in sent.items() if key in arrivals)
    if not values:
        return {'samples': len(sent), 'received': 0}
    return {'samples': len(sent), 'received': len(values),
            'p50_ms': statistics.median(values),
            'p90_ms': values[min(len(values) - 1,
                                 round(0.9 * len(values)) - 1)],
            'max_ms': values[-1]}


def _embedded_main(url: str, database: str, datasource: str, count: int,
                   instances: int, singles: int, interval: float,
                   results) -> None:
    conf = _bus_conf(url, database, datasource)
    probe = Probe()
    probe.arm(count)
    service = _start_service(conf, probe, datasource)
    transport = publisher_transport(url)
    notifier = _notifier(transport)
    notifier.info({}, 'bench.warmup', {})
    events = Plan(count, instances).share(0, 1)
    spans: list[tuple[float, float, int]] = []
    publisher = threading.Thread(
        target=lambda: spans.append(publish(notifier, events)),
        name='bench-publisher')
    cpu = _cpu_s()
    publisher.start()
    complete = _wait(probe, 1800, 60)
    publisher.join()
    raw = _raw(probe, complete, cpu)
    probe.arm(singles, track=True)
    sent = publish_singles(notifier, singles, interval)
    _wait(probe, 60, 10)
    latency = delays(sent, probe.arrivals)
    service.stop()
    transport.cleanup()
    rpc.cleanup()
    first, last, published = spans[0]
    results.put((raw, {'first_publish': first, 'last_publish': last,
                       'published': published}, latency))


def _rabbit_main(url: str, database: str, datasource: str, control,
                 results) -> None:
    """The measured synchronizer on RabbitMQ, run as the parent says.

    Commands: ``('start', expected)`` starts the service and answers when
    it started; ``('wait', None)`` waits for the expected changes and
    answers the figures; ``('track', expected)`` starts a phase of single
    notifications and ``('arrivals', None)`` answers when each arrived;
    ``('stop', None)`` stops the service (its queue stays on the broker,
    filling up); ``('quit', None)``.
    """
    conf = _bus_conf(url, database, datasource)
    probe = Probe()
    service = None
    cpu = 0.0
    while True:
        command, argument = control.get()
        if command == 'start':
            probe.arm(argument)
            cpu = _cpu_s()
            started = time.time()
            service = _start_service(conf, probe, datasource)
            results.put(started)
        elif command == 'wait':
            complete = _wait(probe, 1800, 60)
            results.put(_raw(probe, complete, cpu))
        elif command == 'track':
            probe.arm(argument, track=True)
            results.put(None)
        elif command == 'arrivals':
            _wait(probe, 60, 10)
            results.put(dict(probe.arrivals))
        elif command in ('stop', 'quit'):
            if service is not None:
                service.stop()
                rpc.cleanup()
                service = None
            results.put(None)
            if command == 'quit':
                return


def upgrade(database: str) -> None:
    """Bring a fresh database's schema up to date."""
    conf = test_base.new_conf()
    conf.set_override('connection', database, group='database')
    connection = db_api.get_connection(conf)
    connection.upgrade()
    connection.close()


def run_embedded(args, datasource: str) -> dict:
    """Publisher thread, synchronizer and SQLite in one fresh process."""
    os.makedirs(args.workdir, exist_ok=True)
    path = os.path.join(args.workdir, 'synchronizer-bench.sqlite')
    if os.path.exists(path):
        os.remove(path)
    database = 'sqlite:///' + path
    upgrade(database)
    raw, spans, latency = _in_fresh_process(
        _embedded_main, 'inproc:/bench', database, datasource,
        args.notifications, args.instances, args.singles,
        args.single_interval)
    return {'live': rates(raw, spans['first_publish'], spans),
            'single_notification_latency': latency}


class _Remote:
    """The synchronizer's process on RabbitMQ, and its commands."""

    def __init__(self, datasource: str) -> None:
        context = multiprocessing.get_context('spawn')
        self._control = context.Queue()
        self._answers = context.Queue()
        self._process = context.Process(
            target=_rabbit_main,
            args=(RABBIT_URL, PG_URL, datasource, self._control,
                  self._answers))
        self._process.start()

    def __call__(self, command: str, argument: typing.Any = None,
                 timeout: float = 3600) -> typing.Any:
        self._control.put((command, argument))
        return self._answers.get(timeout=timeout)

    def close(self) -> None:
        if self._process.is_alive():
            self('quit', timeout=120)
        self._process.join(60)


def _singles_remote(count: int, interval: float) -> dict[str, float]:
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    process = context.Process(target=_singles_main,
                              args=(RABBIT_URL, count, interval, results))
    process.start()
    sent = results.get(timeout=600)
    process.join(60)
    return sent


def run_rabbit_pg(args, datasource: str) -> dict:
    """Publisher processes, a synchronizer process, RabbitMQ, PostgreSQL.

    ``live``: the synchronizer runs while the publishers publish, counted
    from the first publish; then single notifications, one at a time.
    ``backlog``: the notifications are queued first, counted from the
    synchronizer's start.
    """
    results: dict[str, dict] = {}
    for mode in ('live', 'backlog'):
        backends.reset_postgresql(PG_DATABASE)
        backends.reset_rabbit_vhost(RABBIT_VHOST)
        upgrade(PG_URL)
        remote = _Remote(datasource)
        try:
            if mode == 'live':
                remote('start', args.notifications, timeout=120)
                spans = publish_remote(RABBIT_URL, args.notifications,
                                       args.instances, args.publishers)
                raw = remote('wait')
                begin = spans['first_publish']
                remote('track', args.singles)
                sent = _singles_remote(args.singles, args.single_interval)
                results['single_notification_latency'] = delays(
                    sent, remote('arrivals'))
            else:
                remote('start', 0, timeout=120)
                remote('stop', timeout=120)
                spans = publish_remote(RABBIT_URL, args.notifications,
                                       args.instances, args.publishers)
                begin = remote('start', args.notifications, timeout=120)
                raw = remote('wait')
        finally:
            remote.close()
        figures = rates(raw, begin, spans)
        figures['publishers'] = args.publishers
        results[mode] = figures
    return results


# -- report

def report_diff(results: list[dict]) -> str:
    lines = ['== snapshot diff, 1% of the entities changed ==',
             '%9s %8s %9s %9s %9s %11s %11s %11s %11s' % (
                 'entities', 'changes', 'wall min', 'wall med', 'cpu min',
                 'RSS before', 'peak RSS', 'diff RSS +', 'diff alloc')]
    for result in results:
        increment = result['diff_peak_rss_increment_mb']
        lines.append('%9d %8d %8.3fs %8.3fs %8.3fs %8.0f MB %8.0f MB '
                     '%8s MB %8.1f MB' % (
                         result['entities'], result['changed'],
                         result['wall_s']['min'], result['wall_s']['median'],
                         result['cpu_s']['min'],
                         result['rss_before_diff_mb'],
                         result['diff_peak_rss_mb'],
                         '%.1f' % increment if increment is not None
                         else '-',
                         result['diff_traced_peak_mb']))
    lines.append('peak RSS: the process during the diff (snapshot, baseline '
                 'and diff); diff RSS +: what the diff adds to the RSS '
                 'before it; diff alloc: tracemalloc peak of the diff, in '
                 'another process')
    return '\n'.join(lines)


def report_bus(backend: str, results: dict) -> str:
    lines = []
    for mode in ('live', 'backlog'):
        figures = results.get(mode)
        if figures is None:
            continue
        lines.append(
            '== bus, %s, %s: %d notifications ==' % (
                backend, mode, figures['expected']))
        lines.append(
            'published %d at %.0f/s; stored %d at %.0f/s; delivered %d at '
            '%.0f/s (%.2f s, %d batches); synchronizer CPU %.3f ms a '
            'change%s' % (
                figures['published'], figures['published_per_s'],
                figures['stored'], figures['stored_per_s'],
                figures['delivered'], figures['delivered_per_s'],
                figures['delivered_s'], figures['batches'],
                figures['cpu_ms_per_change'],
                '' if figures['complete'] else ' (INCOMPLETE)'))
    latency = results.get('single_notification_latency')
    if latency:
        lines.append(
            'single notifications, publish -> consumer: %d of %d, p50 '
            '%.1f ms, p90 %.1f ms, max %.1f ms' % (
                latency['received'], latency['samples'],
                latency.get('p50_ms', float('nan')),
                latency.get('p90_ms', float('nan')),
                latency.get('max_ms', float('nan'))))
    return '\n'.join(lines)


def machine() -> str:
    return '%d cores, %.0f GiB, Python %s, %s' % (
        os.cpu_count() or 0, psutil.virtual_memory().total / 2 ** 30,
        platform.python_version(), platform.platform(terse=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--phase', choices=['diff', 'bus', 'all'],
                        default='all')
    parser.add_argument('--backend', choices=['embedded', 'rabbit-pg',
                                              'all'], default='all',
                        help='backends of the bus phase')
    parser.add_argument('--sizes', default='10000,100000',
                        help='entities of the snapshots, comma separated')
    parser.add_argument('--changed', type=float, default=0.01,
                        help='fraction of the entities changed')
    parser.add_argument('--repeat', type=int, default=5,
                        help='diffs timed per size')
    parser.add_argument('--notifications', type=int, default=50_000)
    parser.add_argument('--instances', type=int, default=10_000,
                        help='instances the notifications are about')
    parser.add_argument('--publishers', type=int, default=2,
                        help='publisher processes on RabbitMQ')
    parser.add_argument('--singles', type=int, default=50,
                        help='single notifications whose delay to the '
                             'consumer is measured after the live run')
    parser.add_argument('--single-interval', type=float, default=0.2,
                        help='seconds between two single notifications')
    parser.add_argument('--datasource', choices=['auto', 'nova', 'bench'],
                        default='auto',
                        help="nova: doctor's nova datasource; bench: a "
                             'bench-local one reading the same '
                             'notifications; auto: nova if installed')
    parser.add_argument('--workdir', default=os.path.join(
        os.path.expanduser('~'), '.cache', 'doctor-bench'))
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    if args.instances % args.publishers:
        parser.error('--instances must be a multiple of --publishers')

    output: dict[str, typing.Any] = {
        'command': ' '.join(['.venv/bin/python', 'tools/bench/'
                             'synchronizer.py'] + sys.argv[1:]),
        'date': datetime.date.today().isoformat(), 'machine': machine(),
        'load_average_at_start': os.getloadavg()}
    if args.phase in ('diff', 'all'):
        diffs = [run_diff(int(size), args.changed, args.repeat)
                 for size in args.sizes.split(',')]
        output['diff'] = diffs
        print(report_diff(diffs), flush=True)
    if args.phase in ('bus', 'all'):
        datasource = args.datasource
        if datasource == 'auto':
            datasource = ('nova' if _nova_datasource_class() is not None
                          else 'bench')
        if datasource == 'bench':
            datasource = BENCH_DATASOURCE
        output['bus'] = {'datasource': datasource,
                         'notifications': args.notifications,
                         'instances': args.instances}
        chosen = (['embedded', 'rabbit-pg'] if args.backend == 'all'
                  else [args.backend])
        for backend in chosen:
            runner = run_embedded if backend == 'embedded' else run_rabbit_pg
            figures = runner(args, datasource)
            output['bus'][backend] = figures
            print(report_bus(backend, figures), flush=True)
    output['load_average_at_end'] = os.getloadavg()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(output, f, indent=2, sort_keys=True)
            f.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
