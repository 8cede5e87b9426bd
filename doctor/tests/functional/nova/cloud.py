"""The Nova of the functional tests: start it, use it, stop it."""

import concurrent.futures
import http.server
import importlib
import json
import os
import socket
import subprocess
import typing
import uuid

from oslo_log import log
import requests
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from doctor.tests.functional import base
from doctor.tests.functional import keystone
from doctor.tests.functional import peer_base
from doctor.tests.functional import peer_install
from doctor.tests.functional.nova import client
from doctor.tests.functional.nova import config
from doctor.tests.functional.nova import install
from doctor.tests.functional.nova import scripts
from doctor.tests.functional.nova import stand_in

LOG = log.getLogger(__name__)

NOVA = install.NOVA
NOVA_VENV = install.NOVA_VENV
GLANCE_VENV = install.GLANCE_VENV
CONTROLLER = config.CONTROLLER
REGION = config.REGION
HOSTS = client.HOSTS
MICROVERSION = client.MICROVERSION
SERVICE_USERS = ('nova', 'placement', 'glance')
FLAVOR = 'doctor.tiny'
IMAGE = 'doctor-raw'
QUEUE_LENGTH = 10000

# Bounds, in seconds.
COMMAND_TIMEOUT = 180
READY_TIMEOUT = 180
STOP_TIMEOUT = 15

DATABASES = ('nova_api', 'nova_cell0', 'nova', 'placement', 'glance')
_WORKDIR_PREFIX = 'doctor-nova-'
_NEUTRON = 'doctor.tests.functional.neutron'


class Unavailable(peer_base.Unavailable):
    """Nova cannot be run on this machine: a service is missing."""


class StartError(peer_base.StartError):
    """Nova could be run here, but did not start."""


APIError = client.APIError


