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

import dataclasses
import os
import socket
import subprocess
import threading
import typing
import uuid

from cryptography import fernet
from keystoneauth1 import loading as ks_loading
from keystonemiddleware import auth_token
from oslo_log import log
import requests

from doctor.tests.functional import base
from doctor.tests.functional import peer_base
from doctor.tests.functional import peer_install

LOG = log.getLogger(__name__)

VERSION = '30.0.0'
KEYSTONE = 'Keystone ' + VERSION
# Keystone pinned; gunicorn and the driver at versions known to work with
# it (gunicorn >= 25 for --no-control-socket).
VENV = peer_install.Venv('keystone-venv', 'keystone', VERSION, (
    'keystone==' + VERSION,
    'gunicorn==27.0.1',
    'psycopg2-binary==2.9.13',
), KEYSTONE)
REQUIREMENTS = VENV.requirements
REGION = 'RegionOne'
DOMAIN = 'Default'
ADMIN = 'admin'
SERVICE_PROJECT = 'service'
SERVICE_USER = 'doctor'
TENANTS = ('tenant-a', 'tenant-b')
MEMBER_ROLE = 'member'
SERVICE_ROLE = 'service'

# Bounds, in seconds.
COMMAND_TIMEOUT = 120
START_TIMEOUT = 60
STOP_TIMEOUT = 10
HTTP_TIMEOUT = 30

_WORKDIR_PREFIX = 'doctor-keystone-'

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


class Unavailable(peer_base.Unavailable):
    """Keystone cannot be run on this machine: a service is missing."""


