"""Aodh as the peer of doctor's alarm benchmark: event published -> webhook.

Runs a real Aodh (23.0.0 from PyPI, in a virtualenv of its own under the
work directory, never in doctor's) on this machine's PostgreSQL and
RabbitMQ, and measures what ``tools/bench/alarms.py`` measures for doctor:
the delay from an event being published on the message bus to a webhook
receiving the alarm it causes, p50/p99, at a steady rate of events.

What runs:

* ``aodh-dbsync`` on a fresh database ``aodh_bench``; ``aodh-api`` under
  gunicorn (gthread, ``[api] auth_mode = noauth``, identity from the
  ``X-User-Id``/``X-Project-Id``/``X-Roles`` headers); ``aodh-listener``
  (event alarm evaluation) and ``aodh-notifier`` (alarm actions), one
  worker each, all on a RabbitMQ vhost ``aodh-bench`` of their own.
  ``event_alarm_cache_ttl = 0``, as without it an alarm created after a
  project's first lookup stays invisible for a minute; so the listener
  reads the project's alarms from the database for every event. Alarm
  history is recorded (Aodh's default).
* The events are published from a child process the way ceilometer's
  ``notifier://`` publisher does: an oslo.messaging ``Notifier``
  (``messagingv2``, topic ``alarm.all``) on a transport whose control
  exchange is ``aodh``, one ``sample`` per event, whose payload is a list
  of one event (``message_id``, ``event_type``, ``generated``, ``traits``
  as ``[name, type, value]``, ``raw``). Aodh finds the alarms to evaluate
  by the event's ``project_id``/``tenant_id`` trait.
* The webhook receiver is an HTTP server in a thread of this process
  (not one of Aodh's), which notes ``time.time()`` when a request
  arrives. Aodh's webhook body carries the event in ``reason_data``; its
  ``display_name`` trait holds the event's sequence number, which matches
  the webhook to its send time.

One webhook per event: Aodh's event alarms only ever go to ``alarm``
(a non-matching event does not set them back to ``ok``), so alternating
the instance state, as doctor's benchmark does, would fire once and then
never again. The alarm is created with ``repeat_actions = true`` instead
and every event matches it (``compute.instance.update``, ``traits.
instance_id`` equal to the alarm's instance and ``traits.state ==
error``): for each event Aodh then updates the alarm, records its
history and sends the webhook, the same work doctor does on a state
change.

A few warm-up events go first and are not counted. Every process started
here is stopped at the end, also on errors, and the database and vhost
are dropped; a run that was killed outright leaves a list of its process
groups in the work directory, and the next run stops those first. The
database and vhost names are fixed: one run at a time on a machine.
Besides p50/p99, the figures say at what rate the events could actually
be sent and how many webhooks a second Aodh sustained: above that rate,
events queue up and the delays grow with the run's length. Run from the
repository root:

    .venv/bin/python tools/bench/aodh_peer.py --events 1000 --rate 100

The first run installs Aodh (about two minutes); later runs reuse the
virtualenv when it still imports.
"""

import argparse
import datetime
import fcntl
import http.server
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
import warnings

import requests
import sqlalchemy as sa

AODH_VERSION = '23.0.0'
PEER = 'aodh ' + AODH_VERSION
# What is known to install and run together; the rest of Aodh's
# requirements are left to pip.
AODH_REQUIREMENTS = [
    'aodh==' + AODH_VERSION,
    'gunicorn==27.0.1',
    'psycopg[binary]==3.3.9',
    'SQLAlchemy==2.1.9',
]
PROJECT = 'aodh-bench-project'
USER = 'aodh-bench-user'
EVENT_TYPE = 'compute.instance.update'
DATABASE = 'aodh_bench'
PG_ADMIN_URL = 'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres'
# Aodh picks its storage driver by the URL's scheme, which must be plain
# ``postgresql``: SQLAlchemy 2.1 then uses psycopg (3).
AODH_DB_URL = 'postgresql://postgres@127.0.0.1:5432/' + DATABASE
VHOST = 'aodh-bench'
TRANSPORT_URL = 'rabbit://guest:guest@127.0.0.1:5672/' + VHOST
# Aodh's listener reads exchange ``aodh``, topic ``alarm.all``, priority
# sample; its notifier reads topic ``alarming``, priority sample.
LISTENER_QUEUE = 'alarm.all.sample'
NOTIFIER_QUEUE = 'alarming.sample'
NAME_PREFIX = 'aodh-bench-'
WARMUP = 20
PIDS = 'pids'
# Bounds, in seconds.
INSTALL_TIMEOUT = 900
COMMAND_TIMEOUT = 120
START_TIMEOUT = 90
IDLE_TIMEOUT = 30
BUDGET = 300


