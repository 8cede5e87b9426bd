"""Client side of the server-group messaging RPC APIs.

Two services take part: the router (``doctor-guest-router`` topic, in
every doctor-inspector) knows the server groups and where their members
are; each doctor-compute-agent (``doctor-compute-agent`` topic, server:
its host) hands messages to the guests it serves.
"""

import oslo_messaging as messaging

from doctor.common import rpc
from doctor.objects import guest as guest_obj

ROUTER_TOPIC = 'doctor-guest-router'
AGENT_TOPIC = 'doctor-compute-agent'
# Seconds a router waits for a compute agent's count of deliveries, and a
# compute agent for the router's.
DELIVER_TIMEOUT = 5
BROADCAST_TIMEOUT = 10
# Seconds libvirt may take to add a channel to a domain.
ATTACH_TIMEOUT = 60


class GuestRouterAPI:
    """What a compute agent asks of the server-group router.

    The agent has already delivered the message to the members it serves
    itself (``host``); the router delivers it to the members elsewhere.

    API version history:

    * 1.0: ``broadcast(message, host)`` (call: how many got it),
      ``peer_state(message, host)`` (cast)
    """

    RPC_API_VERSION = '1.0'

    def __init__(self, conf) -> None:
        self.client = rpc.get_client(
            conf, ROUTER_TOPIC, version_cap=conf.upgrade_levels.guest_router)

    def broadcast(self, context, message: guest_obj.GuestMessage,
                  host: str) -> int | None:
        """Members on other hosts that got it; None if the sender is in
        no server group.
        """
        return self.client.prepare(
            version='1.0', timeout=BROADCAST_TIMEOUT).call(
                context, 'broadcast', message=message, host=host)

    def peer_state(self, context, message: guest_obj.GuestMessage,
                   host: str) -> None:
        self.client.prepare(version='1.0').cast(
            context, 'peer_state', message=message, host=host)


class ComputeAgentAPI:
    """What the router asks of the compute agent of one host.

    API version history:

    * 1.0: ``deliver(message)`` (call or cast: how many got it)
    * 1.1: ``attach_channel(instance_id)`` (call)
    """

    RPC_API_VERSION = '1.1'

    def __init__(self, conf) -> None:
        self.client = rpc.get_client(
            conf, AGENT_TOPIC, version_cap=conf.upgrade_levels.compute_agent)

    def deliver(self, context, host: str,
                message: guest_obj.GuestMessage, wait: bool) -> int | None:
        """Hand ``message`` to its recipients on ``host``.

        :param wait: wait for the count of guests that got it (else
            return None at once).
        """
        client = self.client.prepare(server=host, version='1.0',
                                     timeout=DELIVER_TIMEOUT)
        if not wait:
            client.cast(context, 'deliver', message=message)
            return None
        return client.call(context, 'deliver', message=message)

    def attach_channel(self, context, host: str, instance_id: str) -> str:
        """Have the agent of ``host`` add the HA guest channel to the
        running domain of ``instance_id``: ``attached``, or ``present``
        if it had one.

        :raises ChannelError: if libvirt cannot (its reason).
        :raises MessagingException: if the agent is older than 1.1 (see
            ``[upgrade_levels] compute_agent``) or does not answer.
        """
        if not self.client.can_send_version('1.1'):
            raise messaging.UnsupportedVersion('1.1')
        return self.client.prepare(server=host, version='1.1',
                                   timeout=ATTACH_TIMEOUT).call(
            context, 'attach_channel', instance_id=instance_id)


def router_target(server: str) -> messaging.Target:
    """The target a router named ``server`` serves."""
    return messaging.Target(topic=ROUTER_TOPIC, server=server,
                            version=GuestRouterAPI.RPC_API_VERSION)


def agent_target(host: str) -> messaging.Target:
    """The target the compute agent of ``host`` serves."""
    return messaging.Target(topic=AGENT_TOPIC, server=host,
                            version=ComputeAgentAPI.RPC_API_VERSION)
