"""Benchmark of notification alarms: evaluation rate and end-to-end latency.

For each backend (the embedded default, SQLite and the in-process bus; and
RabbitMQ with PostgreSQL) it loads ALARMS alarms on RESOURCES resources
(one alarm per resource watches the instance state, the others watch the
same notifications but other conditions), starts an evaluator, and
measures:

* the memory the alarm index adds to the process, and its load time;
* latency from publishing a Nova ``compute.instance.update`` notification
  to a webhook receiving the alarm, p50/p99, at a steady RATE of events a
  second, every event flipping an alarm (and so a state change in the
  database and a webhook);
* evaluation throughput of one evaluator process: a backlog of events
  drained as fast as it goes, once where every event changes an alarm's
  state (DB write and webhook each) and once where events are evaluated
  against the alarms without changing them (the common case: most
  notifications about an instance are not the failure an alarm waits for);
* the time from ``POST /v1/alarms`` returning to the alarm being in force
  in the evaluator.

The webhook receiver runs in its own process (doctor's sample consumer),
and on RabbitMQ so does the publisher, as Nova would.

Run from the repository root:

    .venv/bin/python tools/bench/alarms.py --backend all
"""

import argparse
import gc
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid

import backends
from oslo_utils import timeutils
import psutil
import requests

from doctor.api import service as api_service
from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.db.sqlalchemy import models
from doctor.evaluator import service as evaluator_service
from doctor.tests import base as test_base

PROJECT = 'bench-project'
USER = 'bench-user'
PG_DATABASE = 'doctor_bench'
PG_URL = backends.postgresql_url(PG_DATABASE)
RABBIT_VHOST = 'doctor-bench'
RABBIT_URL = backends.rabbit_url(RABBIT_VHOST)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float('nan')
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


# -- the webhook receiver (its own process)

class Receiver(backends.StreamingReceiver):
    """The sample consumer in a child process, streaming what it receives.

    Waiting for the webhooks costs the receiver nothing: it does not list
    everything received so far each time it is asked, which made waiting
    for N webhooks cost both processes CPU in N squared, taken from the
    evaluator measured.
    """

    def fetch(self) -> list[dict]:
        """The webhooks received since the last call."""
        fresh: list[dict] = []
        while True:
            record = self.get(0)
            if record is None:
                return fresh
            fresh.append(record)


# -- publishing notifications as Nova does

def nova_payload(resource: str, state: str, sequence: int) -> dict:
    return {'instance_id': resource, 'tenant_id': PROJECT,
            'user_id': USER, 'host': 'compute-%d' % (sequence % 50),
            'display_name': 'seq-%d' % sequence, 'state': state,
            'old_state': 'active' if state == 'error' else 'error'}


def plan(count: int, resources: list[str], start: int = 0
         ) -> list[tuple[int, str, str]]:
    """``count`` events; each visit to a resource flips its state."""
    events = []
    for sequence in range(start, start + count):
        visit, slot = divmod(sequence, len(resources))
        state = 'error' if visit % 2 == 0 else 'active'
        events.append((sequence, resources[slot], state))
    return events


def publish_paced(notifier, events, rate: float) -> dict[int, float]:
    """Publish at ``rate`` events a second; returns send times by seq."""
    sent: dict[int, float] = {}
    context = doctor_context.RequestContext(project_id=PROJECT)
    interval = 1.0 / rate if rate else 0.0
    begin = time.perf_counter()
    for number, (sequence, resource, state) in enumerate(events):
        if interval:
            delay = begin + number * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        sent[sequence] = time.time()
        notifier.info(context, 'compute.instance.update',
                      nova_payload(resource, state, sequence))
    return sent


def _publisher_main(url: str, events, rate: float, results) -> None:
    """Publish from a separate process over RabbitMQ, as Nova would."""
    from oslo_config import cfg
    import oslo_messaging as messaging
    conf = cfg.ConfigOpts()
    conf([], project='doctor-bench-publisher', default_config_files=[])
    messaging.set_transport_defaults('nova')
    transport = messaging.get_notification_transport(conf, url=url)
    notifier = messaging.Notifier(transport, publisher_id='compute.bench',
                                  driver='messagingv2',
                                  topics=['notifications'])
    results.put(publish_paced(notifier, events, rate))
    transport.cleanup()


