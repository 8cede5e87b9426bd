"""Failures answer JSON error bodies, never a traceback."""

import logging
from unittest import mock

import fixtures
import jsonschema
from oslo_db import exception as db_exc
import webob

from doctor.api import errors
from doctor.common import exception
from doctor.tests import base as test_base
from doctor.tests.unit.api import base


class TestUnexpectedFailures(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.log = self.useFixture(fixtures.FakeLogger(
            name='doctor.api.errors', level=logging.ERROR))

    def _break(self, method: str, error: Exception) -> None:
        patcher = mock.patch.object(self.db, method, autospec=True,
                                    side_effect=error)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_database_error_is_a_logged_generic_500(self):
        self._break('get_alarms', db_exc.DBConnectionError(
            'cannot reach postgresql://doctor:s3cret@db/doctor'))

        response = self.request('GET', '/v1/alarms')

        message = self.assert_error(response, 500, 'has been logged')
        self.assertNotIn('s3cret', response.text)
        self.assertNotIn('DBConnectionError', message)
        self.assertIn('s3cret', self.log.output)
        self.assertIn('Traceback', self.log.output)

    def test_database_error_while_creating_is_500_and_casts_nothing(self):
        self._break('create_alarm', db_exc.DBError('disk full'))

        response = self.request('POST', '/v1/alarms', base.alarm_body())

        self.assert_error(response, 500)
        self.assertNotIn('disk full', response.text)
        self.assertFalse(self.alarm_changed.called)
        self.assertFalse(self.notified.called)

    def test_programming_error_is_a_generic_500(self):
        self._break('get_alarm', KeyError('rule'))
        alarm = self.create()

        response = self.request('GET', '/v1/alarms/' + alarm['alarm_id'])

        self.assert_error(response, 500)
        self.assertNotIn('KeyError', response.text)

    def test_server_side_doctor_exception_hides_its_message(self):
        self._break('get_alarms', exception.ConfigInvalid(
            reason='secret internals'))

        response = self.request('GET', '/v1/alarms')

        self.assert_error(response, 500)
        self.assertNotIn('secret internals', response.text)

    def test_conflict_keeps_its_status_and_message(self):
        self._break('create_alarm', exception.Conflict(reason='taken'))

        response = self.request('POST', '/v1/alarms', base.alarm_body())

        self.assert_error(response, 409, 'taken')


class TestToResponse(test_base.TestCase):

    def setUp(self):
        super().setUp()
        self.request = webob.Request.blank('/v1/things', method='PATCH')

    def test_doctor_exceptions_keep_their_code_and_message(self):
        for error, status in ((exception.InvalidField(field='f',
                                                      reason='bad'), 400),
                              (exception.NotAuthorized(), 401),
                              (exception.PolicyNotAuthorized(action='x'),
                               403),
                              (exception.AlarmNotFound(alarm_id='a'), 404),
                              (exception.Conflict(reason='c'), 409)):
            response = errors.to_response(error, self.request)
            self.assertEqual(status, response.status_int)
            self.assertEqual({'error_message': {'faultstring': str(error),
                                                'faultcode': 'Client'}},
                             response.json)

    def test_schema_errors_are_400(self):
        error = jsonschema.ValidationError('5 is not of type string')

        response = errors.to_response(error, self.request)

        self.assertEqual(400, response.status_int)
        self.assertIn('5 is not of type string',
                      response.json['error_message']['faultstring'])

    def test_redirections_are_left_to_pecan(self):
        self.assertIsNone(errors.to_response(
            webob.exc.HTTPFound(location='/'), self.request))


class TestLogLevels(base.APITestCase):
    """A client's mistake is no server error: 4xx never log at ERROR."""

    def _log(self, level: int = logging.DEBUG) -> fixtures.FakeLogger:
        return self.useFixture(fixtures.FakeLogger(
            level=level, format='%(levelname)s %(name)s: %(message)s'))

    def _assert_no_error(self, log: fixtures.FakeLogger) -> None:
        for line in log.output.splitlines():
            self.assertFalse(line.startswith(('ERROR', 'CRITICAL')), line)

    def test_406_for_an_accept_of_html_is_not_an_error(self):
        log = self._log()

        response = self.request('GET', '/v1/alarms',
                                headers={'Accept': 'text/html'})

        self.assert_error(response, 406, 'application/json')
        self._assert_no_error(log)
        self.assertIn('DEBUG pecan.core: Controller', log.output)
        self.assertIn('INFO doctor.api.errors: GET /v1/alarms answered '
                      '406', log.output)

    def test_406_is_not_logged_where_info_is_not(self):
        log = self._log(logging.WARNING)

        response = self.request('GET', '/v1/alarms',
                                headers={'Accept': 'text/html'})

        self.assertEqual(406, response.status_int)
        self.assertEqual('', log.output)

    def test_undecodable_query_is_a_400_not_an_error(self):
        log = self._log()

        response = self.request('GET', '/v1/alarms?name=%ff')

        self.assertEqual(400, response.status_int, response.text)
        self._assert_no_error(log)
        self.assertIn('GET /v1/alarms answered 400: the query string is '
                      'not valid UTF-8', log.output)
        self.assertNotIn('Traceback', log.output)

    def test_doctor_client_errors_log_at_info(self):
        log = self._log()

        for method, path, status in (
                ('GET', '/v1/alarms/no-such-alarm', 404),
                ('GET', '/v1/alarms?limit=x', 400),
                ('DELETE', '/v1/alarms', 405)):
            response = self.request(method, path)

            self.assertEqual(status, response.status_int, response.text)
            self.assertIn('INFO doctor.api.errors: %s %s answered %d'
                          % (method, path.split('?')[0], status),
                          log.output)
        self._assert_no_error(log)

    def test_server_errors_still_log_at_error(self):
        log = self._log()
        patcher = mock.patch.object(self.db, 'get_alarms', autospec=True,
                                    side_effect=db_exc.DBError('disk'))
        patcher.start()
        self.addCleanup(patcher.stop)

        response = self.request('GET', '/v1/alarms')

        self.assertEqual(500, response.status_int)
        self.assertIn('ERROR doctor.api.errors: GET /v1/alarms failed',
                      log.output)
