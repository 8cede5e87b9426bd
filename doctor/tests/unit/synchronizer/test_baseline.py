"""Tests of the baseline diff: a snapshot in, only what changed out."""

import datetime

from doctor.synchronizer import baseline as baseline_mod
from doctor.synchronizer import entity as entity_mod
from doctor.tests import base

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def host(name: str, state: str = 'up') -> entity_mod.Entity:
    return entity_mod.Entity(entity_mod.HOST, name, state=state, name=name)


def instance(uuid: str, host_name: str = 'compute-0',
             state: str = 'active', **attributes) -> entity_mod.Entity:
    return entity_mod.Entity(
        entity_mod.INSTANCE, uuid, state=state, project_id='p1',
        parents=(entity_mod.make_key(entity_mod.HOST, host_name),),
        attributes=attributes)


def summary(changes):
    return [(change.action, change.key) for change in changes]


class TestEntity(base.TestCase):

    def test_key(self):
        self.assertEqual('instance:i1', instance('i1').key)
        self.assertEqual(('instance', 'i1'),
                         entity_mod.split_key('instance:i1'))
        self.assertEqual(('host', 'a:b'), entity_mod.split_key('host:a:b'))

    def test_split_key_refuses_what_is_not_a_key(self):
        for key in ('instance', ':i1', 'instance:', ''):
            self.assertRaises(ValueError, entity_mod.split_key, key)

    def test_digest_ignores_key_order_and_sees_any_change(self):
        one = instance('i1', flavor='m1', zone='nova')
        two = instance('i1', zone='nova', flavor='m1')
        self.assertEqual(one.digest(), two.digest())
        for other in (instance('i1', flavor='m2', zone='nova'),
                      instance('i1', state='error', flavor='m1',
                               zone='nova'),
                      instance('i1', host_name='compute-1', flavor='m1',
                               zone='nova')):
            self.assertNotEqual(one.digest(), other.digest())

    def test_change_refuses_an_unknown_action(self):
        self.assertRaises(ValueError, entity_mod.Change, 'upsert',
                          host('h'), T0, 'static')

    def test_record_round_trip(self):
        change = entity_mod.Change(entity_mod.UPDATE,
                                   instance('i1', flavor='m1'), T0, 'nova')
        record = change.as_record()
        self.assertEqual('instance:i1', record['key'])
        self.assertEqual(['host:compute-0'], record['parents'])
        again = entity_mod.Change.from_record(record)
        self.assertEqual(change, again)


