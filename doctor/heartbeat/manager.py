"""Server side of the server-group messaging RPC APIs."""

import oslo_messaging as messaging

from doctor.common import exception
from doctor.heartbeat import rpcapi


class ComputeAgentManager:
    """RPC endpoint of doctor-compute-agent: hands the router's messages
    to the guests it serves.

    :param deliver: :meth:`doctor.heartbeat.agent.ComputeAgent.deliver`.
    :param attach: adds the channel to an instance's domain (see
        :func:`doctor.heartbeat.libvirt_channel.attach`).
    """

    target = messaging.Target(version=rpcapi.ComputeAgentAPI.RPC_API_VERSION)

    def __init__(self, deliver, attach=None) -> None:
        self._deliver = deliver
        self._attach = attach

    @messaging.expected_exceptions(exception.DoctorException)
    def attach_channel(self, context, instance_id: str) -> str:
        """Add the HA guest channel to the domain of ``instance_id``."""
        return self._attach(instance_id)

    def deliver(self, context, message) -> int:
        """Deliver a GuestMessage; how many of its recipients got it."""
        return self._deliver(message.kind, message.message_id,
                             list(message.recipients), message.body)


class GuestRouterManager:
    """RPC endpoint of the server-group router.

    :param router: a :class:`doctor.heartbeat.router.GuestRouter`.
    """

    target = messaging.Target(version=rpcapi.GuestRouterAPI.RPC_API_VERSION)

    def __init__(self, router) -> None:
        self.router = router

    def broadcast(self, context, message, host: str) -> int | None:
        """Deliver a broadcast to the members not on ``host``; how many
        got it, None if the sender is in no server group.
        """
        return self.router.route(message, exclude_host=host, wait=True)

    def peer_state(self, context, message, host: str) -> None:
        """Forward a state change to the members not on ``host``."""
        self.router.route(message, exclude_host=host, wait=False)
