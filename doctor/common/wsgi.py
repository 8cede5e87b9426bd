"""A small threaded HTTP server for doctor's WSGI apps.

doctor-api and doctor-consumer serve themselves with it when they are not
run under uwsgi or gunicorn; it has no eventlet and no extra dependency.
"""

import socketserver
import threading
from wsgiref import simple_server

from oslo_log import log
from oslo_service import service

LOG = log.getLogger(__name__)


class _ThreadingWSGIServer(socketserver.ThreadingMixIn,
                           simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(simple_server.WSGIRequestHandler):
    """Logs requests through oslo.log at DEBUG instead of to stderr."""

    def log_message(self, format, *args):
        LOG.debug('%s - %s', self.address_string(), format % args)


class WSGIService(service.Service):
    """Serves one WSGI app on ``host``:``port`` with a thread per request.

    ``port`` 0 picks a free port; ``self.port`` is the bound one once
    :meth:`start` has returned.
    """

    def __init__(self, name: str, app_factory, host: str, port: int) -> None:
        super().__init__()
        self.name = name
        self._app_factory = app_factory
        self.host = host
        self.port = port
        self._server: _ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        app = self._app_factory()
        self._server = simple_server.make_server(
            self.host, self.port, app, server_class=_ThreadingWSGIServer,
            handler_class=_QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.2},
                                        name=self.name, daemon=True)
        self._thread.start()
        LOG.info('%s listening on http://%s:%d/', self.name, self.host,
                 self.port)

    def stop(self, graceful: bool = False) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        super().stop(graceful)
