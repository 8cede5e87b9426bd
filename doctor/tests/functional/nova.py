"""A real Nova, with Placement and Glance, on loopback, shared by a process.

:func:`shared` starts it on first use and stops it when the process exits:

* Nova and Placement share a virtualenv, Glance has one of its own, under
  the user's cache directory (``~/.cache/doctor-tests/nova-venv`` and
  ``glance-venv``, or under ``$XDG_CACHE_HOME``), never doctor's. Each is
  made once per machine under a file lock and reused while it holds the
  pinned versions.
* Identity is the process's real Keystone
  (:func:`doctor.tests.functional.keystone.shared`). Through its REST API
  the ``nova``, ``placement`` and ``glance`` service users are made (roles
  ``admin`` and ``service`` on the ``service`` project), the ``compute``,
  ``placement`` and ``image`` services and their endpoints are put in the
  catalog, and the cloud administrator gets the admin role on the tenant
  projects, so that it can boot servers owned by a tenant on a chosen
  host. The three APIs run their stock paste pipelines with
  ``[keystone_authtoken]``.
* Each start gets new PostgreSQL databases (``nova_api``, ``nova_cell0``,
  the cell ``nova``, ``placement``, ``glance``), a new RabbitMQ virtual
  host (:attr:`Nova.transport_url`) and a temporary directory for the
  configuration, state and logs; all are removed at stop.
* Placement, glance-api and nova-api are served by gunicorn (gthread);
  nova-conductor, nova-scheduler and one nova-compute per host
  (:data:`HOSTS`) run with ``compute_driver =
  fake.FakeDriverWithoutFakeNodes``. The scheduler maps new compute hosts
  to the cell every few seconds. A tiny raw image is uploaded to Glance
  and a small flavor made.
* Notifications go out in both formats (``notification_format = both``,
  ``notify_on_state_change = vm_and_task_state``, driver
  ``messagingv2``) to exchange ``nova``, topics ``notifications`` (legacy,
  e.g. ``compute.instance.update``) and ``versioned_notifications`` (e.g.
  ``instance.update``, ``service.update``). Nobody reads the queues Nova
  declares for them: a policy of the virtual host keeps every queue to
  its newest :data:`QUEUE_LENGTH` messages. Listeners should use a pool
  of their own (a queue named after the pool) and delete it when done.

Neutron: Nova asks it even for servers booted with ``"networks":
"none"``, and finds it in the catalog. The real neutron-server of
:func:`doctor.tests.functional.neutron.shared`, which registers the
``network`` service in the same Keystone, starts alongside Nova and is
used whenever that module is there. Without the module, or when it
reports its Neutron unavailable, a **stand-in** is registered as the
``network`` service instead: an HTTP server in this process answering
every collection it is asked for with an empty list and every single
resource with 404. It is enough for Nova to boot, list and delete servers
without networks, and nothing more; :attr:`Nova.neutron_stand_in` tells
which one is in use. (keystonemiddleware remembers a validated token's
catalog for minutes: a token Nova saw before the ``network`` service was
registered finds no network endpoint; those of :meth:`Nova.token` and
:meth:`Nova.connection` are newer.)

Costs, measured on a 2-core machine busy with other tests (load 4-6):

* first start on a machine, installing the two virtualenvs (70-120 s,
  alongside Keystone's and Neutron's installs): 100-190 s to ready;
* warm start, Keystone and Neutron included: 45-50 s (schemas 12-14 s,
  from launch to every compute mapped about 20 s);
* memory: about 1.1 GB PSS for Placement, Glance, nova-api, conductor,
  scheduler and three computes (each compute about 120 MiB), besides
  Keystone and Neutron.

When a virtualenv cannot be made (no package index reachable) or
PostgreSQL, RabbitMQ or Keystone is missing, :class:`Unavailable` is
raised: a test then skips, or fails when ``CI`` or
``DOCTOR_REQUIRE_SERVICES`` is set. Any other failure to start is a
:class:`StartError`, with the tails of the logs. Every wait is bounded.
Every process Nova runs stops by itself when this process dies without
stopping it, and the next start removes the databases, virtual host and
directory left behind.
"""

import atexit
import concurrent.futures
import dataclasses
import http.server
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing
import uuid

from openstack import connection as sdk_connection
from oslo_log import log
import requests
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from doctor.tests.functional import base
from doctor.tests.functional import keystone

LOG = log.getLogger(__name__)

VERSION = '34.0.0'
PLACEMENT_VERSION = '16.0.0'
GLANCE_VERSION = '33.0.0'
NOVA = 'Nova ' + VERSION
HOSTS = ('compute-0', 'compute-1', 'compute-2')
# The host name of nova-api, nova-conductor and nova-scheduler.
CONTROLLER = 'controller'
# Force down by service id needs 2.53; os-services ids are uuids from it.
MICROVERSION = '2.96'
REGION = keystone.REGION
SERVICE_USERS = ('nova', 'placement', 'glance')
FLAVOR = 'doctor.tiny'
IMAGE = 'doctor-raw'
QUEUE_LENGTH = 10000
# A compute that stops reporting shows ``down`` after SERVICE_DOWN_TIME.
REPORT_INTERVAL = 5
SERVICE_DOWN_TIME = 30

# Bounds, in seconds.
INSTALL_TIMEOUT = keystone.INSTALL_TIMEOUT
COMMAND_TIMEOUT = 180
READY_TIMEOUT = 180
SERVER_TIMEOUT = 120
STOP_TIMEOUT = 15
HTTP_TIMEOUT = 30


@dataclasses.dataclass(frozen=True)
class Venv:
    """A virtualenv of the services: its folder name and what it holds."""

    name: str
    package: str
    version: str
    requirements: tuple[str, ...]


