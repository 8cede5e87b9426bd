"""``openstack doctor port …``."""

from osc_lib import exceptions as osc_exceptions

from doctor.osc.v1 import ports
from doctor.tests.unit.osc import fakes

PORT_ID = '8e2b4c6d-1f3a-4b5c-9d7e-0a1b2c3d4e5f'


class TestPorts(fakes.CommandTestCase):

    def test_show(self):
        sample = fakes.sample('port-show-response')
        self.api.add('GET', '/v1/ports/' + PORT_ID, fakes.Answer(200, sample))

        self.assertEqual(sample['port'],
                         self.json_output(ports.ShowPort, PORT_ID))

    def test_set_dp_down(self):
        self.api.add('PUT', '/v1/ports/' + PORT_ID, fakes.Answer(
            200, fakes.sample('port-update-response')))

        self.assertEqual('DOWN\n', self.output(
            ports.SetPort, PORT_ID, '--dp-down', '-f', 'value',
            '-c', 'data_plane_status'))
        self.assertEqual({'port': {'dp_down': True}}, self.api.last_body())

        self.take(ports.SetPort, PORT_ID, '--no-dp-down')
        self.assertEqual({'port': {'dp_down': False}}, self.api.last_body())

    def test_set_needs_one_status(self):
        self.assert_parse_error(ports.SetPort, PORT_ID)
        self.assert_parse_error(ports.SetPort, PORT_ID, '--dp-down',
                                '--no-dp-down')

    def test_refusal_is_the_apis(self):
        self.api.add('PUT', '/v1/ports/' + PORT_ID, fakes.error(
            403, 'Policy does not allow port:update to be performed.'))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              ports.SetPort, PORT_ID, '--dp-down')
        self.assertEqual('403 Forbidden: Policy does not allow port:update '
                         'to be performed.', str(e))