class TestBaselineDiff(base.TestCase):

    def setUp(self):
        super().setUp()
        self.baseline = baseline_mod.Baseline('static')
        self.first = [host('compute-0'), instance('i1'), instance('i2')]
        self.initial = self.baseline.diff(self.first, at(0))

    def test_first_snapshot_creates_everything(self):
        self.assertEqual([('create', 'host:compute-0'),
                          ('create', 'instance:i1'),
                          ('create', 'instance:i2')],
                         summary(self.initial))
        for change in self.initial:
            self.assertEqual('static', change.datasource)
            self.assertEqual(at(0), change.timestamp)
            self.assertEqual(change.entity.digest(), change.digest)
        self.assertEqual(3, len(self.baseline))

    def test_unchanged_entities_yield_nothing(self):
        same = [host('compute-0'), instance('i1'), instance('i2')]
        self.assertEqual([], self.baseline.diff(same, at(10)))

    def test_changed_entity_is_an_update(self):
        changes = self.baseline.diff(
            [host('compute-0'), instance('i1', state='error'),
             instance('i2')], at(10))
        self.assertEqual([('update', 'instance:i1')], summary(changes))
        self.assertEqual('error', changes[0].entity.state)
        self.assertEqual(at(10), changes[0].timestamp)

    def test_moved_entity_is_an_update(self):
        changes = self.baseline.diff(
            [host('compute-0'), instance('i1', host_name='compute-1'),
             instance('i2')], at(10))
        self.assertEqual([('update', 'instance:i1')], summary(changes))
        self.assertEqual(('host:compute-1',), changes[0].entity.parents)

    def test_vanished_entity_is_a_delete(self):
        changes = self.baseline.diff([host('compute-0'), instance('i2')],
                                     at(10))
        self.assertEqual([('delete', 'instance:i1')], summary(changes))
        self.assertEqual(('instance', 'i1'),
                         (changes[0].entity.type, changes[0].entity.id))
        self.assertNotIn('instance:i1', self.baseline)

    def test_new_entity_is_a_create(self):
        changes = self.baseline.diff(self.first + [instance('i3')], at(10))
        self.assertEqual([('create', 'instance:i3')], summary(changes))

    def test_each_change_is_reported_once(self):
        changed = [host('compute-0', state='down'), instance('i1')]
        self.assertEqual([('update', 'host:compute-0'),
                          ('delete', 'instance:i2')],
                         summary(self.baseline.diff(changed, at(10))))
        self.assertEqual([], self.baseline.diff(changed, at(20)))

    def test_empty_snapshot_deletes_everything(self):
        changes = self.baseline.diff([], at(10))
        self.assertEqual({'delete'}, {change.action for change in changes})
        self.assertEqual(3, len(changes))
        self.assertEqual(0, len(self.baseline))

    def test_newer_report_from_the_bus_is_not_undone_by_older_snapshot(self):
        # i3 was created (t=15) and i1 changed (t=15) while a snapshot
        # taken at t=10 was running: that snapshot knows neither.
        self.baseline.record(entity_mod.Change(
            entity_mod.CREATE, instance('i3'), at(15), 'static'))
        self.baseline.record(entity_mod.Change(
            entity_mod.UPDATE, instance('i1', state='error'), at(15),
            'static'))
        self.assertEqual([], self.baseline.diff(self.first, at(10)))
        self.assertIn('instance:i3', self.baseline)
        # A later snapshot that still lacks i3 deletes it, and one that
        # says i1 is active again updates it.
        later = self.baseline.diff(self.first, at(20))
        self.assertEqual([('update', 'instance:i1'),
                          ('delete', 'instance:i3')], summary(later))

    def test_report_from_the_bus_saves_a_redundant_update(self):
        self.baseline.record(entity_mod.Change(
            entity_mod.UPDATE, instance('i1', state='error'), at(5),
            'static'))
        snapshot = [host('compute-0'), instance('i1', state='error'),
                    instance('i2')]
        self.assertEqual([], self.baseline.diff(snapshot, at(10)))

    def test_older_report_from_the_bus_is_ignored(self):
        self.baseline.diff([host('compute-0'), instance('i1', state='error'),
                            instance('i2')], at(10))
        self.baseline.record(entity_mod.Change(
            entity_mod.DELETE, entity_mod.Entity('instance', 'i1'), at(5),
            'static'))
        self.assertIn('instance:i1', self.baseline)
        self.assertEqual([], self.baseline.diff(
            [host('compute-0'), instance('i1', state='error'),
             instance('i2')], at(20)))

    def test_delete_from_the_bus_is_not_repeated(self):
        self.baseline.record(entity_mod.Change(
            entity_mod.DELETE, entity_mod.Entity('instance', 'i2'), at(5),
            'static'))
        self.assertEqual([], self.baseline.diff(
            [host('compute-0'), instance('i1')], at(10)))

    def test_load_starts_from_the_store(self):
        baseline = baseline_mod.Baseline('static')
        baseline.load({'instance:i1': (instance('i1').digest(), at(0)),
                       'instance:gone': ('x', at(0))})
        changes = baseline.diff([instance('i1'), instance('i2')], at(10))
        self.assertEqual([('create', 'instance:i2'),
                          ('delete', 'instance:gone')], summary(changes))

    def test_duplicate_in_snapshot_last_report_counts(self):
        changes = self.baseline.diff(
            self.first + [instance('i1', state='error')], at(10))
        self.assertEqual('error', changes[-1].entity.state)
        self.assertEqual([], self.baseline.diff(
            [host('compute-0'), instance('i1', state='error'),
             instance('i2')], at(20)))
