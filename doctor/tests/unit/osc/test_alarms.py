"""``openstack doctor alarm …``: options to requests, answers to output."""

import copy

from osc_lib import exceptions as osc_exceptions
import yaml

from doctor.api.schemas.v1 import alarms as alarm_schema
from doctor.db import api as db_api
from doctor.evaluator import rule as rule_mod
from doctor.osc.v1 import alarms
from doctor.tests import base
from doctor.tests.unit.osc import fakes

ALARM_ID = '8a6e3f2c-1b4d-4c5e-9f70-2a3b4c5d6e7f'
ALARM = {
    'alarm_id': ALARM_ID, 'name': 'InstanceStatusAlarm',
    'description': 'Instance went to error', 'type': 'notification',
    'enabled': True, 'severity': 'moderate', 'project_id': 'p1',
    'user_id': 'u1', 'resource_id': 'vm-1',
    'notification_rule': {
        'event_type': 'compute.instance.update',
        'query': [{'field': 'traits.state', 'op': 'eq', 'value': 'error',
                   'type': 'string'}]},
    'alarm_actions': ['http://vnfm:8000/alarm'], 'ok_actions': [],
    'insufficient_data_actions': [], 'repeat_actions': False,
    'state': 'ok', 'state_reason': None,
    'state_timestamp': '2024-05-01T09:55:12.345678',
    'timestamp': '2024-05-01T09:55:12.345678',
}
HISTORY = [
    {'event_id': 'e-2', 'alarm_id': ALARM_ID, 'type': 'state transition',
     'detail': '{"state": "ok", "previous": "insufficient data"}',
     'timestamp': '2024-05-01T09:58:02.500871', 'on_behalf_of': 'p1',
     'project_id': 'p1', 'user_id': 'u1', 'severity': 'moderate'},
    {'event_id': 'e-1', 'alarm_id': ALARM_ID, 'type': 'creation',
     'detail': '{"name": "InstanceStatusAlarm"}',
     'timestamp': '2024-05-01T09:55:12.345678', 'on_behalf_of': 'p1',
     'project_id': 'p1', 'user_id': 'u1', 'severity': 'moderate'},
]


class TestVocabulary(base.TestCase):
    """The client's choices are the API's."""

    def test_same_as_the_server(self):
        self.assertEqual(alarm_schema.ALARM_TYPES, alarms.ALARM_TYPES)
        self.assertEqual(alarm_schema.SEVERITIES, alarms.SEVERITIES)
        self.assertEqual(db_api.ALARM_STATES, alarms.STATES)
        self.assertEqual(set(rule_mod.OPERATORS), set(alarms.OPERATORS))
        self.assertEqual(set(rule_mod.CONVERTERS), set(alarms.QUERY_TYPES))
        self.assertEqual(alarm_schema.ACTION_FIELDS,
                         tuple(field for field, _option, _help
                               in alarms.ACTION_OPTIONS))


class TestParseQuery(base.TestCase):

    def test_operator_names_and_symbols(self):
        for text, op in (('traits.state eq error', 'eq'),
                         ('traits.state = error', 'eq'),
                         ('traits.state == error', 'eq'),
                         ('traits.state != error', 'ne'),
                         ('traits.cpu < 4', 'lt'), ('traits.cpu <= 4', 'le'),
                         ('traits.cpu > 4', 'gt'), ('traits.cpu >= 4', 'ge'),
                         ('traits.cpu ge 4', 'ge')):
            self.assertEqual(op, alarms.parse_query(text)['op'], text)

    def test_type_and_quoted_value(self):
        self.assertEqual(
            {'field': 'traits.name', 'op': 'eq', 'value': 'my vm'},
            alarms.parse_query("traits.name eq 'my vm'"))
        self.assertEqual(
            {'field': 'traits.vcpus', 'op': 'gt', 'value': '4',
             'type': 'integer'},
            alarms.parse_query('traits.vcpus gt 4 integer'))

    def test_bad_queries_are_named(self):
        for text, fragment in (
                ('traits.state error', 'must be FIELD OP VALUE [TYPE]'),
                ('a eq b c d', 'must be FIELD OP VALUE [TYPE]'),
                ('traits.state ~ error', "'~' is not an operator"),
                ('traits.cpu gt 4 int', "'int' is not a type"),
                ("traits.name eq 'my vm", 'No closing quotation')):
            e = self.assertRaises(osc_exceptions.CommandError,
                                  alarms.parse_query, text)
            self.assertIn(fragment, str(e))
            self.assertIn(repr(text), str(e))


