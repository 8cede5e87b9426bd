"""Client side of the inspector RPC API: raw failures in."""

import oslo_messaging as messaging

from doctor.common import exception
from doctor.common import rpc

TOPIC = 'doctor-inspector'


class InspectorAPI:
    """Hands raw failures, host reports and port changes to an inspector.

    Every method is a call: the caller learns the fault ids (or that the
    host or port is unknown) as soon as an inspector has taken the
    report, which is before it has acted on it.

    API version history:

    * 1.0: ``report_failures``, ``report_host``, ``set_port_dp_down``
    """

    RPC_API_VERSION = '1.0'

    def __init__(self, conf) -> None:
        self.conf = conf
        self.client = rpc.get_client(
            conf, TOPIC, version_cap=conf.upgrade_levels.inspector)

    def _call(self, context, method: str, **kwargs):
        cctxt = self.client.prepare(
            version='1.0', timeout=self.conf.inspector.rpc_timeout)
        try:
            return cctxt.call(context, method, **kwargs)
        except messaging.MessagingTimeout:
            raise exception.ServiceUnavailable(
                reason='no inspector answered within %s s'
                       % self.conf.inspector.rpc_timeout)

    def report_failures(self, context, events: list[dict]) -> list[str]:
        """Report raw failures; return the id of each one's fault.

        ``events`` are the validated items of ``POST /v1/events``; their
        ``time`` is an ISO 8601 string. Reports of a host that already
        has a fault (open, or begun within ``[inspector]
        duplicate_window``) return that fault's id.

        :raises HostNotFound: naming the first host the inspector does
            not know; no event of the list is then taken.
        """
        return self._call(context, 'report_failures', events=events)

    def report_host(self, context, host: str, down: bool) -> dict:
        """Report ``host`` down (a fault) or recovered.

        :returns: ``{"host": name, "state": "down"|"up", "fault_id": id or
            None}``.
        :raises HostNotFound: if the inspector does not know ``host``.
        """
        return self._call(context, 'report_host', host=host, down=down)

    def set_port_dp_down(self, context, port_id: str, down: bool) -> dict:
        """Set a port's data-plane status DOWN (``down``) or ACTIVE.

        :returns: the port as ``GET /v1/ports/{id}`` shows it.
        :raises PortNotFound: if the inspector does not know the port.
        """
        return self._call(context, 'set_port_dp_down', port_id=port_id,
                          down=down)


def get_target(server: str) -> messaging.Target:
    """The target an inspector named ``server`` serves."""
    return messaging.Target(topic=TOPIC, server=server,
                            version=InspectorAPI.RPC_API_VERSION)