class PeerError(Exception):
    pass


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float('nan')
    rank = math.ceil(fraction * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _child_env() -> dict:
    """This environment without what points Python at doctor's venv."""
    env = dict(os.environ)
    for name in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME'):
        env.pop(name, None)
    return env


# -- the Aodh virtualenv ------------------------------------------------------

_PROBE = ("import importlib.metadata as m, sys\n"
          "assert m.version('aodh') == %r, m.version('aodh')\n"
          "import aodh.api.app, aodh.event, aodh.notifier.rest\n"
          "import gunicorn, psycopg\n" % AODH_VERSION)


def _venv_works(venv: str) -> bool:
    python = os.path.join(venv, 'bin', 'python')
    if not os.path.exists(python):
        return False
    try:
        probe = subprocess.run([python, '-c', _PROBE], env=_child_env(),
                               capture_output=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def ensure_venv(workdir: str) -> str:
    """Aodh's virtualenv under ``workdir``, made if missing or broken."""
    venv = os.path.join(workdir, 'aodh-venv')
    if _venv_works(venv):
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    log = os.path.join(workdir, 'aodh-venv-install.log')
    started = time.monotonic()
    print('installing %s into %s (a few minutes)' % (PEER, venv),
          flush=True)
    with open(log, 'w') as out:
        for argv in ([sys.executable, '-m', 'venv', venv],
                     [os.path.join(venv, 'bin', 'pip'), 'install',
                      '--disable-pip-version-check', *AODH_REQUIREMENTS]):
            result = subprocess.run(argv, stdout=out,
                                    stderr=subprocess.STDOUT,
                                    env=_child_env(),
                                    timeout=INSTALL_TIMEOUT)
            if result.returncode:
                raise PeerError('%s failed; see %s:\n%s'
                                % (' '.join(argv[:3]), log, _tail(log)))
    if not _venv_works(venv):
        raise PeerError('Aodh installed into %s does not import; see %s'
                        % (venv, log))
    print('installed in %.0f s' % (time.monotonic() - started), flush=True)
    return venv


# -- PostgreSQL and RabbitMQ --------------------------------------------------

def reset_database(create: bool = True) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level='AUTOCOMMIT',
                              connect_args={'connect_timeout': 10})
    try:
        with engine.connect() as db:
            db.execute(sa.text('DROP DATABASE IF EXISTS %s WITH (FORCE)'
                               % DATABASE))
            if create:
                db.execute(sa.text('CREATE DATABASE %s' % DATABASE))
    finally:
        engine.dispose()


def _rabbitmqctl(*args: str, check: bool = True) -> str:
    env = dict(os.environ, ERL_EPMD_ADDRESS='127.0.0.1')
    result = subprocess.run(['rabbitmqctl', '-q', *args], env=env,
                            capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT)
    if check and result.returncode:
        raise PeerError('rabbitmqctl %s: %s' % (' '.join(args),
                                                result.stderr.strip()))
    return result.stdout


def reset_vhost(create: bool = True) -> None:
    if VHOST in _rabbitmqctl('list_vhosts', 'name').split():
        _rabbitmqctl('delete_vhost', VHOST)
    if create:
        _rabbitmqctl('add_vhost', VHOST)
        _rabbitmqctl('set_permissions', '-p', VHOST, 'guest',
                     '.*', '.*', '.*')


def queue_consumers() -> dict[str, int]:
    consumers = {}
    for line in _rabbitmqctl('list_queues', '-p', VHOST, 'name',
                             'consumers', check=False).splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            consumers[fields[0]] = int(fields[1])
    return consumers


# -- the webhook receiver -----------------------------------------------------

class _WebhookHandler(http.server.BaseHTTPRequestHandler):

    def do_POST(self) -> None:
        arrived = time.time()
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()
        self.server.note(arrived, body)

    def log_message(self, format, *args) -> None:
        pass


class Receiver(http.server.ThreadingHTTPServer):
    """Records, by event sequence number, when each webhook arrived."""

    daemon_threads = True
    # Aodh's notifier sends up to a thread pool's worth of webhooks at
    # once, each on a new connection: socketserver's backlog of 5 would
    # drop or reset some of them.
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _WebhookHandler)
        self.url = 'http://127.0.0.1:%d/aodh' % self.server_address[1]
        self.arrivals: dict[int, float] = {}
        self.duplicates = 0
        self.unmatched = 0
        self.last_arrival = time.monotonic()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever,
                                        kwargs={'poll_interval': 0.2},
                                        name='aodh-bench-receiver',
                                        daemon=True)
        self._thread.start()

    def note(self, arrived: float, body: bytes) -> None:
        sequence = _sequence_of(body)
        with self._lock:
            self.last_arrival = time.monotonic()
            if sequence is None:
                self.unmatched += 1
            elif sequence in self.arrivals:
                self.duplicates += 1
            else:
                self.arrivals[sequence] = arrived

    def count(self, sequences) -> int:
        with self._lock:
            return sum(1 for s in sequences if s in self.arrivals)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


