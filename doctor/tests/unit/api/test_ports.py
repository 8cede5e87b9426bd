"""GET and PUT /v1/ports/{port_id}: a port and its data-plane status."""

import datetime
import os

from oslo_policy import opts as policy_opts

from doctor.common import exception
from doctor.tests.unit.api import base

NOW = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456)
change = base.change

PORT_BODY_DOWN = {'port': {'dp_down': True}}


def inspector_view(port_id: str = 'p-1', down: bool = True) -> dict:
    """What the inspector answers for a port it has set."""
    return {'id': port_id, 'name': 'vnf-a-0-eth0',
            'project_id': base.PROJECT, 'host': 'compute-0',
            'device_id': 'vm-1', 'status': 'ACTIVE',
            'data_plane_status': 'DOWN' if down else 'ACTIVE',
            'dp_down': down}


class PortsTestCase(base.InspectorAPITestCase):
    """Ports of the caller's project (p-1, p-2) and of another (p-9)."""

    def setUp(self):
        super().setUp()
        self.db.apply_entity_changes([
            change('host', 'compute-0', NOW, state='up'),
            change('instance', 'vm-1', NOW, state='active',
                   project_id=base.PROJECT, parents=('host:compute-0',)),
            change('port', 'p-1', NOW, state='ACTIVE', name='vnf-a-0-eth0',
                   project_id=base.PROJECT,
                   parents=('host:compute-0', 'instance:vm-1'),
                   attributes={'data_plane_status': 'ACTIVE'}),
            change('port', 'p-2', NOW, state='DOWN', name=None,
                   project_id=base.PROJECT,
                   attributes={'device_id': 'router-1',
                               'data_plane_status': 'DOWN'}),
            change('port', 'p-9', NOW, state='ACTIVE',
                   project_id=base.OTHER_PROJECT,
                   parents=('host:compute-0',)),
        ])

    def put(self, port_id: str, body, **kwargs):
        kwargs.setdefault('roles', 'admin')
        return self.request('PUT', '/v1/ports/' + port_id, body, **kwargs)


class TestShow(PortsTestCase):

    def test_a_port_on_a_host_bound_to_an_instance(self):
        response = self.request('GET', '/v1/ports/p-1')

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(
            {'port': {'id': 'p-1', 'name': 'vnf-a-0-eth0',
                      'project_id': base.PROJECT, 'host': 'compute-0',
                      'device_id': 'vm-1', 'status': 'ACTIVE',
                      'data_plane_status': 'ACTIVE', 'dp_down': False}},
            response.json)

    def test_a_port_of_no_host_with_a_device_of_its_own(self):
        port = self.request('GET', '/v1/ports/p-2').json['port']

        self.assertEqual((None, 'router-1', 'DOWN', True),
                         (port['host'], port['device_id'],
                          port['data_plane_status'], port['dp_down']))

    def test_an_admin_sees_any_project_s_port(self):
        response = self.as_admin('GET', '/v1/ports/p-9')

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(base.OTHER_PROJECT,
                         response.json['port']['project_id'])

    def test_a_port_of_another_project_is_not_found(self):
        self.assert_error(self.request('GET', '/v1/ports/p-9'), 404,
                          'Port p-9 not found')

    def test_an_unknown_port_is_404(self):
        self.assert_error(self.request('GET', '/v1/ports/p-0'), 404,
                          'Port p-0 not found')

    def test_query_parameters_are_refused(self):
        self.assert_error(self.request('GET', '/v1/ports/p-1?all=1'), 400,
                          "'all'")


class TestSetDataPlaneStatus(PortsTestCase):

    def test_set_down(self):
        self.set_port_dp_down.return_value = inspector_view()

        response = self.put('p-1', PORT_BODY_DOWN)

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual({'port': inspector_view()}, response.json)
        _api, context, port_id, down = self.set_port_dp_down.call_args.args
        self.assertEqual(('p-1', True, base.PROJECT, True),
                         (port_id, down, context.project_id,
                          context.is_admin))

    def test_set_active(self):
        self.set_port_dp_down.return_value = inspector_view(down=False)

        response = self.put('p-2', {'port': {'dp_down': False}})

        self.assertEqual(200, response.status_int, response.text)
        self.assertEqual(('p-2', False),
                         self.set_port_dp_down.call_args.args[2:])

    def test_an_admin_sets_a_port_of_any_project(self):
        self.set_port_dp_down.return_value = inspector_view('p-9')

        self.assertEqual(200, self.put('p-9', PORT_BODY_DOWN).status_int)

    def test_an_unknown_port_is_404_without_asking_the_inspector(self):
        self.assert_error(self.put('p-0', PORT_BODY_DOWN), 404, 'p-0')
        self.set_port_dp_down.assert_not_called()

    def test_a_port_the_inspector_does_not_know_is_404(self):
        self.set_port_dp_down.side_effect = base.remote(
            exception.PortNotFound(port_id='p-1'))

        message = self.assert_error(self.put('p-1', PORT_BODY_DOWN), 404)
        self.assertEqual('Port p-1 not found.', message)

    def test_a_controller_failing_is_503(self):
        self.set_port_dp_down.side_effect = base.remote(
            exception.ServiceUnavailable(
                reason='the data-plane status of port p-1 could not be '
                       'set: timed out'))

        message = self.assert_error(self.put('p-1', PORT_BODY_DOWN), 503,
                                    'port p-1 could not be set')
        self.assertNotIn('Traceback', message)

    def test_bad_bodies(self):
        for body, fragment in (
                ({}, "'port'"),
                ({'port': {}}, "'port.dp_down'"),
                ({'port': {'dp_down': 'yes'}}, "'port.dp_down'"),
                ({'port': {'dp_down': 0}}, "'port.dp_down'"),
                ({'port': {'dp_down': True, 'status': 'DOWN'}},
                 "'port.status'"),
                ({'port': {'dp_down': True}, 'id': 'p-1'}, "'id'"),
                ('DOWN', 'JSON object')):
            self.assert_error(self.put('p-1', body), 400, fragment)
        self.set_port_dp_down.assert_not_called()


class TestPolicy(PortsTestCase):

    def test_a_member_may_not_set_a_port_of_their_project(self):
        self.assert_refused(self.put('p-1', PORT_BODY_DOWN, roles='member'),
                            'port:update')

    def test_nor_learn_of_another_project_s_port(self):
        self.assert_error(self.put('p-9', PORT_BODY_DOWN, roles='member'),
                          404, 'p-9')
        self.set_port_dp_down.assert_not_called()

    def test_refused_before_the_body_is_read(self):
        self.assert_refused(self.put('p-1', 'nonsense', roles='member'),
                            'port:update')

    def test_a_request_of_no_project_is_401(self):
        self.assert_error(self.request('GET', '/v1/ports/p-1',
                                       project=None), 401)

    def use_policy(self, rules: str) -> None:
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write(rules)
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy')

    def test_an_operator_may_open_reading_to_everyone(self):
        self.use_policy('"port:get": "@"\n')

        self.assertEqual(200, self.request('GET', '/v1/ports/p-9')
                         .status_int)

    def test_an_operator_may_close_reading_to_owners(self):
        self.use_policy('"port:get": "rule:context_is_admin"\n')

        self.assert_error(self.request('GET', '/v1/ports/p-1'), 403,
                          'port:get')
        self.assert_error(self.request('GET', '/v1/ports/p-9'), 404)
