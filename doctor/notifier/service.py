"""doctor-notifier: delivers fired alarms handed over by evaluators."""

from oslo_log import log
import oslo_messaging as messaging
from oslo_service import service

from doctor.common import rpc
from doctor.db import api as db_api
from doctor.notifier import deliverer as deliverer_mod
from doctor.notifier import manager
from doctor.notifier import rpcapi

LOG = log.getLogger(__name__)


class NotifierService(service.Service):
    """Serves the notifier RPC API and takes over stale deliveries."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf
        self.deliverer: deliverer_mod.Deliverer | None = None
        self._server: messaging.MessageHandlingServer | None = None
        self._db: db_api.Connection | None = None

    def start(self) -> None:
        super().start()
        self._db = db_api.get_connection(self.conf)
        self.deliverer = deliverer_mod.Deliverer(self.conf, self._db)
        LOG.info('Notifier plugins: %s', ', '.join(self.deliverer.schemes))
        self._server = rpc.get_server(
            self.conf, rpcapi.get_target(self.conf),
            [manager.NotifierManager(self.deliverer)])
        self._server.start()
        # Deliveries left owed while no notifier ran; the deliverer scans
        # again by itself, on its one database thread.
        self.deliverer.scan_soon()

    def stop(self, graceful: bool = False) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
        if self.deliverer is not None:
            self.deliverer.stop()
            self.deliverer = None
        if self._db is not None:
            # A restarted service makes a new connection: do not leave the
            # old one's pooled sessions open on the database.
            self._db.close()
            self._db = None
        super().stop(graceful)
