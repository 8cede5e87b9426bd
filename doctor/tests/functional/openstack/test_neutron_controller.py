"""The ``neutron`` controller against a real Neutron.

Everything here is real, nothing recorded: neutron-server with ML2 and
the ``data_plane_status`` extension, authenticated by a real Keystone
(see :mod:`doctor.tests.functional.neutron`), and Neutron's notifications
on its RabbitMQ virtual host. doctor's ``[neutron]`` group holds the cloud
administrator's keystoneauth password options, as an operator's
``doctor.conf`` would; the controller is loaded by name, as the inspector
loads it.
"""

import types
import typing
import uuid

from doctor.common import exception
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import neutron as neutron_controller
from doctor.inspector.controllers import openstack
from doctor.tests.functional import neutron
from doctor.tests.functional.openstack import base as os_base

NOTIFIED_WITHIN = 10.0


class NeutronControllerTest(os_base.ControllerTestCase):
    """Ports' data-plane status set in a real Neutron."""

    peer_module: typing.ClassVar[types.ModuleType] = neutron
    controller_name = 'neutron'

    def setUp(self):
        super().setUp()
        self.neutron = self.peer
        self.controller = self.load_controller()
        self.context = controller_base.ActionContext(
            fault_id=str(uuid.uuid4()))
        self.host = 'compute-%s' % uuid.uuid4().hex[:8]

    def create_port(self) -> controller_base.Port:
        server = str(uuid.uuid4())
        port_id = self.neutron.create_port(self.host, device_id=server)
        self.addCleanup(self.neutron.call, 'DELETE', '/ports/' + port_id,
                        expected=204)
        return controller_base.Port(id=port_id, host=self.host,
                                    device_id=server)

    def data_plane_status(self, port_id: str) -> str | None:
        return self.neutron.call('GET', '/ports/' + port_id)['port'][
            'data_plane_status']

    def test_loaded_by_name_acts_on_ports(self):
        self.assertIsInstance(self.controller,
                              neutron_controller.NeutronController)
        self.assertEqual(frozenset(('port',)), self.controller.handles)

    def test_data_plane_down_then_active(self):
        port = self.create_port()
        recorder = self.listen(neutron.EXCHANGE,
                               [neutron.NOTIFICATION_TOPIC])

        for down, status in ((True, 'DOWN'), (False, 'ACTIVE')):
            self.controller.set_port_dp_down(self.context, port, down)

            self.assertEqual(status, self.data_plane_status(port.id))
            payload = recorder.wait(
                'port.update.end',
                lambda p, status=status: (
                    p['port']['id'] == port.id
                    and p['port']['data_plane_status'] == status),
                NOTIFIED_WITHIN)
            self.assertEqual(self.host, payload['port']['binding:host_id'])

    def test_unknown_port_fails_for_good(self):
        missing = str(uuid.uuid4())

        error = self.assertRaises(
            exception.PortNotFound, self.controller.set_port_dp_down,
            self.context, controller_base.Port(id=missing, host=self.host),
            True)

        self.assertIn('PUT /v2.0/ports/%s answered 404' % missing,
                      str(error))

    def test_wrong_password_is_a_clear_final_error(self):
        port = self.create_port()
        self.config.config(password='wrong', group='neutron')
        controller = self.load_controller()

        error = self.assertRaises(
            openstack.Refused, controller.set_port_dp_down, self.context,
            port, True)

        self.assertIn('the [neutron] credentials were refused (Keystone '
                      'answered 401)', str(error))
        self.assertIsNone(self.data_plane_status(port.id))
