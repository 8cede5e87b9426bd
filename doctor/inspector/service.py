"""doctor-inspector: the host cache, the controllers and the RPC server.

At start the inspector follows the entity store's changes (so that none is
missed), builds its host cache from the store, starts its controllers and
then takes raw failures over RPC (``doctor-inspector`` topic; the API's
``POST /v1/events``, ``PUT /v1/hosts/{name}`` and ``PUT /v1/ports/{id}``
call it). Several replicas may run: each call reaches one of them, each
keeps its own cache, and the database makes one fault of a host however
many replicas hear of it.

A fault's steps are stored with it and marked done as they end. At start,
and every ``[inspector] fault_heartbeat_interval`` seconds after, the
inspector stamps the faults it runs as alive and takes over the stuck
ones (:mod:`doctor.inspector.ownership`): the unfinished faults of an
earlier run of itself, or of a replica that died. With ``[coordination]
backend_url`` the replicas join the group ``doctor-inspector``, so that
one that leaves is seen gone at once.
"""

import functools

from oslo_log import log
from oslo_service import service

from doctor.common import coordination
from doctor.common import periodic
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import manager as manager_mod
from doctor.inspector import notifications
from doctor.inspector import ownership
from doctor.inspector import rpcapi
from doctor.inspector.controllers import base
from doctor.synchronizer import follower as follower_mod

LOG = log.getLogger(__name__)

GROUP = 'doctor-inspector'


def _members(membership: coordination.GroupMembership
             ) -> ownership.Members | None:
    listed = membership.listed
    return ownership.Members(*listed) if listed is not None else None


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
        self._membership: coordination.GroupMembership | None = None
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
        owner = None
        members = None
        membership = self._membership = coordination.join(conf, GROUP)
        if membership is not None:
            owner = membership.member_id.decode()
            members = functools.partial(_members, membership)
        inspector = self.inspector = inspector_mod.Inspector(
            conf, connection, self.cache, router,
            notifications.Announcer(conf), owner=owner, members=members)
        try:
            inspector.resume_stuck(starting=True)
        except Exception:
            LOG.exception('Cannot look for unfinished faults to resume; '
                          'trying again in %s s',
                          conf.inspector.fault_heartbeat_interval)
        server = self._server = rpc.get_server(
            conf, rpcapi.get_target(conf.host),
            [manager_mod.InspectorManager(inspector)])
        server.start()
        self._periodic.add(conf.inspector.resync_interval, self.resync,
                           initial_delay=True)
        self._periodic.add(conf.inspector.fault_heartbeat_interval,
                           self.heartbeat, initial_delay=True)
        LOG.info('Inspector started: controllers %s',
                 ', '.join(controller.name for controller in controllers))

    def resync(self) -> None:
        """Rebuild the host cache from the entity store."""
        assert self._db is not None
        connection = self._db
        self.cache.reload(lambda: cache_mod.read_store(connection))

    def heartbeat(self) -> None:
        """Stamp the faults this replica runs; take over stuck ones."""
        if self.inspector is not None:
            self.inspector.heartbeat()

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
        if self._membership is not None:
            self._membership.stop()
            self._membership = None
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
