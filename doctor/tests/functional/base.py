"""Base of the functional tests: real services on loopback.

PostgreSQL, MariaDB and RabbitMQ run on 127.0.0.1 on the developers'
machines and in CI. A test that needs one checks it first (a TCP connect and
a real login): when it is missing the test fails if ``CI`` or
``DOCTOR_REQUIRE_SERVICES`` is set in the environment, and is skipped with a
message naming the service otherwise.

Every test class gets its own database on each server it uses and its own
RabbitMQ virtual host, made on first use and dropped when the class is done,
so that test classes running in parallel processes never meet; the tests of
one class run one after the other and start from empty tables.
"""

import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import typing
import uuid

import amqp
import fixtures
from oslo_config import cfg
from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils
import psycopg2
import pymysql
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from doctor.db import api as db_api
from doctor.db.sqlalchemy import api as sqla_api
from doctor.db.sqlalchemy import models
from doctor.tests import base

LOG = log.getLogger(__name__)

HOST = '127.0.0.1'
POSTGRESQL = 'PostgreSQL'
MARIADB = 'MariaDB'
RABBITMQ = 'RabbitMQ'
REDIS = 'Redis'
REQUIRE_ENV = ('DOCTOR_REQUIRE_SERVICES', 'CI')

# Test classes keep their SQLite files outside the per-test temporary
# directory (fixtures.NestedTempfile), which is removed after each test.
_CLASS_TMP = tempfile.gettempdir()
_LOGIN_TIMEOUT = 3


def _login_postgresql() -> None:
    connection = retry_when_busy(lambda: psycopg2.connect(
        host=HOST, port=5432, user='postgres', dbname='postgres',
        connect_timeout=_LOGIN_TIMEOUT))
    try:
        with connection.cursor() as cursor:
            cursor.execute('SELECT 1')
    finally:
        connection.close()


def _login_mariadb() -> None:
    connection = pymysql.connect(host=HOST, port=3306, user='root',
                                 password='', connect_timeout=_LOGIN_TIMEOUT)
    try:
        with connection.cursor() as cursor:
            cursor.execute('SELECT 1')
    finally:
        connection.close()


def _rabbitmqctl() -> str | None:
    path = os.pathsep.join([os.environ.get('PATH', ''), '/usr/local/sbin',
                            '/usr/sbin', '/sbin'])
    return shutil.which('rabbitmqctl', path=path)


def _login_rabbitmq() -> None:
    connection = amqp.Connection(host='%s:5672' % HOST, userid='guest',
                                 password='guest',
                                 connect_timeout=_LOGIN_TIMEOUT)
    connection.connect()
    connection.close()
    # Each test class gets a virtual host of its own, made by rabbitmqctl.
    if _rabbitmqctl() is None:
        raise RuntimeError('rabbitmqctl not found; it makes the private '
                           'virtual hosts of the tests')


def _login_redis() -> None:
    with socket.create_connection((HOST, 6379),
                                  timeout=_LOGIN_TIMEOUT) as sock:
        sock.sendall(b'PING\r\n')
        answer = sock.recv(64)
    if not answer.startswith(b'+PONG'):
        raise RuntimeError('PING answered %r' % answer)


_SERVICES = {
    POSTGRESQL: (5432, _login_postgresql),
    MARIADB: (3306, _login_mariadb),
    RABBITMQ: (5672, _login_rabbitmq),
    REDIS: (6379, _login_redis),
}
_checked: dict[str, str | None] = {}


def unavailable(service: str) -> str | None:
    """Why ``service`` cannot be used, or None if it answers a login."""
    if service not in _checked:
        port, login = _SERVICES[service]
        try:
            socket.create_connection((HOST, port),
                                     timeout=_LOGIN_TIMEOUT).close()
            login()
        except Exception as e:
            _checked[service] = ('%s on %s:%d: %s: %s'
                                 % (service, HOST, port, type(e).__name__,
                                    e))
        else:
            _checked[service] = None
    return _checked[service]


def services_required() -> bool:
    """Whether a missing service fails the tests instead of skipping them."""
    return any(os.environ.get(name) for name in REQUIRE_ENV)


def _unique(prefix: str) -> str:
    return '%s%s' % (prefix, uuid.uuid4().hex[:12])


# What a database server answers when every connection slot is taken:
# it is shared by every test run, and the peers' services too.
_BUSY = ('too many clients', 'remaining connection slots',
         'too many connections')
_BUSY_TIMEOUT = 120.0


