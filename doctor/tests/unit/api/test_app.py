"""The WSGI app: authentication strategies, request ids, the WSGI entry."""

from unittest import mock

from keystonemiddleware import auth_token

from doctor.api import wsgi
from doctor.common import service as doctor_service
from doctor.tests.unit.api import base


class TestKeystoneStrategy(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.config.config(auth_strategy='keystone', group='api')
        for group, opts in auth_token.list_opts():
            self.conf.register_opts(opts, group=group)
        self.config.config(www_authenticate_uri='http://keystone.test/v3',
                           group='keystone_authtoken')

    def test_requests_without_a_token_are_401(self):
        response = self.request('GET', '/v1/alarms')

        self.assertEqual(401, response.status_int)
        self.assertEqual('Keystone uri="http://keystone.test/v3"',
                         response.headers['WWW-Authenticate'])
        self.assertNotIn('Traceback', response.text)

    def test_unconfigured_keystonemiddleware_answers_a_json_500(self):
        self.config.config(www_authenticate_uri=None,
                           group='keystone_authtoken')

        response = self.request('GET', '/v1/alarms')

        self.assert_error(response, 500, 'has been logged')

    def test_identity_headers_are_not_trusted(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body(),
                                roles='admin')

        self.assertEqual(401, response.status_int)
        self.assertEqual(0, self.db.count_alarms())

    def test_versions_are_public(self):
        response = self.request('GET', '/', project=None, user=None)

        self.assertEqual(200, response.status_int)
        self.assertEqual('v1', response.json['versions'][0]['id'])

    def test_keystone_options_are_registered_on_the_configuration(self):
        self.assertIsNotNone(self.app)

        self.assertIn('www_authenticate_uri', self.conf.keystone_authtoken)


class TestNoAuthStrategy(base.APITestCase):

    def test_identity_comes_from_the_headers(self):
        created = self.create(project='p-1', user='u-1')

        self.assertEqual('p-1', created['project_id'])
        self.assertEqual('u-1', created['user_id'])

    def test_request_id_of_the_answer_is_the_one_cast(self):
        response = self.request('POST', '/v1/alarms', base.alarm_body())

        context = self.alarm_changed.call_args.args[1]
        self.assertEqual(response.headers['X-OpenStack-Request-ID'],
                         context.request_id)


class TestHooks(base.APITestCase):

    def test_one_database_connection_serves_every_request(self):
        for _i in range(3):
            self.create()
        self.request('GET', '/v1/alarms')

        self.get_connection.assert_called_once_with(self.conf)

    def test_admin_role_is_recognised_in_the_context(self):
        self.as_admin('POST', '/v1/alarms', base.alarm_body())

        context = self.alarm_changed.call_args.args[1]
        self.assertTrue(context.is_admin)
        self.assertEqual(['admin'], context.roles)

    def test_members_are_not_admins(self):
        self.create()

        self.assertFalse(self.alarm_changed.call_args.args[1].is_admin)


class TestWSGIEntryPoint(base.APITestCase):

    def test_app_is_built_from_a_configuration_parsed_without_argv(self):
        with mock.patch.object(doctor_service, 'prepare_service',
                               autospec=True,
                               return_value=self.conf) as prepare:
            app = wsgi.initialize_wsgi_app()

        prepare.assert_called_once_with([])
        self._app = app
        response = self.request('GET', '/')
        self.assertEqual(200, response.status_int)
