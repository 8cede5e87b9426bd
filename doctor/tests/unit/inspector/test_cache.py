"""Tests of the inspector's host cache."""

import datetime
import threading

from doctor.inspector import cache as cache_mod
from doctor.synchronizer import entity as entity_mod
from doctor.tests import base

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)


def record(entity_type: str, entity_id: str, seconds: float = 0,
           action: str = entity_mod.CREATE, state: str | None = None,
           parents: tuple = (), project_id: str | None = 'p1',
           attributes: dict | None = None) -> dict:
    return entity_mod.Change(
        action, entity_mod.Entity(entity_type, entity_id, state=state,
                                  name=entity_id, project_id=project_id,
                                  parents=parents,
                                  attributes=attributes or {}),
        T0 + datetime.timedelta(seconds=seconds), 'static').as_record()


def view(entity_type: str, entity_id: str, seconds: float = 0,
         **kwargs) -> dict:
    found = record(entity_type, entity_id, seconds, **kwargs)
    found['updated_at'] = found.pop('timestamp')
    return found


def instance(entity_id: str, host: str, seconds: float = 0,
             state: str = 'active', **kwargs) -> dict:
    return record(entity_mod.INSTANCE, entity_id, seconds, state=state,
                  parents=('host:' + host,), **kwargs)


def port(entity_id: str, host: str, device: str, seconds: float = 0,
         **kwargs) -> dict:
    return record(entity_mod.PORT, entity_id, seconds, state='ACTIVE',
                  parents=('host:' + host, 'instance:' + device), **kwargs)


class TestHostCache(base.TestCase):

    def setUp(self):
        super().setUp()
        self.cache = cache_mod.HostCache()

    def ids(self, host: str) -> tuple[list[str], list[str]]:
        found = self.cache.lookup(host)
        assert found is not None
        return (sorted(i.id for i in found.instances),
                sorted(p.id for p in found.ports))

    def test_lookup_gives_what_is_on_the_host(self):
        self.cache.apply([
            record(entity_mod.HOST, 'c0', state='up',
                   attributes={'service_id': 's0'}),
            record(entity_mod.HOST, 'c1', state='up'),
            instance('i1', 'c0'), instance('i2', 'c0'), instance('i3', 'c1'),
            port('p1', 'c0', 'i1'), port('p3', 'c1', 'i3'),
        ])
        found = self.cache.lookup('c0')
        self.assertEqual('s0', found.host.service_id)
        self.assertEqual((['i1', 'i2'], ['p1']), self.ids('c0'))
        self.assertEqual((['i3'], ['p3']), self.ids('c1'))
        i1 = next(i for i in found.instances if i.id == 'i1')
        self.assertEqual(('c0', 'active', 'p1'),
                         (i1.host, i1.state, i1.project_id))
        self.assertEqual('i1', found.ports[0].device_id)
        self.assertIsNone(self.cache.lookup('c9'))

    def test_a_host_known_only_as_a_parent_is_known(self):
        self.cache.apply([instance('i1', 'c7')])
        self.assertTrue(self.cache.knows_host('c7'))
        self.assertEqual('c7', self.cache.lookup('c7').host.name)
        self.assertFalse(self.cache.knows_host('c8'))

    def test_moves_and_deletes_follow(self):
        self.cache.apply([instance('i1', 'c0'), instance('i2', 'c0'),
                          port('p1', 'c0', 'i1')])
        self.cache.apply([
            instance('i1', 'c1', 1, action=entity_mod.UPDATE),
            port('p1', 'c1', 'i1', 1, action=entity_mod.UPDATE),
            record(entity_mod.INSTANCE, 'i2', 1, action=entity_mod.DELETE),
        ])
        self.assertIsNone(self.cache.lookup('c0'))
        self.assertEqual((['i1'], ['p1']), self.ids('c1'))
        self.assertIsNone(self.cache.instance('i2'))

    def test_an_older_change_loses(self):
        self.cache.apply([instance('i1', 'c0', 5, state='error')])
        self.cache.apply([instance('i1', 'c1', 1, state='active',
                                   action=entity_mod.UPDATE)])
        self.assertEqual('error', self.cache.instance('i1').state)
        self.assertEqual((['i1'], []), self.ids('c0'))

    def test_an_unscheduled_instance_is_on_no_host(self):
        self.cache.apply([record(entity_mod.INSTANCE, 'i1', state='building')])
        self.assertIsNotNone(self.cache.instance('i1'))
        self.assertFalse(self.cache.knows_host(''))

    def test_other_types_are_ignored(self):
        self.cache.apply([record('server_group', 'g1')])
        self.assertEqual({'hosts': 0, 'instances': 0, 'ports': 0},
                         self.cache.counts())

    def test_reload_replaces_the_index(self):
        self.cache.apply([instance('i1', 'c0')])
        self.cache.reload(lambda: [view(entity_mod.INSTANCE, 'i2', state='a',
                                        parents=('host:c1',))])
        self.assertIsNone(self.cache.instance('i1'))
        self.assertEqual((['i2'], []), self.ids('c1'))
        self.assertTrue(self.cache.loaded.is_set())

    def test_changes_followed_during_a_reload_are_kept(self):
        reading = threading.Event()
        proceed = threading.Event()

        def read():
            reading.set()
            proceed.wait(10)
            # What the store held before the followed changes.
            return [view(entity_mod.INSTANCE, 'i1', 0, state='active',
                         parents=('host:c0',)),
                    view(entity_mod.INSTANCE, 'i2', 0, state='active',
                         parents=('host:c0',))]

        thread = threading.Thread(target=self.cache.reload, args=(read,))
        thread.start()
        self.assertTrue(reading.wait(10))
        self.cache.apply([
            instance('i1', 'c1', 2, action=entity_mod.UPDATE),
            record(entity_mod.INSTANCE, 'i2', 2, action=entity_mod.DELETE),
            instance('i3', 'c0', 2),
        ])
        proceed.set()
        thread.join(10)
        self.assertEqual((['i3'], []), self.ids('c0'))
        self.assertEqual((['i1'], []), self.ids('c1'))
        self.assertIsNone(self.cache.instance('i2'))

    def test_a_failed_reload_keeps_the_cache(self):
        self.cache.apply([instance('i1', 'c0')])

        def read():
            raise RuntimeError('database gone')

        self.assertRaises(RuntimeError, self.cache.reload, read)
        self.assertEqual((['i1'], []), self.ids('c0'))
        self.cache.apply([instance('i2', 'c0')])
        self.assertEqual((['i1', 'i2'], []), self.ids('c0'))

    def test_bus_timestamps_as_strings_are_ordered(self):
        newer = instance('i1', 'c0', 5, state='error')
        newer['timestamp'] = newer['timestamp'].isoformat() + '+00:00'
        self.cache.apply([newer])
        self.cache.apply([instance('i1', 'c0', 1, state='active',
                                   action=entity_mod.UPDATE)])
        self.assertEqual('error', self.cache.instance('i1').state)


class TestReadStore(base.DBTestCase):

    def test_reads_every_page_of_every_type(self):
        self.db.apply_entity_changes(
            [record(entity_mod.HOST, 'c0', state='up')]
            + [instance('i%03d' % n, 'c0') for n in range(25)]
            + [port('p%03d' % n, 'c0', 'i%03d' % n) for n in range(7)])
        cache = cache_mod.HostCache()
        cache.reload(lambda: cache_mod.read_store(self.db, page_size=10))
        self.assertEqual({'hosts': 1, 'instances': 25, 'ports': 7},
                         cache.counts())
        self.assertEqual(25, len(cache.lookup('c0').instances))
