"""A small threaded HTTP server for doctor's WSGI apps.

doctor-api and doctor-consumer serve themselves with it when they are not
run under uwsgi or gunicorn; it has no eventlet and no extra dependency.

It speaks HTTP/1.1 with persistent connections, so that a client sending
many requests (the notifier posting a burst of alarms to a consumer, a
monitor reporting to the API) pays the TCP handshake once.

Worker threads only ever serve requests that have arrived: one receiver
thread reads every connection's request head (and a body of known length
up to ``max_body_size``) as it trickles in, and hands the request to the
pool once it is whole. A client that sends slowly costs a socket, not a
thread, and is bounded in time: ``header_timeout`` seconds for the head,
``body_timeout`` for the body (answered 408 when it runs out). A kept
connection left idle for ``KEEPALIVE_IDLE`` seconds is closed. Connections
beyond ``max_connections`` in total, or ``max_connections_per_client``
from one address, are answered 503 and closed at once.
"""

from concurrent import futures
import dataclasses
import re
import selectors
import socket
import threading
import time
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

#: Largest request head (request line and headers) the server reads.
_MAX_HEAD = 65536 + 8192

#: Seconds a client may take to read an answer: writes fail after that.
_SEND_TIMEOUT = 60.0

#: How often the receiver looks for connections past their deadline.
_TICK = 0.1

#: Seconds between two warnings about refused connections.
_REFUSAL_LOG_INTERVAL = 10.0

_HEAD_END = re.compile(rb'\r?\n\r?\n')
_CONTENT_LENGTH = re.compile(rb'^content-length:[ \t]*([0-9]+)[ \t]*\r?$',
                             re.IGNORECASE | re.MULTILINE)
# A body of unknown length, or one the client sends only when asked.
_STREAMED = re.compile(rb'^(transfer-encoding|expect):',
                       re.IGNORECASE | re.MULTILINE)


def _canned(status: str, message: str) -> bytes:
    """A whole answer sent by the server itself, closing the connection."""
    body = ('{"error_message": {"faultstring": "%s", "faultcode": "%s"}}'
            % (message, 'Server' if status.startswith('5') else 'Client')
            ).encode()
    return (b'HTTP/1.1 %s\r\nContent-Type: application/json\r\n'
            b'Content-Length: %d\r\nConnection: close\r\n\r\n%s'
            % (status.encode(), len(body), body))


_OVERLOADED = _canned('503 Service Unavailable',
                      'Too many connections; try again later.')
_TIMED_OUT = _canned('408 Request Timeout',
                     'The request did not arrive in time.')
_INCOMPLETE = _canned('400 Bad Request',
                      'The request ended before it was whole.')
_HEAD_TOO_LARGE = _canned('431 Request Header Fields Too Large',
                          'The request head is too large.')


def _send_and_close(sock: socket.socket, answer: bytes | None) -> None:
    """Send a short answer if the socket takes it at once, and close."""
    try:
        if answer:
            sock.setblocking(False)
            sock.send(answer)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


