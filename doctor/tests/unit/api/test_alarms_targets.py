"""Alarm actions: denied webhook targets refused, passwords never shown."""

import fixtures
from oslo_serialization import jsonutils

from doctor.tests.unit.api import base

SECRET = 's3cret'
WITH_PASSWORD = 'http://vnfm:%s@site:8000/alarm' % SECRET
MASKED = 'http://vnfm:***@site:8000/alarm'


class TestDeniedTargets(base.APITestCase):

    def test_a_denied_literal_address_answers_400_naming_the_action(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['http://site/ok', 'http://0x7f.1:5432/']))
        self.assert_error(
            response, 400,
            "Invalid value for 'alarm_actions[1]': 'http://0x7f.1:5432/' is "
            "in a denied network: its host 0x7f.1 is the address "
            "127.0.0.1, in 127.0.0.0/8")

    def test_every_action_field_is_checked(self):
        for field, url in (
                ('ok_actions', 'http://[::ffff:169.254.169.254]/'),
                ('insufficient_data_actions', 'https://2130706433/'),
                ('alarm_actions', 'http://0.0.0.0:12345/v1/alarms'),
                ('alarm_actions', 'http://[::1]:6379/')):
            response = self.request('POST', '/v1/alarms',
                                    base.alarm_body(**{field: [url]}))
            self.assert_error(response, 400, "'%s[0]'" % field,
                              'is in a denied network')

    def test_the_refusal_masks_the_password(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['http://vnfm:%s@169.254.169.254/' % SECRET]))
        self.assert_error(response, 400, 'http://vnfm:***@169.254.169.254/')
        self.assertNotIn(SECRET, response.text)

    def test_replacing_with_a_denied_address_answers_400(self):
        alarm = self.create()
        response = self.request(
            'PUT', '/v1/alarms/%s' % alarm['alarm_id'],
            dict(alarm, alarm_actions=['http://127.0.0.1:12345/']))
        self.assert_error(response, 400, "'alarm_actions[0]'",
                          'is in a denied network')

    def test_a_name_is_accepted_and_checked_at_delivery(self):
        self.create(alarm_actions=['http://localhost:5432/'])

    def test_allowed_networks_reopen_a_denied_one(self):
        self.config.config(allowed_networks=['127.0.0.0/8'],
                           group='notifier')
        created = self.create(alarm_actions=['http://127.0.0.1:12346/x'])
        self.assertEqual(['http://127.0.0.1:12346/x'],
                         created['alarm_actions'])

    def test_other_schemes_are_not_checked(self):
        created = self.create(roles='admin', alarm_actions=['log://127.0.0.1'])
        self.assertEqual(['log://127.0.0.1'], created['alarm_actions'])


class TestMaskedCredentials(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.alarm = self.create(alarm_actions=[WITH_PASSWORD],
                                 ok_actions=['https://token@site/ok'])
        self.alarm_id = self.alarm['alarm_id']
        self.path = '/v1/alarms/%s' % self.alarm_id

    def test_answers_mask_the_password(self):
        for response in (self.request('GET', self.path),
                         self.request('GET', '/v1/alarms')):
            self.assertEqual(200, response.status_int)
            self.assertNotIn(SECRET, response.text)
            self.assertNotIn('token@', response.text)
        self.assertEqual([MASKED], self.alarm['alarm_actions'])
        self.assertEqual(['https://***@site/ok'], self.alarm['ok_actions'])

    def test_the_stored_alarm_keeps_the_password_for_delivery(self):
        self.assertEqual([WITH_PASSWORD],
                         self.db.get_alarm(self.alarm_id)['alarm_actions'])

    def test_history_and_notifications_mask_the_password(self):
        self.request('PUT', self.path, dict(
            self.alarm, alarm_actions=['http://vnfm:other@site:8000/alarm']))
        history = self.history(self.alarm_id)
        self.assertEqual(['rule change', 'creation'],
                         [entry['type'] for entry in history])
        self.assertNotIn(SECRET, jsonutils.dumps(history))
        self.assertNotIn('other@', jsonutils.dumps(history))
        self.assertEqual([MASKED], jsonutils.loads(
            history[0]['detail'])['alarm_actions'])
        self.assertNotIn(SECRET, jsonutils.dumps(self.events()))
        self.assertNotIn(SECRET, self.logger.output)

    def test_history_stored_unmasked_before_is_masked_when_read(self):
        [creation] = self.db.get_alarm_changes(self.alarm_id)
        detail = jsonutils.loads(creation['detail'])
        detail['alarm_actions'] = [WITH_PASSWORD]
        self.db.record_change(dict(creation, event_id='older-entry',
                                   detail=jsonutils.dumps(detail)))
        self.assertNotIn(SECRET, jsonutils.dumps(self.history(
            self.alarm_id)))

    def test_sending_back_what_get_answered_keeps_the_password(self):
        shown = self.request('GET', self.path).json
        response = self.request('PUT', self.path,
                                dict(shown, severity='critical'))
        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual([MASKED], response.json['alarm_actions'])
        stored = self.db.get_alarm(self.alarm_id)
        self.assertEqual([WITH_PASSWORD], stored['alarm_actions'])
        self.assertEqual(['https://token@site/ok'], stored['ok_actions'])
        # Only the severity changed.
        self.assertEqual({'severity': 'critical'}, jsonutils.loads(
            self.history(self.alarm_id)[0]['detail']))

    def test_a_new_password_replaces_the_stored_one(self):
        changed = 'http://vnfm:new@site:8000/alarm'
        self.request('PUT', self.path,
                     dict(self.alarm, alarm_actions=[changed]))
        self.assertEqual([changed],
                         self.db.get_alarm(self.alarm_id)['alarm_actions'])
        self.assertEqual(['alarm_actions'], list(jsonutils.loads(
            self.history(self.alarm_id)[0]['detail'])))

    def test_errors_mask_the_password(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['gopher://vnfm:%s@site/' % SECRET]))
        self.assert_error(response, 400, 'gopher://vnfm:***@site/')
        self.assertNotIn(SECRET, response.text)
        self.assertNotIn(SECRET, self.logger.output)

    def test_schema_errors_mask_the_password(self):
        for actions in ([WITH_PASSWORD, WITH_PASSWORD], WITH_PASSWORD):
            response = self.request('POST', '/v1/alarms', base.alarm_body(
                alarm_actions=actions))
            self.assert_error(response, 400, "'alarm_actions'", MASKED)
            self.assertNotIn(SECRET, response.text)
        self.assertNotIn(SECRET, self.logger.output)