class Nova(client.Client):
    """Nova, Placement and Glance with their computes: start, use, stop.

    After :meth:`start`: ``hosts`` are the compute hosts, ``url`` the
    compute endpoint, ``transport_url`` the RabbitMQ virtual host
    (``vhost``) Nova publishes its notifications to, ``auth`` the
    keystoneauth password options of the cloud administrator (with
    ``region_name``), ``image_id`` and ``flavor_id`` what :meth:`boot`
    uses, and ``keystone`` the Keystone it uses.
    """

    def __init__(self, hosts: typing.Sequence[str] = HOSTS) -> None:
        super().__init__(hosts)
        self.image_url = ''
        self.network_url = ''
        self.neutron_stand_in = False
        self.transport_url = ''
        self.timings = peer_base.Timings()
        self.workdir = ''
        self.vhost = ''
        self.scratch = peer_base.Scratch(_WORKDIR_PREFIX, 'postgresql')
        self._venvs: dict[str, str] = {}
        self._users = {name: keystone.User(name, uuid.uuid4().hex,
                                           keystone.SERVICE_PROJECT)
                       for name in SERVICE_USERS}
        self._catalog: list[str] = []
        self._processes: dict[str, subprocess.Popen] = {}
        self._stand_in: http.server.ThreadingHTTPServer | None = None

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
        peer_base.start_peer(NOVA, self._start, self.stop, self.timings,
                             lambda: self.url)

    def _start(self) -> None:
        self.workdir = self.scratch.make()
        os.mkdir(self._path('logs'))
        for name in DATABASES:
            self.scratch.database(name)
        with concurrent.futures.ThreadPoolExecutor(5) as pool:
            # Nova's configuration does not name the network endpoint: the
            # catalog has it. Neutron starts alongside and is waited for
            # last.
            network = pool.submit(self._real_neutron)
            identity = pool.submit(self._identity)
            bus = pool.submit(self._make_vhost)
            venvs = {venv.name: pool.submit(peer_install.ensure_venv, venv,
                                            None, COMMAND_TIMEOUT)
                     for venv in install.VENVS}
            self._venvs = {name: future.result()
                           for name, future in venvs.items()}
            self.timings.mark('venvs')
            bus.result()
            self._sync_databases()
            self.timings.mark('databases')
            identity.result()
            self.timings.mark('identity')
            self._launch_all()
            self.timings.mark('launched')
            self._wait_for_http('glance', self.image_url + '/healthcheck')
            self._upload_image()
            self._wait_for_http('nova-api', self.url)
            self._create_flavor()
            self.timings.mark('image and flavor')
            self._wait_for_computes()
            self.timings.mark('computes')
            self.network_url = network.result() or self._stand_in_neutron()
            self.timings.mark('network')
        # keystonemiddleware keeps what a token validated to, the catalog
        # included, for minutes: tokens from before the network service
        # was in the catalog would find no network endpoint.
        with self._tokens_lock:
            self._tokens.clear()

    def _launch_all(self) -> None:
        """Configure and launch every service; computes once Placement is.

        Computes report their resources to Placement as they start.
        """
        listeners = {name: peer_base.listen() for name in
                     ('placement', 'glance', 'nova-api')}
        try:
            self.placement_url = peer_base.root_url(listeners['placement'])
            self.image_url = peer_base.root_url(listeners['glance'])
            self.url = peer_base.root_url(listeners['nova-api']) + '/v2.1'
            self._register_services()
            assert self.keystone is not None
            config.write_service_configs(
                self._path, self.hosts, self.transport_url,
                self._database_urls(), self._auth_section,
                self.keystone.root_url, self._venvs[GLANCE_VENV.name])
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
        return self.scratch.path(*names)

    def _database_urls(self) -> dict[str, str]:
        return {name: url for name, (_, url)
                in self.scratch.databases.items()}

    def _make_vhost(self) -> None:
        self.vhost = vhost = self.scratch.make_vhost()
        self.transport_url = base.rabbit_url(vhost)
        base._rabbitmqctl_run(
            'set_policy', '-p', vhost, '--apply-to', 'queues',
            'doctor-queue-length', '.*',
            json.dumps({'max-length': QUEUE_LENGTH}))

    def _identity(self) -> None:
        """Keystone's users, roles and tokens of this cloud."""
        self.keystone = identity = keystone.needed(Unavailable, StartError)
        for user in self._users.values():
            identity.create_user(user, identity.service.project_id,
                                 ('admin', keystone.SERVICE_ROLE))
        for member in identity.members.values():
            identity.grant(identity.admin.user_id, member.project_id,
                           'admin')
        self.auth = self._auth_options(identity.admin)

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
            if not isinstance(e, peer_base.Unavailable):
                raise StartError('Neutron did not start: %s' % e)
            LOG.warning('Nova uses a Neutron stand-in: %s', e)
            return None

    def _stand_in_neutron(self) -> str:
        """Serve the Neutron stand-in and put it in the catalog."""
        self._stand_in = stand_in.serve(
            self._path('logs', 'neutron-stand-in.log'))
        self.neutron_stand_in = True
        url = 'http://%s:%d' % (base.HOST, self._stand_in.server_port)
        self._register('network', 'neutron-stand-in', url)
        return url

    # -- databases

    def _manage(self, label: str, venv: peer_install.Venv,
                argv: list[str]) -> None:
        """Run a program of ``venv``'s, which must succeed.

        ``argv[0]`` is a script of the virtualenv's ``bin``, or a file of
        this Nova's directory run by its Python.
        """
        program = os.path.join(self._venvs[venv.name], 'bin', argv[0])
        if not os.path.exists(program):
            program = os.path.join(self._venvs[venv.name], 'bin', 'python')
            argv = [program, self._path(argv[0]), *argv[1:]]
        else:
            argv = [program, *argv[1:]]
        peer_base.run(label, argv,
                      self._path('logs', 'manage-%s.log' % label),
                      COMMAND_TIMEOUT, cwd=self.workdir,
                      logs=lambda: self.logs('manage-'))

    def _sync_databases(self) -> None:
        """The schemas of every database, and the cells."""
        urls = self._database_urls()
        config.write_manage_configs(self._path, self.transport_url, urls)
        with open(self._path('manage.json'), 'w') as f:
            json.dump(scripts.manage_stages(self._path, urls['nova_cell0']),
                      f)
        with open(self._path('manage.py'), 'w') as f:
            f.write(scripts.MANAGE)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            glance = pool.submit(
                self._manage, 'glance', GLANCE_VENV,
                ['glance-manage', '--config-file',
                 self._path('glance-manage.conf'), 'db_sync'])
            self._manage('nova', NOVA_VENV, [
                'manage.py', self._path('manage.json'), self._path('logs')])
            glance.result()

    # -- the catalog and the configuration

    def _register_services(self) -> None:
        """Nova's, Placement's and Glance's services in the catalog."""
        self._register('compute', 'nova', self.url)
        self._register('placement', 'placement', self.placement_url)
        self._register('image', 'glance', self.image_url)

    def _register(self, kind: str, name: str, url: str) -> None:
        """A service with public and internal endpoints at ``url``."""
        assert self.keystone is not None
        self._catalog.append(self.keystone.register_service(kind, name, url))

    def _auth_section(self, user: str, **extra: str) -> dict[str, str]:
        options = self._auth_options(self._users[user])
        options['auth_type'] = 'password'
        options.update(extra)
        return options

    def _launch(self, name: str, venv: peer_install.Venv, target: str,
                args: list[str], env: dict[str, str] | None = None,
                pass_fds: tuple[int, ...] = ()) -> None:
        """Run ``target`` (``module:function``) in ``venv`` as ``name``."""
        self._processes[name] = peer_base.launch(
            os.path.join(self._venvs[venv.name], 'bin', 'python'),
            self.workdir, target, args, self._path('logs', name + '.out'),
            env=env, pass_fds=pass_fds, grace=STOP_TIMEOUT)

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
                f.write(peer_base.wsgi_module(
                    'nova.wsgi.osapi_compute'))
            app = 'nova_api_wsgi:application'
            paste = os.path.join(self._venvs[venv.name], 'etc', 'nova',
                                 'api-paste.ini')
            env = {'OS_NOVA_CONFIG_FILES': ';'.join(
                [paste, self._path('nova.conf'),
                 self._path('nova-api.conf')])}
        self._launch(name, venv, 'gunicorn.app.wsgiapp:run',
                     peer_base.gunicorn_args(
                         self.workdir, listener,
                         self._path('logs', name + '.gunicorn.log'), app,
                         timeout=120),
                     env=env, pass_fds=(listener.fileno(),))

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
            '--- %s:\n%s'
            % (f, peer_base.tail(os.path.join(directory, f), 15))
            for f in chosen
            if os.path.getsize(os.path.join(directory, f)))

    def _wait(self, what: str, ready: typing.Callable[[], bool],
              timeout: float = READY_TIMEOUT) -> None:
        """Poll ``ready`` until true, while every process runs."""
        peer_base.wait_until(what, ready, timeout, self._processes,
                             self.logs)

    def _wait_for_http(self, name: str, url: str) -> None:
        def ready() -> bool:
            try:
                return requests.get(url, timeout=5).status_code < 500
            except requests.RequestException:
                return False
        self._wait(name, ready)

    def _wait_for_computes(self) -> None:
        """Every service up, every compute host mapped and in Placement."""
        engine = sa.create_engine(self._database_urls()['nova_api'],
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

    # -- stopping

    def stop(self) -> None:
        """Stop every process; drop the databases, vhost and directory."""
        processes, self._processes = self._processes, {}
        peer_base.stop_processes(processes, STOP_TIMEOUT)
        if self._stand_in is not None:
            self._stand_in.shutdown()
            self._stand_in.server_close()
            self._stand_in = None
        self._forget_identity()
        self.scratch.remove()
        self.vhost = ''

    def _forget_identity(self) -> None:
        """Take this cloud's services and users out of Keystone."""
        identity = self.keystone
        if identity is None or identity.url == '':
            return
        try:
            identity.forget(self._catalog, [user.user_id for user
                                            in self._users.values()
                                            if user.user_id])
        except Exception as e:
            LOG.debug('Keystone keeps Nova\'s services or users: %s', e)
        self._catalog = []


_shared = peer_base.Shared(NOVA, Nova)


def shared() -> Nova:
    """This process's Nova, started on first use (:meth:`.Shared.get`)."""
    return _shared.get()


def require(test: base.FunctionalTestCase) -> Nova:
    """The shared Nova for ``test`` (:meth:`.Shared.require`)."""
    return _shared.require(test)
