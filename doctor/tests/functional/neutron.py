"""A real Neutron on loopback, shared by the tests of one process.

:func:`shared` starts it on first use and stops it when the process exits:

* Neutron (with gunicorn and MariaDB's driver) lives in a virtualenv of its
  own under the user's cache directory (``~/.cache/doctor-tests/
  neutron-venv``, or under ``$XDG_CACHE_HOME``), never in doctor's, made
  once per machine under a file lock and reused while it holds the pinned
  versions. Beside it, ``neutron-drivers`` holds this module's ML2
  mechanism driver (below), found by Neutron through an entry point.
* Each start gets a new MariaDB database (``neutron-db-manage upgrade
  heads``; Neutron's schema no longer migrates on PostgreSQL), a RabbitMQ
  virtual host of its own (``transport_url``; deleted at the end) and a
  temporary directory with the configuration and the logs.
* The API is Neutron's WSGI application under gunicorn (gthread); Neutron
  runs on oslo.service's threading backend, no eventlet. The ML2 plugin
  has the ``flat`` and ``local`` type drivers, the ``port_security`` and
  ``data_plane_status`` extension drivers, the ``router`` service plugin
  and no agents: a mechanism driver of this module binds every port to
  whatever host it names and marks it ``ACTIVE``, as an agent on that host
  would. Nothing is told to Nova about ports.
* Notifications go out through ``messagingv2`` on exchange ``neutron``,
  topic ``notifications``, of the virtual host: ``port.create.end`` and
  ``port.update.end`` carry ``{"port": {...}}`` (the port as the API
  shows it to an administrator), ``port.delete.end`` ``{"port_id": ...,
  "port": {...}}``; the publisher is ``network.<host name>``.
* Authentication is the process's real Keystone
  (:func:`doctor.tests.functional.keystone.shared`): a ``neutron`` service
  user in the ``service`` project validates tokens, and the ``network``
  service with its endpoints is in Keystone's catalog, so that clients
  find Neutron as in a cloud.
* Once Neutron answers, a shared flat network with an IPv4 subnet (no
  DHCP) is made: :meth:`Neutron.create_port` makes ports on it.

Costs, measured on a 2-core machine busy with other work (Keystone's own
start excluded): the first start on a machine installs the virtualenv in
~41 s and serves ~12 s later (53 s); later starts take 10-12 s, of which
the schema 5-9 s (gunicorn loads Neutron meanwhile) and the first token
validation ~1 s. gunicorn's master and its one worker take ~190 MiB PSS
(~15 + ~175). A port is made in ~0.3 s, its data-plane status set in
~0.17 s, the ports of a host listed in ~75 ms.

When the virtualenv cannot be made, MariaDB or RabbitMQ is missing, or
Keystone is unavailable, :class:`Unavailable` is raised: a test then skips,
or fails when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set. Any other
failure to start is an error, with the tail of the logs. Every wait is
bounded. gunicorn stops on its own if this process dies without stopping
it, and the next start removes the database, virtual host and directory
left behind.
"""

import os
import shutil
import socket
import subprocess
import uuid

from openstack import connection as sdk_connection
from oslo_log import log
import requests

from doctor.tests.functional import base
from doctor.tests.functional import keystone
from doctor.tests.functional import peer_base
from doctor.tests.functional import peer_install

LOG = log.getLogger(__name__)

VERSION = '29.0.0'
NEUTRON = 'Neutron ' + VERSION
# Neutron pinned (the release of Keystone 30 and Nova 34); gunicorn and
# the driver at versions known to work with it.
VENV = peer_install.Venv('neutron-venv', 'neutron', VERSION, (
    'neutron==' + VERSION,
    'gunicorn==27.0.1',
    'PyMySQL==1.2.4',
), NEUTRON)
REQUIREMENTS = VENV.requirements
SERVICE_USER = 'neutron'
SERVICE_TYPE = 'network'
PHYSICAL_NETWORK = 'physnet1'
NETWORK = 'doctor-ports'
CIDR = '10.64.0.0/16'
COMPUTE_OWNER = 'compute:nova'
EXCHANGE = 'neutron'
NOTIFICATION_TOPIC = 'notifications'

# Bounds, in seconds.
COMMAND_TIMEOUT = 120
START_TIMEOUT = 60
STOP_TIMEOUT = 10
HTTP_TIMEOUT = 30

_DRIVERS = 'neutron-drivers'
_WORKDIR_PREFIX = 'doctor-neutron-'

