"""``/v1/ports/{port_id}``: a port and its data-plane status.

A port is read from the entity store; its host and device are the
entities it belongs to (or the device the datasource reported). Setting
its data-plane status goes through the inspector, which acts through the
configured controller and announces ``port.data_plane_status.update``
when the status toggles.

The first line of each method is its policy check, on the port: a port of
another project that the policy does not let the caller see answers 404,
so that its existence is not revealed.
"""

import pecan

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import hosts
from doctor.api.controllers.v1 import inspection
from doctor.api.schemas.v1 import ports as port_schema
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.policies import ports as port_policies
from doctor.synchronizer import entity as entity_mod

PORT_PREFIX = entity_mod.PORT + ':'


def port_view(entity: dict) -> dict:
    """The API's JSON of a port entity."""
    data_plane_status = entity['attributes'].get('data_plane_status')
    return {
        'id': entity['id'],
        'name': entity['name'],
        'project_id': entity['project_id'],
        'host': inspection.parent_id(entity, entity_mod.HOST),
        'device_id': hosts.port_device(entity),
        'status': entity['state'],
        'data_plane_status': data_plane_status,
        'dp_down': data_plane_status == hosts.DP_DOWN,
    }


def _enforce_on_port(rule: str, port_id: str
                     ) -> tuple[doctor_context.RequestContext, dict]:
    """Load a port and check ``rule`` on it.

    :raises PortNotFound: if there is none, or it belongs to another
        project and the policy refuses it.
    :raises PolicyNotAuthorized: if the policy refuses a port of the
        caller's own project.
    """
    context = inspection.caller()
    try:
        port = pecan.request.dbapi.get_entity(PORT_PREFIX + port_id)
    except exception.EntityNotFound:
        raise exception.PortNotFound(port_id=port_id)
    try:
        policy.authorize(rule, {'project_id': port['project_id'],
                                'user_id': None}, context)
    except exception.PolicyNotAuthorized:
        if port['project_id'] != context.project_id:
            raise exception.PortNotFound(port_id=port_id)
        raise
    return context, port


class PortController(base.RestController):
    """``/v1/ports/{port_id}``: one port."""

    def __init__(self, port_id: str) -> None:
        self._id = port_id

    @pecan.expose('json')
    def get(self) -> dict:
        """The port, its host, device and data-plane status."""
        _context, port = _enforce_on_port(port_policies.GET, self._id)
        inspection.no_query_parameters()
        return {'port': port_view(port)}

    @pecan.expose('json')
    def put(self) -> dict:
        """Set the data-plane status DOWN (``dp_down: true``) or ACTIVE."""
        context, _port = _enforce_on_port(port_policies.UPDATE, self._id)
        inspection.no_query_parameters()
        request = pecan.request
        body = port_schema.validate_update(validation.json_body(request))
        down = body['port']['dp_down']
        inspector = request.inspector_api
        port_id = self._id
        port = inspection.call_inspector(
            'the data-plane status of port %s' % port_id,
            lambda: inspector.set_port_dp_down(context, port_id, down))
        return {'port': port}


class PortsController(base.RestController):
    """``/v1/ports``: ports, one at a time."""

    @pecan.expose()
    def _lookup(self, port_id: str, *remainder):
        return PortController(port_id), remainder
