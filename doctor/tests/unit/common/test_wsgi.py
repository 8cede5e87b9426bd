"""Tests of doctor's own HTTP server: persistent connections."""

import http.client
import logging
import socket

import fixtures
import webob

from doctor.common import exception
from doctor.common import wsgi
from doctor.tests import base


class _App:
    """Echoes the request; reads the body only when asked to."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        body = req.body if req.headers.get('X-Read', '1') == '1' else b''
        self.seen.append((req.path, body))
        if req.path == '/stream':
            # No length: the end of the body is the end of the connection.
            start_response('200 OK', [('Content-Type', 'text/plain')])
            return iter([b'part 1 ', b'part 2'])
        resp = webob.Response(body=b'%s %d' % (req.path.encode(), len(body)))
        return resp(environ, start_response)


class TestPersistentConnections(base.TestCase):

    def _serve(self, workers=4):
        self.app = _App()
        server = wsgi.WSGIService('test', lambda: self.app, '127.0.0.1', 0,
                                  workers=workers)
        server.start()
        self.addCleanup(server.stop)
        return server.port

    def _connection(self, port):
        connection = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        self.addCleanup(connection.close)
        return connection

    def _post(self, connection, path, body=b'', headers=None):
        connection.request('POST', path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()

    def test_requests_share_one_connection(self):
        connection = self._connection(self._serve())
        first, body = self._post(connection, '/a', b'12345')
        sock = connection.sock
        second, body2 = self._post(connection, '/b', b'xy')
        self.assertEqual((b'/a 5', b'/b 2'), (body, body2))
        self.assertEqual('HTTP/1.1', 'HTTP/1.%d' % (second.version - 10))
        self.assertIsNone(second.getheader('Connection'))
        # http.client reconnects silently: the socket tells it did not.
        self.assertIs(sock, connection.sock)
        self.assertEqual([('/a', b'12345'), ('/b', b'xy')], self.app.seen)

    def test_unread_body_does_not_reach_the_next_request(self):
        connection = self._connection(self._serve())
        self._post(connection, '/skip', b'GET /evil HTTP/1.1\r\n\r\n',
                   headers={'X-Read': '0'})
        sock = connection.sock
        response, body = self._post(connection, '/next', b'ok')
        self.assertEqual(200, response.status)
        self.assertEqual(b'/next 2', body)
        self.assertIs(sock, connection.sock)
        self.assertEqual(['/skip', '/next'],
                         [path for path, _ in self.app.seen])

    def test_long_unread_body_closes_the_connection(self):
        connection = self._connection(self._serve())
        response, _ = self._post(connection, '/skip', b'x' * 70000,
                                 headers={'X-Read': '0'})
        self.assertEqual('close', response.getheader('Connection'))
        response, body = self._post(connection, '/next', b'ok')
        self.assertEqual(b'/next 2', body)
        self.assertEqual(['/skip', '/next'],
                         [path for path, _ in self.app.seen])

    def test_http_10_client_gets_its_connection_closed(self):
        port = self._serve()
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(b'POST /old HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi')
            answer = b''
            while chunk := s.recv(4096):
                answer += chunk
        self.assertIn(b'Connection: close', answer)
        self.assertTrue(answer.endswith(b'/old 2'))

    def test_response_without_length_closes_the_connection(self):
        connection = self._connection(self._serve())
        response, body = self._post(connection, '/stream')
        self.assertEqual(b'part 1 part 2', body)
        self.assertEqual('close', response.getheader('Connection'))

    def test_idle_connection_is_closed(self):
        self.useFixture(fixtures.MockPatch(
            'doctor.common.wsgi.KEEPALIVE_IDLE', 0.2))
        port = self._serve()
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(b'POST /a HTTP/1.1\r\nHost: x\r\n'
                      b'Content-Length: 0\r\n\r\n')
            answer = b''
            # The server answers, then closes the idle connection: recv
            # returns the end of the stream instead of timing out.
            while chunk := s.recv(4096):
                answer += chunk
        self.assertIn(b'HTTP/1.1 200 OK', answer)
        self.assertNotIn(b'Connection: close', answer)

    def test_kept_connection_holds_no_worker(self):
        port = self._serve(workers=1)
        kept = self._connection(port)
        response, body = self._post(kept, '/a', b'1')
        self.assertIsNone(response.getheader('Connection'))

        # The one worker is free for another client meanwhile.
        other = self._connection(port)
        response, body = self._post(other, '/b', b'2')
        self.assertEqual(b'/b 1', body)
        sock = kept.sock
        response, body = self._post(kept, '/c', b'3')
        self.assertEqual(b'/c 1', body)
        self.assertIs(sock, kept.sock)

    def test_expect_100_continue(self):
        port = self._serve()
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(b'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n'
                      b'Expect: 100-continue\r\n\r\n')
            interim = s.recv(4096)
            self.assertTrue(interim.startswith(b'HTTP/1.1 100 Continue'),
                            interim)
            s.sendall(b'abc')
            answer = s.recv(4096)
        self.assertIn(b'200 OK', answer)
        self.assertTrue(answer.endswith(b'/e 3'))

    def test_bad_request_line_is_answered(self):
        port = self._serve()
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(b'NONSENSE\r\n\r\n')
            answer = b''
            while chunk := s.recv(4096):
                answer += chunk
        self.assertIn(b' 400 ', answer.split(b'\r\n', 1)[0])
        self.assertEqual([], self.app.seen)


class TestClientLimits(base.TestCase):
    """Slow or numerous clients are bounded and do not starve others."""

    def _serve(self, workers: int = 2, **limits) -> int:
        self.app = _App()
        server = wsgi.WSGIService('test', lambda: self.app, '127.0.0.1', 0,
                                  workers=workers,
                                  limits=wsgi.ClientLimits(**limits))
        server.start()
        self.addCleanup(server.stop)
        return server.port

    def _open(self, port: int, data: bytes = b'') -> socket.socket:
        sock = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.addCleanup(sock.close)
        if data:
            sock.sendall(data)
        return sock

    @staticmethod
    def _answer(sock: socket.socket) -> bytes:
        """Everything the server sends until it closes the connection."""
        answer = b''
        while chunk := sock.recv(4096):
            answer += chunk
        return answer

    def _get(self, port: int) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection('127.0.0.1', port,
                                                timeout=10)
        self.addCleanup(connection.close)
        connection.request('GET', '/ok')
        response = connection.getresponse()
        response.read()
        return response

    def test_slow_heads_hold_no_worker(self):
        port = self._serve(workers=1)
        for _ in range(20):
            self._open(port, b'GET /slow HTTP/1.1\r\nHost: x\r\n')

        self.assertEqual(200, self._get(port).status)
        self.assertEqual(['/ok'], [path for path, _ in self.app.seen])

    def test_slow_bodies_hold_no_worker(self):
        port = self._serve(workers=1)
        for _ in range(20):
            self._open(port, b'POST /slow HTTP/1.1\r\nHost: x\r\n'
                             b'Content-Length: 10\r\n\r\n12')

        self.assertEqual(200, self._get(port).status)
        self.assertEqual(['/ok'], [path for path, _ in self.app.seen])

    def test_head_not_sent_in_time_is_408(self):
        port = self._serve(header_timeout=0.2)
        sock = self._open(port, b'GET /slow HTTP/1.1\r\nHost: x')

        answer = self._answer(sock)

        self.assertTrue(answer.startswith(b'HTTP/1.1 408 '), answer)
        self.assertIn(b'"faultcode": "Client"', answer)
        self.assertEqual([], self.app.seen)

    def test_silent_connection_is_closed_without_answer(self):
        port = self._serve(header_timeout=0.2)
        self.assertEqual(b'', self._answer(self._open(port)))

    def test_body_not_sent_in_time_is_408(self):
        port = self._serve(body_timeout=0.2)
        sock = self._open(port, b'POST /slow HTTP/1.1\r\nHost: x\r\n'
                                b'Content-Length: 10\r\n\r\n123')

        answer = self._answer(sock)

        self.assertTrue(answer.startswith(b'HTTP/1.1 408 '), answer)
        self.assertEqual([], self.app.seen)

    def test_body_cut_short_is_400(self):
        port = self._serve()
        sock = self._open(port, b'POST /short HTTP/1.1\r\nHost: x\r\n'
                                b'Content-Length: 10\r\n\r\n123')
        sock.shutdown(socket.SHUT_WR)

        answer = self._answer(sock)

        self.assertTrue(answer.startswith(b'HTTP/1.1 400 '), answer)
        self.assertEqual([], self.app.seen)

    def test_body_beyond_the_prefetch_size_is_read_by_the_worker(self):
        port = self._serve(max_body_size=1024)
        connection = http.client.HTTPConnection('127.0.0.1', port,
                                                timeout=10)
        self.addCleanup(connection.close)
        connection.request('POST', '/big', body=b'x' * 5000)
        self.assertEqual(b'/big 5000', connection.getresponse().read())

    def test_oversized_head_is_431(self):
        port = self._serve()
        sock = self._open(port, b'GET / HTTP/1.1\r\n'
                          + b'X-Pad: %s\r\n' % (b'x' * 1000) * 80)

        answer = self._answer(sock)

        self.assertTrue(answer.startswith(b'HTTP/1.1 431 '), answer)

    def test_connections_over_the_per_client_cap_are_503(self):
        self.log = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        port = self._serve(max_connections_per_client=2)
        first = self._open(port)
        self._open(port)

        answer = self._answer(self._open(port))

        self.assertTrue(answer.startswith(b'HTTP/1.1 503 '), answer)
        self.assertIn(b'Too many connections', answer)
        self.assertIn('Refused 1 connection(s) over the limits',
                      self.log.output)
        # A connection closed makes room for another.
        first.close()
        self.assertEqual(200, self.wait_for_answer(port))

    def test_connections_over_the_total_cap_are_503(self):
        port = self._serve(max_connections=1)
        self._open(port)

        answer = self._answer(self._open(port))

        self.assertTrue(answer.startswith(b'HTTP/1.1 503 '), answer)

    def wait_for_answer(self, port: int) -> int:
        """The status of a GET, once the server frees a connection."""
        for _ in range(500):
            status = self._get(port).status
            if status != 503:
                return status
        self.fail('the server kept answering 503')


class TestListening(base.TestCase):

    def test_port_in_use_is_named(self):
        with socket.socket() as taken:
            taken.bind(('127.0.0.1', 0))
            taken.listen()
            port = taken.getsockname()[1]
            server = wsgi.WSGIService('doctor-api', _App, '127.0.0.1', port)
            e = self.assertRaises(exception.ConfigInvalid, server.start)
        self.assertEqual(
            'Invalid configuration: doctor-api cannot listen on '
            '127.0.0.1:%d: Address already in use' % port, str(e))
