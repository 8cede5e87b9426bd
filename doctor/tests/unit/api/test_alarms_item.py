"""GET, PUT and DELETE /v1/alarms/{id}, and who may touch an alarm."""

from oslo_serialization import jsonutils

from doctor.tests.unit.api import base


class TestAccess(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.alarm = self.create()
        self.path = '/v1/alarms/' + self.alarm['alarm_id']

    def test_another_users_alarm_of_the_same_project_is_readable(self):
        response = self.request('GET', self.path, user=base.OTHER_USER)

        self.assertEqual(200, response.status_int)

    def test_another_projects_alarm_is_404_everywhere(self):
        for method, suffix, body in (
                ('GET', '', None), ('PUT', '', base.alarm_body()),
                ('DELETE', '', None), ('GET', '/state', None),
                ('PUT', '/state', 'ok'), ('GET', '/history', None)):
            kwargs = {} if body is None else {'body': body}
            response = self.request(method, self.path + suffix,
                                    project=base.OTHER_PROJECT, **kwargs)
            self.assert_error(response, 404, self.alarm['alarm_id'])
        self.assertEqual(self.alarm, self.request('GET', self.path).json)

    def test_unknown_alarm_is_404(self):
        response = self.request('GET', '/v1/alarms/no-such-alarm')

        self.assert_error(response, 404, 'no-such-alarm')

    def test_admin_reaches_any_projects_alarm(self):
        response = self.as_admin('GET', self.path)

        self.assertEqual(self.alarm, response.json)

    def test_request_without_a_project_is_401(self):
        response = self.request('GET', self.path, project=None)

        self.assert_error(response, 401)


class TestReplace(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.alarm = self.create()
        self.path = '/v1/alarms/' + self.alarm['alarm_id']

    def test_replacement_is_answered_and_stored(self):
        body = base.alarm_body(name='renamed', severity='critical',
                               enabled=False, ok_actions=['http://a/ok'])

        response = self.request('PUT', self.path, body)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual('renamed', response.json['name'])
        self.assertEqual('critical', response.json['severity'])
        self.assertFalse(response.json['enabled'])
        self.assertEqual(['http://a/ok'], response.json['ok_actions'])
        self.assertEqual(response.json,
                         self.request('GET', self.path).json)

    def test_what_get_returned_can_be_put_back(self):
        fetched = self.request('GET', self.path).json
        fetched['description'] = 'changed'

        response = self.request('PUT', self.path, fetched)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual('changed', response.json['description'])

    def test_identity_and_creation_are_kept(self):
        response = self.request('PUT', self.path, base.alarm_body(
            name='renamed'), user=base.OTHER_USER)

        self.assertEqual(self.alarm['alarm_id'], response.json['alarm_id'])
        self.assertEqual(base.PROJECT, response.json['project_id'])
        self.assertEqual(base.USER, response.json['user_id'])
        self.assertEqual(self.alarm['state_timestamp'],
                         response.json['state_timestamp'])
        self.assertGreater(response.json['timestamp'],
                           self.alarm['timestamp'])

    def test_read_only_fields_in_the_body_are_ignored(self):
        body = base.alarm_body(timestamp='2000-01-01T00:00:00',
                               state_timestamp='2000-01-01T00:00:00',
                               state_reason='made up',
                               alarm_id=self.alarm['alarm_id'])

        response = self.request('PUT', self.path, body)

        self.assertEqual(200, response.status_int, response.text)
        self.assertNotEqual('2000-01-01T00:00:00', response.json['timestamp'])
        self.assertNotEqual('made up', response.json['state_reason'])

    def test_alarm_id_of_another_alarm_is_400(self):
        response = self.request('PUT', self.path, base.alarm_body(
            alarm_id='another'))

        self.assert_error(response, 400, "'alarm_id'")

    def test_state_is_kept_unless_given(self):
        self.request('PUT', self.path + '/state', 'alarm')

        response = self.request('PUT', self.path, base.alarm_body())

        self.assertEqual('alarm', response.json['state'])

    def test_state_given_in_the_replacement_is_set(self):
        response = self.request('PUT', self.path,
                                base.alarm_body(state='ok'))

        self.assertEqual('ok', response.json['state'])
        self.assertGreater(response.json['state_timestamp'],
                           self.alarm['state_timestamp'])

    def test_same_validation_as_creation(self):
        for body, field in (
                (base.alarm_body(severity='urgent'), 'severity'),
                (base.alarm_body(colour='red'), 'colour'),
                (base.alarm_body(resource_id='a b'), 'resource_id'),
                (base.alarm_body(alarm_actions=['gopher://x']),
                 'alarm_actions[0]')):
            response = self.request('PUT', self.path, body)
            self.assert_error(response, 400, "'%s'" % field)
        self.assertEqual(self.alarm, self.request('GET', self.path).json)

    def test_timeout_moves_the_deadline(self):
        self.assertIsNone(self.db.get_alarm(self.alarm['alarm_id'])
                          ['deadline'])
        rule = dict(base.alarm_body()['notification_rule'], timeout=60)

        self.request('PUT', self.path, base.alarm_body(
            notification_rule=rule))

        self.assertIsNotNone(self.db.get_alarm(self.alarm['alarm_id'])
                             ['deadline'])
        self.request('PUT', self.path, base.alarm_body())
        self.assertIsNone(self.db.get_alarm(self.alarm['alarm_id'])
                          ['deadline'])

    def test_member_cannot_move_the_alarm_to_another_project(self):
        response = self.request('PUT', self.path, base.alarm_body(
            project_id=base.OTHER_PROJECT))

        self.assert_error(response, 403, 'alarm:update')
        self.assertEqual(base.PROJECT,
                         self.request('GET', self.path).json['project_id'])

    def test_member_cannot_give_the_alarm_to_another_user(self):
        response = self.request('PUT', self.path, base.alarm_body(
            user_id=base.OTHER_USER))

        self.assert_error(response, 403, 'another user')

    def test_admin_may_move_the_alarm(self):
        response = self.as_admin('PUT', self.path, base.alarm_body(
            project_id=base.OTHER_PROJECT, user_id=base.OTHER_USER))

        self.assertEqual(base.OTHER_PROJECT, response.json['project_id'])
        self.assertEqual(base.OTHER_USER, response.json['user_id'])
        self.assert_error(self.request('GET', self.path), 404)

    def test_admin_replacement_keeps_the_owner(self):
        response = self.as_admin('PUT', self.path, base.alarm_body())

        self.assertEqual(base.PROJECT, response.json['project_id'])
        self.assertEqual(base.USER, response.json['user_id'])

    def test_malformed_json_is_400(self):
        response = self.request('PUT', self.path, raw=b'[1, 2')

        self.assert_error(response, 400, 'not valid JSON')


class TestDelete(base.APITestCase):

    def test_delete_answers_204_without_a_body(self):
        alarm = self.create()
        path = '/v1/alarms/' + alarm['alarm_id']

        response = self.request('DELETE', path)

        self.assertEqual(204, response.status_int)
        self.assertEqual(b'', response.body)
        self.assert_error(self.request('GET', path), 404)
        self.assert_error(self.request('DELETE', path), 404)

    def test_admin_deletes_any_projects_alarm(self):
        alarm = self.create(project=base.OTHER_PROJECT)

        response = self.as_admin('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        self.assertEqual(204, response.status_int)
        self.assertEqual(0, self.db.count_alarms())

    def test_history_is_kept_in_the_database(self):
        alarm = self.create()

        self.request('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        changes = self.db.get_alarm_changes(alarm['alarm_id'])
        self.assertEqual(['deletion', 'creation'],
                         [change['type'] for change in changes])
        self.assertEqual(alarm, jsonutils.loads(changes[0]['detail']))


class TestQueryStrings(base.APITestCase):

    def test_unknown_query_parameters_are_named_on_every_path(self):
        alarm = self.create()
        path = '/v1/alarms/' + alarm['alarm_id']
        for method, url, body in (
                ('POST', '/v1/alarms', base.alarm_body()),
                ('GET', path, None), ('PUT', path, base.alarm_body()),
                ('DELETE', path, None), ('GET', path + '/state', None),
                ('PUT', path + '/state', 'ok')):
            kwargs = {} if body is None else {'body': body}
            response = self.request(method, url + '?all_projects=true',
                                    **kwargs)
            self.assert_error(response, 400, "'all_projects'")
        self.assertEqual(1, self.db.count_alarms())
        self.assertEqual(alarm, self.request('GET', path).json)
