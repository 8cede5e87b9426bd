"""POST /v1/alarms: what is stored, the defaults, and every bad body."""

import datetime

from oslo_utils import timeutils

from doctor.tests.unit.api import base


def _rule(**overrides):
    rule = {'event_type': 'compute.instance.update',
            'query': [{'field': 'traits.state', 'value': 'error'}]}
    rule.update(overrides)
    return rule


def _query(**item):
    query = {'field': 'traits.state', 'value': 'error'}
    query.update(item)
    return _rule(query=[query])


class TestCreate(base.APITestCase):

    def test_created_alarm_is_answered_with_201_and_readable(self):
        created = self.create()

        self.assertTrue(created['alarm_id'])
        self.assertEqual('InstanceStatusAlarm', created['name'])
        self.assertEqual('An alarm', created['description'])
        self.assertEqual('moderate', created['severity'])
        self.assertEqual(base.PROJECT, created['project_id'])
        self.assertEqual(base.USER, created['user_id'])
        self.assertEqual('153462d0-a9b8-4b5b-8175-9e4b05e9b856',
                         created['resource_id'])
        self.assertEqual(['http://site:8000/alarm'],
                         created['alarm_actions'])
        self.assertEqual(['http://site:8000/nodata'],
                         created['insufficient_data_actions'])
        fetched = self.request('GET', '/v1/alarms/' + created['alarm_id'])
        self.assertEqual(created, fetched.json)

    def test_defaults_are_filled_in(self):
        created = self.request('POST', '/v1/alarms', {
            'name': 'minimal', 'resource_id': 'vm-1',
            'notification_rule': {'event_type': 'compute.*'}}).json

        self.assertEqual('notification', created['type'])
        self.assertEqual('low', created['severity'])
        self.assertTrue(created['enabled'])
        self.assertEqual('insufficient data', created['state'])
        self.assertFalse(created['repeat_actions'])
        self.assertEqual([], created['alarm_actions'])
        self.assertEqual([], created['ok_actions'])
        self.assertEqual([], created['insufficient_data_actions'])
        self.assertEqual({'event_type': 'compute.*', 'query': []},
                         created['notification_rule'])

    def test_query_defaults_to_eq_and_string(self):
        created = self.create(notification_rule=_rule())

        self.assertEqual(
            [{'field': 'traits.state', 'op': 'eq', 'value': 'error',
              'type': 'string'}],
            created['notification_rule']['query'])

    def test_timestamps_are_iso8601_utc_of_now(self):
        before = timeutils.utcnow()
        created = self.create()

        for key in ('timestamp', 'state_timestamp'):
            stamp = datetime.datetime.fromisoformat(created[key])
            self.assertLessEqual(before, stamp)
            self.assertLessEqual(stamp, timeutils.utcnow())

    def test_initial_state_may_be_given(self):
        self.assertEqual('ok', self.create(state='ok')['state'])

    def test_typed_query_values_are_accepted(self):
        rule = _rule(query=[
            {'field': 'traits.count', 'op': 'ge', 'value': '3',
             'type': 'integer'},
            {'field': 'traits.load', 'op': 'lt', 'value': 0.5,
             'type': 'float'},
            {'field': 'traits.up', 'value': False, 'type': 'boolean'},
            {'field': 'traits.when', 'op': 'gt',
             'value': '2024-01-01T00:00:00', 'type': 'datetime'},
            {'field': "payload.'nova_object.data'.uuid", 'value': 'x'}])

        created = self.create(notification_rule=rule)

        self.assertEqual(5, len(created['notification_rule']['query']))

    def test_timeout_sets_the_deadline(self):
        before = timeutils.utcnow()
        created = self.create(notification_rule=_rule(timeout=30))

        stored = self.db.get_alarm(created['alarm_id'])
        self.assertEqual(30, created['notification_rule']['timeout'])
        self.assertLessEqual(before + datetime.timedelta(seconds=30),
                             stored['deadline'])
        self.assertLessEqual(
            stored['deadline'],
            timeutils.utcnow() + datetime.timedelta(seconds=30))

    def test_no_timeout_no_deadline(self):
        created = self.create()

        self.assertIsNone(self.db.get_alarm(created['alarm_id'])['deadline'])

    def test_resource_may_be_left_out_when_configured(self):
        self.config.config(allow_alarms_without_resource=True,
                           group='evaluator')
        body = base.alarm_body()
        del body['resource_id']

        response = self.request('POST', '/v1/alarms', body)

        self.assertEqual(201, response.status_int, response.text)
        self.assertIsNone(response.json['resource_id'])

    def test_wildcard_event_types_are_accepted(self):
        created = self.create(notification_rule={'event_type': 'compute.*'})

        self.assertEqual('compute.*',
                         created['notification_rule']['event_type'])


