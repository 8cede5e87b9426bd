"""The Doctor scenario against a real Nova: ``inspector.py --cloud openstack``.

Nova 34 with Placement, Glance, fake-driver computes and a real Keystone,
started as the functional tests start them
(:mod:`doctor.tests.functional.nova`), and ``doctor-all`` as an operator
runs it against that cloud: the ``nova`` datasource and the ``nova``
controller, RabbitMQ (Nova's virtual host) and PostgreSQL. For each size
N, N servers are booted on one compute host and a few on another, each
with one tenant alarm (``compute.instance.update``, ``traits.state ==
error``) whose action is a webhook receiver of this process; then the
host is reported down (``POST /v1/events``) and the clock runs:

* every consumer alarm (p50 and last), exactly once each;
* until Nova shows the host's compute service forced down, and until
  Nova shows every server of the host in ERROR (polled);
* the resetState calls per server (nova-api's request log, by the
  fault's global request id ``req-<fault id>``);
* the fault's checkpoints (``GET /v1/faults/{id}``);
* afterwards: no server of another host touched, and doctor's entities
  (``GET /v1/hosts``) equal to Nova's view.

Run from the repository root (a few minutes; a machine's first run
installs Nova's virtualenvs first):

    .venv/bin/python tools/bench/inspector.py --cloud openstack \
        --servers 10,50,100
"""

from concurrent import futures
import datetime
import http.server
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing
import uuid

import requests
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

TENANT = 'tenant-a'
OTHERS = 3
BOOTING = 4
POLL = 0.02
PAGE = 50
DEADLINE = 120.0
READY_WITHIN = 120.0
# OPNFV Doctor's published figures: VMs -> seconds to the last alarm.
OPNFV = {1: 0.122, 10: 0.201, 25: 0.32, 50: 0.584}
TARGETS = {'forced_down_s': 1.0, 'all_error_s': 10.0,
           'last_alarm_ms': 500.0, 'resets_per_server': 1}

_REQUEST = re.compile(
    r'^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*'
    r'"(?P<method>[A-Z]+) (?P<path>\S+)" status: (?P<status>\d+)'
    r'.*time: (?P<took>[\d.]+)')


