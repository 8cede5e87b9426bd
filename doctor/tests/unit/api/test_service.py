"""doctor-api's own threaded HTTP server and its console script."""

from http import client as http_client
import json
from unittest import mock

from oslo_service import service as oslo_service

from doctor.api import service as api_service
from doctor.cmd import api as api_cmd
from doctor.common import service as doctor_service
from doctor.tests.unit.api import base


class TestAPIService(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.config.config(host='127.0.0.1', port=0, group='api')

    def _start(self) -> api_service.APIService:
        server = api_service.APIService(self.conf)
        server.start()
        self.addCleanup(server.stop)
        return server

    def _call(self, port: int, method: str, path: str, body=None):
        connection = http_client.HTTPConnection('127.0.0.1', port,
                                                timeout=10)
        self.addCleanup(connection.close)
        headers = {'X-Project-Id': base.PROJECT, 'X-User-Id': base.USER,
                   'X-Roles': 'member', 'Content-Type': 'application/json'}
        connection.request(method, path, body=json.dumps(body)
                           if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or 'null')

    def test_start_binds_a_free_port_and_serves_the_api(self):
        server = self._start()

        self.assertNotEqual(0, server.port)
        status, versions = self._call(server.port, 'GET', '/')
        self.assertEqual(200, status)
        self.assertEqual('v1', versions['versions'][0]['id'])

    def test_alarms_round_trip_over_http(self):
        server = self._start()

        status, created = self._call(server.port, 'POST', '/v1/alarms',
                                     base.alarm_body())
        self.assertEqual(201, status)
        status, listed = self._call(server.port, 'GET', '/v1/alarms')
        self.assertEqual([created], listed)

    def test_stop_closes_the_port(self):
        server = self._start()
        port = server.port

        server.stop()

        connection = http_client.HTTPConnection('127.0.0.1', port,
                                                timeout=2)
        self.addCleanup(connection.close)
        self.assertRaises(OSError, connection.request, 'GET', '/')


class TestMain(base.APITestCase):

    def test_main_launches_the_api_service_with_mutate_restarts(self):
        with mock.patch.object(doctor_service, 'prepare_service',
                               autospec=True, return_value=self.conf), \
                mock.patch.object(oslo_service, 'launch',
                                  autospec=True) as launch:
            api_cmd.main()

        launch.assert_called_once_with(self.conf, mock.ANY,
                                       restart_method='mutate')
        self.assertIsInstance(launch.call_args.args[1],
                              api_service.APIService)
        launch.return_value.wait.assert_called_once_with()