class TestCreateAlarm(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('POST', '/v1/alarms', fakes.Answer(201, ALARM))

    def test_every_option_maps_to_the_body(self):
        self.take(alarms.CreateAlarm,
                  '--name', 'InstanceStatusAlarm',
                  '--description', 'Instance went to error',
                  '--severity', 'critical', '--disable',
                  '--resource-id', 'vm-1',
                  '--event-type', 'compute.instance.*',
                  '--query', 'traits.state eq error',
                  '--query', 'traits.vcpus >= 2 integer',
                  '--timeout', '30',
                  '--alarm-action', 'http://vnfm:8000/alarm',
                  '--alarm-action', 'http://backup:8000/alarm',
                  '--ok-action', 'http://vnfm:8000/ok',
                  '--insufficient-data-action', 'http://vnfm:8000/nodata',
                  '--repeat-actions', '--state', 'ok',
                  '--project-id', 'p2', '--user-id', 'u2')

        self.assertEqual({
            'name': 'InstanceStatusAlarm',
            'description': 'Instance went to error',
            'type': 'notification', 'severity': 'critical',
            'enabled': False, 'resource_id': 'vm-1',
            'notification_rule': {
                'event_type': 'compute.instance.*',
                'query': [
                    {'field': 'traits.state', 'op': 'eq', 'value': 'error'},
                    {'field': 'traits.vcpus', 'op': 'ge', 'value': '2',
                     'type': 'integer'}],
                'timeout': 30.0},
            'alarm_actions': ['http://vnfm:8000/alarm',
                              'http://backup:8000/alarm'],
            'ok_actions': ['http://vnfm:8000/ok'],
            'insufficient_data_actions': ['http://vnfm:8000/nodata'],
            'repeat_actions': True, 'state': 'ok',
            'project_id': 'p2', 'user_id': 'u2',
        }, self.api.last_body())

    def test_the_least_leaves_defaults_to_the_api(self):
        self.take(alarms.CreateAlarm, '--name', 'a', '--event-type', 'x.y')

        self.assertEqual({'name': 'a', 'type': 'notification',
                          'notification_rule': {'event_type': 'x.y'}},
                         self.api.last_body())

    def test_name_and_event_type_are_required(self):
        self.assert_parse_error(alarms.CreateAlarm, '--event-type', 'x')
        self.assert_parse_error(alarms.CreateAlarm, '--name', 'a')
        self.assertEqual([], self.api.requests)

    def test_choices_are_checked_before_any_request(self):
        for option, value in (('--severity', 'urgent'),
                              ('--state', 'broken'),
                              ('--type', 'threshold')):
            self.assert_parse_error(alarms.CreateAlarm, '--name', 'a',
                                    '--event-type', 'x', option, value)
        self.assertEqual([], self.api.requests)

    def test_a_bad_query_sends_nothing(self):
        self.assertRaises(osc_exceptions.CommandError, self.take,
                          alarms.CreateAlarm, '--name', 'a',
                          '--event-type', 'x', '--query', 'traits.a b')
        self.assertEqual([], self.api.requests)

    def test_shows_the_alarm_with_its_rule_at_the_top(self):
        shown = self.json_output(alarms.CreateAlarm, '--name', 'a',
                                 '--event-type', 'x')

        self.assertEqual(list(alarms.FIELDS), list(shown))
        self.assertEqual('compute.instance.update', shown['event_type'])
        self.assertEqual(ALARM['notification_rule']['query'],
                         shown['query'])
        self.assertIsNone(shown['timeout'])
        self.assertEqual(['http://vnfm:8000/alarm'], shown['alarm_actions'])
        self.assertEqual(ALARM_ID, shown['alarm_id'])

    def test_table_shows_the_query_readably(self):
        table = self.output(alarms.CreateAlarm, '--name', 'a',
                            '--event-type', 'x')

        self.assertIn('traits.state eq "error" (string)', table)

    def test_api_refusal_is_the_error(self):
        self.api.add('POST', '/v1/alarms', fakes.error(
            400, "Invalid value for 'resource_id': this field is required"))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              alarms.CreateAlarm, '--name', 'a',
                              '--event-type', 'x')
        self.assertEqual("400 Bad Request: Invalid value for 'resource_id': "
                         "this field is required", str(e))


