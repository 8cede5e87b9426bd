"""/v1/alarms/{id}/state and /v1/alarms/{id}/history."""

import datetime
from unittest import mock

from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils

from doctor.api.controllers.v1 import alarms
from doctor.tests.unit.api import base


class TestState(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.alarm = self.create()
        self.path = '/v1/alarms/%s/state' % self.alarm['alarm_id']

    def test_state_is_a_json_string(self):
        response = self.request('GET', self.path)

        self.assertEqual(200, response.status_int)
        self.assertEqual('application/json', response.content_type)
        self.assertEqual(b'"insufficient data"', response.body)

    def test_setting_the_state_answers_and_keeps_it(self):
        response = self.request('PUT', self.path, 'alarm')

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual('alarm', response.json)
        self.assertEqual('alarm', self.request('GET', self.path).json)
        alarm = self.request('GET', '/v1/alarms/' + self.alarm['alarm_id'])
        self.assertGreater(alarm.json['state_timestamp'],
                           self.alarm['state_timestamp'])

    def test_anything_but_a_state_string_is_400(self):
        for body in ('broken', {'state': 'ok'}, ['ok'], 1, None):
            response = self.request('PUT', self.path, body)
            self.assert_error(response, 400, "'state'")
        self.assert_error(self.request('PUT', self.path, raw=b'ok'), 400,
                          'not valid JSON')
        self.assertEqual('insufficient data',
                         self.request('GET', self.path).json)

    def _timed_out_alarm(self) -> str:
        """An alarm with a timeout, as a timeout leaves it: no deadline."""
        rule = dict(base.alarm_body()['notification_rule'], timeout=60)
        alarm_id = self.create(notification_rule=rule)['alarm_id']
        self.db.set_deadline(alarm_id, None)
        return alarm_id

    def _assert_rearmed(self, alarm_id: str, before: datetime.datetime
                        ) -> None:
        deadline = self.db.get_alarm(alarm_id)['deadline']
        self.assertIsNotNone(deadline)
        self.assertGreaterEqual(deadline,
                                before + datetime.timedelta(seconds=60))
        self.assertLessEqual(deadline, timeutils.utcnow()
                             + datetime.timedelta(seconds=60))

    def test_setting_the_state_rearms_the_timeout(self):
        alarm_id = self._timed_out_alarm()
        before = timeutils.utcnow()

        response = self.request('PUT', '/v1/alarms/%s/state' % alarm_id,
                                'ok')

        self.assertEqual(200, response.status_int, response.text)
        self._assert_rearmed(alarm_id, before)

    def test_setting_the_state_in_a_replacement_rearms_the_timeout(self):
        alarm_id = self._timed_out_alarm()
        rule = dict(base.alarm_body()['notification_rule'], timeout=60)
        before = timeutils.utcnow()

        response = self.request('PUT', '/v1/alarms/' + alarm_id,
                                base.alarm_body(notification_rule=rule,
                                                state='ok'))

        self.assertEqual(200, response.status_int, response.text)
        self._assert_rearmed(alarm_id, before)

    def test_setting_the_state_without_a_timeout_sets_no_deadline(self):
        self.request('PUT', self.path, 'ok')

        self.assertIsNone(self.db.get_alarm(self.alarm['alarm_id'])
                          ['deadline'])

    def test_disabled_alarm_state_may_be_set(self):
        self.request('PUT', '/v1/alarms/' + self.alarm['alarm_id'],
                     base.alarm_body(enabled=False))

        self.assertEqual('ok', self.request('PUT', self.path, 'ok').json)


class TestHistory(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.alarm = self.create()
        self.alarm_id = self.alarm['alarm_id']

    def test_creation_entry_carries_the_alarm(self):
        entries = self.history(self.alarm_id)

        self.assertEqual(1, len(entries))
        entry = entries[0]
        self.assertEqual('creation', entry['type'])
        self.assertEqual(self.alarm, jsonutils.loads(entry['detail']))
        self.assertEqual(self.alarm_id, entry['alarm_id'])
        self.assertEqual(base.PROJECT, entry['on_behalf_of'])
        self.assertEqual(base.PROJECT, entry['project_id'])
        self.assertEqual(base.USER, entry['user_id'])
        self.assertEqual('moderate', entry['severity'])
        self.assertEqual(self.alarm['timestamp'], entry['timestamp'])
        self.assertTrue(entry['event_id'])

    def test_rule_change_lists_only_the_changed_fields(self):
        rule = {'event_type': 'compute.instance.*', 'query': []}
        self.request('PUT', '/v1/alarms/' + self.alarm_id, base.alarm_body(
            name='renamed', notification_rule=rule))

        entry = self.history(self.alarm_id)[0]

        self.assertEqual('rule change', entry['type'])
        self.assertEqual({'name': 'renamed', 'notification_rule': rule},
                         jsonutils.loads(entry['detail']))

    def test_replacing_with_the_same_alarm_records_nothing(self):
        self.request('PUT', '/v1/alarms/' + self.alarm_id,
                     base.alarm_body())

        self.assertEqual(['creation'],
                         [e['type'] for e in self.history(self.alarm_id)])

    def test_state_through_put_records_a_transition_too(self):
        self.request('PUT', '/v1/alarms/' + self.alarm_id,
                     base.alarm_body(state='alarm', severity='low'))

        entries = {e['type']: e for e in self.history(self.alarm_id)}

        self.assertEqual({'creation', 'rule change', 'state transition'},
                         set(entries))
        self.assertEqual({'severity': 'low'},
                         jsonutils.loads(entries['rule change']['detail']))
        detail = jsonutils.loads(entries['state transition']['detail'])
        self.assertEqual('alarm', detail['state'])
        self.assertEqual('insufficient data', detail['previous'])

    def test_state_set_records_a_transition(self):
        self.request('PUT', '/v1/alarms/%s/state' % self.alarm_id, 'ok')

        entry = self.history(self.alarm_id)[0]

        self.assertEqual('state transition', entry['type'])
        self.assertEqual('ok', jsonutils.loads(entry['detail'])['state'])

    def test_newest_first_with_limit_and_marker(self):
        for state in ('ok', 'alarm', 'ok'):
            self.request('PUT', '/v1/alarms/%s/state' % self.alarm_id,
                         state)
        path = '/v1/alarms/%s/history' % self.alarm_id

        first = self.request('GET', path + '?limit=2').json
        rest = self.request('GET', '%s?marker=%s'
                            % (path, first[-1]['event_id'])).json

        states = [jsonutils.loads(e['detail']).get('state')
                  for e in first + rest]
        self.assertEqual(['ok', 'alarm', 'ok', 'insufficient data'], states)
        self.assertEqual('creation', rest[-1]['type'])

    def test_bad_paging_is_400(self):
        path = '/v1/alarms/%s/history' % self.alarm_id
        for query, name in (('limit=x', 'limit'), ('limit=0', 'limit'),
                            ('marker=nope', 'marker'), ('since=1', 'since')):
            self.assert_error(self.request('GET', path + '?' + query), 400,
                              "'%s'" % name)

    def test_admin_reads_any_projects_history(self):
        response = self.as_admin('GET',
                                 '/v1/alarms/%s/history' % self.alarm_id)

        self.assertEqual(['creation'], [e['type'] for e in response.json])

    def test_deleted_alarm_history_is_readable_by_its_project(self):
        self.request('PUT', '/v1/alarms/%s/state' % self.alarm_id, 'ok')
        self.request('DELETE', '/v1/alarms/' + self.alarm_id)
        path = '/v1/alarms/%s/history' % self.alarm_id

        entries = self.request('GET', path, user=base.OTHER_USER).json
        page = self.request('GET', '%s?limit=1&marker=%s'
                            % (path, entries[0]['event_id'])).json

        self.assertEqual(['deletion', 'state transition', 'creation'],
                         [e['type'] for e in entries])
        self.assertEqual('ok',
                         jsonutils.loads(entries[0]['detail'])['state'])
        self.assertEqual(['state transition'], [e['type'] for e in page])

    def test_admin_reads_a_deleted_alarms_history(self):
        self.request('DELETE', '/v1/alarms/' + self.alarm_id)

        response = self.as_admin('GET',
                                 '/v1/alarms/%s/history' % self.alarm_id)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(['deletion', 'creation'],
                         [e['type'] for e in response.json])

    def test_deleted_alarm_history_is_404_to_another_project(self):
        self.request('DELETE', '/v1/alarms/' + self.alarm_id)

        response = self.request('GET',
                                '/v1/alarms/%s/history' % self.alarm_id,
                                project=base.OTHER_PROJECT)

        self.assert_error(response, 404, self.alarm_id)

    def test_deleted_alarm_history_follows_its_last_owner(self):
        self.as_admin('PUT', '/v1/alarms/' + self.alarm_id, base.alarm_body(
            project_id=base.OTHER_PROJECT, user_id=base.OTHER_USER))
        self.as_admin('DELETE', '/v1/alarms/' + self.alarm_id)
        path = '/v1/alarms/%s/history' % self.alarm_id

        response = self.request('GET', path, project=base.OTHER_PROJECT,
                                user=base.OTHER_USER)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(['deletion', 'rule change', 'creation'],
                         [e['type'] for e in response.json])
        self.assert_error(self.request('GET', path), 404, self.alarm_id)

    def _record_ownerless_action(self, alarm_id: str) -> None:
        # A failed delivery recorded by a release that left on_behalf_of
        # empty.
        self.db.record_change({
            'event_id': uuidutils.generate_uuid(), 'alarm_id': alarm_id,
            'type': 'action', 'detail': '{}', 'severity': None,
            'on_behalf_of': None, 'project_id': None, 'user_id': None,
            'timestamp': timeutils.utcnow()})

    def test_deleted_alarm_owner_is_found_past_ownerless_entries(self):
        self.request('DELETE', '/v1/alarms/' + self.alarm_id)
        for _ in range(3):
            self._record_ownerless_action(self.alarm_id)
        path = '/v1/alarms/%s/history' % self.alarm_id

        with mock.patch.object(alarms, '_OWNER_PAGE', 2):
            response = self.request('GET', path)
            other = self.request('GET', path, project=base.OTHER_PROJECT)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(5, len(response.json))
        self.assert_error(other, 404, self.alarm_id)

    def test_history_naming_no_project_is_for_admins(self):
        self._record_ownerless_action('gone-alarm')
        path = '/v1/alarms/gone-alarm/history'

        self.assert_error(self.request('GET', path), 404, 'gone-alarm')
        self.assertEqual(['action'], [e['type'] for e in
                                      self.as_admin('GET', path).json])

    def test_history_of_an_unknown_alarm_is_404(self):
        for caller in (self.request, self.as_admin):
            response = caller('GET', '/v1/alarms/no-such-alarm/history')

            self.assert_error(response, 404, 'no-such-alarm')

    def test_bad_marker_of_a_deleted_alarms_history_is_400(self):
        self.request('DELETE', '/v1/alarms/' + self.alarm_id)

        response = self.request(
            'GET', '/v1/alarms/%s/history?marker=nope' % self.alarm_id)

        self.assert_error(response, 400, "'marker'")
