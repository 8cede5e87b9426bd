"""Server side of the inspector RPC API."""

import oslo_messaging as messaging

from doctor.common import exception
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import rpcapi

_EXPECTED = (exception.HostNotFound, exception.PortNotFound,
             exception.Invalid, exception.ServiceUnavailable)


class InspectorManager:
    """Hands each call to the inspector; see :class:`rpcapi.InspectorAPI`.
    """

    target = messaging.Target(version=rpcapi.InspectorAPI.RPC_API_VERSION)

    def __init__(self, inspector: inspector_mod.Inspector) -> None:
        self.inspector = inspector

    @messaging.expected_exceptions(*_EXPECTED)
    def report_failures(self, context, events):
        return self.inspector.report_failures(context, events)

    @messaging.expected_exceptions(*_EXPECTED)
    def report_host(self, context, host, down):
        return self.inspector.report_host(context, host, bool(down))

    @messaging.expected_exceptions(*_EXPECTED)
    def set_port_dp_down(self, context, port_id, down):
        return self.inspector.set_port_dp_down(context, port_id, bool(down))
