"""Version 1 of the REST API."""

import pecan

from doctor.api.controllers.v1 import alarms
from doctor.api.controllers.v1 import entities
from doctor.api.controllers.v1 import events
from doctor.api.controllers.v1 import faults
from doctor.api.controllers.v1 import heartbeats
from doctor.api.controllers.v1 import hosts
from doctor.api.controllers.v1 import ports

STATUS = 'CURRENT'

# The resources GET /v1 links to. /v1/ports has no list: a port is shown
# by its id.
RESOURCES = ('alarms', 'entities', 'events', 'hosts', 'faults',
             'heartbeats')


def version(host_url: str) -> dict:
    """The description of v1 that ``GET /`` and ``GET /v1`` answer."""
    return {
        'id': 'v1',
        'status': STATUS,
        'links': [{'rel': 'self', 'href': host_url + '/v1/'}],
    }


class V1Controller:
    """``/v1``: its description and its resources."""

    alarms = alarms.AlarmsController()
    entities = entities.EntitiesController()
    events = events.EventsController()
    hosts = hosts.HostsController()
    ports = ports.PortsController()
    faults = faults.FaultsController()
    heartbeats = heartbeats.HeartbeatsController()

    @pecan.expose(generic=True, template='json')
    def index(self) -> None:
        """Only GET is allowed here."""
        pecan.abort(405, headers={'Allow': 'GET'})

    @index.when(method='GET', template='json')
    def index_get(self) -> dict:
        """The version and links to its resources."""
        host_url = pecan.request.application_url
        return dict(version(host_url), resources=[
            {'name': name,
             'links': [{'rel': 'self', 'href': host_url + '/v1/' + name}]}
            for name in RESOURCES])
