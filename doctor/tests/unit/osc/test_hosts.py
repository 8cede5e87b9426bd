"""``openstack doctor host …``."""

from osc_lib import exceptions as osc_exceptions

from doctor.osc.v1 import hosts
from doctor.tests.unit.osc import fakes

FAULT_ID = 'f7a1c0de-2b3c-4d5e-8f90-a1b2c3d4e5f6'


class TestHosts(fakes.CommandTestCase):

    def test_list(self):
        self.api.add('GET', '/v1/hosts', fakes.Answer(200, dict(
            fakes.sample('hosts-list-response'), links=[])))

        listed = self.json_output(hosts.ListHost)

        self.assertEqual([{'Name': 'compute-0', 'State': 'down',
                           'Host Down Reported': True,
                           'Fault ID': FAULT_ID}], listed)

    def test_list_long_keeps_instances_and_ports_whole(self):
        sample = fakes.sample('hosts-list-response')
        self.api.add('GET', '/v1/hosts', fakes.Answer(200, sample))

        [listed] = self.json_output(hosts.ListHost, '--long', '--limit', '1',
                                    '--marker', 'compute-a')

        self.assertEqual({'limit': ['1'], 'marker': ['compute-a']},
                         self.api.query())
        self.assertEqual(sample['hosts'][0]['instances'],
                         listed['Instances'])
        self.assertEqual(sample['hosts'][0]['ports'], listed['Ports'])

    def test_show(self):
        sample = fakes.sample('host-show-response')
        self.api.add('GET', '/v1/hosts/compute-1', fakes.Answer(200, sample))

        shown = self.json_output(hosts.ShowHost, 'compute-1')

        self.assertEqual(sample['host'], shown)

    def test_show_table_has_one_line_per_instance(self):
        self.api.add('GET', '/v1/hosts/compute-1', fakes.Answer(
            200, fakes.sample('host-show-response')))

        table = self.output(hosts.ShowHost, 'compute-1')

        self.assertIn("id=9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d, "
                      "name=vnf-b-0, state=error", table)

    def test_set_down_and_up(self):
        self.api.add('PUT', '/v1/hosts/compute-1', fakes.Answer(
            200, fakes.sample('host-update-response')))

        shown = self.json_output(hosts.SetHost, 'compute-1', '--down')
        self.assertEqual({'host': {'host_down_reported': True}},
                         self.api.last_body())
        self.assertEqual('down', shown['state'])

        self.take(hosts.SetHost, 'compute-1', '--up')
        self.assertEqual({'host': {'host_down_reported': False}},
                         self.api.last_body())

    def test_set_needs_down_or_up_alone(self):
        self.assert_parse_error(hosts.SetHost, 'compute-1')
        self.assert_parse_error(hosts.SetHost, 'compute-1', '--down', '--up')
        self.assertEqual([], self.api.requests)

    def test_errors_are_the_apis(self):
        self.api.add('PUT', '/v1/hosts/nowhere',
                     fakes.error(404, 'Host nowhere could not be found.'))
        self.api.add('GET', '/v1/hosts', fakes.error(
            403, 'Policy does not allow host:get_all to be performed.'))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              hosts.SetHost, 'nowhere', '--down')
        self.assertEqual('404 Not Found: Host nowhere could not be found.',
                         str(e))
        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              hosts.ListHost)
        self.assertEqual('403 Forbidden: Policy does not allow '
                         'host:get_all to be performed.', str(e))
