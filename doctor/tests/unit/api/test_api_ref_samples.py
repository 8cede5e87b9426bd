"""The samples of the API reference, checked against the real API.

The reference (``api-ref/source``) shows a JSON sample beside each request
and answer. Here every request sample is sent to the API app, in the order
a user would send them, and each answer must have the status and the shape
of the response sample shown with it: the same keys, recursively, lists of
the same length and values of the same JSON types. Only the values may
differ (ids, timestamps). The webhook sample is checked the same way against
the body a notifier plugin receives when the documented notification fires
the alarm. The entity samples are stored in the entity store first, and
the API must answer them exactly. The inspector's samples (events, hosts,
ports, faults) are answered by a real inspector, in process, acting
through a recording controller: the RPC calls of the API are handed to it.

The reference's tables are checked too: every field of a sample is a row of
the parameter table beside it, every required row of that table is in the
answer samples, and every row refers to a definition in parameters.yaml.
"""

from concurrent import futures
import datetime
import json
import os
import re
import threading
from typing import Any
from unittest import mock

from stevedore import extension
import yaml

from doctor.evaluator import evaluator
from doctor.evaluator import index
from doctor.evaluator import transformer
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import rpcapi as inspector_rpcapi
from doctor.notifier import deliverer
from doctor.notifier.plugins import base as plugin_base
from doctor.synchronizer import entity
from doctor.tests import base as test_base
from doctor.tests.unit.api import base
from doctor.tests.unit.inspector import fakes

API_REF = os.path.normpath(os.path.join(
    os.path.dirname(__file__), '..', '..', '..', '..', 'api-ref', 'source'))
SAMPLES = os.path.join(API_REF, 'samples')
PARAMETERS = os.path.join(API_REF, 'parameters.yaml')

# The caller the samples show: the identity headers of every request.
PROJECT = 'b7d3c1e2a9f84c5d8e6f0a1b2c3d4e5f'
USER = '3f9a2b1c4d5e4f60a7b8c9d0e1f2a3b4'
# The host the samples' links point at.
HOST = '127.0.0.1:12345'

# The notification of the webhook sample: Nova's legacy instance update
# (the shape doctor's own controller also sends) for the samples' instance,
# as part of a doctor fault.
INSTANCE = '153462d0-a9b8-4b5b-8175-9e4b05e9b856'
REQUEST_ID = 'req-5a0c9b7e-3f1d-4e2a-8b6c-7d9e0f1a2b3c'
NOTIFICATION: dict[str, Any] = {
    'publisher_id': 'compute.compute-0',
    'event_type': 'compute.instance.update',
    'payload': {
        'instance_id': INSTANCE, 'tenant_id': PROJECT, 'user_id': USER,
        'display_name': 'vnf-a-0', 'host': 'compute-0',
        'state': 'error', 'old_state': 'active',
    },
    'metadata': {'message_id': '2e6b9a51-0d5b-4ad1-b1a3-1b8c6d2f3e4a',
                 'timestamp': '2024-05-01 10:00:01.123456'},
    'ctxt': {'request_id': REQUEST_ID,
             'doctor_fault_id': 'f7a1c0de-2b3c-4d5e-8f90-a1b2c3d4e5f6'},
}

WAIT = 10

# What the entity samples show: the entities below the samples' host, the
# first page of which is listed (two instances, then a next link), and the
# samples' instance, shown with its port.
ENTITIES_QUERY = '?parent=host:compute-0&limit=2'
PORT = 'port:8e2b4c6d-1f3a-4b5c-9d7e-0a1b2c3d4e5f'
# A second host, which the host samples report down through the API, with
# an instance and its port.
OTHER_HOST = 'compute-1'
OTHER_INSTANCE = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d'
OTHER_PORT = 'port:2f3e4d5c-6b7a-4988-a7b6-c5d4e3f2a1b0'


def load_sample(name: str) -> Any:
    with open(os.path.join(SAMPLES, name)) as f:
        return json.load(f)


