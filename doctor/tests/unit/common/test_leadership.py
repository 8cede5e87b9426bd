"""Tests of task leadership through tooz (its file backend, for real)."""

from doctor.common import coordination
from doctor.tests import base


class TestLeadership(base.TestCase):

    def setUp(self):
        super().setUp()
        self.config.config(backend_url='file://%s/coordination'
                           % self.state_path, group='coordination')

    def replica(self, host: str) -> coordination.Leadership:
        self.config.config(host=host)
        leadership = coordination.leadership(self.conf, 'doctor-test')
        assert isinstance(leadership, coordination.Leadership)
        leadership.start()
        self.addCleanup(leadership.stop)
        return leadership

    def test_one_leader_per_task(self):
        first = self.replica('one')
        second = self.replica('two')
        self.assertTrue(first.is_leader('nova'))
        self.assertTrue(first.is_leader('nova'))
        self.assertFalse(second.is_leader('nova'))
        # Tasks are led independently.
        self.assertTrue(second.is_leader('neutron'))
        self.assertFalse(first.is_leader('neutron'))

    def test_another_replica_takes_over_when_the_leader_stops(self):
        first = self.replica('one')
        second = self.replica('two')
        self.assertTrue(first.is_leader('nova'))
        self.assertFalse(second.is_leader('nova'))
        first.stop()
        self.assertTrue(second.is_leader('nova'))

    def test_without_a_backend_every_replica_leads(self):
        self.config.config(backend_url=None, group='coordination')
        leadership = coordination.leadership(self.conf, 'doctor-test')
        leadership.start()
        self.assertTrue(leadership.is_leader('nova'))
        leadership.stop()
