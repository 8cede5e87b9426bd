"""Server side of the notifier RPC API."""

from oslo_log import log
import oslo_messaging as messaging

from doctor.notifier import deliverer as deliverer_mod
from doctor.notifier import rpcapi

LOG = log.getLogger(__name__)


class NotifierManager:
    """RPC endpoint of doctor-notifier: delivers the firings it is cast."""

    target = messaging.Target(version=rpcapi.NotifierAPI.RPC_API_VERSION)

    def __init__(self, deliverer: deliverer_mod.Deliverer) -> None:
        self.deliverer = deliverer

    def deliver(self, context, firing):
        """Deliver an AlarmFiring (any version up to this one's)."""
        self.deliverer.deliver_handed_over(firing)
