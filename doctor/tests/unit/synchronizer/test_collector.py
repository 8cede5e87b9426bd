"""Tests of the collector runner: leadership, baseline, failures."""

import threading

from oslo_utils import timeutils

from doctor.synchronizer import collector as collector_mod
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.synchronizer.datasources import base as ds_base
from doctor.tests import base
from doctor.tests.unit.synchronizer import fakes


def instance(entity_id: str, state: str = 'active') -> entity_mod.Entity:
    return entity_mod.Entity(entity_mod.INSTANCE, entity_id, state=state)


class TestCollectorRunner(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.synchronizer = synchronizer_mod.Synchronizer(self.conf, self.db)
        self.synchronizer.start()
        self.addCleanup(self.synchronizer.stop)
        self.got: list[dict] = []
        self.synchronizer.register(None, self.got.extend)
        self.datasource = fakes.ScriptedDatasource(self.conf, timeout=0.5)
        self.datasource.entities = [instance('i1'), instance('i2')]
        self.leader = True
        self.runner = collector_mod.CollectorRunner(
            self.datasource, self.synchronizer, self.db,
            lambda name: self.leader)
        self.addCleanup(self.runner.stop)

    def run_once(self):
        result = self.runner.run()
        self.assertTrue(self.synchronizer.wait_idle(10))
        return result

    def actions(self):
        actions = [(c['action'], c['key']) for c in self.got]
        del self.got[:]
        return actions

    def test_snapshots_yield_only_what_changed(self):
        self.assertEqual(2, self.run_once())
        self.assertEqual([('create', 'instance:i1'),
                          ('create', 'instance:i2')], self.actions())
        self.assertEqual(0, self.run_once())
        self.datasource.entities = [instance('i1', 'error')]
        self.assertEqual(2, self.run_once())
        self.assertEqual([('update', 'instance:i1'),
                          ('delete', 'instance:i2')], self.actions())
        self.assertEqual(['instance:i1'],
                         [e['key'] for e in self.db.get_entities()])

    def test_not_the_leader_takes_no_snapshot(self):
        self.leader = False
        self.assertIsNone(self.run_once())
        self.assertEqual(0, self.datasource.snapshots)

    def test_new_leader_starts_from_the_store(self):
        self.run_once()
        self.actions()
        # Another replica led for a while and stored a change.
        self.leader = False
        self.run_once()
        self.db.apply_entity_changes([entity_mod.Change(
            entity_mod.UPDATE, instance('i2', 'error'),
            timeutils.utcnow(), 'scripted').as_record()])
        forgotten = self.datasource.forgotten
        self.leader = True
        self.assertEqual(1, self.run_once())
        self.assertEqual(forgotten + 1, self.datasource.forgotten)
        # The source says active again: that is the one change.
        self.assertEqual([('update', 'instance:i2')], self.actions())

    def test_failed_snapshot_deletes_nothing_and_is_retried(self):
        self.run_once()
        self.actions()
        self.datasource.error = ds_base.SnapshotError('Nova unreachable')
        logger = self.useFixture(base.fixtures.FakeLogger())
        self.assertIsNone(self.run_once())
        self.assertIn('The snapshot of scripted failed, retried at the next '
                      'interval: Nova unreachable', logger.output)
        self.assertEqual(2, len(self.db.get_entities()))
        self.datasource.error = None
        self.datasource.entities = [instance('i1')]
        self.run_once()
        self.assertEqual([('delete', 'instance:i2')], self.actions())

    def test_unexpected_failure_is_logged_with_its_traceback(self):
        self.datasource.error = KeyError('flavor')
        logger = self.useFixture(base.fixtures.FakeLogger())
        self.assertIsNone(self.run_once())
        self.assertIn('Traceback', logger.output)
        self.assertEqual([], self.db.get_entities())

    def test_hung_snapshot_times_out_and_is_not_run_twice(self):
        self.datasource.hold = threading.Event()
        self.addCleanup(self.datasource.hold.set)
        logger = self.useFixture(base.fixtures.FakeLogger())
        self.assertIsNone(self.run_once())
        self.assertIn('took more than 0 s', logger.output)
        self.assertIsNone(self.run_once())
        self.assertIn('still running; skipping', logger.output)
        self.assertEqual(1, self.datasource.snapshots)
        self.assertEqual([], self.db.get_entities())
        self.datasource.hold.set()
        self.assertTrue(self._wait_done())
        self.datasource.hold = None
        self.assertEqual(2, self.run_once())

    def _wait_done(self) -> bool:
        running = self.runner._running
        if running is None:
            return True
        try:
            running.result(10)
        except Exception:
            pass
        return running.done()

    def test_changes_from_the_bus_move_the_baseline(self):
        self.run_once()
        self.actions()
        update = entity_mod.Change(entity_mod.UPDATE,
                                   instance('i1', 'error'),
                                   timeutils.utcnow(), 'scripted')
        self.runner.record([update])
        self.synchronizer.submit([update])
        self.datasource.entities = [instance('i1', 'error'), instance('i2')]
        self.run_once()
        self.assertEqual([('update', 'instance:i1')], self.actions())