def _sequence_of(body: bytes) -> int | None:
    try:
        event = json.loads(body)['reason_data']['event']
        for name, _type, value in event['traits']:
            if name == 'display_name' and value.startswith(NAME_PREFIX):
                return int(value[len(NAME_PREFIX):])
    except (ValueError, KeyError, TypeError):
        pass
    return None


# -- the publisher (a child process, as ceilometer would be) ------------------

def make_event(sequence: int, instance: str) -> dict:
    """One event as ceilometer's event pipeline serializes it."""
    string = 1
    traits = [['project_id', string, PROJECT],
              ['tenant_id', string, PROJECT],
              ['user_id', string, USER],
              ['instance_id', string, instance],
              ['display_name', string, NAME_PREFIX + str(sequence)],
              ['host', string, 'compute-%d' % (sequence % 8)],
              ['state', string, 'error'],
              ['old_state', string, 'active']]
    return {'message_id': str(uuid.uuid4()), 'event_type': EVENT_TYPE,
            'generated': datetime.datetime.now(
                datetime.timezone.utc).replace(tzinfo=None).isoformat(),
            'traits': traits, 'raw': {}, 'message_signature': ''}


def _publisher_main(url: str, instance: str, commands, results) -> None:
    # Importing doctor first selects oslo.service's threading backend, as
    # in doctor's own processes; futurist still imports eventlet, if there.
    import doctor  # noqa: F401
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    from oslo_config import cfg
    import oslo_messaging as messaging

    conf = cfg.ConfigOpts()
    conf([], project='aodh-bench-publisher', default_config_files=[])
    messaging.set_transport_defaults('aodh')
    transport = messaging.get_notification_transport(conf, url=url)
    notifier = messaging.Notifier(transport, driver='messagingv2',
                                  publisher_id='telemetry.publisher.bench',
                                  topics=['alarm.all'])
    results.put(('ready', None))
    try:
        while True:
            command = commands.get(timeout=BUDGET * 2)
            if command[0] == 'stop':
                break
            _, first, count, rate = command
            sent = {}
            interval = 1.0 / rate if rate > 0 else 0.0
            begin = time.perf_counter()
            for number in range(count):
                delay = begin + number * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                event = make_event(first + number, instance)
                sent[first + number] = time.time()
                notifier.sample({}, 'event', [event])
            results.put(('sent', (sent, time.perf_counter() - begin)))
    finally:
        transport.cleanup()