def sample_entities() -> list[dict]:
    """Change records of the entities the entity samples show.

    The host, the listed instances, the shown instance and its port: the
    port is below the host too, so that the listed page is not the last.
    """
    shown = load_sample('entity-show-response.json')['entity']
    views = load_sample('entities-list-response.json')['entities'] + [
        shown,
        {'key': 'host:compute-0', 'type': 'host', 'id': 'compute-0',
         'name': 'compute-0', 'state': 'up', 'project_id': None,
         'parents': [], 'attributes': {}},
        {'key': PORT, 'type': 'port', 'id': PORT.split(':', 1)[1],
         'name': 'vnf-a-0-data', 'state': 'ACTIVE',
         'project_id': shown['project_id'],
         'parents': ['host:compute-0', shown['key']],
         'attributes': {'data_plane_status': 'ACTIVE'}},
        {'key': 'host:' + OTHER_HOST, 'type': 'host', 'id': OTHER_HOST,
         'name': OTHER_HOST, 'state': 'up', 'project_id': None,
         'parents': [], 'attributes': {}},
        {'key': 'instance:' + OTHER_INSTANCE, 'type': 'instance',
         'id': OTHER_INSTANCE, 'name': 'vnf-b-0', 'state': 'active',
         'project_id': shown['project_id'],
         'parents': ['host:' + OTHER_HOST], 'attributes': {}},
        {'key': OTHER_PORT, 'type': 'port', 'id': OTHER_PORT.split(':')[1],
         'name': 'vnf-b-0-data', 'state': 'ACTIVE',
         'project_id': shown['project_id'],
         'parents': ['host:' + OTHER_HOST, 'instance:' + OTHER_INSTANCE],
         'attributes': {'data_plane_status': 'ACTIVE'}},
    ]
    timestamp = datetime.datetime.fromisoformat(shown['updated_at'])
    records = {}
    for view in views:
        reported = entity.Entity(
            type=view['type'], id=view['id'], state=view['state'],
            name=view['name'], project_id=view['project_id'],
            parents=tuple(view['parents']), attributes=view['attributes'])
        records[view['key']] = entity.Change(
            entity.CREATE, reported, timestamp, 'static').as_record()
    return list(records.values())


