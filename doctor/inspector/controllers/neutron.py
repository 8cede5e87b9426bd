"""The ``neutron`` controller: a port's data-plane status, through Neutron.

``PUT /v2.0/ports/{id}`` with ``{"port": {"data_plane_status": "DOWN"}}``
(or ``ACTIVE``), with the ``[neutron]`` credentials: those of an
administrator, since Neutron's default policy lets only the admin set a
port's data-plane status. Neutron must have the ``data_plane_status``
extension (ML2's extension driver of that name); without it Neutron
answers 400, which fails the action for good with Neutron's message.

Neutron emits ``port.update.end`` with the port as it now is; the
inspector emits doctor's own ``port.data_plane_status.update`` when the
value toggled. Failures are mapped as :mod:`.openstack` says: Neutron or
Keystone unreachable, a timeout, a 5xx or a 429 are retried, a port that
Neutron does not have fails with
:class:`~doctor.common.exception.PortNotFound`, any other refusal for good.
"""

from doctor.common import exception
from doctor.inspector.controllers import base
from doctor.inspector.controllers import openstack

GROUP = 'neutron'


class NeutronController(base.Controller):
    """Ports' data-plane status set in Neutron."""

    handles = frozenset((base.PORT,))

    def __init__(self, conf, name: str) -> None:
        super().__init__(conf, name)
        self.api = openstack.ServiceAPI(
            conf, GROUP, 'Neutron',
            max_concurrent=conf[GROUP].max_concurrent_calls)

    def start(self) -> None:
        self.api.prepare()

    def stop(self) -> None:
        self.api.close()

    def set_port_dp_down(self, context: base.ActionContext, port: base.Port,
                         down: bool) -> None:
        status = base.DP_DOWN if down else base.DP_ACTIVE
        try:
            self.api.call(
                'PUT', '/v2.0/ports/%s' % port.id,
                'set the data-plane status of port %s %s' % (port.id,
                                                             status),
                {'port': {'data_plane_status': status}}, context=context)
        except exception.NotFound as e:
            raise exception.PortNotFound(str(e), port_id=port.id)
