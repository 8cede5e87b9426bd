"""The API app driven in-process with webob requests, on a real database."""

import copy
import sys
from unittest import mock

import oslo_messaging as messaging
from oslo_messaging._drivers import common as messaging_common
from oslo_serialization import jsonutils
import webob

from doctor.api import app as api_app
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.evaluator import rpcapi
from doctor.inspector import rpcapi as inspector_rpcapi
from doctor.synchronizer import entity
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


def remote(error: Exception) -> Exception:
    """``error`` as the caller of an RPC call sees it when the server
    raised it: rebuilt from the wire, its message followed by the
    server's traceback.
    """
    try:
        raise error
    except Exception:
        data = messaging_common.serialize_remote_exception(sys.exc_info())
    return messaging_common.deserialize_remote_exception(
        data, rpc.ALLOWED_EXMODS)


def change(entity_type: str, entity_id: str, timestamp, **fields) -> dict:
    """A change record creating the entity ``entity_type``:``entity_id``.
    """
    return entity.Change(
        entity.CREATE, entity.Entity(type=entity_type, id=entity_id,
                                     **fields),
        timestamp, 'static').as_record()


class InspectorAPITestCase(APITestCase):
    """A test of the API with the inspector's RPC calls mocked.

    ``self.report_failures``, ``self.report_host`` and
    ``self.set_port_dp_down`` are autospec mocks of the InspectorAPI
    calls: the first argument of each call is the InspectorAPI itself.
    """

    def setUp(self):
        super().setUp()
        api = inspector_rpcapi.InspectorAPI
        self.report_failures = self._patch(api, 'report_failures')
        self.report_host = self._patch(api, 'report_host')
        self.set_port_dp_down = self._patch(api, 'set_port_dp_down')

    def assert_refused(self, response: webob.Response, rule: str) -> None:
        """A 403 naming ``rule``, and no call to an inspector."""
        self.assert_error(response, 403, rule)
        for call in (self.report_failures, self.report_host,
                     self.set_port_dp_down):
            call.assert_not_called()
