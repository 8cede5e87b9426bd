"""Requests the API cannot handle are 400s (or 408/413), never 500s.

Each answer has doctor's error body and leaves one INFO log line: no
traceback, no ERROR.
"""

import io
import logging

import fixtures
from oslo_serialization import jsonutils
import webob

from doctor.api import errors
from doctor.api import request_checks
from doctor.tests import base as test_base
from doctor.tests.unit.api import base

ITEM_ROUTES = (
    ('GET', '/v1/alarms/%s'), ('PUT', '/v1/alarms/%s'),
    ('DELETE', '/v1/alarms/%s'), ('GET', '/v1/alarms/%s/state'),
    ('PUT', '/v1/alarms/%s/state'), ('GET', '/v1/alarms/%s/history'),
    ('GET', '/v1/hosts/%s'), ('PUT', '/v1/hosts/%s'),
    ('GET', '/v1/ports/%s'), ('PUT', '/v1/ports/%s'),
    ('GET', '/v1/entities/%s'), ('GET', '/v1/faults/%s'),
)

BODY_ROUTES = (
    ('POST', '/v1/alarms'), ('PUT', '/v1/alarms/an-alarm'),
    ('PUT', '/v1/alarms/an-alarm/state'), ('POST', '/v1/events'),
    ('PUT', '/v1/hosts/compute-0'), ('PUT', '/v1/ports/a-port'),
)


class _LoggedTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO, format='%(levelname)s %(name)s: '
                                       '%(message)s'))
        self._logged = 0

    def assert_one_log_line(self, status: int) -> None:
        """The last request left one line, at INFO, naming its answer."""
        output = self.log.output
        lines = output[self._logged:].splitlines()
        self._logged = len(output)
        self.assertEqual(1, len(lines), self.log.output)
        self.assertTrue(lines[0].startswith('INFO '), lines[0])
        self.assertIn('answered %d' % status, lines[0])

    def refused(self, response: webob.Response, status: int,
                *fragments: str) -> None:
        self.assert_error(response, status, *fragments)
        self.assert_one_log_line(status)


class TestPaths(_LoggedTestCase):

    def test_path_not_utf8_is_400_on_every_item_route(self):
        for method, route in ITEM_ROUTES:
            response = self.as_admin(method, route % '%ff', {})
            self.refused(response, 400, 'not valid UTF-8')

    def test_nul_in_a_path_id_is_400(self):
        for method, route in ITEM_ROUTES:
            response = self.as_admin(method, route % 'a%00b', {})
            self.refused(response, 400, 'NUL')

    def test_error_answer_to_an_undecodable_path_names_it_quoted(self):
        request = webob.Request.blank('/v1/alarms/%ff')

        response = errors.to_response(webob.exc.HTTPNotFound(), request)

        self.assertIn('/v1/alarms/%FF was not found',
                      response.json['error_message']['faultstring'])


class TestQueryStrings(_LoggedTestCase):

    def test_nul_in_a_query_parameter_is_400(self):
        for path in ('/v1/alarms?name=a%00', '/v1/alarms?na%00me=a',
                     '/v1/entities?type=host%00', '/v1/hosts?x=%00'):
            response = self.as_admin('GET', path)
            self.refused(response, 400, 'NUL')


class TestIdentityHeaders(_LoggedTestCase):

    def test_identity_longer_than_its_column_is_400(self):
        for caller in ({'project': 'p' * 129}, {'user': 'u' * 129}):
            response = self.request('POST', '/v1/alarms',
                                    base.alarm_body(), **caller)
            self.refused(response, 400, 'longer than 128')
        self.assertEqual([], self.db.get_alarms())

    def test_headers_set_to_none_by_earlier_middleware_pass(self):
        # keystonemiddleware removes a header by setting it to None.
        request_checks._check_headers({
            'HTTP_X_SERVICE_CATALOG': None, 'HTTP_X_USER_ID': None,
            'HTTP_X_PROJECT_ID': None, 'HTTP_X_ROLES': 'member'})

    def test_identity_as_long_as_its_column_is_accepted(self):
        self.create(project='p' * 128, user='u' * 128)


