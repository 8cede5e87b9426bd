"""A real Keystone on loopback, shared by the tests of one process.

:func:`shared` starts it on first use and stops it when the process exits:

* Keystone (and gunicorn, and PostgreSQL's driver) live in a virtualenv of
  their own under the user's cache directory
  (``~/.cache/doctor-tests/keystone-venv``, or under ``$XDG_CACHE_HOME``),
  never in doctor's. It is made once per machine, under a file lock so that
  parallel test processes wait for one install, and reused while it holds
  the pinned versions.
* Each start gets a new PostgreSQL database (dropped at the end) and a
  temporary directory with the configuration, the logs and the key
  repositories of fernet tokens, receipts and credentials (written as
  ``keystone-manage fernet_setup`` and ``credential_setup`` write them).
* gunicorn (gthread) starts serving Keystone's WSGI app on a socket this
  process bound on a free loopback port and hands over, while
  ``keystone-manage db_sync`` and then ``bootstrap`` run (the ``admin``
  user with the admin role on the ``admin`` project, RegionOne, the
  identity endpoints on that port).
* Once Keystone answers, its REST API is used as a cloud operator would:
  the ``service`` project with a ``doctor`` service user (role
  ``service``, as devstack makes them), and projects ``tenant-a`` and
  ``tenant-b`` with a member user each.

When the virtualenv cannot be made (no package index reachable) or
PostgreSQL is missing, :class:`Unavailable` is raised: a test then skips,
or fails when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set, like for any
missing service. Any other failure to start is an error. Every wait is
bounded. gunicorn stops on its own if this process dies without stopping
it, and the next start removes the database and directory left behind.
"""

import atexit
import dataclasses
import fcntl
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
import uuid

from cryptography import fernet
from oslo_log import log
import requests

from doctor.tests.functional import base

LOG = log.getLogger(__name__)

VERSION = '30.0.0'
# Keystone pinned; gunicorn and the driver at versions known to work with
# it (gunicorn >= 25 for --no-control-socket).
REQUIREMENTS = (
    'keystone==' + VERSION,
    'gunicorn==27.0.1',
    'psycopg2-binary==2.9.13',
)
KEYSTONE = 'Keystone ' + VERSION
REGION = 'RegionOne'
DOMAIN = 'Default'
ADMIN = 'admin'
SERVICE_PROJECT = 'service'
SERVICE_USER = 'doctor'
TENANTS = ('tenant-a', 'tenant-b')
MEMBER_ROLE = 'member'
SERVICE_ROLE = 'service'

# Bounds, in seconds.
INSTALL_TIMEOUT = 900
COMMAND_TIMEOUT = 120
START_TIMEOUT = 60
STOP_TIMEOUT = 10
HTTP_TIMEOUT = 30

_VENV = 'keystone-venv'
_WORKDIR_PREFIX = 'doctor-keystone-'
# Keystone outlives each test's temporary directory
# (fixtures.NestedTempfile): its own is made in the system one.
_TMP = tempfile.gettempdir()
_OWNER = 'owner'
# The names base.SERVERS gives the databases it makes.
_DATABASE_NAME = re.compile('doctor_func_[0-9a-f]{12}')
_MARKER = 'doctor-requirements.txt'

# Keystone's WSGI module configures itself from sys.argv: gunicorn's own
# arguments must not reach it.
_WSGI_MODULE = '''\
import sys

_argv = sys.argv
sys.argv = _argv[:1]
try:
    from keystone.wsgi.api import application  # noqa: F401
finally:
    sys.argv = _argv
'''

# gunicorn's master stops when the process that started it is gone, so
# that a test run killed outright leaves no Keystone behind.
_GUNICORN_CONF = '''\
import os
import signal
import threading
import time


def when_ready(server):
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True).start()
'''


# Groups of keystone.conf naming a key repository.
KEY_REPOSITORIES = ('fernet_tokens', 'fernet_receipts', 'credential')