_DRIVER_MODULE = 'doctor_test_neutron'
_DRIVER_NAME = 'doctor_bind_all'
_DRIVER_SOURCE = '''\
"""ML2 drivers of doctor's functional tests."""

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):
    """Binds every port to the host it names, as if an agent ran there.

    The port is bound on the first segment offered (OVS-like VIF) and
    becomes ACTIVE at once.
    """

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True},
                                status=constants.PORT_STATUS_ACTIVE)
            return
'''
_DRIVER_FILES = {
    _DRIVER_MODULE + '.py': _DRIVER_SOURCE,
    _DRIVER_MODULE + '-1.0.dist-info/METADATA': (
        'Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n' % _DRIVER_MODULE),
    _DRIVER_MODULE + '-1.0.dist-info/entry_points.txt': (
        '[neutron.ml2.mechanism_drivers]\n%s = %s:BindAllMechanismDriver\n'
        % (_DRIVER_NAME, _DRIVER_MODULE)),
}


class Unavailable(peer_base.Unavailable):
    """Neutron cannot be run on this machine: a service is missing."""


class StartError(peer_base.StartError):
    """Neutron could be run here, but did not start."""


# -- the virtualenv -----------------------------------------------------------

def _write_drivers(directory: str) -> None:
    """Write the mechanism driver's files where they differ, atomically."""
    for name, text in _DRIVER_FILES.items():
        path = os.path.join(directory, name)
        try:
            with open(path) as f:
                if f.read() == text:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + '.new', 'w') as f:
            f.write(text)
        os.replace(path + '.new', path)


def ensure_venv() -> tuple[str, str]:
    """Neutron's virtualenv and the drivers' directory, made if needed.

    The virtualenv is remade if missing or not the pinned one.

    :raises Unavailable: if it cannot be installed.
    """
    drivers = os.path.join(peer_install.cache_dir(), _DRIVERS)
    venv = peer_install.ensure_venv(VENV, lambda: _write_drivers(drivers))
    return venv, drivers


# -- Neutron ------------------------------------------------------------------

