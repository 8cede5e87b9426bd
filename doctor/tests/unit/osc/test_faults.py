"""``openstack doctor fault …``."""

from osc_lib import exceptions as osc_exceptions

from doctor.osc.v1 import faults
from doctor.tests.unit.osc import fakes

FAULT_ID = 'f7a1c0de-2b3c-4d5e-8f90-a1b2c3d4e5f6'


class TestFaults(fakes.CommandTestCase):

    def test_list(self):
        sample = fakes.sample('faults-list-response')
        self.api.add('GET', '/v1/faults', fakes.Answer(200, sample))

        listed = self.json_output(faults.ListFault, '--host', 'compute-0',
                                  '--status', 'open', '--limit', '5')

        self.assertEqual({'host': ['compute-0'], 'status': ['open'],
                          'limit': ['5']}, self.api.query())
        self.assertEqual(['ID', 'Host', 'Type', 'Status', 'Created At',
                          'Closed At'], list(listed[0]))
        self.assertEqual([fault['id'] for fault in sample['faults']],
                         [fault['ID'] for fault in listed])

    def test_list_status_is_open_or_closed(self):
        self.assert_parse_error(faults.ListFault, '--status', 'pending')

    def test_show(self):
        sample = fakes.sample('fault-show-response')
        self.api.add('GET', '/v1/faults/' + FAULT_ID,
                     fakes.Answer(200, sample))

        shown = self.json_output(faults.ShowFault, FAULT_ID)

        self.assertEqual(sample['fault'], shown)

    def test_show_table_lists_checkpoints_a_line_each(self):
        self.api.add('GET', '/v1/faults/' + FAULT_ID,
                     fakes.Answer(200, fakes.sample('fault-show-response')))

        table = self.output(faults.ShowFault, FAULT_ID)

        self.assertIn('number=3, name=marked_host_down, component=inspector',
                      table)

    def test_unknown(self):
        self.api.add('GET', '/v1/faults/nope',
                     fakes.error(404, 'Fault nope could not be found.'))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              faults.ShowFault, 'nope')
        self.assertEqual('404 Not Found: Fault nope could not be found.',
                         str(e))
