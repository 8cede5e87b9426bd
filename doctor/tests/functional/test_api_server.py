"""doctor-api over real sockets: slow clients, and under gunicorn.

The API's own server must keep answering while many clients send their
requests a byte at a time; ``doctor-api-wsgi`` (the app factory
``doctor.api.wsgi:initialize_wsgi_app``) must serve under gunicorn as the
admin guide shows.
"""

from http import client as http_client
import json
import os
import socket
import subprocess
import sys
import threading

from testtools import content

from doctor.api import service as api_service
from doctor.tests.functional import base

SLOW_CLIENTS = 24
# Generous: the point is that the request is answered at all, while every
# slow client is still connected.
ANSWER_TIMEOUT = 20
HEADERS = {'X-Project-Id': 'project-a', 'X-User-Id': 'user-a',
           'X-Roles': 'member', 'Content-Type': 'application/json'}
ALARM = {
    'name': 'InstanceStatusAlarm', 'resource_id': 'an-instance',
    'notification_rule': {
        'event_type': 'compute.instance.update',
        'query': [{'field': 'traits.state', 'op': 'eq', 'value': 'error'}]},
}


def call(port: int, method: str, path: str, body: bytes | None = None,
         timeout: float = ANSWER_TIMEOUT) -> tuple[int, bytes]:
    """One request on a connection of its own: status and body."""
    connection = http_client.HTTPConnection(base.HOST, port,
                                            timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=HEADERS)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class _Trickle:
    """Connections that send a request line, then a byte now and then."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = []
        self.closed: set[int] = set()
        self.answers: dict[int, bytes] = {}
        for _ in range(count):
            sock = socket.create_connection((base.HOST, port), timeout=5)
            sock.sendall(b'GET /v1/alarms HTTP/1.1\r\n')
            self.sockets.append(sock)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for sock in self.sockets:
                try:
                    sock.send(b'X')
                except OSError:
                    pass

    def open_count(self) -> int:
        """How many of the connections the server has not closed.

        What the server sent before closing (its 408) is kept in
        ``answers``.
        """
        still_open = 0
        for index, sock in enumerate(self.sockets):
            if index in self.closed:
                continue
            sock.setblocking(False)
            try:
                while data := sock.recv(4096):
                    self.answers[index] = self.answers.get(index, b'') + data
                self.closed.add(index)
            except BlockingIOError:
                still_open += 1
            except OSError:
                self.closed.add(index)
            finally:
                sock.setblocking(True)
        return still_open

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()


class SlowClientsTest(base.FunctionalTestCase):
    """Slow clients of doctor-api's own server do not hang the API."""

    def test_api_answers_while_slow_clients_hold_connections(self):
        self.use_database('sqlite')
        self.config.config(host=base.HOST, port=0, workers=16,
                           header_timeout=60, group='api')
        server = api_service.APIService(self.conf)
        server.start()
        self.addCleanup(server.stop)
        trickle = _Trickle(server.port, SLOW_CLIENTS)
        self.addCleanup(trickle.close)

        status, body = call(server.port, 'POST', '/v1/alarms',
                            json.dumps(ALARM).encode())
        self.assertEqual(201, status, body)
        status, body = call(server.port, 'GET', '/v1/alarms')

        self.assertEqual(200, status, body)
        self.assertEqual(1, len(json.loads(body)))
        # They were all still there, sending, while it was answered.
        self.assertEqual(SLOW_CLIENTS, trickle.open_count())

    def test_slow_client_is_cut_off_after_the_header_timeout(self):
        self.use_database('sqlite')
        self.config.config(host=base.HOST, port=0, header_timeout=1,
                           group='api')
        server = api_service.APIService(self.conf)
        server.start()
        self.addCleanup(server.stop)
        trickle = _Trickle(server.port, 2)
        self.addCleanup(trickle.close)

        self.wait_for(lambda: trickle.open_count() == 0, timeout=20,
                      message='the server to close the slow connections')
        for answer in trickle.answers.values():
            self.assertTrue(answer.startswith(b'HTTP/1.1 408 '), answer)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((base.HOST, 0))
        return sock.getsockname()[1]


class GunicornTest(base.FunctionalTestCase):
    """doctor-api-wsgi under gunicorn, as the admin guide deploys it."""

    def setUp(self):
        super().setUp()
        try:
            import gunicorn  # noqa: F401
        except ImportError:
            if base.services_required():
                self.fail('gunicorn (test-requirements.txt) is missing')
            self.skipTest('gunicorn is not installed')

    def _start(self, url: str) -> int:
        port = _free_port()
        env = dict(os.environ,
                   OS_DEFAULT__STATE_PATH=self.state_path,
                   OS_DATABASE__CONNECTION=url,
                   OS_API__AUTH_STRATEGY='noauth',
                   HOME=self.state_path)
        log_path = os.path.join(self.state_path, 'gunicorn.log')
        log = open(log_path, 'w')
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [sys.executable, '-m', 'gunicorn',
             '--bind', '%s:%d' % (base.HOST, port),
             '--workers', '2', '--worker-class', 'gthread',
             '--threads', '4', '--timeout', '30', '--keep-alive', '2',
             '--limit-request-line', '8190',
             '--limit-request-field_size', '8190',
             'doctor.api.wsgi:initialize_wsgi_app()'],
            env=env, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.state_path)

        def stop() -> None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            with open(log_path) as stream:
                self.addDetail('gunicorn', content.text_content(
                    stream.read()))
        self.addCleanup(stop)

        def listening() -> bool:
            self.assertIsNone(process.poll(), 'gunicorn exited')
            try:
                return call(port, 'GET', '/', timeout=2)[0] == 200
            except OSError:
                return False
        self.wait_for(listening, timeout=30, message='gunicorn to listen')
        return port

    def test_api_serves_under_gunicorn(self):
        self.use_database('sqlite')
        port = self._start(self.conf.database.connection)

        status, body = call(port, 'POST', '/v1/alarms',
                            json.dumps(ALARM).encode())
        self.assertEqual(201, status, body)
        alarm_id = json.loads(body)['alarm_id']
        status, body = call(port, 'GET', '/v1/alarms/%s' % alarm_id)
        self.assertEqual(200, status, body)
        self.assertEqual('InstanceStatusAlarm', json.loads(body)['name'])

        # doctor's own request checks hold under gunicorn too.
        for method, path, raw in (('GET', '/v1/alarms/%ff', None),
                                  ('POST', '/v1/alarms', b'[' * 5000),
                                  ('GET', '/v1/alarms?name=a%00', None)):
            status, body = call(port, method, path, raw)
            self.assertEqual(400, status, body)
            self.assertEqual('Client',
                             json.loads(body)['error_message']['faultcode'])
