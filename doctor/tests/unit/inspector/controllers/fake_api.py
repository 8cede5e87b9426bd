"""The datasources' loopback OpenStack API, answering writes too.

The ``nova`` and ``neutron`` controllers are tested through keystoneauth
as they run in production (adapter options, microversion headers, error
answers): only the service is replaced, by a server on loopback that
keeps every request with its JSON body.
"""

import http.server
import json
import threading
import typing
from urllib import parse

from oslo_serialization import jsonutils
from requests import structures

from doctor.tests.unit.synchronizer.datasources import fake_api


class Call(typing.NamedTuple):
    """One request the server received, with its JSON body (or None)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: typing.Mapping[str, str]  # names in any case
    body: typing.Any


class FakeAPI(fake_api.FakeAPI):
    """Answers any method from ``routes``.

    A route is keyed by ``(method, path)``, or by the path alone for every
    method; its value is ``(status, document)``, optionally with a dict of
    headers third, or a callable of the :class:`Call` returning them.
    ``{url}`` in a string of a document is the server's own address.
    Unrouted paths answer 404 in Nova's shape. ``calls`` are the requests
    received, in order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def _answer(self, call: Call
                ) -> tuple[int, typing.Any, dict[str, str]]:
        routes = typing.cast(dict[typing.Any, typing.Any], self.routes)
        route = routes.get((call.method, call.path), routes.get(call.path))
        if route is None:
            return 404, {'itemNotFound': {'code': 404,
                                          'message': 'Not found'}}, {}
        if callable(route):
            route = route(call)
        status, document, *headers = route
        return status, document, headers[0] if headers else {}

    def _setUp(self) -> None:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def _handle(self) -> None:
                split = parse.urlsplit(self.path)
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                call = Call(self.command, split.path.rstrip('/') or '/',
                            parse.parse_qs(split.query),
                            structures.CaseInsensitiveDict(
                                self.headers.items()),
                            json.loads(raw) if raw else None)
                api.calls.append(call)
                status, document, headers = api._answer(call)
                body = (b'' if document is None
                        else jsonutils.dump_as_bytes(document).replace(
                            b'{url}', api.url.encode()))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: typing.Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        server.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % server.server_address[1]
        thread = threading.Thread(target=server.serve_forever,
                                  name='fake-openstack-api', daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

    def writes(self) -> list[Call]:
        """The requests other than GET, in order."""
        return [call for call in self.calls if call.method != 'GET']