class TestBodies(_LoggedTestCase):

    def test_deeply_nested_json_is_400_on_every_body_route(self):
        for method, path in BODY_ROUTES:
            response = self.as_admin(method, path, raw=b'[' * 5000)
            self.refused(response, 400, 'more than 32 deep')

    def test_nesting_within_the_limit_reaches_the_schema(self):
        depth = request_checks.MAX_JSON_DEPTH
        response = self.request('POST', '/v1/alarms',
                                raw=b'[' * depth + b']' * depth)
        self.assert_error(response, 400, 'must be a JSON object')

    def _form(self, content_type: str, body: bytes) -> webob.Response:
        request = webob.Request.blank(
            '/v1/alarms', method='POST',
            headers={'X-Roles': 'member', 'X-Project-Id': base.PROJECT,
                     'X-User-Id': base.USER})
        request.body = body
        request.content_type = content_type
        return request.get_response(self.app)

    def test_multipart_without_boundary_is_400(self):
        response = self._form('multipart/form-data', b'{}')
        self.refused(response, 400, 'not forms')

    def test_multipart_with_a_boundary_is_400(self):
        response = self._form(
            'multipart/form-data; boundary=b',
            b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\n'
            b'x\r\n--b--\r\n')
        self.refused(response, 400, 'not forms')

    def test_urlencoded_form_is_400(self):
        response = self._form('application/x-www-form-urlencoded',
                              b'name=x')
        self.refused(response, 400, 'not forms')

    def _short_body_request(self, error: Exception | None = None
                            ) -> webob.Request:
        request = webob.Request.blank(
            '/v1/alarms', method='POST',
            headers={'X-Roles': 'member', 'X-Project-Id': base.PROJECT,
                     'X-User-Id': base.USER,
                     'Content-Type': 'application/json'})
        stream = io.BytesIO(b'{"name": ')
        if error is not None:
            stream.read = lambda size=-1: (_ for _ in ()).throw(error)
        request.environ['wsgi.input'] = stream
        request.environ['CONTENT_LENGTH'] = '100'
        return request

    def test_body_shorter_than_its_length_is_400(self):
        response = self._short_body_request().get_response(self.app)
        self.refused(response, 400, 'shorter than its Content-Length')

    def test_body_that_stops_arriving_is_408(self):
        request = self._short_body_request(TimeoutError('timed out'))
        response = request.get_response(self.app)
        self.refused(response, 408, 'did not arrive in time')

    def test_body_larger_than_the_limit_is_413(self):
        self.config.config(max_request_body_size=1024, group='api')
        response = self.request('POST', '/v1/alarms',
                                base.alarm_body(description='x' * 2000))
        self.refused(response, 413, 'larger than 1024 bytes')


class TestUnstorableStrings(_LoggedTestCase):
    """No string with a NUL or a lone surrogate reaches the database."""

    def _assert_refused(self, body, field: str) -> None:
        response = self.request('POST', '/v1/alarms', body)
        self.refused(response, 400, "'%s'" % field,
                     'NUL character or a lone surrogate')
        self.assertEqual([], self.db.get_alarms())

    def test_lone_surrogate_in_a_string_is_400(self):
        self._assert_refused(base.alarm_body(name='alarm\ud800'), 'name')

    def test_lone_surrogate_in_a_query_field_is_400(self):
        rule = {'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state\ud800', 'op': 'eq',
                           'value': 'error'}]}
        self._assert_refused(base.alarm_body(notification_rule=rule),
                             'notification_rule.query[0].field')

    def test_nul_in_a_query_value_is_400(self):
        rule = {'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'value': 'err\x00'}]}
        self._assert_refused(base.alarm_body(notification_rule=rule),
                             'notification_rule.query[0].value')

    def test_nul_in_an_action_is_400(self):
        self._assert_refused(
            base.alarm_body(alarm_actions=['http://site/\x00']),
            'alarm_actions[0]')

    def test_lone_surrogate_in_a_key_is_400(self):
        body = base.alarm_body()
        body['x\udc80'] = 1
        self._assert_refused(body, 'x\\udc80')

    def test_lone_surrogate_in_event_details_is_400(self):
        events = [{'time': '2026-01-01T00:00:00', 'type':
                   'compute.host.down',
                   'details': {'hostname': 'compute-0',
                               'own': ['\ud800']}}]
        response = self.as_admin('POST', '/v1/events', events)
        self.refused(response, 400, '[0].details.own[0]')

    def test_a_surrogate_pair_is_a_character_and_accepted(self):
        raw = jsonutils.dump_as_bytes(base.alarm_body()).replace(
            b'"An alarm"', b'"An alarm \\ud83d\\ude00"')
        response = self.request('POST', '/v1/alarms', raw=raw)
        self.assertEqual(201, response.status_int, response.text)
        self.assertEqual('An alarm \U0001f600',
                         response.json['description'])

    def test_state_set_to_a_lone_surrogate_is_400(self):
        alarm = self.create()
        response = self.request(
            'PUT', '/v1/alarms/%s/state' % alarm['alarm_id'],
            raw=b'"ok\\ud800"')
        self.refused(response, 400, 'NUL character or a lone surrogate')


class TestJSONDepth(test_base.TestCase):

    def test_depth_counts_nested_arrays_and_objects(self):
        self.assertEqual(0, request_checks.json_depth(b'"x"'))
        self.assertEqual(3, request_checks.json_depth(
            b'{"a": [1, {"b": 2}], "c": []}'))

    def test_brackets_inside_strings_do_not_count(self):
        self.assertEqual(1, request_checks.json_depth(
            b'{"a": "[[[[{{{{\\"[[["}'))