def publish_remote(url: str, events, rate: float,
                   processes: int = 2) -> dict[int, float]:
    """Publish from ``processes`` processes sharing the rate.

    One process publishing through oslo.messaging tops out below 1,000
    notifications a second here; the events are dealt out round-robin so
    that each process paces an equal share.
    """
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    workers = []
    for number in range(processes):
        share = events[number::processes]
        process = context.Process(
            target=_publisher_main,
            args=(url, share, rate / processes if rate else 0, results))
        process.start()
        workers.append(process)
    sent: dict[int, float] = {}
    for _process in workers:
        sent.update(results.get(timeout=3600))
    for process in workers:
        process.join(30)
    return sent


# -- database setup

def alarm_rows(resources: list[str], per_resource: int,
               action: str) -> list[dict]:
    now = timeutils.utcnow()
    rows = []
    for number, resource in enumerate(resources):
        for slot in range(per_resource):
            if slot == 0:
                query = [{'field': 'traits.state', 'op': 'eq',
                          'value': 'error', 'type': 'string'}]
            else:
                # Watches the same notifications for other conditions, so
                # it is evaluated on every event without changing state.
                query = [{'field': 'traits.state', 'op': 'eq',
                          'value': 'deleted', 'type': 'string'},
                         {'field': 'traits.host', 'op': 'eq',
                          'value': 'compute-%d' % slot, 'type': 'string'}]
            rows.append({
                'alarm_id': str(uuid.uuid4()), 'name': 'bench-%d-%d'
                % (number, slot), 'description': None,
                'type': 'notification', 'enabled': True, 'severity': 'low',
                'project_id': PROJECT, 'user_id': USER,
                'resource_id': resource,
                'rule': {'event_type': 'compute.instance.update',
                         'query': query},
                'alarm_actions': [action], 'ok_actions': [action],
                'insufficient_data_actions': [], 'repeat_actions': False,
                'state': 'ok', 'state_reason': None,
                'state_timestamp': now, 'timestamp': now, 'deadline': None,
            })
    return rows


def prepare_database(conf, rows: list[dict]) -> None:
    connection = db_api.get_connection(conf)
    connection.upgrade()
    table = models.Alarm.__table__
    with connection.engine.begin() as db:
        for start in range(0, len(rows), 5000):
            db.execute(table.insert(), rows[start:start + 5000])
    connection.engine.dispose()


# -- the phases

def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def _index_memory_main(url: str, results) -> None:
    from doctor.evaluator import index as index_mod
    conf = test_base.new_conf()
    conf.set_override('connection', url, group='database')
    connection = db_api.get_connection(conf)
    rows = connection.iter_enabled_alarms('notification')
    first = next(rows)
    before = rss_mb()
    index = index_mod.AlarmIndex()
    index.put(first)
    started = time.perf_counter()
    index.replace_all(rows)
    elapsed = time.perf_counter() - started
    results.put((rss_mb() - before, len(index) + 1, elapsed))


def index_memory(url: str) -> tuple[float, int, float]:
    """MB the alarm index adds to a fresh process, alarms, build time."""
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    process = context.Process(target=_index_memory_main,
                              args=(url, results))
    process.start()
    figures = results.get(timeout=600)
    process.join(30)
    return figures


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return False


