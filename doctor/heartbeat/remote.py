"""A compute agent's side of the bus: the remote router it hands its
guests' server-group messages to, and the RPC server it takes the
router's on.
"""

from oslo_log import log
import oslo_messaging as messaging

from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.heartbeat import manager
from doctor.heartbeat import rpcapi
from doctor.objects import guest as guest_obj

LOG = log.getLogger(__name__)


class BusRemote:
    """The router in doctor-inspector, for the agent of ``host``
    (implements :class:`doctor.heartbeat.agent.Remote`).
    """

    def __init__(self, conf, host: str) -> None:
        self.api = rpcapi.GuestRouterAPI(conf)
        self.host = host
        self._context = doctor_context.get_admin_context()

    @staticmethod
    def _message(kind: str, sender: str, message_id: str, body: dict
                 ) -> guest_obj.GuestMessage:
        return guest_obj.GuestMessage(kind=kind, sender=sender,
                                      message_id=message_id, body=body)

    def broadcast(self, sender: str, message_id: str, body: dict
                  ) -> int | None:
        return self.api.broadcast(
            self._context,
            self._message(guest_obj.MESSAGE, sender, message_id, body),
            self.host)

    def peer_state(self, sender: str, message_id: str, body: dict
                   ) -> None:
        self.api.peer_state(
            self._context,
            self._message(guest_obj.PEER_STATE, sender, message_id, body),
            self.host)


def on_the_embedded_bus(conf) -> bool:
    """Whether RPC goes over the in-process bus, which reaches no other
    process: a compute agent then routes between its own guests only.
    """
    url = conf.transport_url or ''
    return url.startswith(rpc.EMBEDDED_TRANSPORT_URL)


def serve(conf, host: str, deliver) -> messaging.MessageHandlingServer:
    """Start the compute agent's RPC server (``doctor-compute-agent``
    topic, server ``host``).
    """
    group = conf.compute_agent

    def attach(instance_id: str) -> str:
        from doctor.heartbeat import libvirt_channel
        result = libvirt_channel.attach(group.libvirt_uri, instance_id,
                                        group.channel_dir)
        LOG.info('HA guest channel of instance %s: %s', instance_id,
                 result)
        return result

    server = rpc.get_server(conf, rpcapi.agent_target(host),
                            [manager.ComputeAgentManager(deliver, attach)])
    server.start()
    return server