class _Incoming:
    """A connection whose next request is still arriving."""

    __slots__ = ('sock', 'address', 'data', 'deadline', 'body_at',
                 'length')

    def __init__(self, sock: socket.socket, address: typing.Any,
                 data: bytes, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.data = bytearray(data)
        self.deadline = deadline
        # Where the body starts and how long it is, once the head has
        # arrived.
        self.body_at: int | None = None
        self.length = 0


class _Receiver:
    """Reads requests as they arrive, on one thread, for the pool.

    A request is handed to ``dispatch`` once its head has arrived, with
    its body if that has a length of at most ``max_body_size`` bytes; a
    body of unknown length, or one the client sends only after an interim
    100 answer, is read by the worker itself.
    """

    def __init__(self, server: '_PooledWSGIServer') -> None:
        self._server = server
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._new: list[_Incoming] = []
        self._incoming: dict[int, _Incoming] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-wsgi-receiver',
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, sock: socket.socket, address: typing.Any, data: bytes,
            deadline: float) -> None:
        """Wait on ``sock`` for its next request (``data`` is its start)."""
        with self._lock:
            if self._stopped:
                self._server.release(sock, address, None)
                return
            self._new.append(_Incoming(sock, address, data, deadline))
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        try:
            self._wake_w.send(b'x')
        except OSError:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            left = list(self._incoming.values()) + self._new
            self._incoming.clear()
            self._new = []
        for incoming in left:
            self._server.release(incoming.sock, incoming.address, None)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._stopped:
                    return
                new, self._new = self._new, []
            for incoming in new:
                self._watch(incoming)
            for key, _events in self._selector.select(timeout=_TICK):
                if key.fileobj is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                else:
                    self._receive(key.data)
            self._expire()

    def _watch(self, incoming: _Incoming) -> None:
        if self._complete(incoming):
            return
        incoming.sock.setblocking(False)
        self._incoming[incoming.sock.fileno()] = incoming
        self._selector.register(incoming.sock, selectors.EVENT_READ,
                                incoming)

    def _forget(self, incoming: _Incoming) -> None:
        self._incoming.pop(incoming.sock.fileno(), None)
        self._selector.unregister(incoming.sock)

    def _receive(self, incoming: _Incoming) -> None:
        try:
            data = incoming.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            # The client stopped sending: a request it left unfinished is
            # answered, in case it still reads.
            self._forget(incoming)
            self._server.release(incoming.sock, incoming.address,
                                 _INCOMPLETE if incoming.data else None)
            return
        if not incoming.data:
            # The first byte of a kept connection's next request starts
            # the clock of its head.
            incoming.deadline = (time.monotonic()
                                 + self._server.header_timeout)
        incoming.data += data
        if self._complete(incoming):
            self._forget(incoming)

    def _complete(self, incoming: _Incoming) -> bool:
        """Whether the request is whole (then dispatched or answered)."""
        data = incoming.data
        if incoming.body_at is None:
            end = _HEAD_END.search(data)
            if end is None:
                if len(data) > _MAX_HEAD:
                    self._server.release(incoming.sock, incoming.address,
                                         _HEAD_TOO_LARGE)
                    return True
                return False
            head = bytes(data[:end.start()])
            lengths = _CONTENT_LENGTH.findall(head)
            if (_STREAMED.search(head) or len(lengths) != 1
                    or int(lengths[0]) > self._server.max_body_size):
                self._dispatch(incoming)
                return True
            incoming.body_at = end.end()
            incoming.length = int(lengths[0])
            incoming.deadline = (time.monotonic()
                                 + self._server.body_timeout)
        if len(data) - incoming.body_at >= incoming.length:
            self._dispatch(incoming)
            return True
        return False

    def _dispatch(self, incoming: _Incoming) -> None:
        incoming.sock.setblocking(True)
        self._server.dispatch(incoming.sock, incoming.address,
                              bytes(incoming.data))

    def _expire(self) -> None:
        now = time.monotonic()
        late = [incoming for incoming in self._incoming.values()
                if incoming.deadline <= now]
        for incoming in late:
            self._forget(incoming)
            # An idle connection is closed quietly; a request that did not
            # arrive in time is answered.
            self._server.release(incoming.sock, incoming.address,
                                 _TIMED_OUT if incoming.data else None)


