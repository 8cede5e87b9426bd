"""The API app driven in-process with webob requests, on a real database."""

import copy
from unittest import mock

import oslo_messaging as messaging
from oslo_serialization import jsonutils
import webob

from doctor.api import app as api_app
from doctor.db import api as db_api
from doctor.evaluator import rpcapi
from doctor.tests import base

PROJECT = 'project-a'
USER = 'user-a'
OTHER_PROJECT = 'project-b'
OTHER_USER = 'user-b'
ADMIN_PROJECT = 'project-admin'
ADMIN_USER = 'user-admin'

_NO_BODY = object()


def alarm_body(**overrides) -> dict:
    """A valid POST body; keyword arguments replace its fields."""
    body = {
        'name': 'InstanceStatusAlarm',
        'description': 'An alarm',
        'type': 'notification',
        'severity': 'moderate',
        'resource_id': '153462d0-a9b8-4b5b-8175-9e4b05e9b856',
        'notification_rule': {
            'event_type': 'compute.instance.update',
            'query': [{'field': 'traits.state', 'op': 'eq',
                       'value': 'error', 'type': 'string'}],
        },
        'alarm_actions': ['http://site:8000/alarm'],
        'ok_actions': [],
        'insufficient_data_actions': ['http://site:8000/nodata'],
    }
    body.update(copy.deepcopy(overrides))
    return body


class APITestCase(base.DBTestCase):
    """A test of the API app with casts to the evaluators recorded.

    ``self.alarm_changed`` and ``self.alarm_deleted`` are the autospec
    mocks of the EvaluatorAPI casts; ``self.notified`` that of the API's
    notifier's ``info``, unless ``PATCH_NOTIFIER`` is false.
    """

    PATCH_NOTIFIER = True

    def setUp(self):
        super().setUp()
        patcher = mock.patch.object(db_api, 'get_connection', autospec=True,
                                    return_value=self.db)
        self.get_connection = patcher.start()
        self.addCleanup(patcher.stop)
        self.alarm_changed = self._patch(rpcapi.EvaluatorAPI,
                                         'alarm_changed')
        self.alarm_deleted = self._patch(rpcapi.EvaluatorAPI,
                                         'alarm_deleted')
        if self.PATCH_NOTIFIER:
            self.notified = self._patch(messaging.Notifier, 'info')
        self._app = None

    def _patch(self, target, attribute):
        patcher = mock.patch.object(target, attribute, autospec=True)
        self.addCleanup(patcher.stop)
        return patcher.start()

    @property
    def app(self):
        if self._app is None:
            self._app = api_app.setup_app(self.conf)
        return self._app

    def request(self, method: str, path: str, body=_NO_BODY, *,
                project: str | None = PROJECT, user: str | None = USER,
                roles: str = 'member', headers: dict | None = None,
                raw: bytes | None = None) -> webob.Response:
        """Send one request as the given caller; returns the response."""
        all_headers = {'X-Roles': roles}
        if project is not None:
            all_headers['X-Project-Id'] = project
        if user is not None:
            all_headers['X-User-Id'] = user
        all_headers.update(headers or {})
        request = webob.Request.blank(path, method=method,
                                      headers=all_headers)
        if body is not _NO_BODY or raw is not None:
            request.body = (raw if raw is not None
                            else jsonutils.dump_as_bytes(body))
            request.content_type = 'application/json'
        return request.get_response(self.app)

    def as_admin(self, method: str, path: str, body=_NO_BODY, **kwargs
                 ) -> webob.Response:
        kwargs.setdefault('project', ADMIN_PROJECT)
        kwargs.setdefault('user', ADMIN_USER)
        return self.request(method, path, body, roles='admin', **kwargs)

    def create(self, expected_status: int = 201, **kwargs) -> dict:
        """POST an alarm built by :func:`alarm_body` from ``kwargs``."""
        caller = {key: kwargs.pop(key) for key in ('project', 'user', 'roles')
                  if key in kwargs}
        response = self.request('POST', '/v1/alarms', alarm_body(**kwargs),
                                **caller)
        self.assertEqual(expected_status, response.status_int,
                         response.text)
        return response.json

    def assert_error(self, response: webob.Response, status: int,
                     *fragments: str) -> str:
        """Check an error answer; returns its faultstring."""
        self.assertEqual(status, response.status_int, response.text)
        self.assertEqual('application/json', response.content_type)
        fault = response.json['error_message']
        self.assertEqual('Server' if status >= 500 else 'Client',
                         fault['faultcode'])
        for fragment in fragments:
            self.assertIn(fragment, fault['faultstring'])
        self.assertNotIn('Traceback', response.text)
        return fault['faultstring']

    def events(self) -> list[tuple[str, dict]]:
        """The (event_type, payload) of every alarm.* notification sent."""
        return [(call.args[2], call.args[3])
                for call in self.notified.call_args_list]

    def history(self, alarm_id: str) -> list[dict]:
        response = self.request('GET', '/v1/alarms/%s/history' % alarm_id)
        self.assertEqual(200, response.status_int, response.text)
        return response.json