class Bench:
    """One backend's run."""

    def __init__(self, args, backend: str, receiver: Receiver) -> None:
        self.args = args
        self.backend = backend
        self.receiver = receiver
        self.results: dict = {'backend': backend}
        self.conf = test_base.new_conf()
        state_path = os.path.join(args.workdir, backend)
        os.makedirs(state_path, exist_ok=True)
        self.conf.set_override('state_path', state_path)
        self.conf.set_override('port', 0, group='api')
        self.conf.set_override('resync_interval', 0, group='evaluator')
        # The webhook receiver listens on loopback, which the webhook
        # target policy denies by default.
        self.conf.set_override('allowed_networks', ['127.0.0.1/32'],
                               group='notifier')
        if backend == 'embedded':
            database = os.path.join(state_path, 'doctor.sqlite')
            if os.path.exists(database):
                os.remove(database)
            self.conf.set_override('connection', 'sqlite:///' + database,
                                   group='database')
            self.conf.set_override('transport_url', 'inproc:/bench')
        else:
            backends.reset_postgresql(PG_DATABASE)
            backends.reset_rabbit_vhost(RABBIT_VHOST)
            self.conf.set_override('connection', PG_URL, group='database')
            self.conf.set_override('transport_url', RABBIT_URL)
        self.resources = [str(uuid.uuid4())
                          for _ in range(args.resources)]
        self.evaluator = None
        self.api = None

    def run(self) -> dict:
        per_resource = self.args.alarms // self.args.resources
        started = time.perf_counter()
        prepare_database(self.conf, alarm_rows(
            self.resources, per_resource, self.receiver.url))
        self.results['alarms'] = per_resource * len(self.resources)
        self.results['resources'] = len(self.resources)
        self.results['db_fill_s'] = time.perf_counter() - started
        self.start_services()
        try:
            self.latency('latency', self.args.rate, self.args.duration)
            self.latency('latency_low_rate', self.args.low_rate,
                         self.args.low_rate_events / self.args.low_rate)
            self.throughput('transitions', self.args.backlog)
            self.throughput('no_transitions', self.args.backlog * 2)
            self.alarm_in_force()
        finally:
            self.stop_services()
        return self.results

    def start_services(self) -> None:
        # The index's own size, measured in a fresh process so that what
        # this one allocated before does not hide it.
        self.results['index_mb'], _count, self.results['index_build_s'] = (
            index_memory(self.conf.database.connection))
        started = time.perf_counter()
        self.evaluator = evaluator_service.EvaluatorService(self.conf)
        self.evaluator.start()
        self.results['index_load_s'] = time.perf_counter() - started
        self.engine = self.evaluator.engine
        self.api = api_service.APIService(self.conf)
        self.api.start()
        if self.backend == 'embedded':
            self.notifier = rpc.get_notifier(self.conf, 'compute.bench')

    def stop_services(self) -> None:
        for member in (self.api, self.evaluator):
            if member is not None:
                member.stop()
        rpc.cleanup()

    def publish(self, events, rate: float) -> dict[int, float]:
        if self.backend == 'embedded':
            return publish_paced(self.notifier, events, rate)
        return publish_remote(RABBIT_URL, events, rate)

    def collect(self, expected: int, timeout: float) -> list[dict]:
        received: list[dict] = []

        def enough():
            received.extend(self.receiver.fetch())
            return len(received) >= expected
        wait_for(enough, timeout)
        return received

    def latency(self, name: str, rate: float, duration: float) -> None:
        count = int(rate * duration)
        events = plan(count, self.resources, start=self._advance(count))
        begin = time.perf_counter()
        sent = self.publish(events, rate)
        sent_rate = len(events) / (time.perf_counter() - begin)
        received = self.collect(len(events), 60)
        delays = []
        for record in received:
            traits = dict((name, value) for name, _type, value in
                          record['alarm']['reason_data']['event']['traits'])
            sequence = int(traits['display_name'].split('-')[1])
            if sequence in sent:
                delays.append((record['received_at'] - sent[sequence]) * 1e3)
        self.results[name] = {
            'rate_per_s': rate, 'sent_rate_per_s': sent_rate,
            'events': count,
            'alarms_received': len(delays),
            'p50_ms': percentile(delays, 0.50),
            'p99_ms': percentile(delays, 0.99),
            'max_ms': max(delays) if delays else float('nan'),
            'mean_ms': statistics.fmean(delays) if delays else float('nan'),
        }

    # Events published so far: each phase continues the per-resource state
    # flips where the last one stopped, so every planned flip is real.
    _sequence = 0

    def throughput(self, kind: str, count: int) -> None:
        if kind == 'transitions':
            events = plan(count, self.resources,
                          start=self._advance(count))
        else:
            # Same notifications, but the state does not change: every
            # alarm of the resource is evaluated, none fires.
            current = self._states()
            events = [(sequence, resource, current[resource])
                      for sequence, resource, _state in
                      plan(count, self.resources, start=0)]
        if self.backend != 'embedded':
            # Queue the backlog first, then let the evaluator drain it.
            self.evaluator.stop()
            self.publish(events, 0)
            restarted = evaluator_service.EvaluatorService(self.conf)
            baseline = 0
            started = time.perf_counter()
            restarted.start()
            load = time.perf_counter() - started
            self.evaluator = restarted
            self.engine = restarted.engine
        else:
            baseline = self.engine.events_evaluated
            load = 0.0
            started = time.perf_counter()
            self.publish(events, 0)
        done = wait_for(
            lambda: self.engine.events_evaluated - baseline >= len(events),
            600)
        elapsed = time.perf_counter() - started - load
        evaluated = self.engine.events_evaluated - baseline
        if kind == 'transitions':
            self.collect(len(events), 120)
        self.results['throughput_' + kind] = {
            'events': len(events), 'evaluated': evaluated,
            'complete': done, 'seconds': elapsed,
            'events_per_s': evaluated / elapsed if elapsed else 0.0,
            'alarms_evaluated_per_event':
                self.args.alarms // self.args.resources,
        }

    def _advance(self, count: int) -> int:
        start = Bench._sequence
        Bench._sequence += count
        return start

    def _states(self) -> dict[str, str]:
        visits = Bench._sequence
        states = {}
        for slot, resource in enumerate(self.resources):
            done = visits // len(self.resources) + (
                1 if slot < visits % len(self.resources) else 0)
            states[resource] = 'error' if done % 2 == 1 else 'active'
        return states

    def alarm_in_force(self) -> None:
        url = 'http://127.0.0.1:%d/v1/alarms' % self.api.port
        headers = {'X-Project-Id': PROJECT, 'X-User-Id': USER,
                   'X-Roles': 'admin'}
        session = requests.Session()
        delays = []
        for number in range(self.args.posts):
            body = {'name': 'in-force-%d' % number,
                    'type': 'notification',
                    'resource_id': str(uuid.uuid4()),
                    'notification_rule': {
                        'event_type': 'compute.instance.update',
                        'query': [{'field': 'traits.state', 'op': 'eq',
                                   'value': 'error'}]},
                    'alarm_actions': [self.receiver.url]}
            response = session.post(url, json=body, headers=headers,
                                    timeout=30)
            returned = time.perf_counter()
            response.raise_for_status()
            alarm_id = response.json()['alarm_id']
            index = self.engine.index
            if wait_for(lambda: index.get(alarm_id) is not None, 5):
                delays.append((time.perf_counter() - returned) * 1e3)
        self.results['alarm_in_force'] = {
            'posts': self.args.posts, 'in_force': len(delays),
            'p50_ms': percentile(delays, 0.5),
            'p99_ms': percentile(delays, 0.99),
            'max_ms': max(delays) if delays else float('nan'),
        }