class StartError(peer_base.StartError):
    """Keystone could be run here, but did not start."""


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
        self.scratch = peer_base.Scratch(_WORKDIR_PREFIX, 'postgresql')
        self.root_url = ''
        self.url = ''
        self.port = 0
        self.admin = User(ADMIN, uuid.uuid4().hex, ADMIN)
        self.service = User(SERVICE_USER, uuid.uuid4().hex, SERVICE_PROJECT)
        self.members = {
            tenant: User(tenant + '-member', uuid.uuid4().hex, tenant)
            for tenant in TENANTS}
        self._venv = ''
        self._processes: dict[str, subprocess.Popen] = {}
        self._tokens: dict[tuple[str, bool], str] = {}
        self._tokens_lock = threading.Lock()
        self._roles: dict[str, str] = {}
        self._domain_id = ''
        self.timings = peer_base.Timings()
        self.workdir = ''

    # -- starting

    def start(self) -> None:
        """Install if needed, configure, bootstrap, serve and populate.

        On failure, whatever was started is stopped again.
        """
        reason = base.unavailable(base.POSTGRESQL)
        if reason is not None:
            raise Unavailable('its database needs %s' % reason)
        peer_base.start_peer(KEYSTONE, self._start, self.stop, self.timings,
                             lambda: self.url)

    def _start(self) -> None:
        self._venv = peer_install.ensure_venv(VENV)
        self.timings.mark('venv')
        self.workdir = self.scratch.make()
        conf = self._write_config(self.scratch.database('keystone'))
        # gunicorn loads Keystone while its schema is made: the app reads
        # the database only when asked something.
        listener = peer_base.listen()
        try:
            self.port = listener.getsockname()[1]
            self.root_url = peer_base.root_url(listener)
            self.url = self.root_url + '/v3'
            self._serve(listener, conf)
        finally:
            listener.close()
        self._manage(['db_sync'], conf)
        self.timings.mark('db_sync')
        self._manage([
            'bootstrap', '--bootstrap-username', ADMIN,
            '--bootstrap-password', self.admin.password,
            '--bootstrap-project-name', ADMIN,
            '--bootstrap-region-id', REGION,
            '--bootstrap-admin-url', self.url,
            '--bootstrap-public-url', self.url,
            '--bootstrap-internal-url', self.url], conf)
        self.timings.mark('bootstrap')
        self._wait_until_ready()
        self.timings.mark('ready')
        self._populate()
        self.timings.mark('populated')

    def _path(self, *names: str) -> str:
        return self.scratch.path(*names)

    def _write_config(self, database_url: str) -> str:
        lines = [
            '[DEFAULT]',
            'log_file = %s' % self._path('keystone.log'),
            '[database]',
            'connection = %s' % database_url,
            # PostgreSQL is shared by every test run: a small pool.
            'max_pool_size = 1',
            'max_overflow = 2',
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
        peer_base.run(
            'keystone-manage ' + command[0],
            [os.path.join(self._venv, 'bin', 'keystone-manage'),
             '--config-file', conf, *command],
            self._path('manage-%s.log' % command[0]), COMMAND_TIMEOUT)

    def _serve(self, listener: socket.socket, conf: str) -> None:
        with open(self._path('keystone_wsgi.py'), 'w') as f:
            f.write(peer_base.wsgi_module('keystone.wsgi.api'))
        self._processes['gunicorn'] = peer_base.launch(
            os.path.join(self._venv, 'bin', 'python'), self.workdir,
            'gunicorn.app.wsgiapp:run', peer_base.gunicorn_args(
                self.workdir, listener, self._path('gunicorn.log'),
                'keystone_wsgi:application'),
            self._path('gunicorn.out'),
            env={'OS_KEYSTONE_CONFIG_FILES': conf},
            pass_fds=(listener.fileno(),), grace=STOP_TIMEOUT)

    def _logs(self, *names: str) -> str:
        return '\n'.join(
            '--- %s:\n%s' % (name, peer_base.tail(self._path(name)))
            for name in ('gunicorn.out', 'gunicorn.log', 'keystone.log'))

    def _wait_until_ready(self) -> None:
        def ready() -> bool:
            try:
                return requests.get(self.url, timeout=5).status_code == 200
            except requests.RequestException:
                return False
        peer_base.wait_until('%s on %s' % (KEYSTONE, self.url), ready,
                             START_TIMEOUT, self._processes, self._logs,
                             interval=0.1)

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
        self._roles = {role['name']: role['id']
                       for role in self.call('GET', '/roles', admin)['roles']}
        self._domain_id = self.call('GET', '/domains?name=%s' % DOMAIN,
                                    admin)['domains'][0]['id']
        for user, role in ([(self.service, SERVICE_ROLE)]
                           + [(member, MEMBER_ROLE)
                              for member in self.members.values()]):
            project = self.call('POST', '/projects', admin, {'project': {
                'name': user.project, 'domain_id': self._domain_id,
                'description': 'doctor functional tests'}},
                expected=201)['project']['id']
            self.create_user(user, project, (role,))

    def create_user(self, user: User, project_id: str,
                    roles: typing.Iterable[str]) -> None:
        """Make ``user`` with the ``roles`` (names) on ``project_id``.

        The project becomes the user's default one; the user's ids are
        set.
        """
        user.user_id = self.call(
            'POST', '/users', self.token(self.admin), {'user': {
                'name': user.name, 'password': user.password,
                'domain_id': self._domain_id,
                'default_project_id': project_id}},
            expected=201)['user']['id']
        user.project_id = project_id
        for role in roles:
            self.grant(user.user_id, project_id, role)

    def grant(self, user_id: str, project_id: str, role: str) -> None:
        """Give the user ``user_id`` the role named ``role`` on a project."""
        self.call('PUT', '/projects/%s/users/%s/roles/%s'
                  % (project_id, user_id, self._roles[role]),
                  self.token(self.admin), expected=204)

    def register_service(self, kind: str, name: str, url: str,
                         interfaces: typing.Iterable[str] = (
                             'public', 'internal')) -> str:
        """Put a service in the catalog with endpoints at ``url``; its id.

        :param kind: the service type, e.g. ``network``.
        :param interfaces: those with an endpoint, in :data:`REGION`.
        """
        admin = self.token(self.admin)
        service = self.call('POST', '/services', admin, {'service': {
            'type': kind, 'name': name,
            'description': 'doctor functional tests'}},
            expected=201)['service']['id']
        for interface in interfaces:
            self.call('POST', '/endpoints', admin, {'endpoint': {
                'service_id': service, 'interface': interface,
                'region_id': REGION, 'url': url}}, expected=201)
        return service

    def forget(self, services: typing.Iterable[str] = (),
               users: typing.Iterable[str] = ()) -> None:
        """Delete services, with their endpoints, and users, by id.

        :raises StartError: if Keystone refuses.
        """
        admin = self.token(self.admin)
        for service in services:
            self.call('DELETE', '/services/%s' % service, admin,
                      expected=204)
        for user in users:
            self.call('DELETE', '/users/%s' % user, admin, expected=204)

    # -- stopping

    def stop(self) -> None:
        """Stop gunicorn, drop the database, remove the directory."""
        processes, self._processes = self._processes, {}
        peer_base.stop_processes(processes, STOP_TIMEOUT)
        self.scratch.remove()


_shared = peer_base.Shared(KEYSTONE, Keystone)


def shared() -> Keystone:
    """This process's Keystone, started on first use (:meth:`.Shared.get`)."""
    return _shared.get()


def needed(unavailable: type[peer_base.Unavailable],
           start_error: type[peer_base.StartError]) -> Keystone:
    """The shared Keystone for a peer that needs it (:meth:`.Shared.needed`).

    Its failures are raised as ``unavailable`` or ``start_error``.
    """
    return _shared.needed(unavailable, start_error)


def require(test: base.FunctionalTestCase) -> Keystone:
    """The shared Keystone for ``test`` (:meth:`.Shared.require`)."""
    return _shared.require(test)


def configure_authtoken(test: base.FunctionalTestCase,
                        ks: Keystone) -> None:
    """``[keystone_authtoken]`` of ``test``'s configuration, as a deployment
    has it: doctor's service user validates the callers' tokens.

    keystonemiddleware registers its options, and those of the auth plugin
    named by ``auth_type``, when the app is built; registered here first,
    they can be set on the test's configuration.
    """
    group = 'keystone_authtoken'
    for opts_group, opts in auth_token.list_opts():
        test.conf.register_opts(opts, group=opts_group)
    ks_loading.register_auth_conf_options(test.conf, group)
    test.conf.register_opts(
        ks_loading.get_auth_plugin_conf_options('password'), group=group)
    service = ks.service
    test.config.config(
        group=group,
        www_authenticate_uri=ks.root_url,
        auth_url=ks.root_url,
        auth_type='password',
        username=service.name,
        password=service.password,
        user_domain_name=DOMAIN,
        project_name=service.project,
        project_domain_name=DOMAIN,
        region_name=REGION,
        memcached_servers=None,
        service_token_roles_required=True,
        http_connect_timeout=HTTP_TIMEOUT)
