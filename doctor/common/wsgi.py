"""A small threaded HTTP server for doctor's WSGI apps.

doctor-api and doctor-consumer serve themselves with it when they are not
run under uwsgi or gunicorn; it has no eventlet and no extra dependency.
"""

from concurrent import futures
import threading
from wsgiref import simple_server

from oslo_log import log
from oslo_service import service

LOG = log.getLogger(__name__)


class _PooledWSGIServer(simple_server.WSGIServer):
    """Serves each connection on a bounded pool of threads."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, workers: int = 16, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pool = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='doctor-wsgi')

    def process_request(self, request, client_address):
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False)


class _QuietHandler(simple_server.WSGIRequestHandler):
    """Logs requests through oslo.log at DEBUG instead of to stderr."""

    def log_message(self, format, *args):
        LOG.debug('%s - %s', self.address_string(), format % args)


class WSGIService(service.Service):
    """Serves one WSGI app on ``host``:``port`` from ``workers`` threads.

    ``port`` 0 picks a free port; ``self.port`` is the bound one once
    :meth:`start` has returned.
    """

    def __init__(self, name: str, app_factory, host: str, port: int,
                 workers: int = 16) -> None:
        super().__init__()
        self._workers = workers
        self.name = name
        self._app_factory = app_factory
        self.host = host
        self.port = port
        self._server: _PooledWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        super().start()
        app = self._app_factory()
        self._server = _PooledWSGIServer((self.host, self.port),
                                         _QuietHandler,
                                         workers=self._workers)
        self._server.set_app(app)
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
