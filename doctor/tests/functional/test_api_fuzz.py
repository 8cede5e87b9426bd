"""Fuzzing the API over HTTP: no 5xx, no slow answer, still alive after.

Requests are built from the request body schemas (valid documents, then
mutated: fields dropped, types changed, hostile strings, deep nesting),
over every route and method, with mutated path ids, query strings and
headers. The generator is seeded: a failure names its seed and request,
and ``DOCTOR_FUZZ_SEED=<seed>`` replays the same requests.
"""

from http import client as http_client
import json
import os
import random
import threading
import time
from urllib import parse

import fixtures
import testscenarios
from testtools import content as testtools_content

from doctor.api import service as api_service
from doctor.api.schemas.v1 import alarms as alarm_schema
from doctor.api.schemas.v1 import events as event_schema
from doctor.api.schemas.v1 import hosts as host_schema
from doctor.api.schemas.v1 import ports as port_schema
from doctor.inspector import service as inspector_service
from doctor.tests.functional import base

load_tests = testscenarios.load_tests_apply_scenarios

REQUESTS = int(os.environ.get('DOCTOR_FUZZ_REQUESTS', '2500'))
SEED = int(os.environ.get('DOCTOR_FUZZ_SEED', '20261207'))
SLOWEST = 5.0

STATE = {'type': 'string', 'enum': ['ok', 'alarm', 'insufficient data']}
# (method, path with {id}, body schema or None, query parameters)
ROUTES = (
    ('GET', '/', None, ()),
    ('GET', '/v1', None, ()),
    ('GET', '/v1/alarms', None, ('type', 'resource_id', 'state', 'name',
                                 'enabled', 'project_id', 'all_projects',
                                 'limit', 'marker', 'sort')),
    ('POST', '/v1/alarms', alarm_schema.CREATE, ()),
    ('GET', '/v1/alarms/{id}', None, ()),
    ('PUT', '/v1/alarms/{id}', alarm_schema.UPDATE, ()),
    ('DELETE', '/v1/alarms/{id}', None, ()),
    ('GET', '/v1/alarms/{id}/state', None, ()),
    ('PUT', '/v1/alarms/{id}/state', STATE, ()),
    ('GET', '/v1/alarms/{id}/history', None, ('limit', 'marker')),
    ('POST', '/v1/events', event_schema.EVENTS, ()),
    ('GET', '/v1/hosts', None, ('limit', 'marker')),
    ('GET', '/v1/hosts/{id}', None, ()),
    ('PUT', '/v1/hosts/{id}', host_schema.UPDATE, ()),
    ('GET', '/v1/ports/{id}', None, ()),
    ('PUT', '/v1/ports/{id}', port_schema.UPDATE, ()),
    ('GET', '/v1/entities', None, ('type', 'datasource', 'limit',
                                   'marker')),
    ('GET', '/v1/entities/{id}', None, ()),
    ('GET', '/v1/faults', None, ('host', 'limit', 'marker')),
    ('GET', '/v1/faults/{id}', None, ()),
)
METHODS = ('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS')

HOSTILE_STRINGS = (
    '', ' ', 'a' * 300, 'x' * 5000, '\x00', 'a\x00b', '\ud800',
    'a\udfffb', '\U0001f600', '\u202e', '\n\r\t', '%ff', '../../etc',
    "'; DROP TABLE alarm; --", '{{7*7}}', '*', '\\', '"', 'null',
    '2026-13-45T99:99:99', '\ufeff', 'é' * 200,
)
HOSTILE_VALUES = (
    None, True, 0, -1, 2 ** 64, 1e308, -1e308, 0.5, [], {}, [[[]]],
    {'a': {'b': {}}},
)
HOSTILE_PATH_IDS = (
    '%ff', '%00', 'a%00b', '%ed%a0%80', '%c0%af', '..', '.', '%2e%2e',
    'x' * 5000, '%e2%80%ae', 'a%20b', '%25', 'a;b', '%0d%0aX-Injected:1',
    'compute-0', '00000000-0000-0000-0000-000000000000',
)
CONTENT_TYPES = (
    'application/json', 'multipart/form-data', 'multipart/form-data; '
    'boundary=x', 'application/x-www-form-urlencoded', 'text/plain',
    'application/json; charset=latin-1', 'application/javascript', '',
)


