"""Version 1 of the REST API."""

import pecan

from doctor.api.controllers.v1 import alarms
from doctor.api.controllers.v1 import entities

STATUS = 'CURRENT'


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

    @pecan.expose(generic=True, template='json')
    def index(self) -> None:
        """Only GET is allowed here."""
        pecan.abort(405, headers={'Allow': 'GET'})

    @index.when(method='GET', template='json')
    def index_get(self) -> dict:
        """The version and links to its resources."""
        host_url = pecan.request.application_url
        return dict(version(host_url), resources=[
            {'name': 'alarms',
             'links': [{'rel': 'self', 'href': host_url + '/v1/alarms'}]},
            {'name': 'entities',
             'links': [{'rel': 'self',
                        'href': host_url + '/v1/entities'}]},
        ])