class Publisher:

    def __init__(self, instance: str) -> None:
        context = multiprocessing.get_context('spawn')
        self._commands = context.Queue()
        self._results = context.Queue()
        self._process = context.Process(
            target=_publisher_main, name='aodh-bench-publisher',
            args=(TRANSPORT_URL, instance, self._commands, self._results),
            daemon=True)
        self._process.start()
        self._result('ready', START_TIMEOUT)

    def _result(self, kind: str, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            try:
                got, value = self._results.get(timeout=1)
            except Exception:
                if not self._process.is_alive():
                    raise PeerError('the publisher exited with code %s'
                                    % self._process.exitcode)
                if time.monotonic() > deadline:
                    raise PeerError('the publisher did not answer in %d s'
                                    % timeout)
                continue
            if got != kind:
                raise PeerError('publisher: expected %s, got %s'
                                % (kind, got))
            return value

    def publish(self, first: int, count: int, rate: float,
                timeout: float) -> tuple[dict[int, float], float]:
        """Send times by sequence number, and the seconds it took."""
        self._commands.put(('publish', first, count, rate))
        return self._result('sent', timeout)

    def stop(self) -> None:
        if self._process.is_alive():
            self._commands.put(('stop',))
            # Still publishing if interrupted: nothing to wait for then.
            self._process.join(2)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


# -- Aodh's services ----------------------------------------------------------

class Service:
    """One Aodh program in a process group of its own."""

    def __init__(self, name: str, argv: list[str], log: str) -> None:
        self.name = name
        self.log = log
        with open(log, 'ab') as out:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=_child_env(),
                start_new_session=True)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise PeerError('%s exited with code %s (logs in %s):\n%s'
                            % (self.name, self.process.returncode,
                               os.path.dirname(self.log),
                               _tail(self.log)))

    def stop(self) -> None:
        group = self.process.pid
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; its workers may linger a moment.
            if not _group_alive(group, wait):
                break
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def _group_alive(group: int, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)


def _group_members(group: int, venv: str) -> list[int]:
    """Processes of process group ``group`` that run from ``venv``."""
    members = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                stat = f.read()
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                cmdline = f.read().decode(errors='replace')
        except OSError:
            continue
        # The fields after the command name, in parentheses: state, ppid,
        # pgrp.
        fields = stat.rsplit(')', 1)[-1].split()
        if (len(fields) > 2 and fields[2] == str(group)
                and venv in cmdline):
            members.append(int(entry))
    return members


def stop_leftovers(rundir: str, venv: str) -> None:
    """Stop the Aodh services an interrupted earlier run left running."""
    try:
        with open(os.path.join(rundir, PIDS)) as f:
            groups = [int(line) for line in f if line.strip().isdigit()]
    except OSError:
        return
    for group in groups:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            members = _group_members(group, venv)
            if not members:
                break
            print('stopping processes %s left by an earlier run'
                  % members, file=sys.stderr)
            for pid in members:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while (_group_members(group, venv)
                   and time.monotonic() < deadline):
                time.sleep(0.2)


def write_config(rundir: str) -> str:
    path = os.path.join(rundir, 'aodh.conf')
    lines = [
        '[DEFAULT]',
        'transport_url = %s' % TRANSPORT_URL,
        'event_alarm_cache_ttl = 0',
        'debug = false',
        'use_stderr = false',
        '',
        '[api]',
        'auth_mode = noauth',
        '',
        '[database]',
        'connection = %s' % AODH_DB_URL,
        '',
        '[listener]',
        'workers = 1',
        'event_alarm_topic = alarm.all',
        'batch_size = 1',
        '',
        '[notifier]',
        'workers = 1',
        'batch_size = 1',
        '',
    ]
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path