class _PooledWSGIServer(simple_server.WSGIServer):
    """Serves each whole request on a bounded pool of threads."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args, workers: int = 16,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 max_body_size: int = 1048576, max_connections: int = 0,
                 max_connections_per_client: int = 0, **kwargs) -> None:
        # Ready before the socket is bound: a failed bind closes the
        # server, pool included, from within the base class.
        self.workers = workers
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_body_size = max_body_size
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        self._pool = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='doctor-wsgi')
        self._lock = threading.Lock()
        self._busy = 0
        self._open = 0
        self._per_client: dict[str, int] = {}
        self._refused = 0
        self._refusal_logged: float | None = None
        self._receiver = _Receiver(self)
        super().__init__(*args, **kwargs)
        self._receiver.start()

    @property
    def open_connections(self) -> int:
        """Connections open now, whether waiting or being served."""
        return self._open

    def process_request(self, request, client_address):
        client = client_address[0] if client_address else ''
        with self._lock:
            refused = (
                (self.max_connections
                 and self._open >= self.max_connections)
                or (self.max_connections_per_client
                    and self._per_client.get(client, 0)
                    >= self.max_connections_per_client))
            if not refused:
                self._open += 1
                self._per_client[client] = (
                    self._per_client.get(client, 0) + 1)
        if refused:
            self._refuse(request, client)
            return
        self._receiver.add(request, client_address, b'',
                           time.monotonic() + self.header_timeout)

    def _refuse(self, request: socket.socket, client: str) -> None:
        self._log_refusal(client)
        _send_and_close(request, _OVERLOADED)

    def _log_refusal(self, client: str) -> None:
        """Warn of refused connections, once in a while: not per refusal."""
        now = time.monotonic()
        with self._lock:
            self._refused += 1
            if (self._refusal_logged is not None
                    and now - self._refusal_logged < _REFUSAL_LOG_INTERVAL):
                return
            refused, self._refused = self._refused, 0
            self._refusal_logged = now
        LOG.warning('Refused %(count)d connection(s) over the limits '
                    '(%(total)s in total, %(per_client)s per client; the '
                    'latest from %(client)s); see [api] max_connections '
                    'and max_connections_per_client',
                    {'count': refused, 'client': client,
                     'total': self.max_connections or 'no limit',
                     'per_client': (self.max_connections_per_client
                                    or 'no limit')})

    def dispatch(self, request: socket.socket, client_address: typing.Any,
                 data: bytes) -> None:
        """Serve a request that has arrived (``data``) on the pool."""
        with self._lock:
            self._busy += 1
        try:
            self._pool.submit(self._serve, request, client_address, data)
        except RuntimeError:
            # The pool is shut down: the server is stopping.
            with self._lock:
                self._busy -= 1
            self.release(request, client_address, None)

    def release(self, request: socket.socket, client_address: typing.Any,
                answer: bytes | None) -> None:
        """Close a connection, sending ``answer`` first if there is one."""
        client = client_address[0] if client_address else ''
        _send_and_close(request, answer)
        with self._lock:
            self._open -= 1
            count = self._per_client.get(client, 0) - 1
            if count > 0:
                self._per_client[client] = count
            else:
                self._per_client.pop(client, None)

    def _serve(self, request, client_address, data: bytes) -> None:
        handler: _Handler | None = None
        try:
            handler = _Handler(request, client_address, self, data)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._lock:
                self._busy -= 1
        if handler is not None and handler.keep:
            left = bytes(handler.rfile.buffer)
            # A pipelined request has started arriving already.
            wait = self.header_timeout if left else KEEPALIVE_IDLE
            self._receiver.add(request, client_address, left,
                               time.monotonic() + wait)
        else:
            self.release(request, client_address, None)

    def server_close(self) -> None:
        super().server_close()
        self._receiver.stop()
        self._pool.shutdown(wait=False)


class _Reader:
    """A connection's input: what arrived already, then the socket.

    Each read from the socket ends by ``deadline`` (a ``time.monotonic``
    value) and raises ``TimeoutError`` after it; ``failed`` tells that a
    read timed out or met the end of the stream.
    """

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock = sock
        self.buffer = bytearray(data)
        self.deadline: float | None = None
        self.failed = False

    def _fill(self) -> bool:
        """Receive more bytes; False at the end of the stream."""
        timeout = None
        if self.deadline is not None:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                self.failed = True
                raise TimeoutError('the request did not arrive in time')
        try:
            self._sock.settimeout(timeout)
            data = self._sock.recv(65536)
        except OSError:
            self.failed = True
            raise
        finally:
            self._sock.settimeout(_SEND_TIMEOUT)
        if not data:
            self.failed = True
            return False
        self.buffer += data
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self.buffer))
        while len(self.buffer) < size and self._fill():
            pass
        return self._take(size)

    def readline(self, size: int | None = -1) -> bytes:
        limit = size if size is not None and size >= 0 else None
        searched = 0
        while True:
            end = self.buffer.find(b'\n', searched)
            if end >= 0:
                length = end + 1
                break
            if limit is not None and len(self.buffer) >= limit:
                length = limit
                break
            searched = len(self.buffer)
            if not self._fill():
                length = len(self.buffer)
                break
        if limit is not None:
            length = min(length, limit)
        return self._take(length)

    def close(self) -> None:
        """Nothing to close: the server closes the socket."""


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
        if self.body.remaining > _DRAIN_LIMIT or handler.rfile.failed:
            # Too much of the request left unread to skip it, or a body
            # that did not arrive whole.
            handler.close_connection = True
        if handler.close_connection:
            self.headers['Connection'] = 'close'


class _Handler(simple_server.WSGIRequestHandler):
    """Serves one request of a connection, which has arrived in ``data``.

    ``keep`` tells, once it is done, whether the connection may carry the
    next request. Logs requests through oslo.log at DEBUG instead of to
    stderr.
    """

    server: _PooledWSGIServer
    rfile: typing.Any
    protocol_version = 'HTTP/1.1'
    timeout = _SEND_TIMEOUT
    # A response is written whole, at the flush that ends each request,
    # and sent at once: on a kept connection Nagle's algorithm would hold
    # its last segment until the client's delayed acknowledgement.
    wbufsize = -1
    disable_nagle_algorithm = True

    def __init__(self, request, client_address, server,
                 data: bytes = b'') -> None:
        self._received = data
        self.keep = False
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = _Reader(self.connection, self._received)

    def handle(self) -> None:
        self.close_connection = True
        self.rfile.deadline = time.monotonic() + self.server.header_timeout
        self.handle_one_request()
        self.keep = not self.close_connection and not self.rfile.failed

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
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
        try:
            parsed = self.parse_request()
        except OSError:
            self.close_connection = True
            return
        if not parsed:
            self.close_connection = True
            return
        if (self.request_version != 'HTTP/1.1'
                or self.headers.get('Transfer-Encoding')):
            # HTTP/1.0 clients get HTTP/1.0 behaviour, and a chunked body
            # has no length to stop at.
            self.close_connection = True
        self.rfile.deadline = time.monotonic() + self.server.body_timeout
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
            if body.remaining > _DRAIN_LIMIT or self.rfile.failed:
                self.close_connection = True
            else:
                try:
                    body.read()
                except OSError:
                    self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def handle_expect_100(self) -> bool:
        # The interim answer cannot wait in the buffer for the final one:
        # the client waits for it before sending the body.
        answered = super().handle_expect_100()
        self.wfile.flush()
        return answered

    def log_message(self, format, *args):
        LOG.debug('%s - %s', self.address_string(), format % args)


@dataclasses.dataclass(frozen=True)
class ClientLimits:
    """How long and how many connections clients may take.

    A limit of 0 connections means no limit.
    """

    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_body_size: int = 1048576
    max_connections: int = 0
    max_connections_per_client: int = 0


class WSGIService(service.Service):
    """Serves one WSGI app on ``host``:``port`` from ``workers`` threads.

    ``port`` 0 picks a free port; ``self.port`` is the bound one once
    :meth:`start` has returned.
    """

    def __init__(self, name: str, app_factory, host: str, port: int,
                 workers: int = 16,
                 limits: ClientLimits | None = None) -> None:
        super().__init__()
        self._workers = workers
        self.limits = limits or ClientLimits()
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
            self._server = _PooledWSGIServer(
                (self.host, self.port), _Handler, workers=self._workers,
                **dataclasses.asdict(self.limits))
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