class Neutron:
    """One neutron-server: start it, use it, stop it.

    After :meth:`start`, ``url`` is its endpoint (as in Keystone's catalog,
    unversioned), ``transport_url`` its RabbitMQ virtual host, ``auth`` the
    cloud administrator's keystoneauth password options and
    ``network_id`` / ``subnet_id`` the shared network that
    :meth:`create_port` uses.

    :param identity: the Keystone to use; the process's shared one if None.
        One Neutron at a time may be registered in a Keystone.
    """

    def __init__(self, identity: keystone.Keystone | None = None) -> None:
        self.keystone = identity
        self.scratch = peer_base.Scratch(_WORKDIR_PREFIX, 'mysql')
        self.url = ''
        self.port = 0
        self.transport_url = ''
        self.network_id = ''
        self.subnet_id = ''
        self.service_user = keystone.User(SERVICE_USER, uuid.uuid4().hex,
                                          keystone.SERVICE_PROJECT)
        self.timings = peer_base.Timings()
        self.workdir = ''
        self.vhost = ''
        self._venv = ''
        self._drivers = ''
        self._processes: dict[str, subprocess.Popen] = {}
        self._service_id = ''
        self._token = ''
        self._registration: peer_base.Background | None = None

    @property
    def auth(self) -> dict[str, str]:
        """keystoneauth password options of the cloud administrator."""
        identity = self._identity
        return {
            'auth_url': identity.root_url,
            'username': identity.admin.name,
            'password': identity.admin.password,
            'project_name': identity.admin.project,
            'user_domain_name': keystone.DOMAIN,
            'project_domain_name': keystone.DOMAIN,
            'region_name': keystone.REGION,
        }

    def connection(self) -> sdk_connection.Connection:
        """A new openstacksdk connection as the cloud administrator.

        It finds Neutron through Keystone's catalog; no clouds.yaml or
        ``OS_*`` variable is read.
        """
        auth = self.auth
        region = auth.pop('region_name')
        return sdk_connection.Connection(
            auth_type='password', auth=auth, region_name=region,
            interface='public')

    @property
    def _identity(self) -> keystone.Keystone:
        if self.keystone is None:
            raise StartError('%s is not started' % NEUTRON)
        return self.keystone

    # -- starting

    def start(self) -> None:
        """Install if needed, configure, migrate, register and serve.

        On failure, whatever was started is stopped again.
        """
        for service in (base.MARIADB, base.RABBITMQ):
            reason = base.unavailable(service)
            if reason is not None:
                raise Unavailable('it needs %s' % reason)
        # Installed while Keystone starts, on a machine without either.
        install = peer_base.Background(ensure_venv)
        if self.keystone is None:
            self.keystone = keystone.needed(Unavailable, StartError)
        peer_base.start_peer(NEUTRON, lambda: self._start(install),
                             self.stop, self.timings, lambda: self.url)

    def _start(self, install: peer_base.Background) -> None:
        install.join(2 * peer_install.INSTALL_TIMEOUT + COMMAND_TIMEOUT)
        self._venv, self._drivers = install.result
        self.timings.mark('venv')
        self.workdir = self.scratch.make()
        database_url = self.scratch.database('neutron')
        self.vhost = self.scratch.make_vhost()
        self.transport_url = base.rabbit_url(self.vhost)
        listener = peer_base.listen()
        try:
            self.port = listener.getsockname()[1]
            self.url = peer_base.root_url(listener)
            # Keystone is told about Neutron, and gunicorn loads Neutron,
            # while the schema is made: loading reads no table.
            self._registration = peer_base.Background(self._register)
            conf = self._write_config(database_url)
            self._serve(listener)
        finally:
            listener.close()
        self._manage(['upgrade', 'heads'], conf)
        self.timings.mark('schema')
        self._registration.join(COMMAND_TIMEOUT)
        self.timings.mark('registered')
        self._wait_until_ready()
        self.timings.mark('ready')
        self._make_network()
        self.timings.mark('network')

    def _path(self, *names: str) -> str:
        return self.scratch.path(*names)

    def _write_config(self, database_url: str) -> str:
        identity = self._identity
        user = self.service_user
        os.mkdir(self._path('lock'))
        shutil.copy(os.path.join(self._venv, 'etc', 'neutron',
                                 'api-paste.ini'), self._path())
        sections = {
            'DEFAULT': {
                'core_plugin': 'ml2',
                'service_plugins': 'router',
                'auth_strategy': 'keystone',
                'transport_url': self.transport_url,
                'control_exchange': EXCHANGE,
                'notify_nova_on_port_status_changes': 'False',
                'notify_nova_on_port_data_changes': 'False',
                'dhcp_agent_notification': 'False',
                'log_file': self._path('neutron.log'),
            },
            # PostgreSQL is shared by every test run: a small pool.
            'database': {'connection': database_url,
                         'max_pool_size': '1', 'max_overflow': '2'},
            'oslo_messaging_notifications': {
                'driver': 'messagingv2',
                'topics': NOTIFICATION_TOPIC,
            },
            'oslo_concurrency': {'lock_path': self._path('lock')},
            'keystone_authtoken': {
                'www_authenticate_uri': identity.root_url,
                'auth_url': identity.root_url,
                'auth_type': 'password',
                'username': user.name,
                'password': user.password,
                'user_domain_name': keystone.DOMAIN,
                'project_name': user.project,
                'project_domain_name': keystone.DOMAIN,
                'region_name': keystone.REGION,
            },
            'ml2': {
                'type_drivers': 'flat,local',
                'project_network_types': 'local',
                'mechanism_drivers': _DRIVER_NAME,
                'extension_drivers': 'port_security,data_plane_status',
            },
            'ml2_type_flat': {'flat_networks': PHYSICAL_NETWORK},
            # Tests make and delete many ports over a process's life.
            'quotas': {name: '-1' for name in (
                'quota_network', 'quota_subnet', 'quota_port',
                'quota_security_group', 'quota_security_group_rule')},
        }
        path = self._path('neutron.conf')
        with open(path, 'w') as f:
            for section, options in sections.items():
                f.write('[%s]\n' % section)
                for name, value in options.items():
                    f.write('%s = %s\n' % (name, value))
        return path

    def _manage(self, command: list[str], conf: str) -> None:
        """Run one neutron-db-manage command, which must succeed."""
        peer_base.run(
            'neutron-db-manage ' + command[0],
            [os.path.join(self._venv, 'bin', 'neutron-db-manage'),
             '--config-file', conf, *command],
            self._path('db-manage-%s.log' % command[0]), COMMAND_TIMEOUT)

    def _serve(self, listener: socket.socket) -> None:
        with open(self._path('neutron_wsgi.py'), 'w') as f:
            f.write(peer_base.wsgi_module('neutron.wsgi.api'))
        self._processes['gunicorn'] = peer_base.launch(
            os.path.join(self._venv, 'bin', 'python'), self.workdir,
            'gunicorn.app.wsgiapp:run', peer_base.gunicorn_args(
                self.workdir, listener, self._path('gunicorn.log'),
                'neutron_wsgi:application'),
            self._path('gunicorn.out'), env={
                'OS_NEUTRON_CONFIG_DIR': self.workdir,
                'OS_NEUTRON_CONFIG_FILES': 'neutron.conf',
                'PYTHONPATH': self._drivers},
            pass_fds=(listener.fileno(),), grace=STOP_TIMEOUT)

    def logs(self, *names: str) -> str:
        """The tails of gunicorn's and Neutron's logs."""
        return '\n'.join(
            '--- %s:\n%s' % (name, peer_base.tail(self._path(name)))
            for name in ('gunicorn.out', 'gunicorn.log', 'neutron.log'))

    def _wait_until_ready(self) -> None:
        def ready() -> bool:
            try:
                # Loads the app in the worker and validates a first token.
                return requests.get(
                    self.url + '/v2.0/networks',
                    headers={'X-Auth-Token': self._admin_token()},
                    timeout=HTTP_TIMEOUT).status_code == 200
            except requests.RequestException:
                return False
        peer_base.wait_until('%s on %s' % (NEUTRON, self.url), ready,
                             START_TIMEOUT, self._processes, self.logs,
                             interval=0.1)

    def _register(self) -> None:
        """The service user and the catalog's entries, made in Keystone."""
        identity = self._identity
        identity.create_user(self.service_user, identity.service.project_id,
                             (keystone.SERVICE_ROLE,))
        self._service_id = identity.register_service(
            SERVICE_TYPE, 'neutron', self.url,
            ('public', 'internal', 'admin'))

    def _unregister(self) -> None:
        identity = self.keystone
        registration, self._registration = self._registration, None
        if identity is None or registration is None:
            return
        try:
            registration.join(COMMAND_TIMEOUT)
        except Exception:
            pass
        service, self._service_id = self._service_id, ''
        user, self.service_user.user_id = self.service_user.user_id, ''
        try:
            identity.forget([service] if service else [],
                            [user] if user else [])
        except Exception:
            LOG.exception('Cannot remove %s from Keystone\'s catalog',
                          NEUTRON)

    # -- the REST API

    def _admin_token(self, renew: bool = False) -> str:
        identity = self._identity
        if renew or not self._token:
            self._token = identity.issue_token(identity.admin)
        return self._token

    def call(self, method: str, path: str, json: dict | None = None,
             expected: int = 200) -> dict:
        """One call to Neutron's API as the cloud administrator.

        ``path`` follows ``/v2.0``; returns the JSON body, if any.

        :raises StartError: if the answer's status is not ``expected``.
        """
        for renew in (False, True):
            response = requests.request(
                method, self.url + '/v2.0' + path, json=json,
                headers={'X-Auth-Token': self._admin_token(renew)},
                timeout=HTTP_TIMEOUT)
            if response.status_code != 401:
                break
        if response.status_code != expected:
            raise StartError('%s %s answered %d, not %d: %s'
                             % (method, path, response.status_code,
                                expected, response.text[:500]))
        return response.json() if response.content else {}

    def _make_network(self) -> None:
        self.network_id = self.call('POST', '/networks', {'network': {
            'name': NETWORK, 'shared': True,
            'provider:network_type': 'flat',
            'provider:physical_network': PHYSICAL_NETWORK}},
            expected=201)['network']['id']
        self.subnet_id = self.call('POST', '/subnets', {'subnet': {
            'name': NETWORK, 'network_id': self.network_id,
            'ip_version': 4, 'cidr': CIDR, 'enable_dhcp': False}},
            expected=201)['subnet']['id']

    def create_port(self, host: str, device_id: str | None = None,
                    project: str | None = None) -> str:
        """A new port on the shared network, bound to ``host``; its id.

        :param host: the port's ``binding:host_id``.
        :param device_id: the server using the port; the port is then
            owned by ``compute:nova``, as Nova's ports are.
        :param project: the id of the project owning the port; the
            administrator's by default.
        """
        port = {'network_id': self.network_id, 'binding:host_id': host}
        if device_id is not None:
            port.update(device_id=device_id, device_owner=COMPUTE_OWNER)
        if project is not None:
            port['project_id'] = project
        return self.call('POST', '/ports', {'port': port},
                         expected=201)['port']['id']

    def delete_port(self, port_id: str) -> None:
        """Delete the port ``port_id``."""
        self.call('DELETE', '/ports/%s' % port_id, expected=204)

    # -- stopping

    def stop(self) -> None:
        """Stop gunicorn, leave Keystone's catalog, drop what was made."""
        processes, self._processes = self._processes, {}
        peer_base.stop_processes(processes, STOP_TIMEOUT)
        self._unregister()
        self.scratch.remove()
        self.vhost = ''


_shared = peer_base.Shared(NEUTRON, Neutron)


def shared() -> Neutron:
    """This process's Neutron, started on first use (:meth:`.Shared.get`).

    It uses the process's shared Keystone.
    """
    return _shared.get()


def require(test: base.FunctionalTestCase) -> Neutron:
    """The shared Neutron for ``test`` (:meth:`.Shared.require`)."""
    return _shared.require(test)
