"""doctor-api's own HTTP server: the API app on ``[api] host:port``."""

from oslo_config import cfg

from doctor.api import app
from doctor.common import wsgi


class APIService(wsgi.WSGIService):
    """Serves the API from a pool of ``[api] workers`` threads.

    Clients are bounded by ``[api] header_timeout``, ``body_timeout``,
    ``max_connections`` and ``max_connections_per_client``.

    ``start`` binds before it returns; ``port`` is then the bound port,
    so that ``[api] port = 0`` picks a free one.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        limits = wsgi.ClientLimits(
            header_timeout=conf.api.header_timeout,
            body_timeout=conf.api.body_timeout,
            max_body_size=conf.api.max_request_body_size,
            max_connections=conf.api.max_connections,
            max_connections_per_client=conf.api.max_connections_per_client)
        super().__init__('doctor-api', lambda: app.setup_app(conf),
                         conf.api.host, conf.api.port,
                         workers=conf.api.workers, limits=limits)
        self.conf = conf