def report(results: list[dict]) -> str:
    lines = []
    for result in results:
        if 'peer' in result:
            lines.append('== peer: %s, same machine, same receiver '
                         'code ==' % result['peer'])
            for run in result['runs']:
                lines.append(
                    'event -> webhook at %d events/s (sent at %.0f/s, %d '
                    'events, %d received, Aodh sustained %.0f/s): p50 '
                    '%.2f ms, p99 %.2f ms, max %.2f ms'
                    % (run['rate_per_s'], run['sent_rate_per_s'],
                       run['events'], run['received'],
                       run['throughput_per_s'], run['p50_ms'],
                       run['p99_ms'], run['max_ms']))
            continue
        lines.append('== %s: %d alarms on %d resources ==' % (
            result['backend'], result['alarms'], result['resources']))
        lines.append('alarm index: %.1f MB added to a fresh process, built '
                     'in %.2f s; evaluator started (index loaded from the '
                     'database) in %.2f s'
                     % (result['index_mb'], result['index_build_s'],
                        result['index_load_s']))
        for name in ('latency', 'latency_low_rate'):
            latency = result[name]
            lines.append(
                'event -> webhook at %d events/s (sent at %.0f/s, %d '
                'events, %d alarms received): p50 %.2f ms, p99 %.2f ms, '
                'max %.2f ms' % (latency['rate_per_s'],
                                 latency['sent_rate_per_s'],
                                 latency['events'],
                                 latency['alarms_received'],
                                 latency['p50_ms'], latency['p99_ms'],
                                 latency['max_ms']))
        for kind in ('transitions', 'no_transitions'):
            figures = result['throughput_' + kind]
            lines.append('throughput, %s: %.0f events/s (%d of %d events '
                         'in %.2f s, %d alarms evaluated per event)'
                         % (kind.replace('_', ' '),
                            figures['events_per_s'], figures['evaluated'],
                            figures['events'], figures['seconds'],
                            figures['alarms_evaluated_per_event']))
        in_force = result['alarm_in_force']
        lines.append('POST /v1/alarms returned -> alarm in force (%d '
                     'alarms): p50 %.2f ms, p99 %.2f ms, max %.2f ms'
                     % (in_force['in_force'], in_force['p50_ms'],
                        in_force['p99_ms'], in_force['max_ms']))
    return '\n'.join(lines)


