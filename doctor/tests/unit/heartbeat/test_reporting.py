"""What the compute agent writes to the database and posts to the API."""

import datetime
import time

from doctor.heartbeat import reporting
from doctor.synchronizer import entity as entity_mod
from doctor.tests import base
from doctor.tests.unit.heartbeat import test_agent
from doctor.tests.unit.inspector import test_cache


class TestStatusWriter(base.DBTestCase):

    def test_the_latest_record_of_each_guest_is_written(self):
        writer = reporting.StatusWriter(self.db)
        seen = datetime.datetime(2026, 12, 7, 10, 0, 0, 5)
        for status in ('unregistered', 'ok', 'missed'):
            writer.put({'instance_id': 'i1', 'host': 'c0',
                        'project_id': 'p1', 'interval_ms': 100,
                        'threshold': 3, 'status': status,
                        'reason': None, 'last_seen': seen})
        writer.put({'instance_id': 'i2', 'host': 'c0', 'project_id': None,
                    'interval_ms': None, 'threshold': None,
                    'status': 'unregistered', 'reason': None,
                    'last_seen': None})
        writer.start()
        self.addCleanup(writer.stop)
        self.assertTrue(test_agent.wait_for(writer.idle))
        self.assertTrue(test_agent.wait_for(
            lambda: len(self.db.get_heartbeats()) == 2))
        self.assertEqual('missed', self.db.get_heartbeat('i1')['status'])
        writer.forget('i1')
        self.assertTrue(test_agent.wait_for(
            lambda: self.db.get_heartbeat('i1') is None))


class TestMembership(base.DBTestCase):

    def test_groups_and_projects_from_the_entity_store(self):
        self.db.apply_entity_changes([
            test_cache.record(entity_mod.HOST, 'c0'),
            test_cache.record('server_group', 'g1'),
            test_cache.record(entity_mod.INSTANCE, 'a', project_id='pa',
                              parents=('host:c0', 'server_group:g1')),
            test_cache.record(entity_mod.INSTANCE, 'b',
                              parents=('host:c0', 'server_group:g1')),
            test_cache.record(entity_mod.INSTANCE, 'x', parents=('host:c0',)),
        ])
        membership = reporting.Membership(self.db)
        self.assertEqual(['a', 'b'], sorted(membership.members('a')))
        self.assertEqual([], membership.members('x'))
        self.assertEqual([], membership.members('unknown'))
        self.assertEqual('pa', membership.project_of('a'))
        self.assertIsNone(membership.project_of('unknown'))


class TestInstanceEvent(base.TestCase):

    def test_the_event_the_api_takes(self):
        event = reporting.instance_event('i1', True, 'missed 3 heartbeats',
                                         'compute-0', 'agent-0', 'reboot')
        self.assertEqual('compute.instance.down', event['type'])
        self.assertEqual({'instance_id': 'i1', 'status': 'down',
                          'reason': 'missed 3 heartbeats',
                          'hostname': 'compute-0', 'monitor': 'agent-0',
                          'corrective_action': 'reboot'},
                         {k: v for k, v in event['details'].items()
                          if k != 'monitor_event_id'})
        up = reporting.instance_event('i1', False, 'back', 'c', 'a', 'none')
        self.assertEqual('up', up['details']['status'])
        self.assertNotIn('corrective_action', up['details'])

    def test_utc(self):
        self.assertIsNone(reporting.utc(None))
        self.assertEqual(datetime.datetime(1970, 1, 1, 0, 0, 1),
                         reporting.utc(1.0))
        self.assertIsNone(reporting.utc(time.time()).tzinfo)
