"""A small threaded HTTP server for doctor's WSGI apps.

doctor-api and doctor-consumer serve themselves with it when they are not
run under uwsgi or gunicorn; it has no eventlet and no extra dependency.

It speaks HTTP/1.1 with persistent connections, so that a client sending
many requests (the notifier posting a burst of alarms to a consumer, a
monitor reporting to the API) pays the TCP handshake once. A connection
left idle for ``KEEPALIVE_IDLE`` seconds is closed, and while as many
connections are open as there are worker threads, each response closes
its connection, so that idle clients never keep a new one waiting long.
"""

from concurrent import futures
import socket
import threading
import typing
from wsgiref import headers as wsgi_headers
from wsgiref import simple_server

from oslo_log import log
from oslo_service import service

from doctor.common import exception
from doctor.i18n import _

LOG = log.getLogger(__name__)

#: Seconds a persistent connection may wait for its next request.
KEEPALIVE_IDLE = 2.0

#: A request body the application left unread is read and discarded, up to
#: this many bytes, to keep the connection; a longer one closes it.
_DRAIN_LIMIT = 65536


class _PooledWSGIServer(simple_server.WSGIServer):
    """Serves each connection on a bounded pool of threads."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, workers: int = 16, **kwargs) -> None:
        # Ready before the socket is bound: a failed bind closes the
        # server, pool included, from within the base class.
        self.workers = workers
        self._pool = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='doctor-wsgi')
        self._lock = threading.Lock()
        self._connections = 0
        super().__init__(*args, **kwargs)

    @property
    def crowded(self) -> bool:
        """True while every worker has a connection (or one is queued)."""
        return self._connections >= self.workers

    def process_request(self, request, client_address):
        with self._lock:
            self._connections += 1
        self._pool.submit(self._serve, request, client_address)

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._lock:
                self._connections -= 1
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False)


class _Body:
    """The request body as ``wsgi.input``: never reads past its end."""

    def __init__(self, rfile, length: int) -> None:
        self._rfile = rfile
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self._rfile.read(size) if size else b''
        self.remaining -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data = self._rfile.readline(size) if size else b''
        self.remaining -= len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                return lines

    def __iter__(self):
        return iter(self.readline, b'')


class _ServerHandler(simple_server.ServerHandler):
    """Answers in HTTP/1.1, keeping the connection when it can."""

    http_version = '1.1'
    headers: wsgi_headers.Headers

    def __init__(self, body: _Body, handler: '_Handler', environ) -> None:
        super().__init__(typing.cast(typing.IO[bytes], body),
                         typing.cast(typing.IO[bytes], handler.wfile),
                         handler.get_stderr(), environ, multithread=True)
        self.body = body
        self.request_handler = handler

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        handler = self.request_handler
        if 'Content-Length' not in self.headers:
            # Without a length the end of the body is the end of the
            # connection.
            handler.close_connection = True
        if self.body.remaining > _DRAIN_LIMIT:
            # Too much of the request left unread to skip it.
            handler.close_connection = True
        if handler.close_connection:
            self.headers['Connection'] = 'close'


class _Handler(simple_server.WSGIRequestHandler):
    """Serves the requests of one connection, one after the other.

    Logs them through oslo.log at DEBUG instead of to stderr.
    """

    server: _PooledWSGIServer
    protocol_version = 'HTTP/1.1'
    timeout = KEEPALIVE_IDLE
    # A response is written whole, at the flush that ends each request,
    # and sent at once: on a kept connection Nagle's algorithm would hold
    # its last segment until the client's delayed acknowledgement.
    wbufsize = -1
    disable_nagle_algorithm = True

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except (TimeoutError, socket.timeout, ConnectionError):
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > 65536:
            self.requestline = ''
            self.request_version = ''
            self.command = ''
            self.send_error(414)
            self.close_connection = True
            return
        if not self.parse_request():
            self.close_connection = True
            return
        if (self.request_version != 'HTTP/1.1'
                or self.headers.get('Transfer-Encoding')
                or self.server.crowded):
            # HTTP/1.0 clients get HTTP/1.0 behaviour, a chunked body has
            # no length to stop at, and a full pool needs its threads.
            self.close_connection = True
        environ = self.get_environ()
        try:
            length = int(environ.get('CONTENT_LENGTH') or 0)
        except ValueError:
            length = 0
            self.close_connection = True
        body = _Body(self.rfile, max(length, 0))
        app = self.server.get_app()
        assert app is not None, 'the server is started with its app'
        _ServerHandler(body, self, environ).run(app)
        if not self.close_connection and body.remaining:
            if body.remaining > _DRAIN_LIMIT:
                self.close_connection = True
            else:
                body.read()
        self.wfile.flush()

    def handle_expect_100(self) -> bool:
        # The interim answer cannot wait in the buffer for the final one:
        # the client waits for it before sending the body.
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered

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
        try:
            self._server = _PooledWSGIServer((self.host, self.port),
                                             _Handler,
                                             workers=self._workers)
        except OSError as e:
            raise exception.ConfigInvalid(
                reason=_('%(name)s cannot listen on %(host)s:%(port)s: '
                         '%(error)s') % {'name': self.name,
                                         'host': self.host,
                                         'port': self.port,
                                         'error': e.strerror or e}) from e
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