class TestListAlarm(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]),
                     fakes.Answer(200, []))

    def test_filters_map_to_query_parameters(self):
        self.take(alarms.ListAlarm, '--name', 'n', '--type', 'notification',
                  '--resource-id', 'vm-1', '--state', 'insufficient data',
                  '--disabled', '--all-projects', '--sort', 'name:desc',
                  '--limit', '10', '--marker', 'a-0')

        self.assertEqual(
            {'name': ['n'], 'type': ['notification'],
             'resource_id': ['vm-1'], 'state': ['insufficient data'],
             'enabled': ['false'], 'all_projects': ['true'],
             'sort': ['name:desc'], 'limit': ['10'], 'marker': ['a-0']},
            self.api.query())

    def test_project_and_enabled(self):
        self.take(alarms.ListAlarm, '--project-id', 'p2', '--enabled')

        self.assertEqual({'project_id': ['p2'], 'enabled': ['true']},
                         self.api.query(0))
        # The next page, with the same filters.
        self.assertEqual({'project_id': ['p2'], 'enabled': ['true'],
                          'marker': [ALARM_ID]}, self.api.query(1))

    def test_project_and_all_projects_exclude_each_other(self):
        self.assert_parse_error(alarms.ListAlarm, '--project-id', 'p2',
                                '--all-projects')

    def test_columns(self):
        listed = self.json_output(alarms.ListAlarm)

        self.assertEqual([{'Alarm ID': ALARM_ID,
                           'Name': 'InstanceStatusAlarm',
                           'Type': 'notification', 'State': 'ok',
                           'Severity': 'moderate', 'Enabled': True,
                           'Resource ID': 'vm-1'}], listed)

    def test_long_columns(self):
        columns, _rows = self.take(alarms.ListAlarm, '--long')

        self.assertEqual(('Alarm ID', 'Name', 'Type', 'State', 'Severity',
                          'Enabled', 'Resource ID', 'Event Type',
                          'Project ID', 'State Timestamp'), columns)


class TestShowAlarm(fakes.CommandTestCase):

    def test_by_id_as_yaml(self):
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))

        shown = yaml.safe_load(self.output(alarms.ShowAlarm, ALARM_ID,
                                           '-f', 'yaml'))

        self.assertEqual('InstanceStatusAlarm', shown['name'])
        self.assertEqual('compute.instance.update', shown['event_type'])

    def test_by_name_one_column_as_value(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]),
                     fakes.Answer(200, []))

        self.assertEqual('ok\n', self.output(
            alarms.ShowAlarm, 'InstanceStatusAlarm', '-f', 'value',
            '-c', 'state'))

    def test_unknown(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, []))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              alarms.ShowAlarm, 'nope')
        self.assertEqual('404 Not Found: /v1/alarms/nope was not found.',
                         str(e))


class TestSetAlarm(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))
        self.api.add('PUT', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))

    def replacement(self) -> dict:
        """The whole alarm as the command sends it back, unchanged."""
        body = copy.deepcopy(ALARM)
        for field in alarms.READ_ONLY:
            del body[field]
        return body

    def test_changes_are_merged_into_the_whole_alarm(self):
        self.take(alarms.SetAlarm, ALARM_ID, '--name', 'renamed',
                  '--severity', 'critical', '--ok-action', 'http://vnfm/ok',
                  '--no-alarm-action', '--query', 'traits.state eq active',
                  '--timeout', '60')

        expected = self.replacement()
        expected.update(name='renamed', severity='critical',
                        ok_actions=['http://vnfm/ok'], alarm_actions=[])
        expected['notification_rule'] = {
            'event_type': 'compute.instance.update',
            'query': [{'field': 'traits.state', 'op': 'eq',
                       'value': 'active'}],
            'timeout': 60.0}
        self.assertEqual(('PUT', '/v1/alarms/' + ALARM_ID),
                         self.api.calls()[-1])
        self.assertEqual(expected, self.api.last_body())

    def test_read_only_fields_are_not_sent_back(self):
        self.take(alarms.SetAlarm, ALARM_ID, '--description', 'new')

        body = self.api.last_body()
        for field in alarms.READ_ONLY:
            self.assertNotIn(field, body)
        self.assertEqual('new', body['description'])

    def test_state_is_sent_only_when_asked(self):
        self.take(alarms.SetAlarm, ALARM_ID, '--state', 'alarm',
                  '--enable')

        self.assertEqual(('alarm', True), (self.api.last_body()['state'],
                                           self.api.last_body()['enabled']))

    def test_removing_query_and_timeout(self):
        alarm = copy.deepcopy(ALARM)
        alarm['notification_rule']['timeout'] = 30
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, alarm))

        self.take(alarms.SetAlarm, ALARM_ID, '--no-query', '--no-timeout')

        self.assertEqual({'event_type': 'compute.instance.update',
                          'query': []},
                         self.api.last_body()['notification_rule'])

    def test_nothing_to_change_sends_nothing(self):
        _columns, data = self.take(alarms.SetAlarm, ALARM_ID)

        self.assertEqual([('GET', '/v1/alarms/' + ALARM_ID)],
                         self.api.calls())
        self.assertIn('InstanceStatusAlarm', data)

    def test_contradictions_are_refused_before_any_change(self):
        for argv, fragment in (
                (('--query', 'a eq b', '--no-query'), '--no-query'),
                (('--timeout', '3', '--no-timeout'), '--no-timeout'),
                (('--ok-action', 'http://x/', '--no-ok-action'),
                 '--no-ok-action and --ok-action')):
            e = self.assertRaises(osc_exceptions.CommandError, self.take,
                                  alarms.SetAlarm, ALARM_ID, *argv)
            self.assertIn(fragment, str(e))
        self.assertNotIn('PUT', [method for method, _path
                                 in self.api.calls()])

    def test_conflict_is_the_error(self):
        self.api.add('PUT', '/v1/alarms/' + ALARM_ID, fakes.error(
            409, 'Alarm changed meanwhile'))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              alarms.SetAlarm, ALARM_ID, '--name', 'x')
        self.assertEqual('409 Conflict: Alarm changed meanwhile', str(e))


