"""doctor-inspector: the host cache, the controllers and the RPC server.

At start the inspector follows the entity store's changes (so that none is
missed), builds its host cache from the store, starts its controllers and
then takes raw failures over RPC (``doctor-inspector`` topic; the API's
``POST /v1/events``, ``PUT /v1/hosts/{name}`` and ``PUT /v1/ports/{id}``
call it). Several replicas may run: each call reaches one of them, each
keeps its own cache, and the database makes one fault of a host however
many replicas hear of it.
"""

from oslo_log import log
from oslo_service import service

from doctor.common import periodic
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import manager as manager_mod
from doctor.inspector import notifications
from doctor.inspector import rpcapi
from doctor.inspector.controllers import base
from doctor.synchronizer import follower as follower_mod

LOG = log.getLogger(__name__)


class InspectorService(service.Service):
    """One inspector replica.

    :param controllers: controllers to act through instead of the
        configured ones (tools and tests).
    """

    def __init__(self, conf,
                 controllers: list[base.Controller] | None = None) -> None:
        super().__init__()
        self.conf = conf
        self._given = controllers
        self.cache = cache_mod.HostCache()
        self.inspector: inspector_mod.Inspector | None = None
        self.controllers: list[base.Controller] = []
        self._db: db_api.Connection | None = None
        self._follower: follower_mod.Follower | None = None
        self._server = None
        self._periodic = periodic.PeriodicTasks()

    def start(self) -> None:
        super().start()
        conf = self.conf
        controllers = (list(self._given) if self._given is not None
                       else inspector_mod.load_controllers(conf))
        router = inspector_mod.Router(controllers)
        connection = self._db = db_api.get_connection(conf)
        # Follow first, then read the store: a change stored meanwhile is
        # both read and followed, never neither.
        self._follower = follower_mod.Follower(conf, self.cache.apply,
                                               cache_mod.TYPES)
        self._follower.start()
        self.resync()
        for controller in controllers:
            controller.start()
            self.controllers.append(controller)
        self.inspector = inspector_mod.Inspector(
            conf, connection, self.cache, router,
            notifications.Announcer(conf))
        server = self._server = rpc.get_server(
            conf, rpcapi.get_target(conf.host),
            [manager_mod.InspectorManager(self.inspector)])
        server.start()
        self._periodic.add(conf.inspector.resync_interval, self.resync,
                           initial_delay=True)
        LOG.info('Inspector started: controllers %s',
                 ', '.join(controller.name for controller in controllers))

    def resync(self) -> None:
        """Rebuild the host cache from the entity store."""
        assert self._db is not None
        connection = self._db
        self.cache.reload(lambda: cache_mod.read_store(connection))

    def stop(self, graceful: bool = False) -> None:
        self._periodic.stop()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        if self.inspector is not None:
            self.inspector.stop()
            self.inspector = None
        for controller in self.controllers:
            try:
                controller.stop()
            except Exception:
                LOG.exception('Stopping controller %s failed',
                              controller.name)
        self.controllers = []
        if self._db is not None:
            self._db.close()
            self._db = None
        super().stop(graceful)
