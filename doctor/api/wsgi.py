"""Entry point for running the API under uwsgi, gunicorn or mod_wsgi."""

from doctor.api import app
from doctor.common import service


def initialize_wsgi_app() -> app.WSGIApp:
    """Parse the configuration (not the server's argv) and build the app."""
    conf = service.prepare_service([])
    return app.setup_app(conf)