class TestCreateValidation(base.APITestCase):
    """Each bad body answers 400 naming the field, and stores nothing."""

    def _assert_rejected(self, body, *fragments):
        response = self.request('POST', '/v1/alarms', body)
        self.assert_error(response, 400, *fragments)
        self.assertEqual(0, self.db.count_alarms())
        self.assertFalse(self.alarm_changed.called)
        self.assertFalse(self.notified.called)

    def _assert_field_rejected(self, field, **overrides):
        self._assert_rejected(base.alarm_body(**overrides),
                              "'%s'" % field)

    def test_missing_required_fields(self):
        for field in ('name', 'notification_rule'):
            body = base.alarm_body()
            del body[field]
            self._assert_rejected(body, "'%s'" % field, 'required')

    def test_missing_resource_id(self):
        body = base.alarm_body()
        del body['resource_id']

        self._assert_rejected(body, "'resource_id'", 'required')

    def test_missing_event_type(self):
        self._assert_field_rejected('notification_rule.event_type',
                                    notification_rule={'query': []})

    def test_unknown_fields_are_named(self):
        self._assert_field_rejected('colour', colour='red')
        self._assert_field_rejected(
            'notification_rule.period',
            notification_rule=_rule(period=60))
        self._assert_field_rejected(
            'notification_rule.query[0].negate',
            notification_rule=_query(negate=True))

    def test_read_only_fields_cannot_be_posted(self):
        for field in ('alarm_id', 'timestamp', 'state_timestamp'):
            self._assert_field_rejected(field, **{field: 'x'})

    def test_wrong_types_are_named(self):
        cases = {
            'name': 42,
            'description': ['a'],
            'enabled': 'yes',
            'repeat_actions': 1,
            'notification_rule': 'compute.instance.update',
            'alarm_actions': 'http://site/a',
            'project_id': 7,
        }
        for field, value in cases.items():
            self._assert_field_rejected(field, **{field: value})
        self._assert_field_rejected(
            'notification_rule.query',
            notification_rule=_rule(query={'field': 'x'}))
        self._assert_field_rejected('ok_actions[0]', ok_actions=[5])

    def test_values_out_of_their_sets_are_named(self):
        for field, value in (('type', 'threshold'), ('severity', 'urgent'),
                             ('state', 'broken')):
            self._assert_field_rejected(field, **{field: value})

    def test_name_length(self):
        self._assert_field_rejected('name', name='')
        self._assert_field_rejected('name', name='n' * 256)

    def test_bad_event_type(self):
        self._assert_field_rejected('notification_rule.event_type',
                                    notification_rule=_rule(event_type=''))
        self._assert_field_rejected('notification_rule.event_type',
                                    notification_rule=_rule(event_type=5))

    def test_bad_query_items(self):
        self._assert_field_rejected('notification_rule.query[0].op',
                                    notification_rule=_query(op='like'))
        self._assert_field_rejected('notification_rule.query[0].type',
                                    notification_rule=_query(type='decimal'))
        self._assert_field_rejected('notification_rule.query[0].value',
                                    notification_rule=_query(value=None))
        self._assert_field_rejected(
            'notification_rule.query[1].field',
            notification_rule=_rule(query=[
                {'field': 'a', 'value': 'b'}, {'value': 'c'}]))

    def test_values_that_do_not_convert_to_their_type(self):
        for value, type_ in (('abc', 'integer'), ('1.x', 'float'),
                             ('maybe', 'boolean'),
                             ('yesterday', 'datetime')):
            self._assert_field_rejected(
                'notification_rule.query[0].value',
                notification_rule=_query(value=value, type=type_))

    def test_unparsable_field_path(self):
        self._assert_field_rejected(
            'notification_rule.query[0].field',
            notification_rule=_query(field='payload.a..b'))

    def test_bad_timeouts(self):
        for timeout in (0, -5, 'soon', 366 * 24 * 3600, True):
            self._assert_field_rejected(
                'notification_rule.timeout',
                notification_rule=_rule(timeout=timeout))

    def test_bad_resource_ids(self):
        for value in ('', 'two words', 'tab\there', 'line\nbreak',
                      'bell\x07', 'r' * 256, 42):
            self._assert_field_rejected('resource_id', resource_id=value)

    def test_null_resource_id_is_missing(self):
        self._assert_rejected(base.alarm_body(resource_id=None),
                              "'resource_id'", 'required')

    def test_unparsable_action_urls(self):
        for action in ('http://[::1/x', 'http://vnfm:99999/alarm'):
            self._assert_field_rejected('alarm_actions[0]',
                                        alarm_actions=[action])

    def test_duplicate_actions(self):
        self._assert_field_rejected(
            'alarm_actions', alarm_actions=['http://a/x', 'http://a/x'])

    def test_body_must_be_an_object(self):
        self._assert_rejected(['name'], 'JSON object')

    def test_malformed_json_is_400(self):
        response = self.request('POST', '/v1/alarms', raw=b'{"name": ')

        self.assert_error(response, 400, 'not valid JSON')

    def test_non_utf8_body_is_400(self):
        response = self.request('POST', '/v1/alarms', raw=b'{"name": "\xff"}')

        self.assert_error(response, 400)

    def test_empty_body_is_400(self):
        response = self.request('POST', '/v1/alarms', raw=b'')

        self.assert_error(response, 400, 'no JSON body')