def retry_when_busy(call: typing.Callable[[], typing.Any]) -> typing.Any:
    """``call()``, tried again while the server has no connection to spare.

    A test set-up that meets a full server waits for a slot (up to
    _BUSY_TIMEOUT seconds) rather than failing the test.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT
    delay = 0.1
    while True:
        try:
            return call()
        except (sa.exc.OperationalError, psycopg2.OperationalError,
                pymysql.err.OperationalError) as e:
            if (not any(text in str(e).lower() for text in _BUSY)
                    or time.monotonic() > deadline):
                raise
            LOG.warning('Database server busy, trying again: %s', e)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


class _Server:
    """A database server on which tests create their own databases."""

    def __init__(self, service: str, admin_url: str, url: str,
                 create: str, drop: str) -> None:
        self.service = service
        self.admin_url = admin_url
        self._url = url
        self._create = create
        self._drop = drop

    def _execute(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url,
                                  isolation_level='AUTOCOMMIT',
                                  poolclass=sa_pool.NullPool)

        def execute():
            with engine.connect() as connection:
                connection.execute(sa.text(statement))
        try:
            retry_when_busy(execute)
        finally:
            engine.dispose()

    def create(self) -> tuple[str, str]:
        """A new empty database: its name and connection URL."""
        name = _unique('doctor_func_')
        self._execute(self._create % name)
        return name, self._url % name

    def drop(self, name: str) -> None:
        self._execute(self._drop % name)


SERVERS = {
    'postgresql': _Server(
        POSTGRESQL, 'postgresql+psycopg2://postgres@%s:5432/postgres' % HOST,
        'postgresql+psycopg2://postgres@' + HOST + ':5432/%s',
        'CREATE DATABASE %s',
        # Services under test may still hold pooled connections.
        'DROP DATABASE IF EXISTS %s WITH (FORCE)'),
    'mysql': _Server(
        MARIADB, 'mysql+pymysql://root@%s:3306/?charset=utf8mb4' % HOST,
        'mysql+pymysql://root@' + HOST + ':3306/%s?charset=utf8mb4',
        'CREATE DATABASE %s CHARACTER SET utf8mb4',
        'DROP DATABASE IF EXISTS %s'),
}


def connections_to(database: str) -> int:
    """How many sessions PostgreSQL has open on ``database``."""
    engine = sa.create_engine(SERVERS['postgresql'].admin_url,
                              poolclass=sa_pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text('SELECT count(*) FROM pg_stat_activity '
                        'WHERE datname = :name'),
                {'name': database}).scalar_one()
    finally:
        engine.dispose()


def _rabbitmqctl_run(*args: str) -> None:
    env = dict(os.environ, ERL_EPMD_ADDRESS=HOST)
    subprocess.run([_rabbitmqctl() or 'rabbitmqctl', '-q'] + list(args),
                   env=env, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _rabbit_channel_call(vhost: str, function) -> None:
    connection = amqp.Connection(host='%s:5672' % HOST, userid='guest',
                                 password='guest', virtual_host=vhost,
                                 connect_timeout=_LOGIN_TIMEOUT)
    connection.connect()
    try:
        function(connection.channel())
    finally:
        connection.close()


def waiting_on_a_lock(db: sqla_api.Connection) -> bool:
    """Whether a session of ``db``'s PostgreSQL database waits on a lock."""
    with db.engine.connect() as connection:
        return bool(connection.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "current_database() AND wait_event_type = 'Lock'")).scalar())


def rabbit_url(vhost: str) -> str:
    return 'rabbit://guest:guest@%s:5672/%s' % (HOST, vhost)


def new_alarm(resource_id: str | None = None, project_id: str | None = None,
              **values) -> tuple[dict, dict]:
    """An alarm and its creation history entry, for ``create_alarm``.

    The alarm watches ``compute.instance.update`` for ``state == error``;
    ``values`` replace any of its columns.
    """
    now = timeutils.utcnow()
    alarm = {
        'alarm_id': str(uuid.uuid4()), 'name': 'InstanceStatusAlarm',
        'description': 'An alarm', 'type': 'notification', 'enabled': True,
        'severity': 'moderate',
        'project_id': project_id or uuid.uuid4().hex,
        'user_id': uuid.uuid4().hex,
        'resource_id': resource_id or str(uuid.uuid4()),
        'rule': {'event_type': 'compute.instance.update',
                 'query': [{'field': 'traits.state', 'op': 'eq',
                            'value': 'error', 'type': 'string'}]},
        'alarm_actions': [], 'ok_actions': [],
        'insufficient_data_actions': [], 'repeat_actions': False,
        'state': 'ok', 'state_reason': 'Not evaluated yet',
        'state_timestamp': now, 'timestamp': now, 'deadline': None,
        'infrastructure': False,
    }
    alarm.update(values)
    change = {
        'event_id': str(uuid.uuid4()), 'alarm_id': alarm['alarm_id'],
        'type': db_api.CHANGE_CREATION,
        'detail': jsonutils.dumps({'name': alarm['name']}),
        'severity': alarm['severity'], 'on_behalf_of': alarm['project_id'],
        'project_id': alarm['project_id'], 'user_id': alarm['user_id'],
        'timestamp': alarm['timestamp'],
    }
    return alarm, change