def run_peer(args) -> dict:
    """Aodh's event alarms, measured at both rates doctor was."""
    import aodh_peer
    runs = []
    for events, rate in ((args.peer_events, args.rate),
                         (args.low_rate_events, args.low_rate)):
        try:
            runs.append(aodh_peer.run_aodh_peer(events, rate, args.workdir))
        except aodh_peer.PeerError as e:
            print('peer run at %s events/s failed: %s' % (rate, e),
                  flush=True)
    return {'peer': 'aodh 23.0.0 on RabbitMQ + PostgreSQL', 'runs': runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backend', choices=['embedded', 'rabbit-pg',
                                              'all'], default='all')
    parser.add_argument('--alarms', type=int, default=100_000)
    parser.add_argument('--resources', type=int, default=10_000)
    parser.add_argument('--rate', type=float, default=1000.0,
                        help='events a second in the latency phase')
    parser.add_argument('--duration', type=float, default=10.0,
                        help='seconds of the latency phase')
    parser.add_argument('--low-rate', type=float, default=20.0,
                        help='events a second in the second latency '
                             'phase, one the peer keeps up with')
    parser.add_argument('--low-rate-events', type=int, default=300)
    parser.add_argument('--peer', choices=['aodh', 'none'], default='aodh',
                        help='also run Aodh on RabbitMQ + PostgreSQL and '
                             'measure it the same way')
    parser.add_argument('--peer-events', type=int, default=1000,
                        help='events sent to the peer at --rate')
    parser.add_argument('--backlog', type=int, default=20_000,
                        help='events of the throughput phase')
    parser.add_argument('--posts', type=int, default=200)
    parser.add_argument('--workdir', default=os.path.join(
        os.path.expanduser('~'), '.cache', 'doctor-bench'))
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()

    chosen = (['embedded', 'rabbit-pg'] if args.backend == 'all'
              else [args.backend])
    receiver = Receiver()
    results = []
    try:
        for backend in chosen:
            Bench._sequence = 0
            results.append(Bench(args, backend, receiver).run())
            print(report(results[-1:]), flush=True)
    finally:
        receiver.stop()
    if args.peer == 'aodh':
        results.append(run_peer(args))
        print(report(results[-1:]), flush=True)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'command': ' '.join(sys.argv), 'results': results},
                      f, indent=2, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
