"""``openstack doctor heartbeat …``."""

from osc_lib import exceptions as osc_exceptions

from doctor.osc.v1 import heartbeats
from doctor.tests.unit.osc import fakes

INSTANCE_ID = '153462d0-a9b8-4b5b-8175-9e4b05e9b856'


class TestHeartbeats(fakes.CommandTestCase):

    def test_list(self):
        sample = fakes.sample('heartbeats-list-response')
        self.api.add('GET', '/v1/heartbeats', fakes.Answer(200, sample))

        listed = self.json_output(heartbeats.ListHeartbeat)

        self.assertEqual({}, self.api.query())
        self.assertEqual(['Instance ID', 'Host', 'Interval Ms', 'Threshold',
                          'Status', 'Last Seen'], list(listed[0]))
        self.assertEqual(
            [(h['instance_id'], h['status']) for h in sample['heartbeats']],
            [(h['Instance ID'], h['Status']) for h in listed])

    def test_list_filters_and_long(self):
        sample = fakes.sample('heartbeats-list-response')
        self.api.add('GET', '/v1/heartbeats', fakes.Answer(200, sample))

        listed = self.json_output(heartbeats.ListHeartbeat, '--host',
                                  'compute-1', '--status', 'missed',
                                  '--long')

        self.assertEqual({'host': ['compute-1'], 'status': ['missed']},
                         self.api.query())
        self.assertEqual('missed 3 heartbeats (every 100 ms)',
                         listed[1]['Reason'])

    def test_list_status_is_one_the_api_knows(self):
        self.assert_parse_error(heartbeats.ListHeartbeat, '--status',
                                'sleepy')

    def test_show(self):
        sample = fakes.sample('heartbeat-show-response')
        self.api.add('GET', '/v1/heartbeats/' + INSTANCE_ID,
                     fakes.Answer(200, sample))

        shown = self.json_output(heartbeats.ShowHeartbeat, INSTANCE_ID)

        self.assertEqual(sample['heartbeats'][0], shown)

    def test_show_of_an_unwatched_instance_is_the_api_s_404(self):
        self.api.add('GET', '/v1/heartbeats/' + INSTANCE_ID, fakes.error(
            404, 'No heartbeat of instance %s.' % INSTANCE_ID))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              heartbeats.ShowHeartbeat, INSTANCE_ID)
        self.assertIn('404', str(e))
