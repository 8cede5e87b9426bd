"""Following the entity store's changes from another service.

A service that keeps a view of entities (the inspector's host cache)
starts a :class:`Follower`: every synchronizer replica's changes reach
every follower, in the order each synchronizer stored them.
"""

from collections.abc import Callable
from collections.abc import Iterable

from oslo_log import log
import oslo_messaging as messaging
from oslo_utils import uuidutils

from doctor.common import rpc
from doctor.synchronizer import rpcapi

LOG = log.getLogger(__name__)

Callback = Callable[[list[dict]], None]


class FollowerManager:
    """RPC endpoint of a follower: hands each batch to the callback."""

    target = messaging.Target(
        version=rpcapi.EntityFollowerAPI.RPC_API_VERSION)

    def __init__(self, callback: Callback,
                 types: Iterable[str] | None = None) -> None:
        self._callback = callback
        self._types = frozenset(types) if types is not None else None

    def entities_changed(self, context, batch):
        changes = batch.changes
        if self._types is not None:
            changes = [change for change in changes
                       if change['type'] in self._types]
        if changes:
            try:
                self._callback(changes)
            except Exception:
                LOG.exception('A follower of entity changes failed on a '
                              'batch of %d changes', len(changes))


class Follower:
    """Receives the entity changes of ``types`` (all when None)."""

    def __init__(self, conf, callback: Callback,
                 types: Iterable[str] | None = None) -> None:
        self.conf = conf
        self._manager = FollowerManager(callback, types)
        self._server: messaging.MessageHandlingServer | None = None

    def start(self) -> None:
        server_name = '%s-%s' % (self.conf.host, uuidutils.generate_uuid())
        self._server = rpc.get_server(self.conf,
                                      rpcapi.get_target(server_name),
                                      [self._manager])
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
