"""Tests of the synchronizer's engine: store, consumers, publication."""

import datetime
import threading
from unittest import mock

from oslo_db import exception as db_exc

from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.tests import base

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)


def change(entity_id: str, seconds: float = 0, state: str = 'active',
           entity_type: str = entity_mod.INSTANCE,
           action: str = entity_mod.CREATE) -> entity_mod.Change:
    return entity_mod.Change(
        action, entity_mod.Entity(entity_type, entity_id, state=state),
        T0 + datetime.timedelta(seconds=seconds), 'test')


class TestSynchronizer(base.DBTestCase):

    def setUp(self):
        super().setUp()
        self.published: list[list[dict]] = []
        self.synchronizer = synchronizer_mod.Synchronizer(
            self.conf, self.db, self.published.append)
        self.synchronizer.start()
        self.addCleanup(self.synchronizer.stop)

    def settle(self):
        self.assertTrue(self.synchronizer.wait_idle(10))

    def test_changes_are_stored_and_published_in_order(self):
        got: list[dict] = []
        self.synchronizer.register(None, got.extend)
        self.synchronizer.submit([change('i1'), change('i2')])
        self.synchronizer.submit([change('i1', 1, state='error',
                                         action=entity_mod.UPDATE)])
        self.settle()
        self.assertEqual(
            [('create', 'instance:i1', 'active'),
             ('create', 'instance:i2', 'active'),
             ('update', 'instance:i1', 'error')],
            [(c['action'], c['key'], c['state']) for c in got])
        self.assertEqual(got, [c for batch in self.published for c in batch])
        self.assertEqual('error', self.db.get_entity('instance:i1')['state'])

    def test_only_changes_that_took_go_out(self):
        self.synchronizer.submit([change('i1', 5)])
        self.settle()
        got: list[dict] = []
        self.synchronizer.register(None, got.extend)
        self.synchronizer.submit([change('i1', 4, state='error',
                                         action=entity_mod.UPDATE),
                                  change('i1', 6)])
        self.settle()
        self.assertEqual([], got)

    def test_consumers_get_the_types_they_asked_for(self):
        hosts: list[dict] = []
        everything: list[dict] = []
        self.synchronizer.register([entity_mod.HOST], hosts.extend)
        self.synchronizer.register(None, everything.extend)
        self.synchronizer.submit([change('i1'),
                                  change('h1', entity_type=entity_mod.HOST)])
        self.settle()
        self.assertEqual(['host:h1'], [c['key'] for c in hosts])
        self.assertEqual(2, len(everything))

    def test_a_slow_consumer_stalls_neither_the_store_nor_the_others(self):
        release = threading.Event()
        slow_got: list[dict] = []

        def slow(changes):
            release.wait(30)
            slow_got.extend(changes)
        fast_got: list[dict] = []
        self.synchronizer.register(None, slow, name='slow')
        self.synchronizer.register(None, fast_got.extend, name='fast')
        for n in range(5):
            self.synchronizer.submit([change('i%d' % n)])
        self.assertTrue(self._wait(lambda: len(fast_got) == 5))
        self.assertEqual(5, len(self.db.get_entities()))
        self.assertEqual([], slow_got)
        release.set()
        self.settle()
        self.assertEqual(['instance:i%d' % n for n in range(5)],
                         [c['key'] for c in slow_got])

    def test_a_failing_consumer_keeps_getting_changes(self):
        calls: list[int] = []

        def failing(changes):
            calls.append(len(changes))
            raise RuntimeError('consumer bug')
        self.synchronizer.register(None, failing)
        self.synchronizer.submit([change('i1')])
        self.settle()
        self.synchronizer.submit([change('i2')])
        self.settle()
        self.assertEqual([1, 1], calls)

    def test_backlog_warning(self):
        self.config.config(consumer_backlog_warning=3, group='synchronizer')
        release = threading.Event()
        synchronizer = synchronizer_mod.Synchronizer(self.conf, self.db)
        synchronizer.start()
        self.addCleanup(synchronizer.stop)
        self.addCleanup(release.set)
        logger = self.useFixture(base.fixtures.FakeLogger())
        synchronizer.register(None, lambda changes: release.wait(30),
                              name='stuck')
        synchronizer.submit([change('i0')])
        self.assertTrue(self._wait(
            lambda: not synchronizer._queue and not synchronizer._writing))
        synchronizer.submit([change('i%d' % n) for n in range(1, 5)])
        self.assertTrue(self._wait(lambda: 'stuck' in logger.output))
        self.assertIn('has 4 waiting', logger.output)

    def test_database_unreachable_retries_without_losing_changes(self):
        real = self.db.apply_entity_changes
        failures = iter([db_exc.DBConnectionError('down')])

        def flaky(changes):
            for error in failures:
                raise error
            return real(changes)
        self.useFixture(base.fixtures.MockPatchObject(
            synchronizer_mod, 'RETRY_INTERVAL', 0.01))
        with mock.patch.object(self.db, 'apply_entity_changes', autospec=True,
                               side_effect=flaky):
            self.synchronizer.submit([change('i1')])
            self.settle()
        self.assertEqual('active', self.db.get_entity('instance:i1')['state'])

    def test_one_bad_change_does_not_cost_the_others(self):
        bad = change('i2')
        bad.entity.attributes = {'x': object()}
        got: list[dict] = []
        self.synchronizer.register(None, got.extend)
        self.synchronizer.submit([change('i1'), bad, change('i3')])
        self.settle()
        self.assertEqual(['instance:i1', 'instance:i3'],
                         [c['key'] for c in got])

    def test_batches_are_bounded(self):
        self.config.config(batch_size=2, group='synchronizer')
        sizes: list[int] = []
        real = self.db.apply_entity_changes

        def spy(changes):
            sizes.append(len(changes))
            return real(changes)
        with mock.patch.object(self.db, 'apply_entity_changes', autospec=True,
                               side_effect=spy):
            self.synchronizer.submit([change('i%d' % n) for n in range(5)])
            self.settle()
        self.assertLessEqual(max(sizes), 2)
        self.assertEqual(5, sum(sizes))

    def test_publication_failure_is_logged_not_fatal(self):
        synchronizer = synchronizer_mod.Synchronizer(
            self.conf, self.db, mock.Mock(side_effect=RuntimeError('bus')))
        synchronizer.start()
        self.addCleanup(synchronizer.stop)
        got: list[dict] = []
        synchronizer.register(None, got.extend)
        synchronizer.submit([change('i1')])
        synchronizer.submit([change('i2')])
        self.assertTrue(synchronizer.wait_idle(10))
        self.assertEqual(2, len(got))

    def test_stop_stores_what_is_queued(self):
        synchronizer = synchronizer_mod.Synchronizer(self.conf, self.db)
        synchronizer.submit([change('i%d' % n) for n in range(10)])
        synchronizer.start()
        synchronizer.stop()
        self.assertEqual(10, len(self.db.get_entities()))

    @staticmethod
    def _wait(predicate, timeout: float = 10.0) -> bool:
        event = threading.Event()
        deadline = 0.0
        while deadline < timeout:
            if predicate():
                return True
            event.wait(0.01)
            deadline += 0.01
        return False
