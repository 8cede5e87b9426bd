"""An HTTP server on loopback that answers like an OpenStack API.

The ``nova`` and ``neutron`` datasources are tested through openstacksdk
and keystoneauth as they run in production (version discovery,
microversions, pagination, errors): only the service is replaced, by
canned JSON documents shaped as Nova's and Neutron's answers.
"""

import http.server
import threading
import typing
from urllib import parse

import fixtures
from oslo_serialization import jsonutils


class Request(typing.NamedTuple):
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeAPI(fixtures.Fixture):
    """Answers GETs from ``routes``: path -> (status, JSON document).

    A route may also be a callable of the :class:`Request`, returning the
    status and the document. ``{url}`` in a string of a document is the
    server's own address. Paths without a route answer 404.
    """

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[str, typing.Any] = {}
        self.requests: list[Request] = []
        self.url = ''

    def _setUp(self) -> None:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self) -> None:
                split = parse.urlsplit(self.path)
                request = Request('GET', split.path,
                                  parse.parse_qs(split.query),
                                  dict(self.headers.items()))
                api.requests.append(request)
                route = api.routes.get(split.path.rstrip('/') or '/')
                if route is None:
                    status, document = 404, {'message': 'Not found'}
                elif callable(route):
                    status, document = route(request)
                else:
                    status, document = route
                body = jsonutils.dump_as_bytes(document).replace(
                    b'{url}', api.url.encode())
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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

    def paths(self) -> list[str]:
        """The paths requested, in order."""
        return [request.path for request in self.requests]