class TestDeleteAlarm(fakes.CommandTestCase):

    def test_several_by_id_and_name(self):
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))
        self.api.add('GET', '/v1/alarms',
                     fakes.Answer(200, [dict(ALARM, alarm_id='a-2')]),
                     fakes.Answer(200, []))
        self.api.add('DELETE', '/v1/alarms/' + ALARM_ID, fakes.Answer(204))
        self.api.add('DELETE', '/v1/alarms/a-2', fakes.Answer(204))

        self.assertIsNone(self.take(alarms.DeleteAlarm, ALARM_ID, 'other'))
        self.assertEqual(
            [('DELETE', '/v1/alarms/' + ALARM_ID),
             ('DELETE', '/v1/alarms/a-2')],
            [call for call in self.api.calls() if call[0] == 'DELETE'])

    def test_failures_are_reported_together_after_the_rest(self):
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, []))
        self.api.add('DELETE', '/v1/alarms/' + ALARM_ID, fakes.Answer(204))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              alarms.DeleteAlarm, 'nope', ALARM_ID)
        self.assertEqual('1 of 2 alarms not deleted:\nnope: 404 Not Found: '
                         '/v1/alarms/nope was not found.', str(e))
        self.assertIn(('DELETE', '/v1/alarms/' + ALARM_ID),
                      self.api.calls())


class TestAlarmState(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('GET', '/v1/alarms/' + ALARM_ID,
                     fakes.Answer(200, ALARM))

    def test_get(self):
        self.api.add('GET', '/v1/alarms/%s/state' % ALARM_ID,
                     fakes.Answer(200, 'alarm'))

        self.assertEqual({'alarm_id': ALARM_ID, 'state': 'alarm'},
                         self.json_output(alarms.GetAlarmState, ALARM_ID))

    def test_set(self):
        self.api.add('PUT', '/v1/alarms/%s/state' % ALARM_ID,
                     fakes.Answer(200, 'insufficient data'))

        shown = self.json_output(alarms.SetAlarmState, ALARM_ID,
                                 '--state', 'insufficient data')

        self.assertEqual('insufficient data', self.api.last_body())
        self.assertEqual('insufficient data', shown['state'])

    def test_set_needs_a_known_state(self):
        self.assert_parse_error(alarms.SetAlarmState, ALARM_ID)
        self.assert_parse_error(alarms.SetAlarmState, ALARM_ID, '--state',
                                'on fire')


class TestAlarmHistory(fakes.CommandTestCase):

    def test_entries_with_their_detail_as_objects(self):
        self.api.add('GET', '/v1/alarms/%s/history' % ALARM_ID,
                     fakes.Answer(200, HISTORY))

        listed = self.json_output(alarms.ShowAlarmHistory, ALARM_ID,
                                  '--limit', '2', '--marker', 'e-0')

        self.assertEqual({'limit': ['2'], 'marker': ['e-0']},
                         self.api.query())
        self.assertEqual(['e-2', 'e-1'],
                         [entry['Event ID'] for entry in listed])
        self.assertEqual({'state': 'ok', 'previous': 'insufficient data'},
                         listed[0]['Detail'])
        self.assertEqual(['Event ID', 'Type', 'Timestamp', 'Severity',
                          'Detail'], list(listed[0]))

    def test_by_the_name_of_an_alarm(self):
        self.api.add('GET', '/v1/alarms', fakes.Answer(200, [ALARM]),
                     fakes.Answer(200, []))
        self.api.add('GET', '/v1/alarms/%s/history' % ALARM_ID,
                     fakes.Answer(200, HISTORY))

        columns, rows = self.take(alarms.ShowAlarmHistory,
                                  'InstanceStatusAlarm', '--long')

        self.assertEqual(2, len(list(rows)))
        self.assertEqual('User ID', columns[-1])
