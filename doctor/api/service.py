"""doctor-api's own HTTP server: the API app on ``[api] host:port``."""

from oslo_config import cfg

from doctor.api import app
from doctor.common import wsgi


class APIService(wsgi.WSGIService):
    """Serves the API from a pool of ``[api] workers`` threads.

    ``start`` binds before it returns; ``port`` is then the bound port,
    so that ``[api] port = 0`` picks a free one.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__('doctor-api', lambda: app.setup_app(conf),
                         conf.api.host, conf.api.port,
                         workers=conf.api.workers)
        self.conf = conf
