"""Tests of doctor-synchronizer on the embedded bus and database."""

import datetime
import os
import threading
import time

import oslo_messaging as messaging
from oslo_utils import timeutils

from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.common import rpc
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import follower as follower_mod
from doctor.synchronizer import service
from doctor.synchronizer.datasources import base as ds_base
from doctor.synchronizer.datasources import static
from doctor.tests import base
from doctor.tests.unit.synchronizer import fakes

INVENTORY = """\
hosts:
  - name: compute-0
    instances:
      - id: i1
        project_id: p1
        ports:
          - id: port1
"""


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class TestLoadDatasources(base.TestCase):

    def test_configured_datasources_in_order(self):
        self.config.config(datasources=['static'], group='synchronizer')
        datasources = service.load_datasources(self.conf)
        self.assertEqual(['static'], [d.name for d in datasources])
        self.assertIsInstance(datasources[0], static.StaticDatasource)

    def test_unknown_datasource_is_named(self):
        self.config.config(datasources=['static', 'zabbix'],
                           group='synchronizer')
        error = self.assertRaises(exception.ConfigInvalid,
                                  service.load_datasources, self.conf)
        self.assertIn('no datasource zabbix (there are: ', str(error))
        self.assertIn('static', str(error))

    def test_check_config_reads_the_inventory(self):
        path = os.path.join(self.state_path, 'inventory.yaml')
        with open(path, 'w') as stream:
            stream.write('hosts:\n  - state: up\n')
        self.config.config(inventory=path, group='static')
        error = self.assertRaises(exception.ConfigInvalid,
                                  service.check_config, self.conf)
        self.assertIn('hosts[0]: name is required', str(error))


class TestSynchronizerService(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.inventory = os.path.join(self.state_path, 'inventory.yaml')
        with open(self.inventory, 'w') as stream:
            stream.write(INVENTORY)
        self.config.config(inventory=self.inventory, snapshot_interval=0.1,
                           group='static')
        self.followed: list[dict] = []
        follower = follower_mod.Follower(self.conf, self.followed.extend)
        follower.start()
        self.addCleanup(follower.stop)

    def start(self, datasources) -> service.SynchronizerService:
        synchronizer = service.SynchronizerService(self.conf, datasources)
        synchronizer.start()
        self.addCleanup(synchronizer.stop)
        return synchronizer

    def keys(self) -> list[str]:
        return [entity['key'] for entity in self.db.get_entities()]

    def test_static_inventory_reaches_store_and_followers(self):
        self.start([static.StaticDatasource(self.conf, 'static')])
        expected = ['host:compute-0', 'instance:i1', 'port:port1']
        self.assertTrue(wait_for(lambda: len(self.followed) == 3))
        self.assertEqual(expected, self.keys())
        self.assertEqual(expected, sorted(c['key'] for c in self.followed))
        del self.followed[:]
        # The file changes: the instance leaves, the entity store follows.
        with open(self.inventory, 'w') as stream:
            stream.write('hosts:\n  - name: compute-0\n')
        stat = os.stat(self.inventory)
        os.utime(self.inventory, ns=(stat.st_atime_ns,
                                     stat.st_mtime_ns + 10**9))
        self.assertTrue(wait_for(lambda: len(self.followed) == 2))
        self.assertEqual({('delete', 'instance:i1'), ('delete', 'port:port1')},
                         {(c['action'], c['key']) for c in self.followed})
        self.assertEqual(['host:compute-0'], self.keys())

    def test_a_failing_datasource_does_not_take_the_others_down(self):
        broken = fakes.ScriptedDatasource(self.conf, 'broken')
        broken.error = ds_base.SnapshotError('source down')
        hung = fakes.ScriptedDatasource(self.conf, 'hung', timeout=0.2)
        hung.hold = threading.Event()
        self.addCleanup(hung.hold.set)
        self.start([broken, hung,
                    static.StaticDatasource(self.conf, 'static')])
        self.assertTrue(wait_for(lambda: len(self.keys()) == 3))
        self.assertTrue(wait_for(lambda: broken.snapshots >= 3))

    def test_notifications_become_changes(self):
        listener = fakes.ScriptedDatasource(self.conf, 'listener',
                                            interval=None,
                                            topic='test-entities')
        self.start([listener])
        notifier = messaging.Notifier(
            rpc.get_notification_transport(self.conf), publisher_id='test',
            topics=['test-entities'])
        context = doctor_context.get_admin_context()
        logger = self.useFixture(base.fixtures.FakeLogger())
        notifier.info(context, 'test.entity', {'state': 'error'})
        notifier.info(context, 'other.event', {'id': 'ignored'})
        notifier.info(context, 'test.entity', {'id': 'i7', 'state': 'error'})
        self.assertTrue(wait_for(lambda: self.keys() == ['instance:i7']))
        self.assertEqual('error', self.db.get_entity('instance:i7')['state'])
        self.assertTrue(wait_for(lambda: len(self.followed) == 1))
        self.assertIn('Dropped a notification from test for listener: '
                      'test.entity notification without id', logger.output)
        notifier.info(context, 'test.entity',
                      {'id': 'i7', 'action': 'delete'})
        self.assertTrue(wait_for(lambda: self.keys() == []))

    def test_snapshot_of_a_listener_wins_over_older_notifications(self):
        both = fakes.ScriptedDatasource(self.conf, 'both', interval=0.1,
                                        topic='test-entities')
        self.start([both])
        notifier = messaging.Notifier(
            rpc.get_notification_transport(self.conf), publisher_id='test',
            topics=['test-entities'])
        notifier.info(doctor_context.get_admin_context(), 'test.entity',
                      {'id': 'i7', 'state': 'error'})
        # The source's next snapshot does not have it: it is deleted.
        self.assertTrue(wait_for(lambda: len(self.followed) == 2))
        self.assertEqual(['create', 'delete'],
                         [c['action'] for c in self.followed])

    def test_tombstones_are_purged(self):
        synchronizer = self.start([])
        with open(self.inventory, 'w') as stream:
            stream.write('hosts: []\n')
        self.config.config(tombstone_lifetime=1, group='synchronizer')
        self.db.apply_entity_changes([fakes.ScriptedDatasource(
            self.conf).change('delete', entity_mod.Entity(
                'instance', 'gone'), timeutils.utcnow()
            - datetime.timedelta(seconds=5)).as_record()])
        self.assertEqual(1, synchronizer.purge_tombstones())
        self.assertEqual(0, synchronizer.purge_tombstones())