def _make_key_repository(path: str) -> None:
    """A key repository as ``keystone-manage fernet_setup`` leaves it.

    Files named by integers, each one Fernet key, readable by the owner
    only: ``0`` is the staged key, the highest number the primary one.
    Made here rather than by two more keystone-manage runs, each of which
    costs seconds of CPU to import Keystone.
    """
    os.mkdir(path, 0o700)
    for name in ('0', '1'):
        descriptor = os.open(os.path.join(path, name),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'wb') as f:
            f.write(fernet.Fernet.generate_key())


class Unavailable(Exception):
    """Keystone cannot be run on this machine: a service is missing."""


class StartError(Exception):
    """Keystone could be run here, but did not start."""


def cache_dir() -> str:
    """Where the tests keep what they install, per user."""
    root = (os.environ.get('XDG_CACHE_HOME')
            or os.path.join(os.path.expanduser('~'), '.cache'))
    return os.path.join(root, 'doctor-tests')


def _child_env() -> dict:
    """This environment without what points Python at doctor's venv."""
    env = dict(os.environ)
    for name in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME'):
        env.pop(name, None)
    env['PYTHONWARNINGS'] = 'ignore'
    return env


def _tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


# -- the virtualenv -----------------------------------------------------------

def _venv_matches(venv: str) -> bool:
    """Whether ``venv`` finished installing :data:`REQUIREMENTS`."""
    python = os.path.join(venv, 'bin', 'python')
    try:
        with open(os.path.join(venv, _MARKER)) as f:
            if f.read().split() != list(REQUIREMENTS):
                return False
        probe = subprocess.run(
            [python, '-c', 'import importlib.metadata as m; '
             'print(m.version("keystone"))'],
            env=_child_env(), capture_output=True, text=True,
            timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == VERSION


def _lock_file(lock, timeout: float) -> None:
    """Take an exclusive lock of the open file ``lock``, waiting a while.

    :raises StartError: if it is still held by another after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise StartError('%s is still locked after %d s'
                                 % (lock.name, timeout))
            time.sleep(0.5)


def ensure_venv() -> str:
    """Keystone's virtualenv, made if missing or not the pinned one.

    :raises Unavailable: if it cannot be installed.
    """
    directory = cache_dir()
    os.makedirs(directory, exist_ok=True)
    venv = os.path.join(directory, _VENV)
    with open(os.path.join(directory, _VENV + '.lock'), 'w') as lock:
        # Parallel test processes wait here for the one installing.
        _lock_file(lock, 2 * INSTALL_TIMEOUT + COMMAND_TIMEOUT)
        if _venv_matches(venv):
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        log_path = os.path.join(directory, _VENV + '-install.log')
        started = time.monotonic()
        LOG.info('Installing %s into %s', KEYSTONE, venv)
        commands = (
            [sys.executable, '-m', 'venv', venv],
            [os.path.join(venv, 'bin', 'python'), '-m', 'pip', 'install',
             '--quiet', '--disable-pip-version-check', *REQUIREMENTS],
        )
        with open(log_path, 'w') as out:
            for argv in commands:
                try:
                    result = subprocess.run(
                        argv, stdout=out, stderr=subprocess.STDOUT,
                        env=_child_env(), timeout=INSTALL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise Unavailable('installing %s timed out after %d s'
                                      % (KEYSTONE, INSTALL_TIMEOUT))
                if result.returncode:
                    raise Unavailable(
                        'cannot install %s into %s (%s exited %d):\n%s'
                        % (KEYSTONE, venv, ' '.join(argv[:4]),
                           result.returncode, _tail(log_path, 10)))
        with open(os.path.join(venv, _MARKER), 'w') as f:
            f.write('\n'.join(REQUIREMENTS) + '\n')
        if not _venv_matches(venv):
            raise Unavailable('%s installed into %s does not run; see %s'
                              % (KEYSTONE, venv, log_path))
        LOG.info('Installed %s in %.0f s', KEYSTONE,
                 time.monotonic() - started)
        return venv


# -- Keystone -----------------------------------------------------------------

@dataclasses.dataclass
class User:
    """A Keystone user and the project its tokens are scoped to."""

    name: str
    password: str
    project: str
    user_id: str = ''
    project_id: str = ''


class Keystone:
    """One Keystone server: start it, use it, stop it.

    After :meth:`start`, ``url`` is its identity endpoint (``…/v3``) and
    ``root_url`` the unversioned one, where clients discover versions;
    ``admin`` the cloud administrator (bootstrap's), ``service`` doctor's
    service user and ``members[name]`` the member of each tenant project.
    """

    def __init__(self) -> None:
        self.workdir = ''
        self.root_url = ''
        self.url = ''
        self.port = 0
        self.admin = User(ADMIN, uuid.uuid4().hex, ADMIN)
        self.service = User(SERVICE_USER, uuid.uuid4().hex, SERVICE_PROJECT)
        self.members = {
            tenant: User(tenant + '-member', uuid.uuid4().hex, tenant)
            for tenant in TENANTS}
        self._venv = ''
        self._database: str | None = None
        self._gunicorn: subprocess.Popen | None = None
        self._tokens: dict[tuple[str, bool], str] = {}
        self._tokens_lock = threading.Lock()
        self.timings: dict[str, float] = {}

    # -- starting

    def start(self) -> None:
        """Install if needed, configure, bootstrap, serve and populate.

        On failure, whatever was started is stopped again.
        """
        reason = base.unavailable(base.POSTGRESQL)
        if reason is not None:
            raise Unavailable('its database needs %s' % reason)
        started = time.monotonic()
        self._venv = ensure_venv()
        self.timings['venv'] = time.monotonic() - started
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.timings['total'] = time.monotonic() - started
        LOG.info('%s serving %s (%s)', KEYSTONE, self.url, ', '.join(
            '%s %.1f s' % item for item in self.timings.items()))

    def _start(self) -> None:
        started = time.monotonic()
        _reap_abandoned()
        self.workdir = tempfile.mkdtemp(prefix=_WORKDIR_PREFIX, dir=_TMP)
        server = base.SERVERS['postgresql']
        self._database, url = server.create()
        # Who owns the directory and the database, for _reap_abandoned.
        with open(self._path(_OWNER), 'w') as f:
            f.write('%d %s\n' % (os.getpid(), self._database))
        conf = self._write_config(url)
        # gunicorn loads Keystone while its schema is made: the app reads
        # the database only when asked something.
        listener = socket.socket()
        try:
            listener.bind((base.HOST, 0))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self.root_url = 'http://%s:%d' % (base.HOST, self.port)
            self.url = self.root_url + '/v3'
            self._serve(listener, conf)
        finally:
            listener.close()
        self._manage(['db_sync'], conf)
        self.timings['db_sync'] = time.monotonic() - started
        self._manage([
            'bootstrap', '--bootstrap-username', ADMIN,
            '--bootstrap-password', self.admin.password,
            '--bootstrap-project-name', ADMIN,
            '--bootstrap-region-id', REGION,
            '--bootstrap-admin-url', self.url,
            '--bootstrap-public-url', self.url,
            '--bootstrap-internal-url', self.url], conf)
        self.timings['bootstrap'] = time.monotonic() - started
        self._wait_until_ready()
        self.timings['ready'] = time.monotonic() - started
        self._populate()
        self.timings['populated'] = time.monotonic() - started

    def _path(self, *names: str) -> str:
        return os.path.join(self.workdir, *names)

    def _write_config(self, database_url: str) -> str:
        lines = [
            '[DEFAULT]',
            'log_file = %s' % self._path('keystone.log'),
            '[database]',
            'connection = %s' % database_url,
            # bcrypt's cheapest: these passwords protect nothing, and every
            # token issued checks one.
            '[identity]',
            'password_hash_rounds = 4',
        ]
        for group in KEY_REPOSITORIES:
            path = self._path(group.replace('_', '-'))
            _make_key_repository(path)
            lines += ['[%s]' % group, 'key_repository = %s' % path]
        path = self._path('keystone.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def _manage(self, command: list[str], conf: str) -> None:
        """Run one keystone-manage command, which must succeed."""
        log_path = self._path('manage-%s.log' % command[0])
        argv = [os.path.join(self._venv, 'bin', 'keystone-manage'),
                '--config-file', conf, *command]
        with open(log_path, 'w') as out:
            try:
                result = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, env=_child_env(),
                    timeout=COMMAND_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise StartError('keystone-manage %s took over %d s'
                                 % (command[0], COMMAND_TIMEOUT))
        if result.returncode:
            raise StartError('keystone-manage %s exited %d:\n%s'
                             % (command[0], result.returncode,
                                _tail(log_path)))

    def _serve(self, listener: socket.socket, conf: str) -> None:
        with open(self._path('keystone_wsgi.py'), 'w') as f:
            f.write(_WSGI_MODULE)
        with open(self._path('gunicorn_conf.py'), 'w') as f:
            f.write(_GUNICORN_CONF)
        env = _child_env()
        env['OS_KEYSTONE_CONFIG_FILES'] = conf
        fd = listener.fileno()
        argv = [
            os.path.join(self._venv, 'bin', 'gunicorn'),
            '--config', self._path('gunicorn_conf.py'),
            '--chdir', self.workdir,
            '--bind', 'fd://%d' % fd,
            '--worker-class', 'gthread', '--workers', '1', '--threads', '8',
            '--graceful-timeout', '3', '--timeout', '60',
            '--no-control-socket',
            '--error-logfile', self._path('gunicorn.log'),
            'keystone_wsgi:application',
        ]
        with open(self._path('gunicorn.out'), 'w') as out:
            self._gunicorn = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, pass_fds=(fd,),
                cwd=self.workdir, start_new_session=True)

    def _logs(self) -> str:
        return '\n'.join(
            '--- %s:\n%s' % (name, _tail(self._path(name)))
            for name in ('gunicorn.out', 'gunicorn.log', 'keystone.log'))

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._gunicorn is not None
            if self._gunicorn.poll() is not None:
                raise StartError('gunicorn serving %s exited %s\n%s'
                                 % (KEYSTONE, self._gunicorn.returncode,
                                    self._logs()))
            try:
                response = requests.get(self.url, timeout=5)
                if response.status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise StartError('%s did not answer on %s within %d s\n%s'
                                 % (KEYSTONE, self.url, START_TIMEOUT,
                                    self._logs()))
            time.sleep(0.1)

    # -- the REST API

    def call(self, method: str, path: str, token: str | None = None,
             json: dict | None = None, expected: int = 200) -> dict:
        """One call to Keystone's API; returns the JSON body, if any."""
        headers = {'X-Auth-Token': token} if token else {}
        response = requests.request(method, self.url + path, json=json,
                                    headers=headers, timeout=HTTP_TIMEOUT)
        if response.status_code != expected:
            raise StartError('%s %s answered %d, not %d: %s'
                             % (method, path, response.status_code,
                                expected, response.text[:500]))
        return response.json() if response.content else {}

    def token(self, user: User, system: bool = False) -> str:
        """A token of ``user`` (password auth), cached.

        Scoped to the user's project, or to the system if ``system``.
        """
        key = (user.name, system)
        with self._tokens_lock:
            if key not in self._tokens:
                self._tokens[key] = self.issue_token(user, system)
            return self._tokens[key]

    def issue_token(self, user: User, system: bool = False) -> str:
        """A new token of ``user`` by password, scoped as for token()."""
        scope: dict = {'project': {'name': user.project,
                                   'domain': {'name': DOMAIN}}}
        if system:
            scope = {'system': {'all': True}}
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user.name, 'password': user.password,
                'domain': {'name': DOMAIN}}}},
            'scope': scope,
        }}
        response = requests.post(self.url + '/auth/tokens', json=body,
                                 timeout=HTTP_TIMEOUT)
        if response.status_code != 201:
            raise StartError('%s cannot get a token for %s: %d %s'
                             % (KEYSTONE, user.name, response.status_code,
                                response.text[:500]))
        token = response.json()['token']
        user.user_id = token['user']['id']
        if not system:
            user.project_id = token['project']['id']
        return response.headers['X-Subject-Token']

    def _populate(self) -> None:
        """The service user and the tenants, made through the API."""
        admin = self.token(self.admin)
        roles = {role['name']: role['id']
                 for role in self.call('GET', '/roles', admin)['roles']}
        domain = self.call('GET', '/domains?name=%s' % DOMAIN,
                           admin)['domains'][0]['id']
        for user, role in ([(self.service, SERVICE_ROLE)]
                           + [(member, MEMBER_ROLE)
                              for member in self.members.values()]):
            project = self.call('POST', '/projects', admin, {'project': {
                'name': user.project, 'domain_id': domain,
                'description': 'doctor functional tests'}},
                expected=201)['project']['id']
            user.user_id = self.call('POST', '/users', admin, {'user': {
                'name': user.name, 'password': user.password,
                'domain_id': domain, 'default_project_id': project}},
                expected=201)['user']['id']
            user.project_id = project
            self.call('PUT', '/projects/%s/users/%s/roles/%s'
                      % (project, user.user_id, roles[role]), admin,
                      expected=204)

    # -- stopping

    def stop(self) -> None:
        """Stop gunicorn, drop the database, remove the directory."""
        process, self._gunicorn = self._gunicorn, None
        if process is not None and process.poll() is None:
            self._signal(process, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                LOG.warning('%s did not stop within %d s: killed',
                            KEYSTONE, STOP_TIMEOUT)
                self._signal(process, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        database, self._database = self._database, None
        if database is not None:
            try:
                base.SERVERS['postgresql'].drop(database)
            except Exception:
                LOG.exception('Cannot drop Keystone\'s database %s',
                              database)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _signal(process: subprocess.Popen, signum: int) -> None:
        # gunicorn leads a process group of its own, workers included.
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass


def _reap_abandoned() -> None:
    """Drop what test processes killed outright left behind.

    Their gunicorn stopped by itself; their database and directory remain
    and are removed here, once the process that made them is gone.
    """
    for name in os.listdir(_TMP):
        workdir = os.path.join(_TMP, name)
        if not name.startswith(_WORKDIR_PREFIX):
            continue
        try:
            if os.stat(workdir).st_uid != os.getuid():
                continue
            with open(os.path.join(workdir, _OWNER)) as f:
                pid, database = f.read().split()
            if not _DATABASE_NAME.fullmatch(database):
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            LOG.info('Removing the Keystone database %s and directory %s '
                     'of process %s, which is gone', database, workdir, pid)
            try:
                base.SERVERS['postgresql'].drop(database)
            except Exception:
                LOG.exception('Cannot drop database %s', database)
                continue
            shutil.rmtree(workdir, ignore_errors=True)
        except (OSError, ValueError):
            # Being made, or not ours to judge.
            continue


_lock = threading.Lock()
_keystone: Keystone | None = None
_failure: BaseException | None = None


def shared() -> Keystone:
    """This process's Keystone, started on first use, stopped at exit.

    A failure to start is remembered: later callers get it at once.

    :raises Unavailable: if a service Keystone needs is missing.
    :raises StartError: if Keystone did not start.
    """
    global _keystone, _failure
    with _lock:
        if _failure is not None:
            raise _failure
        if _keystone is None:
            keystone = Keystone()
            try:
                keystone.start()
            except Exception as e:
                _failure = e
                raise
            atexit.register(keystone.stop)
            _keystone = keystone
        return _keystone


def require(test: base.FunctionalTestCase) -> Keystone:
    """The shared Keystone, for ``test``.

    Skips ``test`` when Keystone cannot be had on this machine, or fails
    it when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set. Call
    :func:`shared` from ``setUpClass`` first: a first start (an install)
    may take longer than a test is given.
    """
    try:
        return shared()
    except Unavailable as e:
        if base.services_required():
            test.fail('%s is required (%s is set) but unusable: %s'
                      % (KEYSTONE, ' or '.join(base.REQUIRE_ENV), e))
        test.skipTest('%s is not available: %s' % (KEYSTONE, e))
    except StartError as e:
        test.fail('%s did not start: %s' % (KEYSTONE, e))