class AodhPeer:
    """Aodh's database, vhost and services for one run."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.venv = ensure_venv(workdir)
        self.rundir = os.path.join(workdir, 'aodh-run')
        stop_leftovers(self.rundir, self.venv)
        shutil.rmtree(self.rundir, ignore_errors=True)
        os.makedirs(self.rundir)
        self.services: list[Service] = []
        self.api_url = ''
        self.config = ''

    def _add(self, service: 'Service') -> None:
        self.services.append(service)
        # Lets a later run stop what a killed one left running.
        with open(os.path.join(self.rundir, PIDS), 'a') as f:
            f.write('%d\n' % service.process.pid)

    def _bin(self, name: str) -> str:
        return os.path.join(self.venv, 'bin', name)

    def _log(self, name: str) -> str:
        return os.path.join(self.rundir, name + '.log')

    def start(self, deadline: float) -> None:
        reset_database()
        reset_vhost()
        self.config = write_config(self.rundir)
        self._dbsync()
        self._start_api()
        for name in ('listener', 'notifier'):
            self._add(Service(
                'aodh-' + name,
                [self._bin('aodh-' + name), '--config-file', self.config,
                 '--log-file', self._log(name)],
                self._log(name + '-console')))
        self._wait_api(deadline)
        self._wait_queues(deadline)

    def _dbsync(self) -> None:
        log = self._log('dbsync')
        with open(log, 'wb') as out:
            result = subprocess.run(
                [self._bin('aodh-dbsync'), '--config-file', self.config,
                 '--log-file', log], stdout=out, stderr=subprocess.STDOUT,
                env=_child_env(), timeout=COMMAND_TIMEOUT)
        if result.returncode:
            raise PeerError('aodh-dbsync failed:\n%s' % _tail(log))

    def _gunicorn_flags(self) -> list[str]:
        usage = subprocess.run([self._bin('gunicorn'), '--help'],
                               capture_output=True, text=True,
                               env=_child_env(), timeout=COMMAND_TIMEOUT)
        if '--no-control-socket' in usage.stdout:
            return ['--no-control-socket']
        return []

    def _start_api(self) -> None:
        port = _free_port()
        self.api_url = 'http://127.0.0.1:%d' % port
        # gunicorn calls the factory with these literal arguments, so the
        # API reads this run's configuration file and no default one.
        app = 'aodh.api.app:build_wsgi_app(argv=%r)' % ([
            '--config-file', self.config, '--log-file', self._log('api')],)
        self._add(Service('aodh-api', [
            self._bin('gunicorn'), '--worker-class', 'gthread',
            '--workers', '1', '--threads', '4', '--timeout', '60',
            '--bind', '127.0.0.1:%d' % port,
            '--error-logfile', self._log('gunicorn'),
            *self._gunicorn_flags(), app], self._log('api-console')))

    def _wait_api(self, deadline: float) -> None:
        while True:
            for service in self.services:
                service.check()
            try:
                response = requests.get(self.api_url + '/v2/alarms',
                                        headers=self.headers(), timeout=5)
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise PeerError('aodh-api did not answer:\n%s'
                                % _tail(self._log('gunicorn')))
            time.sleep(0.2)

    def _wait_queues(self, deadline: float) -> None:
        """Until the listener and the notifier consume their queues."""
        while True:
            for service in self.services:
                service.check()
            consumers = queue_consumers()
            if (consumers.get(LISTENER_QUEUE, 0) > 0
                    and consumers.get(NOTIFIER_QUEUE, 0) > 0):
                return
            if time.monotonic() > deadline:
                raise PeerError('no consumer on %s and %s: %s'
                                % (LISTENER_QUEUE, NOTIFIER_QUEUE,
                                   consumers))
            time.sleep(0.5)

    @staticmethod
    def headers() -> dict[str, str]:
        return {'X-User-Id': USER, 'X-Project-Id': PROJECT,
                'X-Roles': 'admin,member,reader'}

    def create_alarm(self, instance: str, action: str) -> str:
        body = {
            'name': 'aodh-bench-%s' % instance[:8],
            'type': 'event',
            'severity': 'critical',
            'event_rule': {
                'event_type': EVENT_TYPE,
                'query': [
                    {'field': 'traits.instance_id', 'op': 'eq',
                     'type': 'string', 'value': instance},
                    {'field': 'traits.state', 'op': 'eq',
                     'type': 'string', 'value': 'error'},
                ]},
            'alarm_actions': [action],
            'repeat_actions': True,
        }
        response = requests.post(self.api_url + '/v2/alarms', json=body,
                                 headers=self.headers(), timeout=30)
        if response.status_code != 201:
            raise PeerError('POST /v2/alarms: %d %s'
                            % (response.status_code, response.text))
        return response.json()['alarm_id']

    def check(self) -> None:
        for service in self.services:
            service.check()

    def diagnostics(self) -> str:
        return '\n'.join('== %s ==\n%s' % (name, _tail(self._log(name)))
                         for name in ('listener', 'notifier'))

    def stop(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as e:
                print('stopping %s: %s' % (service.name, e),
                      file=sys.stderr)
        self.services = []
        for cleanup in (reset_database, reset_vhost):
            try:
                cleanup(create=False)
            except Exception as e:
                print('cleanup: %s' % e, file=sys.stderr)


# -- the run ------------------------------------------------------------------

def _await(receiver: Receiver, sequences: range, deadline: float,
           peer: AodhPeer) -> None:
    """Until every sequence arrived, none came for a while, or time's up."""
    while receiver.count(sequences) < len(sequences):
        if time.monotonic() > deadline:
            return
        if time.monotonic() - receiver.last_arrival > IDLE_TIMEOUT:
            return
        peer.check()
        time.sleep(0.2)


