"""doctor's API behind a real Keystone: tokens, projects and roles.

doctor-api runs with ``[api] auth_strategy = keystone`` and a
``[keystone_authtoken]`` section as a deployment has it: keystonemiddleware
validates every token with Keystone as doctor's service user. The callers
are real Keystone users with project-scoped tokens: the members of
``tenant-a`` and ``tenant-b`` and the cloud administrator (the ``admin``
user on the ``admin`` project). Keystone is shared by every test of the
process (see :mod:`doctor.tests.functional.keystone`); each test gets its
own API server on a free port and empty tables.
"""

import uuid

import requests

from doctor.api import service as api_service
from doctor.tests.functional import base
from doctor.tests.functional import keystone
from doctor.tests.unit.api import base as api_base

TENANT_A = 'tenant-a'
TENANT_B = 'tenant-b'
HTTP_TIMEOUT = 30


class KeystoneAuthTest(base.FunctionalTestCase):
    """The API with keystonemiddleware and Keystone's own tokens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Started here, outside the tests' time limit: the first run on a
        # machine installs Keystone. A failure is remembered and reported
        # by each test's setUp.
        try:
            keystone.shared()
        except Exception:
            pass

    def setUp(self):
        super().setUp()
        self.keystone = keystone.require(self)
        self.admin = self.keystone.admin
        self.member_a = self.keystone.members[TENANT_A]
        self.member_b = self.keystone.members[TENANT_B]
        self.use_database('sqlite')
        self._configure_api()
        api = api_service.APIService(self.conf)
        api.start()
        self.addCleanup(api.stop)
        self.endpoint = 'http://%s:%d' % (base.HOST, api.port)

    def _configure_api(self) -> None:
        """``[api]`` and ``[keystone_authtoken]`` as a deployment has them."""
        self.config.config(auth_strategy='keystone', host=base.HOST, port=0,
                           group='api')
        keystone.configure_authtoken(self, self.keystone)

    # calling the API

    def call(self, method: str, path: str, caller=None, json=None,
             token: str | None = None, headers: dict | None = None,
             expected: int | None = None) -> requests.Response:
        """One request, with the token of ``caller`` (a keystone.User)."""
        all_headers = dict(headers or {})
        if caller is not None:
            token = self.keystone.token(caller)
        if token is not None:
            all_headers['X-Auth-Token'] = token
        response = requests.request(method, self.endpoint + path, json=json,
                                    headers=all_headers,
                                    timeout=HTTP_TIMEOUT)
        if expected is not None:
            self.assertEqual(expected, response.status_code, response.text)
        return response

    def create(self, caller, **overrides) -> dict:
        return self.call('POST', '/v1/alarms', caller,
                         api_base.alarm_body(**overrides), expected=201).json()

    def listed(self, caller, query: str = '') -> set[str]:
        """The ids of the alarms ``caller`` lists."""
        response = self.call('GET', '/v1/alarms' + query, caller,
                             expected=200)
        return {alarm['alarm_id'] for alarm in response.json()}

    def assert_error(self, response: requests.Response, status: int,
                     *fragments: str) -> str:
        """Check a JSON error answer; returns its message."""
        self.assertEqual(status, response.status_code, response.text)
        self.assertEqual('application/json',
                         response.headers['Content-Type'].split(';')[0])
        self.assertNotIn('Traceback', response.text)
        fault = response.json()['error_message']
        self.assertEqual('Client', fault['faultcode'])
        for fragment in fragments:
            self.assertIn(fragment, fault['faultstring'])
        return fault['faultstring']

    def assert_unauthorized(self, response: requests.Response) -> None:
        """Check keystonemiddleware's refusal: a JSON 401 and its header.

        The body is keystonemiddleware's own (``{"error": {"code",
        "title", "message"}}``), as in every OpenStack API behind it.
        """
        self.assertEqual(401, response.status_code, response.text)
        self.assertEqual('application/json',
                         response.headers['Content-Type'].split(';')[0])
        self.assertNotIn('Traceback', response.text)
        error = response.json()['error']
        self.assertEqual(401, error['code'])
        self.assertIn('requires authentication', error['message'])
        # The client is told where to get a token.
        self.assertEqual('Keystone uri="%s"' % self.keystone.root_url,
                         response.headers['WWW-Authenticate'])

    # tests

    def test_versions_need_no_token(self):
        response = self.call('GET', '/', expected=200)

        self.assertEqual('v1', response.json()['versions'][0]['id'])

    def test_request_without_a_token_is_refused(self):
        for method, path in (('GET', '/v1/alarms'),
                             ('POST', '/v1/alarms'),
                             ('GET', '/v1/alarms/%s' % uuid.uuid4()),
                             ('GET', '/v1')):
            response = self.call(method, path, json=api_base.alarm_body())
            self.assert_unauthorized(response)
        self.assertEqual(0, self.db.count_alarms())

    def test_invalid_token_is_refused(self):
        # Well formed, as a Fernet token is, but not one Keystone issued.
        token = self.keystone.token(self.member_a)
        forged = token[:-8] + ('A' if token[-8] != 'A' else 'B') + token[-7:]

        for bad in (forged, uuid.uuid4().hex):
            response = self.call('POST', '/v1/alarms',
                                 json=api_base.alarm_body(), token=bad)
            self.assert_unauthorized(response)
        self.assertEqual(0, self.db.count_alarms())

    def test_token_not_scoped_to_a_project_is_forbidden(self):
        # The cloud admin's system-scoped token is valid, but every alarm
        # belongs to a project: the caller is told to scope the token
        # (403), not to authenticate again (401).
        token = self.keystone.token(self.admin, system=True)

        for method, path, body in (
                ('GET', '/v1/alarms', None),
                ('GET', '/v1/alarms?all_projects=true', None),
                ('POST', '/v1/alarms', api_base.alarm_body())):
            response = self.call(method, path, json=body, token=token)
            self.assert_error(response, 403, 'project-scoped token')
            self.assertNotIn('WWW-Authenticate', response.headers)
        self.assertEqual(0, self.db.count_alarms())

    def test_identity_headers_of_the_client_are_ignored(self):
        # A member claims tenant-b's project, another user and the admin
        # role: only the token counts.
        response = self.call(
            'POST', '/v1/alarms', self.member_a, api_base.alarm_body(),
            headers={'X-Project-Id': self.member_b.project_id,
                     'X-User-Id': self.member_b.user_id,
                     'X-Roles': 'admin'},
            expected=201)

        created = response.json()
        self.assertEqual((self.member_a.project_id, self.member_a.user_id),
                         (created['project_id'], created['user_id']))
        self.assert_error(
            self.call('GET', '/v1/alarms?all_projects=true', self.member_a,
                      headers={'X-Roles': 'admin'}), 403)

    def test_member_creates_an_alarm_of_their_project(self):
        created = self.create(self.member_a)

        self.assertEqual(self.member_a.project_id, created['project_id'])
        self.assertEqual(self.member_a.user_id, created['user_id'])
        shown = self.call('GET', '/v1/alarms/%s' % created['alarm_id'],
                          self.member_a, expected=200).json()
        self.assertEqual(created, shown)
        [creation] = self.call(
            'GET', '/v1/alarms/%s/history' % created['alarm_id'],
            self.member_a, expected=200).json()
        self.assertEqual((self.member_a.project_id, self.member_a.user_id),
                         (creation['project_id'], creation['user_id']))

    def test_member_cannot_create_an_alarm_in_another_project(self):
        response = self.call(
            'POST', '/v1/alarms', self.member_a,
            api_base.alarm_body(project_id=self.member_b.project_id))

        self.assert_error(response, 403)
        self.assertEqual(0, self.db.count_alarms())

    def test_projects_do_not_see_each_others_alarms(self):
        alarm_a = self.create(self.member_a)['alarm_id']
        alarm_b = self.create(self.member_b)['alarm_id']

        self.assertEqual({alarm_a}, self.listed(self.member_a))
        self.assertEqual({alarm_b}, self.listed(self.member_b))
        path = '/v1/alarms/%s' % alarm_a
        for method, suffix, body in (
                ('GET', '', None),
                ('PUT', '', api_base.alarm_body(name='taken over')),
                ('DELETE', '', None),
                ('GET', '/state', None),
                ('PUT', '/state', 'alarm'),
                ('GET', '/history', None)):
            response = self.call(method, path + suffix, self.member_b,
                                 json=body)
            self.assert_error(response, 404, alarm_a)
        # Nor by asking for tenant-a's project, or for every project.
        for query in ('?project_id=%s' % self.member_a.project_id,
                      '?all_projects=true'):
            response = self.call('GET', '/v1/alarms' + query,
                                 self.member_b)
            self.assert_error(response, 403)
        unchanged = self.call('GET', path, self.member_a,
                              expected=200).json()
        self.assertEqual(('InstanceStatusAlarm', 'insufficient data'),
                         (unchanged['name'], unchanged['state']))

    def test_cloud_admin_sees_and_manages_every_project(self):
        alarm_a = self.create(self.member_a)['alarm_id']
        alarm_b = self.create(self.member_b)['alarm_id']

        # Their own project's only, unless they ask for more.
        self.assertEqual(set(), self.listed(self.admin))
        self.assertEqual({alarm_a, alarm_b},
                         self.listed(self.admin, '?all_projects=true'))
        self.assertEqual(
            {alarm_b},
            self.listed(self.admin,
                        '?project_id=%s' % self.member_b.project_id))
        shown = self.call('GET', '/v1/alarms/%s' % alarm_a, self.admin,
                          expected=200).json()
        self.assertEqual(self.member_a.project_id, shown['project_id'])
        self.call('DELETE', '/v1/alarms/%s' % alarm_b, self.admin,
                  expected=204)
        self.assertEqual({alarm_a},
                         self.listed(self.admin, '?all_projects=true'))
        # And may create an alarm for a tenant.
        given = self.create(self.admin, project_id=self.member_b.project_id,
                            user_id=self.member_b.user_id)
        self.assertIn(given['alarm_id'], self.listed(self.member_b))

    def test_internal_action_schemes_are_for_admins_only(self):
        for action in ('log://', 'test://'):
            for field in ('alarm_actions', 'ok_actions'):
                response = self.call('POST', '/v1/alarms', self.member_a,
                                     api_base.alarm_body(**{field: [action]}))
                self.assert_error(response, 403, 'only an administrator',
                                  action.rstrip('/'))
        self.assertEqual(0, self.db.count_alarms())
        # Nor may a member's own alarm be changed to use one.
        alarm = self.create(self.member_a)
        response = self.call('PUT', '/v1/alarms/%s' % alarm['alarm_id'],
                             self.member_a,
                             api_base.alarm_body(alarm_actions=['log://']))
        self.assert_error(response, 403, 'only an administrator')

        created = self.create(self.admin,
                              alarm_actions=['log://', 'test://'])
        self.assertEqual(['log://', 'test://'], created['alarm_actions'])