class Receiver:
    """A webhook receiver: when each alarm POST arrived, by alarm id."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}')
                with receiver.lock:
                    receiver.posts.append((time.time(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: typing.Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      Handler)
        self.url = 'http://127.0.0.1:%d/alarm' % self.server.server_port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def since(self, start: float) -> list[tuple[float, dict]]:
        with self.lock:
            return [(when, body) for when, body in self.posts
                    if when >= start]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wall(text: str) -> float:
    stamp = datetime.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


class Scenario:
    """doctor-all against a running Nova, and the sizes run on it."""

    def __init__(self, cloud: typing.Any, workdir: str) -> None:
        self.cloud = cloud
        self.workdir = workdir
        self.receiver = Receiver()
        self.port = _free_port()
        self.api = 'http://127.0.0.1:%d' % self.port
        self.tenant = cloud.project_id(TENANT)
        self.database = 'doctor_bench_%s' % uuid.uuid4().hex[:8]
        self.process: subprocess.Popen | None = None

    # doctor-all

    def _sql(self, statement: str) -> None:
        engine = sa.create_engine(
            'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres',
            poolclass=sa_pool.NullPool, isolation_level='AUTOCOMMIT')
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
        engine.dispose()

    def start(self) -> None:
        self._sql('CREATE DATABASE %s' % self.database)
        auth = dict(self.cloud.auth)
        lines = ['[DEFAULT]', 'state_path = %s' % self.workdir,
                 'transport_url = %s' % self.cloud.transport_url,
                 'log_file = %s' % os.path.join(self.workdir,
                                                'doctor-all.log'),
                 '[database]',
                 'connection = postgresql+psycopg2://postgres@127.0.0.1:'
                 '5432/%s' % self.database,
                 'max_pool_size = 4', 'max_overflow = 2',
                 '[api]', 'port = %d' % self.port,
                 '[synchronizer]', 'datasources = nova',
                 '[inspector]', 'controllers = nova,local',
                 '[notifier]', 'allowed_networks = 127.0.0.1/32',
                 '[nova]', 'auth_type = password']
        lines += ['%s = %s' % item for item in sorted(auth.items())]
        config = os.path.join(self.workdir, 'doctor.conf')
        with open(config, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.process = subprocess.Popen(
            [sys.executable, '-c', 'import sys; from doctor.cmd import all; '
             'sys.exit(all.main(sys.argv[1:]))', '--config-file', config],
            start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self._until(lambda: self._get('/v1/hosts') is not None,
                    'doctor-all serving its API', READY_WITHIN)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        try:
            self._sql('DROP DATABASE IF EXISTS %s WITH (FORCE)'
                      % self.database)
        except Exception as e:  # leave it; reported
            print('could not drop %s: %s' % (self.database, e))

    def _headers(self, project: str | None = None) -> dict[str, str]:
        if project is None:
            return {'X-User-Id': 'bench-admin', 'X-Project-Id': 'admin',
                    'X-Roles': 'admin'}
        return {'X-User-Id': 'bench-user', 'X-Project-Id': project,
                'X-Roles': 'member'}

    def _get(self, path: str) -> typing.Any:
        try:
            response = requests.get(self.api + path, timeout=10,
                                    headers=self._headers())
        except requests.RequestException:
            return None
        return response.json() if response.status_code == 200 else None

    @staticmethod
    def _until(predicate: typing.Callable[[], typing.Any], what: str,
               timeout: float, interval: float = 0.2) -> typing.Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise RuntimeError('not within %.0f s: %s' % (timeout, what))
            time.sleep(interval)

    # the cloud

    def boot(self, host: str, count: int) -> list[str]:
        with futures.ThreadPoolExecutor(BOOTING) as pool:
            booting = [pool.submit(self._boot_one, host)
                       for _ in range(count)]
            return [future.result() for future in booting]

    def _boot_one(self, host: str) -> str:
        """One server on ``host``, once ACTIVE; a busy Nova is waited for.
        """
        server = self.cloud.call('POST', '/servers', {'server': {
            'name': 'bench-%s' % uuid.uuid4().hex[:8],
            'imageRef': self.cloud.image_id,
            'flavorRef': self.cloud.flavor_id, 'networks': 'none',
            'availability_zone': 'nova:' + host}}, expected=202,
            project=TENANT)['server']['id']
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                status = self.cloud.call('GET', '/servers/' + server)[
                    'server']['status']
            except Exception as e:  # a busy nova-api: ask again
                print('server %s: %s' % (server, e), flush=True)
                status = None
            if status == 'ACTIVE':
                return server
            if status == 'ERROR':
                raise RuntimeError('server %s went to ERROR' % server)
            time.sleep(0.5)
        raise RuntimeError('server %s not ACTIVE in 600 s' % server)

    def servers(self) -> dict[str, dict]:
        """Every server, by pages of PAGE.

        Nova asks Neutron for the ports of every server of a page in one
        request, whose URL outgrows neutron-server's request line past
        about 80 servers (Nova answers 500); a busy Neutron fails now and
        then too.
        """
        servers: dict[str, dict] = {}
        marker = None
        while True:
            path = '/servers/detail?all_tenants=1&limit=%d' % PAGE
            if marker:
                path += '&marker=' + marker
            page = self._listed(path)
            servers.update((server['id'], server) for server in page)
            if len(page) < PAGE:
                return servers
            marker = page[-1]['id']

    def _listed(self, path: str) -> list[dict]:
        for attempt in range(5):
            try:
                return self.cloud.call('GET', path)['servers']
            except Exception as e:
                if attempt == 4:
                    raise
                print('listing the servers failed, again: %s' % e,
                      flush=True)
                time.sleep(1.0)
        raise AssertionError('unreachable')

    def doctor_view(self) -> dict[str, tuple[str, str]]:
        """Server id -> (host, state), as doctor's entity store has them."""
        view = {}
        for host in self.cloud.hosts:
            document = self._get('/v1/hosts/%s' % host) or {}
            for instance in document.get('host', {}).get('instances', ()):
                view[instance['id']] = (host, instance['state'])
        return view

    def nova_view(self) -> dict[str, tuple[str, str]]:
        return {server_id: (server['OS-EXT-SRV-ATTR:host'],
                            server['OS-EXT-STS:vm_state'])
                for server_id, server in self.servers().items()}

    def create_alarms(self, servers: list[str]) -> None:
        for server in servers:
            response = requests.post(
                self.api + '/v1/alarms', timeout=10,
                headers=self._headers(self.tenant), json={
                    'name': 'bench-%s' % server[:8], 'type': 'notification',
                    'resource_id': server,
                    'notification_rule': {
                        'event_type': 'compute.instance.update',
                        'query': [{'field': 'traits.state', 'op': 'eq',
                                   'value': 'error', 'type': 'string'}]},
                    'alarm_actions': [self.receiver.url]})
            response.raise_for_status()

    # one size

    def run(self, failed: str, other: str, count: int) -> dict:
        servers = self.boot(failed, count)
        elsewhere = self.boot(other, OTHERS)
        self.create_alarms(servers + elsewhere)
        self._until(lambda: all(
            self.doctor_view().get(server, (None, None))[1] == 'active'
            for server in servers + elsewhere),
            'doctor knows every server', DEADLINE)
        # Let the alarms reach the evaluators' index.
        time.sleep(2.0)
        listed = self.servers()
        before = {server: listed[server]['updated'] for server in elsewhere}

        forced_at: list[float] = []
        error_at: list[float] = []
        done = threading.Event()

        def watch_service() -> None:
            while not done.is_set():
                services = self.cloud.call(
                    'GET', '/os-services?binary=nova-compute&host='
                    + failed)['services']
                if services and services[0]['forced_down']:
                    forced_at.append(time.time())
                    return
                time.sleep(POLL)

        def watch_servers() -> None:
            while not done.is_set():
                details = self.servers()
                if all(details[server]['status'] == 'ERROR'
                       for server in servers):
                    error_at.append(time.time())
                    return
                time.sleep(0.1)

        watchers = [threading.Thread(target=watch_service, daemon=True),
                    threading.Thread(target=watch_servers, daemon=True)]
        for watcher in watchers:
            watcher.start()
        sent = time.time()
        response = requests.post(
            self.api + '/v1/events', timeout=30, headers=self._headers(),
            json=[{'id': str(uuid.uuid4()),
                   'time': datetime.datetime.now(
                       datetime.timezone.utc).isoformat(),
                   'type': 'compute.host.down',
                   'details': {'hostname': failed, 'status': 'down',
                               'monitor': 'bench'}}])
        response.raise_for_status()
        [fault_id] = response.json()['fault_ids']
        self._until(lambda: len({body['alarm_id'] for _, body
                                 in self.receiver.since(sent)}) >= count,
                    'every alarm at the consumer', DEADLINE, 0.02)
        for watcher in watchers:
            watcher.join(DEADLINE)
        done.set()
        fault = self._until(
            lambda: (self._get('/v1/faults/%s' % fault_id) or {}).get(
                'fault') if len((self._get('/v1/faults/%s' % fault_id)
                                 or {}).get('fault', {}).get(
                    'checkpoints', ())) >= 6 else None,
            'the fault recorded', DEADLINE)
        # The late notifications settle.
        time.sleep(3.0)
        arrivals = sorted((when - sent) * 1e3 for when, body
                          in self.receiver.since(sent))
        alarm_ids = [body['alarm_id'] for _, body
                     in self.receiver.since(sent)]
        resets, served = self._served(fault_id)
        # nova-api's own times (its log is in UTC): the polls above queue
        # behind the resets in nova-api's threads, these do not.
        forced = [(end, took) for method, path, end, took in served
                  if method == 'PUT']
        reset_times = sorted(took for method, path, end, took in served
                             if method == 'POST')
        reset_ends = [end for method, path, end, took in served
                      if method == 'POST']
        after = self.servers()
        doctor, nova = self.doctor_view(), self.nova_view()
        return {
            'servers': count,
            'alarms_received': len(alarm_ids),
            'alarms_distinct': len(set(alarm_ids)),
            'alarm_p50_ms': round(statistics.median(arrivals), 1),
            'alarm_first_ms': round(arrivals[0], 1),
            'alarm_last_ms': round(arrivals[-1], 1),
            'forced_down_s': (round(forced_at[0] - sent, 3)
                              if forced_at else None),
            'all_error_s': (round(error_at[0] - sent, 3)
                            if error_at else None),
            'nova_forced_down_s': (round(forced[0][0] - sent, 3)
                                   if forced else None),
            'nova_force_down_call_s': (round(forced[0][1], 3)
                                       if forced else None),
            'nova_last_reset_s': (round(max(reset_ends) - sent, 3)
                                  if reset_ends else None),
            'nova_reset_call_s': (
                {'p50': round(statistics.median(reset_times), 3),
                 'max': round(reset_times[-1], 3)} if reset_times
                else None),
            'resets': sum(resets.get(server, 0) for server in servers),
            'resets_per_server': sorted({resets.get(server, 0)
                                         for server in servers}),
            'others_touched': sorted(
                server for server in elsewhere
                if resets.get(server)
                or after[server]['status'] != 'ACTIVE'
                or after[server]['updated'] != before[server]),
            'entities_equal_nova': doctor == nova,
            'entities_differ': sorted(
                key for key in set(doctor) | set(nova)
                if doctor.get(key) != nova.get(key))[:10],
            'checkpoints_ms': {
                point['name']: round((_wall(point['timestamp']) - sent)
                                     * 1e3, 1)
                for point in fault.get('checkpoints', ())},
            'actions_failed': len([a for a in fault.get('actions', ())
                                   if a.get('result') != 'ok']),
            'fault_id': fault_id,
        }

    def _served(self, fault_id: str
                ) -> tuple[dict[str, int],
                           list[tuple[str, str, float, float]]]:
        """The fault's requests nova-api served, from its log.

        Server id -> POST /servers/{id}/action served, and every request
        of the fault as (method, path, when it ended, seconds it took).
        """
        counts: dict[str, int] = {}
        served = []
        log = os.path.join(self.cloud.workdir, 'logs', 'nova-api.log')
        with open(log, encoding='utf-8', errors='replace') as f:
            for line in f:
                if 'req-' + fault_id not in line:
                    continue
                match = _REQUEST.match(line)
                if match is None:
                    continue
                served.append((match['method'], match['path'],
                               _wall(match['when'].replace(' ', 'T')),
                               float(match['took'])))
                if (match['method'] == 'POST'
                        and match['path'].endswith('/action')):
                    server = match['path'].split('/')[-2]
                    counts[server] = counts.get(server, 0) + 1
        return counts, served