def run_aodh_peer(events: int, rate: float, workdir: str) -> dict:
    """Publish ``events`` events at ``rate`` a second to a real Aodh.

    Returns the delays from publishing each event to its webhook
    arriving, in milliseconds, and prints a summary line.
    """
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'aodh-peer.lock'), 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise PeerError('another run uses %s' % workdir)
        return _run(events, rate, workdir)


def _run(events: int, rate: float, workdir: str) -> dict:
    peer = AodhPeer(workdir)
    started = time.monotonic()
    deadline = started + BUDGET
    receiver = None
    publisher = None
    try:
        peer.start(min(deadline, time.monotonic() + START_TIMEOUT))
        receiver = Receiver()
        instance = str(uuid.uuid4())
        peer.create_alarm(instance, receiver.url)
        publisher = Publisher(instance)
        setup = time.monotonic() - started

        warmup = range(0, WARMUP)
        receiver.last_arrival = time.monotonic()
        publisher.publish(warmup.start, len(warmup), min(rate, 50.0),
                          START_TIMEOUT)
        _await(receiver, warmup, min(deadline, time.monotonic() + 60),
               peer)
        if receiver.count(warmup) < len(warmup):
            raise PeerError('%d of %d warm-up events reached the webhook:'
                            '\n%s' % (receiver.count(warmup), len(warmup),
                                      peer.diagnostics()))

        measured = range(WARMUP, WARMUP + events)
        receiver.last_arrival = time.monotonic()
        sent, publishing = publisher.publish(
            measured.start, events, rate,
            max(START_TIMEOUT, deadline - time.monotonic()))
        _await(receiver, measured, deadline, peer)
        arrivals = dict(receiver.arrivals)
        duplicates = receiver.duplicates
        unmatched = receiver.unmatched
    finally:
        for member in (publisher, receiver):
            if member is not None:
                try:
                    member.stop()
                except Exception as e:
                    print('stopping: %s' % e, file=sys.stderr)
        peer.stop()

    delays = [(arrivals[s] - sent[s]) * 1e3 for s in measured
              if s in arrivals]
    # What Aodh sustained: webhooks a second from the first event
    # published to the last webhook received.
    span = max((arrivals[s] for s in measured if s in arrivals),
               default=0.0) - min(sent.values())
    result = {
        'peer': PEER,
        'events': events,
        'received': len(delays),
        'rate_per_s': rate,
        'sent_rate_per_s': events / publishing if publishing else 0.0,
        'p50_ms': percentile(delays, 0.50),
        'p99_ms': percentile(delays, 0.99),
        'max_ms': max(delays) if delays else float('nan'),
        'mean_ms': statistics.fmean(delays) if delays else float('nan'),
        'throughput_per_s': len(delays) / span if span > 0 else 0.0,
        'setup_s': setup,
        'duplicates': duplicates,
        'unmatched': unmatched,
    }
    print(summary(result), flush=True)
    return result


def summary(result: dict) -> str:
    return ('%s: event -> webhook at %g events/s (%d events, sent at '
            '%.0f/s, %d alarms received, %.0f/s sustained): p50 %.2f ms, '
            'p99 %.2f ms, max %.2f ms, mean %.2f ms'
            % (result['peer'], result['rate_per_s'], result['events'],
               result['sent_rate_per_s'], result['received'],
               result['throughput_per_s'], result['p50_ms'],
               result['p99_ms'], result['max_ms'], result['mean_ms']))


def _terminate(signum, frame) -> None:
    # Unwinds through the finally blocks, which stop what was started.
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--events', type=int, default=1000)
    parser.add_argument('--rate', type=float, default=100.0,
                        help='events a second')
    parser.add_argument('--workdir', default=os.path.join(
        os.path.expanduser('~'), '.cache', 'doctor-bench'),
        help="Aodh's virtualenv, configuration and logs go here")
    parser.add_argument('--json', help='also write the figures here')
    args = parser.parse_args()
    if args.events < 1 or args.rate <= 0:
        parser.error('--events and --rate must be positive')
    signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run_aodh_peer(args.events, args.rate, args.workdir)
    except PeerError as e:
        print('%s: %s' % (PEER, e), file=sys.stderr)
        return 2
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'command': ' '.join(sys.argv), 'results': [result]},
                      f, indent=2, sort_keys=True)
    return 0 if result['received'] == result['events'] else 1


if __name__ == '__main__':
    sys.exit(main())