def _json_type(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    return 'object'


def _embedded_json(value: Any) -> Any:
    """A JSON object held in a string (a history entry's detail), or None."""
    if isinstance(value, str) and value.startswith('{'):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def shape_differences(expected: Any, actual: Any, where: str = '$'
                      ) -> list[str]:
    """How ``actual`` differs in shape from ``expected``; [] if it does not.

    Objects must have the same keys, arrays the same length, scalars the
    same JSON type; a string holding a JSON object is compared as that
    object.
    """
    if _json_type(expected) != _json_type(actual):
        return ['%s: the sample has %s, the API %s'
                % (where, _json_type(expected), _json_type(actual))]
    if isinstance(expected, dict):
        differences = []
        for key in sorted(set(expected) - set(actual)):
            differences.append('%s.%s: in the sample, not in the API'
                               % (where, key))
        for key in sorted(set(actual) - set(expected)):
            differences.append('%s.%s: in the API, not in the sample'
                               % (where, key))
        for key in sorted(set(expected) & set(actual)):
            differences.extend(shape_differences(
                expected[key], actual[key], '%s.%s' % (where, key)))
        return differences
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return ['%s: the sample has %d items, the API %d'
                    % (where, len(expected), len(actual))]
        differences = []
        for number, (item, other) in enumerate(zip(expected, actual)):
            differences.extend(shape_differences(
                item, other, '%s[%d]' % (where, number)))
        return differences
    inner, other = _embedded_json(expected), _embedded_json(actual)
    if inner is not None or other is not None:
        return shape_differences(inner, other, where + '<json>')
    return []


def field_names(document: Any, prefix: str = '') -> set[str]:
    """The fields of a sample as the tables name them.

    A nested field is named by its path (``notification_rule.query.op``);
    arrays add nothing to the path, so the items of a list answer are named
    like a single object.
    """
    names: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            name = prefix + key
            names.add(name)
            names |= field_names(value, name + '.')
    elif isinstance(document, list):
        for item in document:
            names |= field_names(item, prefix)
    return names


class Part:
    """A request or response part of a section of the reference."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.samples: list[str] = []
        self.parameters: list[tuple[str, str]] = []


_HEADING = re.compile(r'^([=\-~])\1{2,}$')
_INCLUDE = re.compile(r'^\.\. literalinclude:: samples/(\S+)$')
_PARAMETERS = re.compile(r'^\.\. rest_parameters:: parameters\.yaml$')
_ROW = re.compile(r'^\s+- ([^:\s]+): (\S+)$')


def read_reference() -> list[Part]:
    """The parts of every page of the reference, in page order.

    A section (a heading underlined with ``=`` or ``-``) is one part, or
    two when it has ``Request`` and ``Response`` subsections (headings
    underlined with ``~``).
    """
    parts: list[Part] = []
    for name in sorted(os.listdir(API_REF)):
        if not name.endswith(('.rst', '.inc')):
            continue
        with open(os.path.join(API_REF, name)) as f:
            lines = f.read().splitlines()
        section = name
        part = Part(name)
        parts.append(part)
        in_table = False
        for number, line in enumerate(lines):
            following = lines[number + 1] if number + 1 < len(lines) else ''
            heading = _HEADING.match(following)
            if heading and line.strip() and not _HEADING.match(line):
                if heading.group(1) == '~':
                    part = Part('%s: %s, %s' % (name, section, line))
                else:
                    section = line
                    part = Part('%s: %s' % (name, section))
                parts.append(part)
                in_table = False
                continue
            include = _INCLUDE.match(line)
            if include:
                part.samples.append(include.group(1))
            if _PARAMETERS.match(line):
                in_table = True
                continue
            row = _ROW.match(line)
            if in_table and row:
                part.parameters.append((row.group(1), row.group(2)))
            elif in_table and line.strip():
                in_table = False
    return [part for part in parts if part.samples or part.parameters]


def load_parameters() -> dict[str, dict]:
    with open(PARAMETERS) as f:
        return yaml.safe_load(f)


class _Recorder(plugin_base.AlarmNotifier):
    """A notifier plugin that keeps what it is asked to deliver."""

    def __init__(self, conf) -> None:
        super().__init__(conf)
        self.deliveries: list[tuple[str, dict, str]] = []
        self._lock = threading.Lock()

    def notify(self, action, body, request_id):
        with self._lock:
            self.deliveries.append((action.geturl(), body, request_id))


class TestAPIRefSamples(base.APITestCase):
    """The samples are what the API sends and receives."""

    def setUp(self):
        super().setUp()
        self.used: set[str] = set()
        self.differences: list[str] = []

    def call(self, method: str, path: str, request: str | None = None,
             **kwargs):
        """Send ``request`` (a sample name) as the samples' caller."""
        kwargs.setdefault('project', PROJECT)
        kwargs.setdefault('user', USER)
        kwargs['headers'] = {'Host': HOST}
        if request is None:
            return self.request(method, path, **kwargs)
        self.used.add(request)
        return self.request(method, path, load_sample(request), **kwargs)

    def check(self, response, status: int, sample: str) -> Any:
        """Compare an answer with its sample; returns the answer's JSON."""
        self.used.add(sample)
        self.assertEqual(status, response.status_int, response.text)
        actual = response.json
        self.differences.extend(
            '%s: %s' % (sample, difference) for difference
            in shape_differences(load_sample(sample), actual))
        return actual

    def fire(self) -> tuple[str, dict, str]:
        """Evaluate the documented notification; returns its delivery."""
        recorder = _Recorder(self.conf)
        plugins = extension.ExtensionManager.make_test_instance(
            [extension.Extension(
                'http', None, _Recorder, recorder)],  # type: ignore[arg-type]
            namespace=deliverer.NAMESPACE)
        sender = deliverer.Deliverer(self.conf, self.db, plugins)
        self.addCleanup(sender.stop)
        pending: list[futures.Future] = []
        events = transformer.Transformer.from_file(
            transformer.find_definitions_file(self.conf))
        engine = evaluator.NotificationEvaluator(
            self.conf, self.db, index.AlarmIndex(), events,
            lambda firing: pending.extend(sender.deliver(firing)))
        self.addCleanup(engine.stop)
        engine.load_index()
        event = events.transform(
            NOTIFICATION['publisher_id'], NOTIFICATION['event_type'],
            NOTIFICATION['payload'], NOTIFICATION['metadata'],
            NOTIFICATION['ctxt'])
        if event is None:
            self.fail('no event definition covers the notification')
        self.assertEqual(1, engine.evaluate(event))
        futures.wait(pending, timeout=WAIT)
        sender.flush()
        self.assertEqual(1, len(recorder.deliveries))
        return recorder.deliveries[0]

    def inspect(self) -> inspector_mod.Inspector:
        """A real inspector on the entity store, answering the API's calls.
        """
        cache = cache_mod.HostCache()
        cache.reload(lambda: cache_mod.read_store(self.db))
        inspector = inspector_mod.Inspector(
            self.conf, self.db, cache,
            inspector_mod.Router([fakes.RecordingController()]),
            fakes.RecordingAnnouncer())  # type: ignore[arg-type]
        self.addCleanup(inspector.stop)
        for name in ('report_failures', 'report_host', 'set_port_dp_down'):
            patcher = mock.patch.object(
                inspector_rpcapi.InspectorAPI, name, autospec=True,
                side_effect=getattr(self, '_' + name))
            patcher.start()
            self.addCleanup(patcher.stop)
        self.inspector = inspector
        return inspector

    def _report_failures(self, _api, context, events):
        return self.inspector.report_failures(context, events)

    def _report_host(self, _api, context, host, down):
        return self.inspector.report_host(context, host, down)

    def _set_port_dp_down(self, _api, context, port_id, down):
        return self.inspector.set_port_dp_down(context, port_id, down)

    def check_inspector_samples(self) -> None:
        """Report a host down by an event and another through the API,
        then read what the inspector did.
        """
        check = self.check
        inspector = self.inspect()
        port = '/v1/ports/' + PORT.split(':', 1)[1]
        check(self.call('GET', port), 200, 'port-show-response.json')

        answer = check(self.call('POST', '/v1/events',
                                 'events-create-request.json',
                                 roles='admin'),
                       202, 'events-create-response.json')
        [fault_id] = set(answer['fault_ids'])
        self.assertTrue(inspector.wait(fault_id, WAIT))
        answer = check(self.call('PUT', '/v1/hosts/' + OTHER_HOST,
                                 'host-update-request.json', roles='admin'),
                       200, 'host-update-response.json')
        other_fault_id = answer['host']['fault_id']
        self.assertTrue(inspector.wait(other_fault_id, WAIT))

        check(self.call('GET', '/v1/hosts?limit=1', roles='admin'), 200,
              'hosts-list-response.json')
        check(self.call('GET', '/v1/hosts/' + OTHER_HOST, roles='admin'),
              200, 'host-show-response.json')
        check(self.call('GET', '/v1/faults/' + fault_id, roles='admin'),
              200, 'fault-show-response.json')
        # The consumer of the alarm created above reports reaching it.
        body = load_sample('fault-checkpoints-request.json')
        for entry in body['checkpoints']:
            entry['alarm_id'] = self.alarm_id
        self.used.add('fault-checkpoints-request.json')
        check(self.request('POST', '/v1/faults/%s/checkpoints' % fault_id,
                           body, project=PROJECT, user=USER,
                           headers={'Host': HOST}),
              201, 'fault-checkpoints-response.json')
        check(self.call('PUT', port, 'port-update-request.json',
                        roles='admin'),
              200, 'port-update-response.json')

        # compute-1 recovers: its fault is the newest, closed.
        recovered = self.call('PUT', '/v1/hosts/' + OTHER_HOST, roles='admin',
                              body={'host': {'host_down_reported': False}})
        self.assertEqual(200, recovered.status_int, recovered.text)
        check(self.call('GET', '/v1/faults?limit=1', roles='admin'), 200,
              'faults-list-response.json')

    def check_heartbeat_samples(self) -> None:
        """Store the guests of the samples as a compute agent would,
        then read them back as their project's reader.
        """
        listed = load_sample('heartbeats-list-response.json')['heartbeats']
        shown = load_sample('heartbeat-show-response.json')['heartbeats']

        def stored(entry: dict) -> dict:
            return dict(entry, **{
                name: datetime.datetime.fromisoformat(entry[name])
                for name in ('last_seen', 'updated_at')})

        self.db.put_heartbeats([stored(entry) for entry in listed])
        self.check(self.call('GET', '/v1/heartbeats', roles='reader'), 200,
                   'heartbeats-list-response.json')
        self.db.put_heartbeats([stored(shown[0])])
        self.check(self.call('GET', '/v1/heartbeats/'
                             + shown[0]['instance_id'], roles='reader'),
                   200, 'heartbeat-show-response.json')

    def test_every_sample_matches_what_the_api_does(self):
        check = self.check
        check(self.call('GET', '/', project=None, user=None), 200,
              'versions-response.json')
        check(self.call('GET', '/v1'), 200, 'version-v1-response.json')

        alarm = check(self.call('POST', '/v1/alarms',
                                'alarm-create-request.json'),
                      201, 'alarm-create-response.json')
        path = '/v1/alarms/' + alarm['alarm_id']
        self.alarm_id = alarm['alarm_id']
        check(self.call('GET', '/v1/alarms?resource_id=' + INSTANCE), 200,
              'alarms-list-response.json')
        check(self.call('GET', path), 200, 'alarm-show-response.json')
        alarm = check(self.call('PUT', path, 'alarm-update-request.json'),
                      200, 'alarm-update-response.json')
        check(self.call('GET', path + '/state'), 200,
              'alarm-state-show-response.json')
        check(self.call('PUT', path + '/state',
                        'alarm-state-update-request.json'),
              200, 'alarm-state-update-response.json')

        action, body, request_id = self.fire()
        self.used.add('webhook-body.json')
        self.differences.extend(
            'webhook-body.json: %s' % difference for difference
            in shape_differences(load_sample('webhook-body.json'), body))
        self.assertEqual(alarm['alarm_actions'][0], action)
        self.assertEqual(REQUEST_ID, request_id)

        check(self.call('GET', path + '/history'), 200,
              'alarm-history-response.json')

        self.db.apply_entity_changes(sample_entities())
        listed = check(self.call('GET', '/v1/entities' + ENTITIES_QUERY,
                                 roles='admin'),
                       200, 'entities-list-response.json')
        self.assertEqual(load_sample('entities-list-response.json'), listed)
        shown = load_sample('entity-show-response.json')
        answer = check(self.call('GET', '/v1/entities/' +
                                 shown['entity']['key'], roles='admin'),
                       200, 'entity-show-response.json')
        self.assertEqual(shown, answer)
        self.check_inspector_samples()
        self.check_heartbeat_samples()
        self.assertEqual(204, self.call('DELETE', path).status_int)

        bad = load_sample('alarm-create-request.json')
        del bad['notification_rule']
        check(self.request('POST', '/v1/alarms', bad, project=PROJECT,
                           user=USER), 400, 'error-response.json')

        self.assertEqual([], self.differences)
        self.assertEqual(sorted(os.listdir(SAMPLES)), sorted(self.used),
                         'every sample is checked, and only those')

    def test_the_samples_show_the_answers_of_the_api(self):
        # What the tables and the prose say of these answers.
        alarm = load_sample('alarm-create-response.json')
        self.assertEqual('insufficient data', alarm['state'])
        self.assertEqual(PROJECT, alarm['project_id'])
        self.assertEqual(USER, alarm['user_id'])
        self.assertEqual(['alarm', 'ok'], [
            load_sample('webhook-body.json')[key]
            for key in ('current', 'previous')])
        self.assertEqual(
            ['state transition', 'state transition', 'rule change',
             'creation'],
            [entry['type']
             for entry in load_sample('alarm-history-response.json')])

        listed = load_sample('entities-list-response.json')
        shown = load_sample('entity-show-response.json')['entity']
        self.assertEqual(INSTANCE, shown['id'])
        self.assertEqual([PORT], shown['children'])
        self.assertIn(shown, [dict(item, children=[PORT])
                              for item in listed['entities']])
        self.assertEqual(
            'http://%s/v1/entities%s&marker=%s'
            % (HOST, ENTITIES_QUERY, listed['entities'][-1]['key']),
            listed['links'][0]['href'])

    def test_the_inspector_samples_tell_one_story(self):
        events = load_sample('events-create-request.json')
        [fault_id] = set(load_sample('events-create-response.json')
                         ['fault_ids'])
        fault = load_sample('fault-show-response.json')['fault']
        self.assertEqual((fault_id, 'compute-0', 'open'),
                         (fault['id'], fault['host'], fault['status']))
        self.assertEqual([event['id'] for event in events],
                         [report['id'] for report in fault['reports']])
        self.assertEqual(list(range(6)), [checkpoint['number'] for
                                          checkpoint in fault['checkpoints']])
        self.assertEqual(events[0]['time'],
                         fault['checkpoints'][0]['timestamp'])
        self.assertEqual(NOTIFICATION['ctxt']['doctor_fault_id'], fault_id)

        [listed] = load_sample('hosts-list-response.json')['hosts']
        self.assertEqual(('compute-0', 'down', fault_id),
                         (listed['name'], listed['state'],
                          listed['fault_id']))
        self.assertEqual('http://%s/v1/hosts?limit=1&marker=compute-0'
                         % HOST, load_sample('hosts-list-response.json')
                         ['links'][0]['href'])
        reported = load_sample('host-update-response.json')['host']
        shown = load_sample('host-show-response.json')['host']
        self.assertTrue(load_sample('host-update-request.json')['host']
                        ['host_down_reported'])
        self.assertEqual((OTHER_HOST, 'down', True),
                         (reported['name'], reported['state'],
                          reported['host_down_reported']))
        self.assertEqual(reported['fault_id'], shown['fault_id'])
        faults = load_sample('faults-list-response.json')
        [newest] = faults['faults']
        self.assertEqual((reported['fault_id'], OTHER_HOST, 'closed'),
                         (newest['id'], newest['host'], newest['status']))
        self.assertEqual('http://%s/v1/faults?limit=1&marker=%s'
                         % (HOST, newest['id']),
                         faults['links'][0]['href'])

        before = load_sample('port-show-response.json')['port']
        after = load_sample('port-update-response.json')['port']
        self.assertEqual([PORT.split(':', 1)[1]] * 2,
                         [before['id'], after['id']])
        self.assertEqual([(False, 'ACTIVE'), (True, 'DOWN')],
                         [(port['dp_down'], port['data_plane_status'])
                          for port in (before, after)])
        self.assertEqual(load_sample('port-update-request.json')['port']
                         ['dp_down'], after['dp_down'])


class TestAPIRefTables(test_base.TestCase):
    """The parameter tables document every field of the samples."""

    def setUp(self):
        super().setUp()
        self.parameters = load_parameters()
        self.parts = read_reference()

    def test_every_row_is_defined_in_parameters_yaml(self):
        undefined = ['%s: %s refers to %s' % (part.where, name, reference)
                     for part in self.parts
                     for name, reference in part.parameters
                     if reference not in self.parameters]
        self.assertEqual([], undefined)

    def test_every_definition_is_used(self):
        used = {reference for part in self.parts
                for _name, reference in part.parameters}
        self.assertEqual([], sorted(set(self.parameters) - used))

    def test_every_included_sample_exists(self):
        included = {sample for part in self.parts for sample in part.samples}
        self.assertEqual(sorted(os.listdir(SAMPLES)), sorted(included))

    def test_every_sample_field_is_in_its_table(self):
        problems = []
        for part in self.parts:
            rows = {name: self.parameters.get(reference, {})
                    for name, reference in part.parameters}
            body = {name for name, definition in rows.items()
                    if definition.get('in') == 'body'}
            required = {name for name in body
                        if rows[name].get('required')}
            for sample in part.samples:
                if not part.parameters:
                    problems.append('%s: %s has no parameter table'
                                    % (part.where, sample))
                    continue
                document = load_sample(sample)
                if not isinstance(document, (dict, list)):
                    # A bare value (an alarm's state): one row describes
                    # the whole body.
                    if len(body) != 1:
                        problems.append('%s: %s is a bare value, the table '
                                        'needs exactly one body row'
                                        % (part.where, sample))
                    continue
                fields = field_names(document)
                for name in sorted(fields - body):
                    problems.append('%s: %s has %s, not in the table'
                                    % (part.where, sample, name))
                if sample.endswith('-request.json'):
                    continue
                # What doctor sends always has the required fields.
                for name in sorted(required - fields):
                    problems.append('%s: %s lacks required %s'
                                    % (part.where, sample, name))
        self.assertEqual([], problems)

    def test_every_definition_is_complete(self):
        for name, definition in self.parameters.items():
            self.assertIn(definition.get('in'),
                          ('header', 'path', 'query', 'body'), name)
            self.assertIn('description', definition, name)
            self.assertIn('type', definition, name)
