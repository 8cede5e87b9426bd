"""The ``neutron`` controller: the requests it makes and its failures.

Calls go through keystoneauth, as in production, to a server on loopback
(:mod:`.fake_api`) answering in Neutron's shapes.
"""

from doctor.common import exception
from doctor.inspector import inspector as inspector_mod
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import neutron
from doctor.inspector.controllers import openstack
from doctor.tests import base
from doctor.tests.unit.inspector.controllers import fake_api

FAULT = '0b9f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4'
PORT = '8e2b4c6d-1a3f-4e5b-9c7d-2f4a6b8c0d01'
PATH = '/v2.0/ports/' + PORT


def neutron_error(kind: str, message: str) -> dict:
    """Neutron's error document."""
    return {'NeutronError': {'type': kind, 'message': message,
                             'detail': ''}}


class NeutronTestCase(base.TestCase):
    """A started ``neutron`` controller whose Neutron is a fake."""

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(fake_api.FakeAPI())
        self.api.routes[PATH] = lambda call: (200, {'port': dict(
            call.body['port'], id=PORT)})
        self.config.config(auth_type='none',
                           endpoint_override=self.api.url + '/',
                           group='neutron')
        self.controller = self.load()
        self.context = controller_base.ActionContext(fault_id=FAULT)
        self.port = controller_base.Port(id=PORT, host='compute-0')

    def load(self) -> neutron.NeutronController:
        self.config.config(controllers=['neutron'], group='inspector')
        [controller] = inspector_mod.load_controllers(self.conf)
        assert isinstance(controller, neutron.NeutronController)
        controller.start()
        self.addCleanup(controller.stop)
        return controller


class TestPorts(NeutronTestCase):

    def test_loaded_by_name_acts_on_ports(self):
        self.assertEqual('neutron', self.controller.name)
        self.assertEqual(frozenset(('port',)), self.controller.handles)

    def test_data_plane_down_then_active(self):
        self.controller.set_port_dp_down(self.context, self.port, True)
        self.controller.set_port_dp_down(self.context, self.port, False)

        self.assertEqual(
            [('PUT', PATH, {'port': {'data_plane_status': 'DOWN'}}),
             ('PUT', PATH, {'port': {'data_plane_status': 'ACTIVE'}})],
            [(call.method, call.path, call.body)
             for call in self.api.calls])
        headers = self.api.calls[0].headers
        self.assertEqual('req-' + FAULT, headers['X-OpenStack-Request-ID'])
        self.assertNotIn('OpenStack-API-Version', headers)

    def test_port_neutron_does_not_have(self):
        self.api.routes[PATH] = (404, neutron_error(
            'PortNotFound', 'Port %s could not be found.' % PORT))

        error = self.assertRaises(
            exception.PortNotFound, self.controller.set_port_dp_down,
            self.context, self.port, True)

        self.assertEqual(
            'Neutron: cannot set the data-plane status of port %s DOWN: '
            'PUT /v2.0/ports/%s answered 404: Port %s could not be found.'
            % (PORT, PORT, PORT), str(error))

    def test_without_the_extension_fails_for_good(self):
        self.api.routes[PATH] = (400, neutron_error(
            'HTTPBadRequest', "Unrecognized attribute(s) "
                              "'data_plane_status'"))

        error = self.assertRaises(
            openstack.Refused, self.controller.set_port_dp_down,
            self.context, self.port, True)

        self.assertEqual(400, error.status)
        self.assertIn("answered 400: Unrecognized attribute(s) "
                      "'data_plane_status'", str(error))

    def test_forbidden_fails_for_good(self):
        self.api.routes[PATH] = (403, neutron_error(
            'HTTPForbidden', "(rule:update_port:data_plane_status) is "
                             "disallowed by policy"))

        error = self.assertRaises(
            openstack.Refused, self.controller.set_port_dp_down,
            self.context, self.port, False)

        self.assertIn('ACTIVE: PUT /v2.0/ports/%s answered 403: '
                      '(rule:update_port:data_plane_status) is disallowed '
                      'by policy' % PORT, str(error))

    def test_retried_failures(self):
        for status in (500, 502, 503, 429):
            self.api.routes[PATH] = (status, neutron_error(
                'ServiceUnavailable', 'Try again later.'))

            error = self.assertRaises(
                controller_base.TransientError,
                self.controller.set_port_dp_down, self.context, self.port,
                True)

            self.assertIn('answered %d: Try again later.' % status,
                          str(error))

    def test_unreachable(self):
        self.config.config(endpoint_override='http://127.0.0.1:9/',
                           group='neutron')
        controller = self.load()

        error = self.assertRaises(
            controller_base.TransientError, controller.set_port_dp_down,
            self.context, self.port, True)

        self.assertIn('Neutron unreachable', str(error))