class FunctionalTestCase(base.TestCase):
    """A test on real services.

    ``use_database(backend)`` and ``use_rabbit()`` point ``self.conf`` at
    the class's database and virtual host, checking the service first.
    """

    # Per concrete class, set on first use (see _shared).
    _class_resources: typing.ClassVar[dict[str, typing.Any]]
    _class_cleanups: typing.ClassVar[list[typing.Callable[[], None]]]
    db: sqla_api.Connection

    def setUp(self):
        super().setUp()
        # The services' logs stay with the test, shown if it fails, instead
        # of going to the runner's stderr: configs made during the test must
        # not set logging up again.
        self.useFixture(fixtures.MonkeyPatch('oslo_log.log.setup',
                                             lambda *args, **kwargs: None))
        self.useFixture(fixtures.FakeLogger(
            level=logging.INFO,
            format='%(asctime)s %(levelname)s %(name)s %(message)s'))
        # PostgreSQL is shared by every test run and the peers: each of
        # the test's connections (and the replicas made from its config)
        # keeps a small pool.
        self.config.config(max_pool_size=2, max_overflow=2,
                           group='database')
        # Names of the RPC servers and of the listener pool are this
        # test's own, so that no queue outlives it into the next test.
        self.config.config(host=_unique('doctor-test-'))
        self.config.config(notification_pool=_unique('doctor-evaluator-'),
                           group='evaluator')
        self.config.config(
            notification_pool=_unique('doctor-synchronizer-'),
            group='synchronizer')
        # The tests' webhook receivers listen on loopback, which
        # [notifier] denied_networks refuses by default: allowed here as a
        # deployment with a consumer on the notifier's host would.
        self.config.config(allowed_networks=['127.0.0.0/8'],
                           group='notifier')

    # services

    def require(self, service: str) -> None:
        """Skip this test, or fail it in CI, if ``service`` is missing."""
        reason = unavailable(service)
        if reason is None:
            return
        if services_required():
            self.fail('%s is required (%s is set) but unusable: %s'
                      % (service, ' or '.join(REQUIRE_ENV), reason))
        self.skipTest('%s is not available: %s' % (service, reason))

    # resources shared by the tests of one class

    @classmethod
    def _shared(cls, key: str, create):
        """The class's resource ``key``, made on first use.

        ``create()`` returns the resource and the function releasing it.
        """
        resources = cls.__dict__.get('_class_resources')
        if resources is None:
            resources = {}
            cls._class_resources = resources
            cls._class_cleanups = []
        if key not in resources:
            value, cleanup = create()
            resources[key] = value
            cls._class_cleanups.append(cleanup)
        return resources[key]

    @classmethod
    def tearDownClass(cls):
        cleanups = cls.__dict__.get('_class_cleanups') or []
        while cleanups:
            cleanup = cleanups.pop()
            try:
                cleanup()
            except Exception:
                LOG.exception('Cannot release a resource of %s',
                              cls.__name__)
        cls._class_resources = {}
        super().tearDownClass()

    # databases

    def use_database(self, backend: str) -> sqla_api.Connection:
        """Use the class's migrated database on ``backend``, emptied.

        Sets ``[database] connection`` and returns a connection to it.
        """
        if backend == 'sqlite':
            url = self._shared('sqlite', self._make_class_sqlite)
        else:
            self.require(SERVERS[backend].service)
            url = self._shared(backend,
                               lambda: self._make_class_database(backend))
        self.config.config(connection=url, group='database')
        self.db = typing.cast(sqla_api.Connection,
                              db_api.get_connection(self.conf))
        self.addCleanup(self.db.close)

        def empty():
            with self.db.engine.begin() as connection:
                for table in reversed(models.Base.metadata.sorted_tables):
                    connection.execute(table.delete())
        retry_when_busy(empty)
        return self.db

    def _make_class_sqlite(self):
        directory = tempfile.mkdtemp(prefix='doctor-func-', dir=_CLASS_TMP)
        url = 'sqlite:///' + os.path.join(directory, 'doctor.sqlite')
        self._migrate(url)
        return url, lambda: shutil.rmtree(directory, ignore_errors=True)

    def _make_class_database(self, backend: str):
        server = SERVERS[backend]
        name, url = server.create()
        try:
            self._migrate(url)
        except Exception:
            server.drop(name)
            raise
        return url, lambda: server.drop(name)

    @staticmethod
    def _migrate(url: str) -> None:
        conf = base.new_conf()
        conf.set_override('connection', url, group='database')
        connection = db_api.get_connection(conf)
        try:
            retry_when_busy(connection.upgrade)
        finally:
            connection.close()

    def empty_database_url(self, backend: str) -> str:
        """The URL of a new, empty database of this test alone."""
        if backend == 'sqlite':
            return 'sqlite:///' + os.path.join(
                self.useFixture(fixtures.TempDir()).path, 'empty.sqlite')
        server = SERVERS[backend]
        self.require(server.service)
        name, url = server.create()
        self.addCleanup(server.drop, name)
        return url

    # the bus

    def use_rabbit(self) -> str:
        """Set ``transport_url`` to the class's RabbitMQ virtual host."""
        self.require(RABBITMQ)
        vhost = self._shared('rabbit', self._make_vhost)
        # RPC topic queues have fixed names: start without the previous
        # test's, and leave none of this test's behind.
        self._delete_queues(vhost)
        self.addCleanup(self._delete_queues, vhost)
        self.rabbit_vhost = vhost
        url = rabbit_url(vhost)
        self.config.config(transport_url=url)
        return url

    def rabbit_publish(self, exchange: str, routing_key: str,
                       body: bytes) -> None:
        """Publish raw bytes on the test's virtual host, as JSON."""
        def publish(channel):
            channel.basic_publish(
                amqp.Message(body, content_type='application/json'),
                exchange=exchange, routing_key=routing_key)
        _rabbit_channel_call(self.rabbit_vhost, publish)

    @staticmethod
    def _make_vhost():
        vhost = _unique('doctor-func-')
        _rabbitmqctl_run('add_vhost', vhost)
        try:
            _rabbitmqctl_run('set_permissions', '-p', vhost, 'guest',
                             '.*', '.*', '.*')
        except Exception:
            _rabbitmqctl_run('delete_vhost', vhost)
            raise
        return vhost, lambda: _rabbitmqctl_run('delete_vhost', vhost)

    def _delete_queues(self, vhost: str) -> None:
        names = ['doctor-evaluator', 'doctor-notifier',
                 self.conf.evaluator.notification_pool]
        names += ['%s.%s' % (topic, host)
                  for topic in ('doctor-evaluator', 'doctor-notifier')
                  for host in self.hosts]

        def delete(channel):
            for name in names:
                channel.queue_delete(name)
        _rabbit_channel_call(vhost, delete)

    def replica_conf(self) -> cfg.ConfigOpts:
        """A copy of this test's config for another replica of a service.

        Same database, bus and options; a host name of its own.
        """
        conf = base.new_conf()
        for name in ('state_path', 'transport_url', 'control_exchange'):
            conf.set_override(name, self.conf[name])
        for group in ('coordination', 'database', 'evaluator', 'notifier',
                      'static', 'synchronizer', 'upgrade_levels'):
            for name in self.conf[group]:
                conf.set_override(name, self.conf[group][name], group=group)
        conf.set_override('host', self.new_host())
        return conf

    @property
    def hosts(self) -> list[str]:
        """Names of the RPC servers this test may have run."""
        return [self.conf.host] + getattr(self, '_extra_hosts', [])

    def new_host(self) -> str:
        """A further unique RPC server name, for a second replica."""
        host = _unique('doctor-test-')
        self._extra_hosts = getattr(self, '_extra_hosts', []) + [host]
        return host

    # waiting

    def wait_for(self, predicate, timeout: float = 10.0,
                 message: str = 'condition'):
        """Poll ``predicate`` until it returns something true; return it."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                self.fail('Timed out after %.1f s waiting for %s'
                          % (timeout, message))
            time.sleep(0.02)
