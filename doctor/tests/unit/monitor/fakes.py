"""Test doubles of the monitor.

A scripted prober, a fake clock, and a stub API server that records
POSTs.
"""

import http.server
import json
import threading
import time

from doctor.monitor import probes


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ScriptedProber(probes.Prober):
    """Answers at once for the addresses in ``answering``.

    ``sent`` records ``(address, seq, clock())`` of each probe.
    """

    method = 'scripted'

    def __init__(self, answering=(), clock=time.monotonic) -> None:
        super().__init__()
        self.answering = set(answering)
        self.clock = clock
        self.sent: list[tuple[str, int, float]] = []
        self.cancelled: list[str] = []
        self.closed = False

    def send(self, target: probes.Target, seq: int) -> None:
        self.sent.append((target.address, seq, self.clock()))
        if target.address in self.answering:
            self._reply(target.address, seq)

    def cancel(self, target: probes.Target) -> None:
        self.cancelled.append(target.address)

    def close(self) -> None:
        self.closed = True

    def describe(self) -> str:
        return 'a script'


class Request:
    """One POST the stub API got."""

    def __init__(self, path: str, headers: dict, body, client_port: int,
                 at: float) -> None:
        self.path = path
        self.headers = headers
        self.body = body
        self.client_port = client_port
        self.at = at


class StubAPI:
    """An HTTP/1.1 server on 127.0.0.1 that records POSTs.

    ``answer(request)`` returns ``(status, body)``; by default 202 with
    one fault id per event.
    """

    def __init__(self, port: int = 0, answer=None) -> None:
        self.requests: list[Request] = []
        self.answer = answer or (lambda request: (
            202, {'fault_ids': ['f-%d' % i
                                for i, _ in enumerate(request.body)]}))
        self._changed = threading.Condition()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'null')
                request = Request(
                    self.path, {k.lower(): v for k, v in
                                self.headers.items()},
                    body, self.client_address[1], time.monotonic())
                status, answer = stub.answer(request)
                with stub._changed:
                    stub.requests.append(request)
                    stub._changed.notify_all()
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={'poll_interval': 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Request]:
        """At least ``count`` requests, or AssertionError after timeout."""
        with self._changed:
            if not self._changed.wait_for(
                    lambda: len(self.requests) >= count, timeout):
                raise AssertionError('%d request(s) within %.1f s, not %d'
                                     % (len(self.requests), timeout, count))
            return list(self.requests)