class _Generator:
    """Valid documents of a JSON schema, then mutations of them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def string(self) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(HOSTILE_STRINGS)
        return ''.join(self.rng.choice('abcXYZ019-_.:')
                       for _ in range(self.rng.randint(1, 20)))

    def valid(self, schema: dict, depth: int = 0):
        rng = self.rng
        if 'enum' in schema:
            return rng.choice(schema['enum'])
        kind = schema.get('type', 'object')
        if isinstance(kind, list):
            kind = rng.choice(kind)
        if kind == 'object':
            props = schema.get('properties', {})
            required = set(schema.get('required', ()))
            return {name: self.valid(sub, depth + 1)
                    for name, sub in props.items()
                    if name in required or rng.random() < 0.6}
        if kind == 'array':
            items = schema.get('items', {'type': 'string'})
            return [self.valid(items, depth + 1)
                    for _ in range(rng.randint(schema.get('minItems', 0),
                                               3))]
        if kind == 'string':
            return ''.join(rng.choice('abcdefgh0123456789.')
                           for _ in range(rng.randint(1, 12)))
        if kind == 'boolean':
            return rng.random() < 0.5
        if kind in ('number', 'integer'):
            return rng.randint(1, 100)
        return None

    def mutate(self, document):
        """The document with one part replaced by something hostile."""
        rng = self.rng
        if isinstance(document, dict) and document and rng.random() < 0.8:
            key = rng.choice(sorted(document))
            document = dict(document)
            choice = rng.random()
            if choice < 0.15:
                del document[key]
            elif choice < 0.25:
                document[self.string()] = self.mutate(document[key])
            else:
                document[key] = self.mutate(document[key])
            return document
        if isinstance(document, list) and document and rng.random() < 0.8:
            document = list(document)
            index = rng.randrange(len(document))
            document[index] = self.mutate(document[index])
            return document
        if rng.random() < 0.6:
            return self.string()
        return rng.choice(HOSTILE_VALUES)


class _Fuzzer:
    """Builds the seeded requests and sends them."""

    def __init__(self, seed: int, port: int, alarm_ids: list[str]) -> None:
        self.rng = random.Random(seed)
        self.gen = _Generator(self.rng)
        self.port = port
        self.alarm_ids = alarm_ids

    def _path_id(self) -> str:
        rng = self.rng
        if self.alarm_ids and rng.random() < 0.4:
            return rng.choice(self.alarm_ids)
        if rng.random() < 0.7:
            return rng.choice(HOSTILE_PATH_IDS)
        return parse.quote(self.gen.string().encode('utf-8',
                                                    'surrogatepass'),
                           safe='')

    def _query(self, names: tuple[str, ...]) -> str:
        rng = self.rng
        pairs = []
        for _ in range(rng.randint(0, 3)):
            name = (rng.choice(names) if names and rng.random() < 0.8
                    else self.gen.string())
            value = (rng.choice(('1', '0', 'true', 'asc', 'desc',
                                 'name:asc', '-1', '100000'))
                     if rng.random() < 0.4 else self.gen.string())
            pairs.append('%s=%s' % (
                parse.quote(name.encode('utf-8', 'surrogatepass')),
                parse.quote(value.encode('utf-8', 'surrogatepass'))))
        if rng.random() < 0.1:
            pairs.append(rng.choice(('%ff=1', 'a=%ff', 'a=%00', '=',
                                     '&&', 'a')))
        return '&'.join(pairs)

    def _body(self, schema: dict | None) -> bytes | None:
        rng = self.rng
        if schema is None and rng.random() < 0.8:
            return None
        choice = rng.random()
        if choice < 0.1:
            return rng.choice((b'[' * 5000, b'{"a":' * 3000, b'\xff\xfe',
                               b'{"name": "x"', b'', b'null', b'"\\ud800"',
                               b'{"name": "\\u0000"}', b'1e999999',
                               b'NaN', b'[' * 33 + b']' * 33))
        document = self.gen.valid(schema or {'type': 'object'})
        if choice < 0.9:
            for _ in range(rng.randint(1, 3)):
                document = self.gen.mutate(document)
        return json.dumps(document).encode('utf-8', 'surrogatepass')

    def _headers(self) -> dict[str, str]:
        rng = self.rng
        # Mostly a caller the API serves, so that bodies are read.
        headers = {
            'X-Roles': rng.choice(('admin', 'member', 'admin', 'member',
                                   'reader', '', 'x' * 300)),
            'X-Project-Id': rng.choice(('project-a', 'project-b',
                                        'project-a', 'p' * 129, '',
                                        'é' * 10)),
            'X-User-Id': rng.choice(('user-a', 'user-a', 'u' * 200, '')),
        }
        if rng.random() < 0.3:
            headers['Accept'] = rng.choice(('text/html', '*/*',
                                            'application/xml', ''))
        if rng.random() < 0.05:
            headers['X-Project-Id'] = 'a\x00b'
        return headers

    def request(self) -> tuple[str, str, bytes | None, dict]:
        rng = self.rng
        method, path, schema, names = rng.choice(ROUTES)
        if rng.random() < 0.1:
            method = rng.choice(METHODS)
        path = path.replace('{id}', self._path_id())
        query = self._query(names) if rng.random() < 0.6 else ''
        if query:
            path += '?' + query
        headers = self._headers()
        body = self._body(schema if method in ('POST', 'PUT') else None)
        if body is not None:
            headers['Content-Type'] = (
                'application/json' if rng.random() < 0.8
                else rng.choice(CONTENT_TYPES))
        return method, path, body, headers

    def send(self, method: str, path: str, body: bytes | None,
             headers: dict) -> tuple[int, bytes, float]:
        connection = http_client.HTTPConnection(base.HOST, self.port,
                                                timeout=SLOWEST * 2)
        started = time.monotonic()
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value.encode('utf-8',
                                                        'surrogatepass'))
            if body is not None:
                connection.putheader('Content-Length', str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            data = response.read()
            return response.status, data, time.monotonic() - started
        finally:
            connection.close()


class APIFuzzTest(base.FunctionalTestCase):
    """Seeded fuzzing of every route, on SQLite, PostgreSQL and MariaDB."""

    scenarios = [('sqlite', {'backend': 'sqlite'}),
                 ('postgresql', {'backend': 'postgresql'}),
                 ('mysql', {'backend': 'mysql'})]

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.use_database(self.backend)
        self.config.config(max_pool_size=2, max_overflow=2,
                           group='database')
        self.config.config(controllers=['local'], group='inspector')
        self.config.config(host=base.HOST, port=0, workers=4, group='api')
        self.services = [inspector_service.InspectorService(self.conf),
                         api_service.APIService(self.conf)]
        for service in self.services:
            service.start()
        self.addCleanup(self._stop)
        self.port = self.services[-1].port

    def _stop(self) -> None:
        stoppers = [threading.Thread(target=service.stop)
                    for service in reversed(self.services)]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(30)

    def _alarm_ids(self, fuzzer: _Fuzzer) -> list[str]:
        body = json.dumps({
            'name': 'fuzzed', 'resource_id': 'an-instance',
            'notification_rule': {'event_type': 'compute.instance.update'},
        }).encode()
        ids = []
        for project in ('project-a', 'project-b'):
            status, data, _ = fuzzer.send(
                'POST', '/v1/alarms', body,
                {'X-Project-Id': project, 'X-User-Id': 'user-a',
                 'X-Roles': 'member', 'Content-Type': 'application/json'})
            self.assertEqual(201, status, data)
            ids.append(json.loads(data)['alarm_id'])
        return ids

    def test_fuzzed_requests_never_fail_the_api(self):
        fuzzer = _Fuzzer(SEED, self.port, [])
        fuzzer.alarm_ids = self._alarm_ids(fuzzer)
        failures = []
        statuses: dict[int, int] = {}
        for number in range(REQUESTS):
            method, path, body, headers = fuzzer.request()
            try:
                status, data, elapsed = fuzzer.send(method, path, body,
                                                    headers)
            except OSError as e:
                failures.append('#%d %s %s: %s' % (number, method,
                                                   path[:120], e))
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if status >= 500 or elapsed > SLOWEST:
                failures.append('#%d %s %s body %r headers %r: %d after '
                                '%.1f s: %r' % (number, method, path[:120],
                                                (body or b'')[:200],
                                                headers, status, elapsed,
                                                data[:200]))
        self.addDetail('statuses', testtools_content.text_content(
            json.dumps(statuses, sort_keys=True)))
        self.assertEqual([], failures[:10],
                         'seed %d (DOCTOR_FUZZ_SEED replays it), %d '
                         'failures; statuses %s' % (SEED, len(failures),
                                                    statuses))
        # Still alive, and still storing.
        self.assertEqual(2, len(self._alarm_ids(fuzzer)))
        # The fuzzing reached past the request checks.
        self.assertGreater(statuses.get(200, 0) + statuses.get(201, 0), 0)
