"""A Neutron stand-in: enough of Neutron's API for Nova without networks.

An HTTP server answering every collection it is asked for with an empty
list and every single resource with 404.
"""

import http.server
import json
import threading
import time
import typing

from doctor.tests.functional import base


class NeutronStandIn(http.server.BaseHTTPRequestHandler):
    """Answers Nova's Neutron calls as a Neutron without any resource."""

    protocol_version = 'HTTP/1.1'
    log_path = ''

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _not_found(self) -> None:
        self._answer(404, {'NeutronError': {
            'type': 'NotFound', 'message': 'no such resource', 'detail': ''}})

    def do_GET(self) -> None:
        """The versions, an empty collection, or 404."""
        path = self.path.split('?')[0].rstrip('/')
        path = path[:-len('.json')] if path.endswith('.json') else path
        parts = path.strip('/').split('/') if path else []
        if not parts:
            server = typing.cast(http.server.HTTPServer, self.server)
            url = 'http://%s:%d/v2.0/' % (base.HOST, server.server_port)
            self._answer(200, {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT',
                'links': [{'href': url, 'rel': 'self'}]}]})
        elif parts[0] != 'v2.0':
            self._not_found()
        elif len(parts) == 2:
            self._answer(200, {parts[1].replace('-', '_'): []})
        else:
            self._not_found()

    def do_DELETE(self) -> None:
        """404: there is nothing to change."""
        self._not_found()

    do_POST = do_PUT = do_DELETE

    def log_message(self, format: str, *args: typing.Any) -> None:
        """Append a line to :attr:`log_path`."""
        with open(self.log_path, 'a') as f:
            f.write('%s %s\n' % (time.strftime('%H:%M:%S'), format % args))


def serve(log_path: str) -> http.server.ThreadingHTTPServer:
    """A stand-in serving on a free loopback port, logging to ``log_path``.

    Stop it with ``shutdown()`` and ``server_close()``.
    """
    handler = type('Handler', (NeutronStandIn,), {'log_path': log_path})
    server = http.server.ThreadingHTTPServer((base.HOST, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name='neutron-stand-in',
                     daemon=True).start()
    return server
