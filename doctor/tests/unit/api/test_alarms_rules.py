"""POST /v1/alarms: actions, quotas and who may own the new alarm."""

from doctor.tests.unit.api import base


class TestActions(base.APITestCase):

    def test_every_action_list_is_stored(self):
        created = self.create(alarm_actions=['http://a/1', 'https://a/2'],
                              ok_actions=['http://a/ok'],
                              insufficient_data_actions=[])

        self.assertEqual(['http://a/1', 'https://a/2'],
                         created['alarm_actions'])
        self.assertEqual(['http://a/ok'], created['ok_actions'])

    def test_at_most_alarm_max_actions(self):
        self.config.config(alarm_max_actions=2, group='api')
        self.create(ok_actions=['http://a/1', 'http://a/2'])

        response = self.request('POST', '/v1/alarms', base.alarm_body(
            ok_actions=['http://a/1', 'http://a/2', 'http://a/3']))

        self.assert_error(response, 400, "'ok_actions'", 'at most 2')

    def test_unknown_scheme_names_the_action(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['http://a/1', 'gopher://a/2']))

        self.assert_error(response, 400, "'alarm_actions[1]'",
                          'gopher://a/2')
        self.assertEqual(0, self.db.count_alarms())

    def test_action_without_a_scheme_is_400(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            insufficient_data_actions=['/just/a/path']))

        self.assert_error(response, 400, "'insufficient_data_actions[0]'")

    def test_http_action_without_a_host_is_400(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['http:///alarm']))

        self.assert_error(response, 400, "'alarm_actions[0]'", 'no host')

    def test_internal_schemes_are_403_for_members(self):
        for scheme in ('log', 'test'):
            response = self.request('POST', '/v1/alarms', base.alarm_body(
                ok_actions=['%s://' % scheme]))

            self.assert_error(response, 403, 'ok_actions[0]',
                              'administrator', '%s:' % scheme)
        self.assertEqual(0, self.db.count_alarms())

    def test_internal_schemes_are_allowed_to_admins(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            alarm_actions=['log://', 'test://']))

        self.assertEqual(201, response.status_int, response.text)
        self.assertEqual(['log://', 'test://'],
                         response.json['alarm_actions'])

    def test_members_cannot_add_internal_schemes_by_replacing(self):
        alarm = self.create()

        response = self.request('PUT', '/v1/alarms/' + alarm['alarm_id'],
                                base.alarm_body(alarm_actions=['log://']))

        self.assert_error(response, 403, 'log:')


class TestQuotas(base.APITestCase):

    def test_project_quota(self):
        self.config.config(project_alarm_quota=2, group='api')
        self.create(user='someone')
        self.create(user='someone-else')

        response = self.request('POST', '/v1/alarms', base.alarm_body())

        self.assert_error(response, 403, 'quota', base.PROJECT)
        self.assertEqual(2, self.db.count_alarms())
        self.create(project=base.OTHER_PROJECT)

    def test_user_quota(self):
        self.config.config(user_alarm_quota=1, group='api')
        self.create()

        response = self.request('POST', '/v1/alarms', base.alarm_body())

        self.assert_error(response, 403, 'quota', base.USER)
        self.create(user=base.OTHER_USER)

    def test_deleting_frees_quota(self):
        self.config.config(project_alarm_quota=1, group='api')
        alarm = self.create()
        self.request('DELETE', '/v1/alarms/' + alarm['alarm_id'])

        self.create()

    def test_zero_quota_forbids_every_alarm(self):
        self.config.config(project_alarm_quota=0, group='api')

        self.assert_error(
            self.request('POST', '/v1/alarms', base.alarm_body()), 403)

    def test_no_quota_by_default(self):
        for _i in range(5):
            self.create()

        self.assertEqual(5, self.db.count_alarms())


class TestOwnership(base.APITestCase):

    def test_member_may_name_their_own_project_and_user(self):
        created = self.create(project_id=base.PROJECT, user_id=base.USER)

        self.assertEqual(base.PROJECT, created['project_id'])

    def test_member_naming_another_project_is_403(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            project_id=base.OTHER_PROJECT))

        self.assert_error(response, 403, 'alarm:create')
        self.assertEqual(0, self.db.count_alarms())

    def test_member_naming_another_user_is_403(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(
            user_id=base.OTHER_USER))

        self.assert_error(response, 403, 'another user')

    def test_admin_creates_for_another_project_and_user(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            project_id=base.OTHER_PROJECT, user_id=base.OTHER_USER))

        self.assertEqual(201, response.status_int, response.text)
        self.assertEqual(base.OTHER_PROJECT, response.json['project_id'])
        self.assertEqual(base.OTHER_USER, response.json['user_id'])
        listed = self.request('GET', '/v1/alarms',
                              project=base.OTHER_PROJECT).json
        self.assertEqual([response.json['alarm_id']],
                         [alarm['alarm_id'] for alarm in listed])

    def test_admin_naming_only_a_project_owns_the_alarm_as_themself(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            project_id=base.OTHER_PROJECT))

        self.assertEqual(base.ADMIN_USER, response.json['user_id'])

    def test_other_projects_quota_counts_for_admin_creations(self):
        self.config.config(project_alarm_quota=1, group='api')
        self.create(project=base.OTHER_PROJECT)

        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            project_id=base.OTHER_PROJECT))

        self.assert_error(response, 403, 'quota', base.OTHER_PROJECT)


class TestInfrastructureEvents(base.APITestCase):
    """Whether an alarm sees events that name no project (hosts, services).

    The policy decides for the caller who creates or replaces the alarm;
    the body cannot ask for it.
    """

    def _stored(self, alarm_id: str) -> bool:
        return self.db.get_alarm(alarm_id)['infrastructure']

    def test_members_alarms_do_not(self):
        alarm = self.create(resource_id='compute-0')

        self.assertIs(False, self._stored(alarm['alarm_id']))
        self.assertIs(False,
                      self.alarm_changed.call_args.args[2].infrastructure)

    def test_admins_alarms_do(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            resource_id='compute-0'))

        self.assertEqual(201, response.status_int, response.text)
        self.assertIs(True, self._stored(response.json['alarm_id']))
        self.assertIs(True,
                      self.alarm_changed.call_args.args[2].infrastructure)

    def test_admin_creating_for_a_project_gives_the_flag(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            project_id=base.PROJECT, user_id=base.USER))

        self.assertEqual(201, response.status_int, response.text)
        self.assertIs(True, self._stored(response.json['alarm_id']))

    def test_replacement_takes_the_replacing_callers_right(self):
        alarm = self.create()
        path = '/v1/alarms/' + alarm['alarm_id']

        response = self.as_admin('PUT', path, base.alarm_body())
        self.assertEqual(200, response.status_int, response.text)
        self.assertIs(True, self._stored(alarm['alarm_id']))
        self.assertIs(True,
                      self.alarm_changed.call_args.args[2].infrastructure)

        response = self.request('PUT', path, base.alarm_body())
        self.assertEqual(200, response.status_int, response.text)
        self.assertIs(False, self._stored(alarm['alarm_id']))
        self.assertIs(False,
                      self.alarm_changed.call_args.args[2].infrastructure)

    def test_the_body_cannot_ask_for_it(self):
        for body in (base.alarm_body(infrastructure=True),
                     base.alarm_body(infrastructure=False)):
            response = self.request('POST', '/v1/alarms', body)

            self.assert_error(response, 400, 'infrastructure')
        self.assertEqual(0, self.db.count_alarms())

    def test_it_is_not_shown(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body())

        self.assertNotIn('infrastructure', response.json)
