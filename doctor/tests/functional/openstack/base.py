"""Bases of the tests on a real OpenStack service (Nova, Neutron)."""

from collections.abc import Callable
import threading
import time
import types
import typing
import uuid

import fixtures
from keystoneauth1 import loading as ks_loading
import oslo_messaging as messaging

from doctor.common import exception
from doctor.common import rpc
from doctor.inspector import inspector as inspector_mod
from doctor.synchronizer import collector
from doctor.synchronizer import service as service_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.tests.functional import base


class NotificationRecorder:
    """A notification endpoint keeping what it is given, in order."""

    def __init__(self) -> None:
        self.notifications: list[tuple[str, dict]] = []
        self._changed = threading.Condition()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._changed:
            self.notifications.append((event_type, payload))
            self._changed.notify_all()

    def wait(self, event_type: str, matches: Callable[[dict], bool],
             timeout: float) -> dict:
        """The payload of the first ``event_type`` that ``matches``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for kind, payload in self.notifications:
                    if kind == event_type and matches(payload):
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        'no matching %s within %.0f s; got %s'
                        % (event_type, timeout,
                           [kind for kind, _ in self.notifications]))
                self._changed.wait(left)


class PeerTestCase(base.FunctionalTestCase):
    """A test on the shared peer of :attr:`peer_module`, on its bus.

    The peer is started by ``setUpClass``, outside the tests' time limit
    (its first start on a machine installs it); a failure to start is
    remembered and reported by each test's ``setUp``. ``self.peer`` is the
    started peer and ``transport_url`` its RabbitMQ virtual host.
    """

    peer_module: typing.ClassVar[types.ModuleType]
    peer: typing.Any

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.peer_module.shared()
        except Exception:  # reported by setUp, through require()
            pass

    def setUp(self):
        super().setUp()
        self.peer = self.peer_module.require(self)
        self.config.config(transport_url=self.peer.transport_url)

    def listen(self, exchange: str, topics: list[str]
               ) -> NotificationRecorder:
        """The peer's notifications on ``topics`` from now on.

        They are read from a queue of this test's own, deleted at its end.
        """
        recorder = NotificationRecorder()
        pool = 'doctor-test-%s' % uuid.uuid4().hex[:12]
        targets = [messaging.Target(exchange=exchange, topic=topic)
                   for topic in topics]
        listener = rpc.get_notification_listener(self.conf, targets,
                                                 [recorder], pool=pool)
        listener.start()
        self.addCleanup(base._rabbit_channel_call, self.peer.vhost,
                        lambda channel: channel.queue_delete(pool))
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        return recorder


class DatasourceTestCase(PeerTestCase):
    """A test of the datasource named :attr:`datasource` on its peer.

    ``[<datasource>]`` holds the peer administrator's keystoneauth password
    options, as an operator's ``doctor.conf`` would; snapshots are taken
    every :attr:`interval` seconds, so that what arrives after the first
    one came through the notifications. The entity store is SQLite and the
    datasource's listener pool is the test's own.
    """

    datasource: typing.ClassVar[str]
    interval: typing.ClassVar[float] = 3600.0
    # How long a change may take from the peer's API to the store.
    notified_within: typing.ClassVar[float] = 30.0

    def setUp(self):
        super().setUp()
        self.use_database('sqlite')
        group = self.datasource
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('password'), group=group)
        self.config.config(auth_type='password', group=group,
                           **self.peer.auth)
        self.config.config(snapshot_interval=self.interval, group=group)
        pool = 'doctor-test-%s' % uuid.uuid4().hex[:12]
        self.config.config(datasources=[group], notification_pool=pool,
                           group='synchronizer')
        self.addCleanup(base._rabbit_channel_call, self.peer.vhost,
                        lambda channel: channel.queue_delete(
                            '%s-%s' % (pool, group)))

    def entity(self, key: str) -> dict | None:
        """The stored entity of ``key``, or None."""
        try:
            return self.db.get_entity(key)
        except exception.EntityNotFound:
            return None

    def wait_entity(self, key: str, message: str,
                    predicate: Callable[[dict], bool] | None = None,
                    timeout: float | None = None) -> dict:
        """Wait until the entity of ``key`` is stored (and ``predicate``).
        """
        def found() -> dict | None:
            entity = self.entity(key)
            if entity is not None and (predicate is None
                                       or predicate(entity)):
                return entity
            return None
        return self.wait_for(found, message=message,
                             timeout=(self.notified_within
                                      if timeout is None else timeout))

    def collected(self, synchronizer: synchronizer_mod.Synchronizer
                  ) -> list[dict]:
        """The changes ``synchronizer`` stores from now on."""
        changes: list[dict] = []
        synchronizer.register(None, changes.extend, 'test')
        return changes

    def snapshots(self) -> tuple[Callable[[], list[tuple[str, str]]],
                                 list[dict]]:
        """A function taking one snapshot, and the changes it stored.

        The function answers the ``(action, key)`` of the changes the
        snapshot stored; the list holds the changes themselves.
        """
        [datasource] = service_mod.load_datasources(self.conf)
        self.addCleanup(datasource.close)
        synchronizer = synchronizer_mod.Synchronizer(self.conf, self.db)
        synchronizer.start()
        self.addCleanup(synchronizer.stop)
        changes = self.collected(synchronizer)
        runner = collector.CollectorRunner(datasource, synchronizer, self.db,
                                           lambda name: True)
        self.addCleanup(runner.stop)

        def snapshot() -> list[tuple[str, str]]:
            del changes[:]
            runner.run()
            synchronizer.wait_idle()
            return [(change['action'], change['key']) for change in changes]
        return snapshot, changes

    def check_wrong_password(self, expected: str) -> None:
        """A refused password is logged in one line, then recovered from.

        :param expected: what the log line says after the datasource's name.
        """
        logger = self.useFixture(fixtures.FakeLogger(
            name='doctor.synchronizer.collector'))
        self.config.config(password='wrong', group=self.datasource)
        [datasource] = service_mod.load_datasources(self.conf)
        self.addCleanup(datasource.close)
        synchronizer = synchronizer_mod.Synchronizer(self.conf, self.db)
        runner = collector.CollectorRunner(datasource, synchronizer, self.db,
                                           lambda name: True)
        self.addCleanup(runner.stop)
        self.assertIsNone(runner.run())
        self.assertIn('The snapshot of %s failed, retried at the next '
                      'interval: %s' % (self.datasource, expected),
                      logger.output)
        self.assertNotIn('Traceback', logger.output)
        self.config.config(password=self.peer.auth['password'],
                           group=self.datasource)
        self.assertIsNotNone(runner.run())


class ControllerTestCase(PeerTestCase):
    """A test of the controller named :attr:`controller_name` on its peer.

    ``[<controller_name>]`` holds the peer administrator's keystoneauth
    password options, as an operator's ``doctor.conf`` would.
    """

    controller_name: typing.ClassVar[str]

    def setUp(self):
        super().setUp()
        group = self.controller_name
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('password'), group=group)
        self.config.config(auth_type='password', group=group,
                           **self.peer.auth)

    def load_controller(self):
        """The controller, loaded and started as the inspector does it."""
        self.config.config(controllers=[self.controller_name],
                           group='inspector')
        [controller] = inspector_mod.load_controllers(self.conf)
        controller.start()
        self.addCleanup(controller.stop)
        return controller