def _row(result: dict) -> str:
    opnfv = OPNFV.get(result['servers'])
    return ('| %d | %s / %s | %s | %s | %s | %s | %s |'
            % (result['servers'], result['alarm_p50_ms'],
               result['alarm_last_ms'],
               '%.0f' % (opnfv * 1e3) if opnfv else '-',
               result['forced_down_s'], result['all_error_s'],
               result['resets_per_server'],
               'yes' if result['entities_equal_nova']
               and not result['others_touched'] else 'NO'))


def main(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog='inspector.py --cloud openstack')
    parser.add_argument('--servers', default='10,50,100',
                        help='sizes, one compute host each')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.servers.split(',')]
    # Imported here: the functional tests' Nova and its dependencies.
    from doctor.tests.functional import nova

    started = time.monotonic()
    # One compute host per size, and one for the servers left alone.
    cloud = nova.Nova(hosts=['compute-%d' % n
                             for n in range(len(sizes) + 1)])
    cloud.start()
    print('Nova ready in %.0f s' % (time.monotonic() - started), flush=True)
    workdir = tempfile.mkdtemp(prefix='doctor-bench-openstack-')
    scenario = Scenario(cloud, workdir)
    results = []
    try:
        scenario.start()
        other = cloud.hosts[-1]
        for size, host in zip(sizes, cloud.hosts):
            result = scenario.run(host, other, size)
            results.append(result)
            print(json.dumps(result, indent=1), flush=True)
    finally:
        scenario.stop()
        cloud.stop()
    print('| servers | alarm p50 / last (ms) | OPNFV last (ms) | '
          'forced down in Nova, polled (s) | all in ERROR in Nova, polled '
          '(s) | resets per server | others untouched, entities = Nova |')
    for result in results:
        print(_row(result))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'results': results, 'targets': TARGETS}, f,
                      indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
