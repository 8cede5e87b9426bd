"""doctor-compute-agent as a service: guests' faults reach the API."""

import os

import fixtures

from doctor.common import exception
from doctor.heartbeat import agent as agent_mod
from doctor.heartbeat import guest
from doctor.tests import base
from doctor.tests.unit.heartbeat import test_agent
from doctor.tests.unit.monitor import fakes


class TestComputeAgentService(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.api = fakes.StubAPI()
        self.addCleanup(self.api.stop)
        self.channel_dir = self.useFixture(fixtures.TempDir()).path
        self.config.config(host='compute-3')
        self.config.config(channel_dir=self.channel_dir, api_url=self.api.url,
                           rescan_interval=0.02, min_interval_ms=10,
                           group='compute_agent')
        service = agent_mod.ComputeAgentService(self.conf)
        service.start()
        self.addCleanup(service.stop)

    def make_guest(self, instance_id: str, **kwargs) -> guest.GuestAgent:
        vm = guest.GuestAgent(
            guest.UNIX_LISTEN + os.path.join(self.channel_dir,
                                             instance_id + '.sock'),
            **kwargs)
        vm.register()
        vm.start()
        self.addCleanup(vm.stop)
        self.assertTrue(vm.registered.wait(20))
        return vm

    def events(self, count: int) -> list[dict]:
        return [event for request in self.api.wait_for(count, 20)
                for event in request.body]

    def test_missed_heartbeats_are_posted_as_an_instance_fault(self):
        vm = self.make_guest('vm-1', interval_ms=20, threshold=3)
        self.assertTrue(test_agent.wait_for(
            lambda: (self.db.get_heartbeat('vm-1') or {}).get('status')
            == 'ok'))
        vm.stop(unlink=False)

        [event] = self.events(1)
        request = self.api.requests[0]
        self.assertEqual('/v1/events', request.path)
        self.assertEqual(('doctor-compute-agent', 'admin'),
                         (request.headers['x-user-id'],
                          request.headers['x-roles']))
        self.assertEqual('compute.instance.down', event['type'])
        details = event['details']
        self.assertEqual(('vm-1', 'down', 'compute-3'),
                         (details['instance_id'], details['status'],
                          details['hostname']))
        self.assertEqual('missed 3 heartbeats (every 20 ms)',
                         details['reason'])
        self.assertTrue(test_agent.wait_for(
            lambda: self.db.get_heartbeat('vm-1')['status'] == 'missed'))
        record = self.db.get_heartbeat('vm-1')
        self.assertEqual(('compute-3', 20, 3),
                         (record['host'], record['interval_ms'],
                          record['threshold']))

    def test_a_failed_health_check_is_posted_with_its_reason(self):
        vm = self.make_guest('vm-2', interval_ms=20, threshold=3)
        vm.report_health(False, 'queue stuck')
        [event] = self.events(1)
        self.assertEqual(('vm-2', 'down', 'queue stuck'),
                         (event['details']['instance_id'],
                          event['details']['status'],
                          event['details']['reason']))
        vm.report_health(True)
        recovered = self.events(2)[1]
        self.assertEqual(('vm-2', 'up'), (recovered['details']['instance_id'],
                                          recovered['details']['status']))


class TestCheckConfig(base.TestCase):

    def test_bounds_in_the_wrong_order(self):
        self.config.config(min_interval_ms=1000, max_interval_ms=100,
                           group='compute_agent')
        error = self.assertRaises(exception.ConfigInvalid,
                                  agent_mod.check_config, self.conf)
        self.assertIn('min_interval_ms', str(error))

    def test_api_url_must_be_http(self):
        self.config.config(api_url='ftp://x', group='compute_agent')
        self.assertRaises(exception.ConfigInvalid, agent_mod.check_config,
                          self.conf)
        self.config.config(api_url='https://x', group='compute_agent')
        agent_mod.check_config(self.conf)
