"""Entry point for running the API under uwsgi, gunicorn or mod_wsgi."""

from doctor.api import app
from doctor.common import service
from doctor.notifier import targets


def initialize_wsgi_app() -> app.WSGIApp:
    """Parse the configuration (not the server's argv) and build the app."""
    conf = service.prepare_service([])
    # Refused here, with the option named, rather than at each request.
    targets.check_config(conf)
    return app.setup_app(conf)