# gunicorn >= 25 for --no-control-socket.
_SERVING = ('gunicorn==27.0.1', 'psycopg2-binary==2.9.13')
NOVA_VENV = Venv('nova-venv', 'nova', VERSION,
                 ('nova==' + VERSION,
                  'openstack-placement==' + PLACEMENT_VERSION) + _SERVING)
GLANCE_VENV = Venv('glance-venv', 'glance', GLANCE_VERSION,
                   ('glance==' + GLANCE_VERSION,) + _SERVING)

DATABASES = ('nova_api', 'nova_cell0', 'nova', 'placement', 'glance')
_WORKDIR_PREFIX = 'doctor-nova-'
_TMP = tempfile.gettempdir()
_OWNER = 'owner.json'
_MARKER = 'doctor-requirements.txt'
_DATABASE_NAME = re.compile('doctor_func_[0-9a-f]{12}')
_VHOST_NAME = re.compile(_WORKDIR_PREFIX + '[0-9a-f]{12}')
_NEUTRON = 'doctor.tests.functional.neutron'

# Runs ``module:function`` after starting a thread that stops this process
# once the process that started it is gone.
_LAUNCHER = '''\
import importlib
import os
import signal
import sys
import threading
import time


def watch(parent):
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(%d)
    os.kill(os.getpid(), signal.SIGKILL)


threading.Thread(target=watch, args=(os.getppid(),), daemon=True).start()
module, _, function = sys.argv[1].partition(':')
sys.argv = [module] + sys.argv[2:]
sys.exit(getattr(importlib.import_module(module), function)())
''' % STOP_TIMEOUT

# Runs stages of management commands, ``[[label, module, argv], ...]``
# each, in processes forked from one that imported them once: each
# nova-manage costs seconds of CPU to start. The commands of a stage run
# together; a stage starts once the previous one succeeded.
_MANAGE = '''\
import importlib
import json
import os
import sys
import time
import traceback

with open(sys.argv[1]) as f:
    stages = json.load(f)
logs = sys.argv[2]
modules = {module: importlib.import_module(module)
           for stage in stages for _, module, _ in stage}


def run(module, argv, log):
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.argv = argv
    try:
        code = modules[module].main() or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


for stage in stages:
    children = {}
    for label, module, argv in stage:
        log = os.open(os.path.join(logs, 'manage-%s.log' % label),
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        pid = os.fork()
        if pid == 0:
            run(module, argv, log)
        os.close(log)
        children[pid] = label, time.monotonic()
    failed = []
    while children:
        pid, status = os.waitpid(-1, 0)
        label, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        print('%s exited %d after %.1f s'
              % (label, code, time.monotonic() - started), flush=True)
        if code:
            failed.append(label)
    if failed:
        sys.exit('failed: ' + ', '.join(failed))
'''

# nova-api's WSGI module configures itself from sys.argv: gunicorn's own
# arguments must not reach it.
_NOVA_WSGI = '''\
import sys

_argv = sys.argv
sys.argv = _argv[:1]
try:
    from nova.wsgi.osapi_compute import application  # noqa: F401
finally:
    sys.argv = _argv
'''


class Unavailable(Exception):
    """Nova cannot be run on this machine: a service is missing."""


class StartError(Exception):
    """Nova could be run here, but did not start."""


class APIError(Exception):
    """A call to one of the cloud's APIs did not do what was asked."""


# -- the virtualenvs ----------------------------------------------------------

def _venv_matches(path: str, venv: Venv) -> bool:
    """Whether ``path`` finished installing ``venv``'s requirements."""
    try:
        with open(os.path.join(path, _MARKER)) as f:
            if f.read().split() != list(venv.requirements):
                return False
        probe = subprocess.run(
            [os.path.join(path, 'bin', 'python'), '-c',
             'import importlib.metadata as m; print(m.version(%r))'
             % venv.package],
            env=keystone._child_env(), capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == venv.version


def ensure_venv(venv: Venv) -> str:
    """The path of ``venv``, made if missing or not the pinned one.

    :raises Unavailable: if it cannot be installed.
    """
    directory = keystone.cache_dir()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, venv.name)
    what = '%s %s' % (venv.package, venv.version)
    with open(os.path.join(directory, venv.name + '.lock'), 'w') as lock:
        try:
            keystone._lock_file(lock, 2 * INSTALL_TIMEOUT + COMMAND_TIMEOUT)
        except keystone.StartError as e:
            raise StartError(str(e))
        if _venv_matches(path, venv):
            return path
        shutil.rmtree(path, ignore_errors=True)
        log_path = os.path.join(directory, venv.name + '-install.log')
        started = time.monotonic()
        LOG.info('Installing %s into %s', what, path)
        commands = (
            [sys.executable, '-m', 'venv', path],
            [os.path.join(path, 'bin', 'python'), '-m', 'pip', 'install',
             '--quiet', '--disable-pip-version-check', *venv.requirements],
        )
        with open(log_path, 'w') as out:
            for argv in commands:
                try:
                    result = subprocess.run(
                        argv, stdout=out, stderr=subprocess.STDOUT,
                        env=keystone._child_env(), timeout=INSTALL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise Unavailable('installing %s timed out after %d s'
                                      % (what, INSTALL_TIMEOUT))
                if result.returncode:
                    raise Unavailable(
                        'cannot install %s into %s (%s exited %d):\n%s'
                        % (what, path, ' '.join(argv[:4]), result.returncode,
                           keystone._tail(log_path, 10)))
        with open(os.path.join(path, _MARKER), 'w') as f:
            f.write('\n'.join(venv.requirements) + '\n')
        if not _venv_matches(path, venv):
            raise Unavailable('%s installed into %s does not run; see %s'
                              % (what, path, log_path))
        LOG.info('Installed %s in %.0f s', what, time.monotonic() - started)
        return path


# -- the Neutron stand-in -----------------------------------------------------

class _NeutronStandIn(http.server.BaseHTTPRequestHandler):
    """Answers Nova's Neutron calls as a Neutron without any resource."""

    protocol_version = 'HTTP/1.1'
    log_path = ''

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _not_found(self) -> None:
        self._answer(404, {'NeutronError': {
            'type': 'NotFound', 'message': 'no such resource', 'detail': ''}})

    def do_GET(self) -> None:
        path = self.path.split('?')[0].rstrip('/')
        path = path[:-len('.json')] if path.endswith('.json') else path
        parts = path.strip('/').split('/') if path else []
        if not parts:
            server = typing.cast(http.server.HTTPServer, self.server)
            url = 'http://%s:%d/v2.0/' % (base.HOST, server.server_port)
            self._answer(200, {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT',
                'links': [{'href': url, 'rel': 'self'}]}]})
        elif parts[0] != 'v2.0':
            self._not_found()
        elif len(parts) == 2:
            self._answer(200, {parts[1].replace('-', '_'): []})
        else:
            self._not_found()

    def do_DELETE(self) -> None:
        self._not_found()

    do_POST = do_PUT = do_DELETE

    def log_message(self, format: str, *args: typing.Any) -> None:
        with open(self.log_path, 'a') as f:
            f.write('%s %s\n' % (time.strftime('%H:%M:%S'), format % args))


