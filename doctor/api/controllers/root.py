"""``/``: the API versions this service speaks."""

import pecan

from doctor.api.controllers import v1


class RootController:
    """The root of the API: version discovery, open to anyone."""

    v1 = v1.V1Controller()

    @pecan.expose(generic=True, template='json')
    def index(self) -> None:
        """Only GET is allowed here."""
        pecan.abort(405, headers={'Allow': 'GET'})

    @index.when(method='GET', template='json')
    def index_get(self) -> dict:
        """The versions, each with its status and links."""
        return {'versions': [v1.version(pecan.request.application_url)]}