# -- Nova ---------------------------------------------------------------------

class Nova:
    """Nova, Placement and Glance with their computes: start, use, stop.

    After :meth:`start`: ``hosts`` are the compute hosts, ``url`` the
    compute endpoint, ``transport_url`` the RabbitMQ virtual host
    (``vhost``) Nova publishes its notifications to, ``auth`` the
    keystoneauth password options of the cloud administrator (with
    ``region_name``), ``image_id`` and ``flavor_id`` what :meth:`boot`
    uses, and ``keystone`` the Keystone it uses.
    """

    def __init__(self, hosts: typing.Sequence[str] = HOSTS) -> None:
        self.hosts: tuple[str, ...] = tuple(hosts)
        self.keystone: keystone.Keystone | None = None
        self.url = ''
        self.placement_url = ''
        self.image_url = ''
        self.network_url = ''
        self.neutron_stand_in = False
        self.transport_url = ''
        self.auth: dict[str, str] = {}
        self.image_id = ''
        self.flavor_id = ''
        self.timings: dict[str, float] = {}
        self.workdir = ''
        self._venvs: dict[str, str] = {}
        self.vhost = ''
        self._databases: dict[str, tuple[str, str]] = {}
        self._users = {name: keystone.User(name, uuid.uuid4().hex,
                                           keystone.SERVICE_PROJECT)
                       for name in SERVICE_USERS}
        self._catalog: list[str] = []
        self._processes: dict[str, subprocess.Popen] = {}
        self._stand_in: http.server.ThreadingHTTPServer | None = None
        self._tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()

    # -- starting

    def start(self) -> None:
        """Install if needed, configure, serve and populate.

        On failure, whatever was started is stopped again.

        :raises Unavailable: if a service Nova needs is missing.
        :raises StartError: if it did not start.
        """
        for service in (base.POSTGRESQL, base.RABBITMQ):
            reason = base.unavailable(service)
            if reason is not None:
                raise Unavailable('it needs %s' % reason)
        started = time.monotonic()
        try:
            self._start(started)
        except BaseException:
            self.stop()
            raise
        self.timings['total'] = time.monotonic() - started
        LOG.info('%s serving %s (%s)', NOVA, self.url, ', '.join(
            '%s %.1f s' % item for item in self.timings.items()))

    def _mark(self, step: str, started: float) -> None:
        self.timings[step] = time.monotonic() - started

    def _start(self, started: float) -> None:
        _reap_abandoned()
        self.workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=_TMP)
        os.mkdir(self._path('logs'))
        self.vhost = _WORKDIR_PREFIX + uuid.uuid4().hex[:12]
        self.transport_url = base.rabbit_url(self.vhost)
        server = base.SERVERS['postgresql']
        for name in DATABASES:
            self._databases[name] = server.create()
            self._record()
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            # Nova's configuration does not name the network endpoint: the
            # catalog has it. Neutron starts alongside and is waited for
            # last.
            network = pool.submit(self._real_neutron)
            identity = pool.submit(self._identity)
            bus = pool.submit(self._make_vhost)
            venvs = {venv.name: pool.submit(ensure_venv, venv)
                     for venv in (NOVA_VENV, GLANCE_VENV)}
            self._venvs = {name: future.result()
                           for name, future in venvs.items()}
            self._mark('venvs', started)
            bus.result()
            self._sync_databases()
            self._mark('databases', started)
            identity.result()
            self._mark('identity', started)
            self._launch_all()
            self._mark('launched', started)
            self._wait_for_http('glance', self.image_url + '/healthcheck')
            self._upload_image()
            self._wait_for_http('nova-api', self.url)
            self._create_flavor()
            self._mark('image and flavor', started)
            self._wait_for_computes()
            self._mark('computes', started)
            self.network_url = network.result() or self._stand_in_neutron()
            self._mark('network', started)
        # keystonemiddleware keeps what a token validated to, the catalog
        # included, for minutes: tokens from before the network service
        # was in the catalog would find no network endpoint.
        with self._tokens_lock:
            self._tokens.clear()

    def _launch_all(self) -> None:
        """Configure and launch every service; computes once Placement is.

        Computes report their resources to Placement as they start.
        """
        listeners = {name: self._listen() for name in
                     ('placement', 'glance', 'nova-api')}
        try:
            self.placement_url = self._root_url(listeners['placement'])
            self.image_url = self._root_url(listeners['glance'])
            self.url = self._root_url(listeners['nova-api']) + '/v2.1'
            self._register_services()
            self._write_configs()
            for name, listener in listeners.items():
                self._serve(name, listener)
        finally:
            for listener in listeners.values():
                listener.close()
        for binary in ('conductor', 'scheduler'):
            self._launch('nova-' + binary, NOVA_VENV,
                         'nova.cmd.%s:main' % binary,
                         self._service_args('nova-' + binary, 'nova.conf'))
        self._wait_for_http('placement', self.placement_url)
        for host in self.hosts:
            self._launch(host, NOVA_VENV, 'nova.cmd.compute:main',
                         self._service_args(host, host + '.conf'))

    def _path(self, *names: str) -> str:
        return os.path.join(self.workdir, *names)

    def _record(self) -> None:
        """Who owns the directory, databases and vhost: _reap_abandoned."""
        with open(self._path(_OWNER + '.new'), 'w') as f:
            json.dump({'pid': os.getpid(), 'vhost': self.vhost,
                       'databases': [name for name, _ in
                                     self._databases.values()]}, f)
        os.replace(self._path(_OWNER + '.new'), self._path(_OWNER))

    def _make_vhost(self) -> None:
        base._rabbitmqctl_run('add_vhost', self.vhost)
        base._rabbitmqctl_run('set_permissions', '-p', self.vhost, 'guest',
                              '.*', '.*', '.*')
        base._rabbitmqctl_run(
            'set_policy', '-p', self.vhost, '--apply-to', 'queues',
            'doctor-queue-length', '.*',
            json.dumps({'max-length': QUEUE_LENGTH}))

    def _identity(self) -> None:
        """Keystone's users, roles and tokens of this cloud."""
        try:
            self.keystone = identity = keystone.shared()
        except keystone.Unavailable as e:
            raise Unavailable('it needs %s: %s' % (keystone.KEYSTONE, e))
        except keystone.StartError as e:
            raise StartError('%s did not start: %s'
                             % (keystone.KEYSTONE, e))
        admin = identity.token(identity.admin)
        roles = {role['name']: role['id'] for role in
                 identity.call('GET', '/roles', admin)['roles']}
        domain = identity.call('GET', '/domains?name=%s' % keystone.DOMAIN,
                               admin)['domains'][0]['id']
        project = identity.service.project_id
        for user in self._users.values():
            user.project_id = project
            user.user_id = identity.call('POST', '/users', admin, {'user': {
                'name': user.name, 'password': user.password,
                'domain_id': domain, 'default_project_id': project}},
                expected=201)['user']['id']
            for role in ('admin', keystone.SERVICE_ROLE):
                identity.call('PUT', '/projects/%s/users/%s/roles/%s'
                              % (project, user.user_id, roles[role]), admin,
                              expected=204)
        for member in identity.members.values():
            identity.call('PUT', '/projects/%s/users/%s/roles/%s'
                          % (member.project_id, identity.admin.user_id,
                             roles['admin']), admin, expected=204)
        self.auth = self._auth_options(identity.admin)

    def _auth_options(self, user: keystone.User) -> dict[str, str]:
        assert self.keystone is not None
        return {
            'auth_url': self.keystone.root_url,
            'username': user.name,
            'password': user.password,
            'project_name': user.project,
            'user_domain_name': keystone.DOMAIN,
            'project_domain_name': keystone.DOMAIN,
            'region_name': REGION,
        }

    def _real_neutron(self) -> str | None:
        """The real Neutron's endpoint, or None if it cannot be had here.

        That Neutron puts itself in the catalog.

        :raises StartError: if it could be had but did not start.
        """
        try:
            neutron = importlib.import_module(_NEUTRON)
        except ModuleNotFoundError as e:
            if e.name != _NEUTRON:
                raise
            return None
        try:
            return str(neutron.shared().url)
        except Exception as e:
            if type(e).__name__ != 'Unavailable':
                raise StartError('Neutron did not start: %s' % e)
            LOG.warning('Nova uses a Neutron stand-in: %s', e)
            return None

    def _stand_in_neutron(self) -> str:
        """Serve the Neutron stand-in and put it in the catalog."""
        handler = type('Handler', (_NeutronStandIn,), {
            'log_path': self._path('logs', 'neutron-stand-in.log')})
        self._stand_in = http.server.ThreadingHTTPServer((base.HOST, 0),
                                                         handler)
        self._stand_in.daemon_threads = True
        threading.Thread(target=self._stand_in.serve_forever,
                         name='neutron-stand-in', daemon=True).start()
        self.neutron_stand_in = True
        url = 'http://%s:%d' % (base.HOST, self._stand_in.server_port)
        self._register('network', 'neutron-stand-in', url)
        return url

    # -- databases

    def _manage(self, label: str, venv: Venv, argv: list[str]) -> None:
        """Run a program of ``venv``'s, which must succeed.

        ``argv[0]`` is a script of the virtualenv's ``bin``, or a file of
        this Nova's directory run by its Python.
        """
        log_path = self._path('logs', 'manage-%s.log' % label)
        program = os.path.join(self._venvs[venv.name], 'bin', argv[0])
        if not os.path.exists(program):
            program = os.path.join(self._venvs[venv.name], 'bin', 'python')
            argv = [program, self._path(argv[0]), *argv[1:]]
        else:
            argv = [program, *argv[1:]]
        started = time.monotonic()
        with open(log_path, 'w') as out:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=keystone._child_env(),
                cwd=self.workdir, start_new_session=True)
            try:
                process.wait(COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal(process, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
                raise StartError('%s took over %d s\n%s'
                                 % (label, COMMAND_TIMEOUT,
                                    self.logs('manage-')))
        if process.returncode:
            raise StartError('%s exited %d:\n%s'
                             % (label, process.returncode,
                                self.logs('manage-')))
        LOG.debug('%s took %.1f s', label, time.monotonic() - started)

    def _sync_databases(self) -> None:
        """The schemas of every database, and the cells."""
        url = {name: url for name, (_, url) in self._databases.items()}
        for name, sections in (
                ('nova-manage.conf', {
                    'DEFAULT': {'transport_url': self.transport_url},
                    'api_database': {'connection': url['nova_api']},
                    'database': {'connection': url['nova']}}),
                ('cell0.conf', {'database': {'connection':
                                             url['nova_cell0']}}),
                ('placement-manage.conf', {'placement_database': {
                    'connection': url['placement']}}),
                ('glance-manage.conf', {'database': {
                    'connection': url['glance']}})):
            _write_ini(self._path(name), sections)

        def nova(conf: str, *args: str) -> list[str]:
            return ['nova-manage', '--config-file', self._path(conf), *args]
        stages = [
            [('api_db', 'nova.cmd.manage',
              nova('nova-manage.conf', 'api_db', 'sync')),
             ('cell1', 'nova.cmd.manage',
              nova('nova-manage.conf', 'db', 'sync', '--local_cell')),
             ('cell0', 'nova.cmd.manage',
              nova('cell0.conf', 'db', 'sync', '--local_cell')),
             ('placement', 'placement.cmd.manage',
              ['placement-manage', '--config-file',
               self._path('placement-manage.conf'), 'db', 'sync'])],
            [('map_cell0', 'nova.cmd.manage',
              nova('nova-manage.conf', 'cell_v2', 'map_cell0',
                   '--database_connection', url['nova_cell0'])),
             ('create_cell', 'nova.cmd.manage',
              nova('nova-manage.conf', 'cell_v2', 'create_cell', '--name',
                   'cell1'))],
        ]
        with open(self._path('manage.json'), 'w') as f:
            json.dump(stages, f)
        with open(self._path('manage.py'), 'w') as f:
            f.write(_MANAGE)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            glance = pool.submit(
                self._manage, 'glance', GLANCE_VENV,
                ['glance-manage', '--config-file',
                 self._path('glance-manage.conf'), 'db_sync'])
            self._manage('nova', NOVA_VENV, [
                'manage.py', self._path('manage.json'), self._path('logs')])
            glance.result()

    # -- the catalog and the configuration

    @staticmethod
    def _listen() -> socket.socket:
        listener = socket.socket()
        listener.bind((base.HOST, 0))
        listener.listen(128)
        return listener

    @staticmethod
    def _root_url(listener: socket.socket) -> str:
        return 'http://%s:%d' % listener.getsockname()[:2]

    def _register_services(self) -> None:
        """Nova's, Placement's and Glance's services in the catalog."""
        self._register('compute', 'nova', self.url)
        self._register('placement', 'placement', self.placement_url)
        self._register('image', 'glance', self.image_url)

    def _register(self, kind: str, name: str, url: str) -> None:
        """A service with public and internal endpoints at ``url``."""
        assert self.keystone is not None
        admin = self.keystone.token(self.keystone.admin)
        service = self.keystone.call('POST', '/services', admin, {
            'service': {'type': kind, 'name': name, 'enabled': True}},
            expected=201)['service']['id']
        self._catalog.append(service)
        for interface in ('public', 'internal'):
            self.keystone.call('POST', '/endpoints', admin, {
                'endpoint': {'service_id': service, 'url': url,
                             'interface': interface,
                             'region_id': REGION}}, expected=201)

    def _auth_section(self, user: str, **extra: str) -> dict[str, str]:
        options = self._auth_options(self._users[user])
        options['auth_type'] = 'password'
        options.update(extra)
        return options

    def _write_configs(self) -> None:
        """nova.conf, one per compute host, placement's and glance's."""
        assert self.keystone is not None
        policy = {'enforce_scope': 'False', 'enforce_new_defaults': 'False'}
        clients = {'region_name': REGION, 'valid_interfaces': 'public'}
        common: dict[str, dict[str, str]] = {
            'DEFAULT': {
                'transport_url': self.transport_url,
                'my_ip': base.HOST,
                'report_interval': str(REPORT_INTERVAL),
                'service_down_time': str(SERVICE_DOWN_TIME),
                'graceful_shutdown_timeout': '5',
                # Periodic tasks (the scheduler's mapping of new computes
                # to the cell among them) start at once, not up to a minute
                # later.
                'periodic_fuzzy_delay': '0',
            },
            'notifications': {
                'notification_format': 'both',
                'notify_on_state_change': 'vm_and_task_state',
            },
            'oslo_messaging_notifications': {'driver': 'messagingv2'},
            'placement': self._auth_section('nova', **clients),
            'neutron': self._auth_section('nova', **clients),
            'glance': dict(clients),
            'cinder': {'os_region_name': REGION},
            'quota': {'driver': 'nova.quota.NoopQuotaDriver'},
            'oslo_policy': policy,
        }
        url = {name: url for name, (_, url) in self._databases.items()}
        controller = _merged(common, {
            'DEFAULT': {'host': CONTROLLER,
                        'state_path': self._path('controller')},
            'oslo_concurrency': {'lock_path': self._path('controller',
                                                         'locks')},
            'api_database': {'connection': url['nova_api']},
            'database': {'connection': url['nova']},
            'keystone_authtoken': self._authtoken('nova'),
            'conductor': {'workers': '1'},
            'scheduler': {'workers': '1',
                          'discover_hosts_in_cells_interval': '2'},
        })
        os.makedirs(self._path('controller', 'locks'))
        _write_ini(self._path('nova.conf'), controller)
        _write_ini(self._path('nova-api.conf'), {
            'DEFAULT': {'log_file': self._path('logs', 'nova-api.log')}})
        for host in self.hosts:
            state = self._path(host)
            os.makedirs(os.path.join(state, 'instances'))
            _write_ini(self._path(host + '.conf'), _merged(common, {
                'DEFAULT': {
                    'host': host, 'state_path': state,
                    'instances_path': os.path.join(state, 'instances'),
                    'compute_driver': 'fake.FakeDriverWithoutFakeNodes',
                },
                'oslo_concurrency': {'lock_path': os.path.join(state,
                                                               'locks')},
            }))
        os.mkdir(self._path('placement'))
        _write_ini(self._path('placement', 'placement.conf'), {
            'DEFAULT': {'log_file': self._path('logs', 'placement.log')},
            'placement_database': {'connection': url['placement']},
            'api': {'auth_strategy': 'keystone'},
            'keystone_authtoken': self._authtoken('placement'),
            'oslo_policy': policy,
        })
        glance = self._path('glance')
        os.mkdir(glance)
        store = {name: {'filesystem_store_datadir': os.path.join(glance,
                                                                 name)}
                 for name in ('images', 'os_glance_staging_store',
                              'os_glance_tasks_store')}
        _write_ini(os.path.join(glance, 'glance-api.conf'), {
            'DEFAULT': {'log_file': self._path('logs', 'glance-api.log'),
                        'enabled_backends': 'images:file'},
            'database': {'connection': url['glance']},
            'glance_store': {'default_backend': 'images'},
            **store,
            'paste_deploy': {
                'flavor': 'keystone',
                'config_file': os.path.join(
                    self._venvs[GLANCE_VENV.name], 'etc', 'glance',
                    'glance-api-paste.ini')},
            'keystone_authtoken': self._authtoken('glance'),
            'oslo_policy': policy,
        })

    def _authtoken(self, user: str) -> dict[str, str]:
        assert self.keystone is not None
        options = self._auth_section(
            user, www_authenticate_uri=self.keystone.root_url)
        return options

    # -- processes

    def _launch(self, name: str, venv: Venv, target: str, args: list[str],
                env: dict[str, str] | None = None,
                pass_fds: tuple[int, ...] = ()) -> None:
        """Run ``target`` (``module:function``) in ``venv`` as ``name``."""
        launcher = self._path('launch.py')
        if not os.path.exists(launcher):
            with open(launcher, 'w') as f:
                f.write(_LAUNCHER)
        argv = [os.path.join(self._venvs[venv.name], 'bin', 'python'),
                launcher, target, *args]
        child_env = keystone._child_env()
        child_env.update(env or {})
        with open(self._path('logs', name + '.out'), 'w') as out:
            self._processes[name] = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=child_env, pass_fds=pass_fds,
                cwd=self.workdir, start_new_session=True)

    def _service_args(self, name: str, conf: str) -> list[str]:
        return ['--config-file', self._path(conf),
                '--log-file', self._path('logs', name + '.log')]

    def _serve(self, name: str, listener: socket.socket) -> None:
        """gunicorn serving one WSGI app on ``listener``."""
        venv = NOVA_VENV
        if name == 'placement':
            app = 'placement.wsgi.api:application'
            env = {'OS_PLACEMENT_CONFIG_DIR': self._path('placement')}
        elif name == 'glance':
            venv = GLANCE_VENV
            app = 'glance.wsgi.api:application'
            env = {'OS_GLANCE_CONFIG_DIR': self._path('glance')}
        else:
            with open(self._path('nova_api_wsgi.py'), 'w') as f:
                f.write(_NOVA_WSGI)
            app = 'nova_api_wsgi:application'
            paste = os.path.join(self._venvs[venv.name], 'etc', 'nova',
                                 'api-paste.ini')
            env = {'OS_NOVA_CONFIG_FILES': ';'.join(
                [paste, self._path('nova.conf'),
                 self._path('nova-api.conf')])}
        fd = listener.fileno()
        self._launch(name, venv, 'gunicorn.app.wsgiapp:run', [
            '--chdir', self.workdir,
            '--bind', 'fd://%d' % fd,
            '--worker-class', 'gthread', '--workers', '1', '--threads', '8',
            '--graceful-timeout', '3', '--timeout', '120',
            '--no-control-socket',
            '--error-logfile', self._path('logs', name + '.gunicorn.log'),
            app], env=env, pass_fds=(fd,))

    def logs(self, *names: str) -> str:
        """The tails of the logs of ``names``, or of every process."""
        directory = self._path('logs')
        try:
            files = sorted(os.listdir(directory))
        except OSError:
            return ''
        chosen = [f for f in files
                  if not names or f.split('.')[0] in names
                  or f.startswith(names)]
        return '\n'.join(
            '--- %s:\n%s' % (f, keystone._tail(os.path.join(directory, f),
                                               15))
            for f in chosen
            if os.path.getsize(os.path.join(directory, f)))

    def _check_processes(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise StartError('%s exited %s\n%s'
                                 % (name, process.returncode,
                                    self.logs(name)))

    def _wait(self, what: str, ready: typing.Callable[[], bool],
              timeout: float = READY_TIMEOUT) -> None:
        """Poll ``ready`` until true, while every process runs."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_processes()
            if ready():
                return
            if time.monotonic() > deadline:
                raise StartError('%s not ready within %d s\n%s'
                                 % (what, timeout, self.logs()))
            time.sleep(0.2)

    def _wait_for_http(self, name: str, url: str) -> None:
        def ready() -> bool:
            try:
                return requests.get(url, timeout=5).status_code < 500
            except requests.RequestException:
                return False
        self._wait(name, ready)

    def _wait_for_computes(self) -> None:
        """Every service up, every compute host mapped and in Placement."""
        engine = sa.create_engine(self._databases['nova_api'][1],
                                  poolclass=sa_pool.NullPool)
        wanted = set(self.hosts)

        def ready() -> bool:
            try:
                return check()
            except (APIError, requests.RequestException,
                    sa.exc.SQLAlchemyError) as e:
                LOG.debug('Nova is not ready yet: %s', e)
                return False

        def check() -> bool:
            services = self.call('GET', '/os-services')['services']
            up = {(s['binary'], s['host']) for s in services
                  if s['state'] == 'up'}
            if not {('nova-conductor', CONTROLLER),
                    ('nova-scheduler', CONTROLLER)} <= up:
                return False
            if not wanted <= {host for binary, host in up
                              if binary == 'nova-compute'}:
                return False
            providers = self._placement(
                '/resource_providers?resources=VCPU:1,MEMORY_MB:64,'
                'DISK_GB:1')['resource_providers']
            if not wanted <= {p['name'] for p in providers}:
                return False
            with engine.connect() as connection:
                mapped = set(connection.execute(sa.text(
                    'SELECT host FROM host_mappings')).scalars())
            return wanted <= mapped
        try:
            self._wait('the compute hosts %s' % ', '.join(self.hosts), ready)
        finally:
            engine.dispose()

    # -- the APIs

    def token(self, project: str | None = None) -> str:
        """A token of the cloud administrator, scoped to ``project``.

        ``project`` is a project name: ``admin`` (the default) or a tenant.
        """
        assert self.keystone is not None
        project = project or keystone.ADMIN
        with self._tokens_lock:
            if project not in self._tokens:
                admin = self.keystone.admin
                self._tokens[project] = self.keystone.issue_token(
                    keystone.User(admin.name, admin.password, project))
            return self._tokens[project]

    def _request(self, method: str, url: str, project: str | None,
                 headers: dict[str, str], **kwargs: typing.Any
                 ) -> requests.Response:
        for attempt in (1, 2):
            response = requests.request(
                method, url, timeout=HTTP_TIMEOUT,
                headers=dict(headers, **{'X-Auth-Token': self.token(project)}),
                **kwargs)
            if response.status_code != 401 or attempt == 2:
                return response
            with self._tokens_lock:
                self._tokens.pop(project or keystone.ADMIN, None)
        raise AssertionError('unreachable')

    def call(self, method: str, path: str, json: dict | None = None,
             expected: int = 200, project: str | None = None) -> dict:
        """One call to the compute API as the administrator.

        ``path`` is relative to ``…/v2.1``; the call uses microversion
        :data:`MICROVERSION` and a token scoped to ``project`` (a project
        name, ``admin`` by default). Returns the JSON body, if any.

        :raises APIError: if the status is not ``expected``.
        """
        response = self._request(
            method, self.url + path, project,
            {'OpenStack-API-Version': 'compute ' + MICROVERSION}, json=json)
        if response.status_code != expected:
            raise APIError('%s %s answered %d, not %d: %s'
                           % (method, path, response.status_code, expected,
                              response.text[:500]))
        return response.json() if response.content else {}

    def _placement(self, path: str) -> dict:
        response = self._request(
            'GET', self.placement_url + path, None,
            {'OpenStack-API-Version': 'placement 1.10'})
        if response.status_code != 200:
            raise APIError('GET %s answered %d: %s'
                           % (path, response.status_code,
                              response.text[:500]))
        return response.json()

    def _upload_image(self) -> None:
        response = self._request('POST', self.image_url + '/v2/images', None,
                                 {}, json={
                                     'name': IMAGE, 'disk_format': 'raw',
                                     'container_format': 'bare',
                                     'visibility': 'public'})
        if response.status_code != 201:
            raise StartError('Glance did not make the image: %d %s\n%s'
                             % (response.status_code, response.text[:500],
                                self.logs('glance')))
        image = response.json()['id']
        response = self._request(
            'PUT', '%s/v2/images/%s/file' % (self.image_url, image), None,
            {'Content-Type': 'application/octet-stream'},
            data=bytes(64 * 1024))
        if response.status_code != 204:
            raise StartError('Glance did not take the image: %d %s\n%s'
                             % (response.status_code, response.text[:500],
                                self.logs('glance')))
        self.image_id = image

    def _create_flavor(self) -> None:
        self.flavor_id = self.call('POST', '/flavors', {'flavor': {
            'name': FLAVOR, 'ram': 64, 'vcpus': 1, 'disk': 1}})[
                'flavor']['id']

    def member_auth(self, project: str) -> dict[str, str]:
        """keystoneauth password options of the member of ``project``.

        ``project`` is one of :data:`keystone.TENANTS`; the user has the
        ``member`` role there and no other.
        """
        assert self.keystone is not None
        return self._auth_options(self.keystone.members[project])

    def project_id(self, project: str) -> str:
        """The id of the project named ``project`` (admin or a tenant)."""
        assert self.keystone is not None
        if project == keystone.ADMIN:
            return self.keystone.admin.project_id
        return self.keystone.members[project].project_id

    def connection(self, project: str | None = None
                   ) -> sdk_connection.Connection:
        """An openstacksdk connection of the administrator.

        Scoped to the admin project, or to ``project`` (a tenant's name),
        where the administrator has the admin role too.
        """
        auth = dict(self.auth)
        region = auth.pop('region_name')
        if project:
            auth['project_name'] = project
        return sdk_connection.Connection(auth_type='password', auth=auth,
                                         region_name=region)

    def boot(self, name: str, host: str, project: str | None = None) -> str:
        """Boot a server without networks on ``host``; its id once ACTIVE.

        The server belongs to ``project`` (a tenant's name), or to the
        admin project.

        :raises APIError: if it went to ERROR or did not become ACTIVE.
        """
        if host not in self.hosts:
            raise ValueError('%s is not one of %s' % (host, self.hosts))
        server = self.call('POST', '/servers', {'server': {
            'name': name, 'imageRef': self.image_id,
            'flavorRef': self.flavor_id, 'networks': 'none',
            'availability_zone': 'nova:' + host}}, expected=202,
            project=project)['server']['id']
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            details = self.call('GET', '/servers/' + server)['server']
            if details['status'] == 'ACTIVE':
                return server
            if details['status'] == 'ERROR':
                raise APIError('server %s went to ERROR: %s\n%s'
                               % (server, details.get('fault'),
                                  self.logs(host, 'nova-conductor')))
            if time.monotonic() > deadline:
                raise APIError('server %s still %s after %d s\n%s'
                               % (server, details['status'], SERVER_TIMEOUT,
                                  self.logs(host)))
            time.sleep(0.2)

    def delete(self, server_id: str) -> None:
        """Delete a server and wait until it is gone.

        :raises APIError: if it is still there after a while.
        """
        self.call('DELETE', '/servers/' + server_id, expected=204)
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            response = self._request(
                'GET', self.url + '/servers/' + server_id, None,
                {'OpenStack-API-Version': 'compute ' + MICROVERSION})
            if response.status_code == 404:
                return
            if time.monotonic() > deadline:
                raise APIError('server %s still there after %d s: %s'
                               % (server_id, SERVER_TIMEOUT,
                                  response.text[:300]))
            time.sleep(0.2)

    def service_id(self, host: str) -> str:
        """The id of the nova-compute service of ``host``."""
        services = self.call(
            'GET', '/os-services?binary=nova-compute&host=' + host)[
                'services']
        if not services:
            raise APIError('no nova-compute service on %s' % host)
        return services[0]['id']

    # -- stopping

    def stop(self) -> None:
        """Stop every process; drop the databases, vhost and directory."""
        processes, self._processes = self._processes, {}
        for process in processes.values():
            _signal(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.warning('%s did not stop within %d s: killed', name,
                            STOP_TIMEOUT)
                _signal(process, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        if self._stand_in is not None:
            self._stand_in.shutdown()
            self._stand_in.server_close()
            self._stand_in = None
        self._forget_identity()
        server = base.SERVERS['postgresql']
        databases, self._databases = self._databases, {}
        for name, _ in databases.values():
            try:
                server.drop(name)
            except Exception:
                LOG.exception('Cannot drop Nova\'s database %s', name)
        vhost, self.vhost = self.vhost, ''
        if vhost:
            try:
                base._rabbitmqctl_run('delete_vhost', vhost)
            except Exception:
                LOG.debug('No virtual host %s to delete', vhost)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _forget_identity(self) -> None:
        """Take this cloud's services and users out of Keystone."""
        identity = self.keystone
        if identity is None or identity.url == '':
            return
        try:
            admin = identity.token(identity.admin)
            for service in self._catalog:
                identity.call('DELETE', '/services/' + service, admin,
                              expected=204)
            for user in self._users.values():
                if user.user_id:
                    identity.call('DELETE', '/users/' + user.user_id, admin,
                                  expected=204)
        except Exception as e:
            LOG.debug('Keystone keeps Nova\'s services or users: %s', e)
        self._catalog = []


def _signal(process: subprocess.Popen, signum: int) -> None:
    # Each process leads a process group of its own, with its children.
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def _merged(*configs: dict[str, dict[str, str]]
            ) -> dict[str, dict[str, str]]:
    """The sections of ``configs``, later options replacing earlier ones."""
    result: dict[str, dict[str, str]] = {}
    for config in configs:
        for section, options in config.items():
            result.setdefault(section, {}).update(options)
    return result


def _write_ini(path: str, sections: dict[str, dict[str, str]]) -> None:
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % item for item in options.items()]
        lines.append('')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def _reap_abandoned() -> None:
    """Drop what test processes killed outright left behind.

    Their processes stopped by themselves; their databases, virtual host
    and directory remain and are removed here, once the process that made
    them is gone.
    """
    for name in os.listdir(_TMP):
        workdir = os.path.join(_TMP, name)
        if not name.startswith(_WORKDIR_PREFIX):
            continue
        try:
            if os.stat(workdir).st_uid != os.getuid():
                continue
            with open(os.path.join(workdir, _OWNER)) as f:
                owner = json.load(f)
            pid = int(owner['pid'])
            databases = [d for d in owner['databases']
                         if _DATABASE_NAME.fullmatch(d)]
            vhost = owner['vhost']
            os.kill(pid, 0)
        except ProcessLookupError:
            LOG.info('Removing the Nova databases, virtual host and '
                     'directory %s of process %s, which is gone', workdir,
                     pid)
            try:
                for database in databases:
                    base.SERVERS['postgresql'].drop(database)
                if _VHOST_NAME.fullmatch(vhost):
                    base._rabbitmqctl_run('delete_vhost', vhost)
            except Exception:
                LOG.exception('Cannot remove what process %s left', pid)
                continue
            shutil.rmtree(workdir, ignore_errors=True)
        except (OSError, ValueError, KeyError, TypeError):
            # Being made, or not ours to judge.
            continue


_lock = threading.Lock()
_nova: Nova | None = None
_failure: BaseException | None = None


def shared() -> Nova:
    """This process's Nova, started on first use, stopped at exit.

    A failure to start is remembered: later callers get it at once.

    :raises Unavailable: if a service Nova needs is missing.
    :raises StartError: if Nova did not start.
    """
    global _nova, _failure
    with _lock:
        if _failure is not None:
            raise _failure
        if _nova is None:
            nova = Nova()
            try:
                nova.start()
            except Exception as e:
                _failure = e
                raise
            atexit.register(nova.stop)
            _nova = nova
        return _nova


def require(test: base.FunctionalTestCase) -> Nova:
    """The shared Nova, for ``test``.

    Skips ``test`` when Nova cannot be had on this machine, or fails it
    when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set. Call :func:`shared`
    from ``setUpClass`` first: a first start (an install) takes longer
    than a test is given.
    """
    try:
        return shared()
    except Unavailable as e:
        if base.services_required():
            test.fail('%s is required (%s is set) but unusable: %s'
                      % (NOVA, ' or '.join(base.REQUIRE_ENV), e))
        test.skipTest('%s is not available: %s' % (NOVA, e))
    except StartError as e:
        test.fail('%s did not start: %s' % (NOVA, e))
