"""The synchronizer's entity store on SQLite, PostgreSQL and MariaDB.

One set of tests, run on each backend by the subclasses at the end.
"""

import datetime
import threading

from oslo_utils import timeutils

from doctor.common import exception
from doctor.db import api as db_api
from doctor.synchronizer import entity as entity_mod
from doctor.tests.functional import base

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0, 123456)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def record(action: str, entity_type: str, entity_id: str, when: float,
           datasource: str = 'nova', state: str | None = 'active',
           parents: tuple[str, ...] = (), project_id: str | None = 'p1',
           **attributes) -> dict:
    entity = entity_mod.Entity(entity_type, entity_id, state=state,
                               name=entity_id, project_id=project_id,
                               parents=parents, attributes=attributes)
    return entity_mod.Change(action, entity, at(when),
                             datasource).as_record()


def instance(action: str, entity_id: str, when: float,
             host: str = 'compute-0', **kwargs) -> dict:
    return record(action, 'instance', entity_id, when,
                  parents=('host:%s' % host,), **kwargs)


def summary(applied: list[dict]) -> list[tuple[str, str]]:
    return [(change['action'], change['key']) for change in applied]


class SQLiteEntityStoreTest(base.FunctionalTestCase):
    """The entity store on the embedded default, SQLite."""

    backend = 'sqlite'

    def setUp(self):
        super().setUp()
        self.db = self.use_database(self.backend)
        self.db.apply_entity_changes([
            record('create', 'host', 'compute-0', 0, state='up',
                   project_id=None),
            record('create', 'host', 'compute-1', 0, state='up',
                   project_id=None)])

    def keys(self, **filters) -> list[str]:
        return [entity['key'] for entity in self.db.get_entities(**filters)]

    def test_create_then_read(self):
        applied = self.db.apply_entity_changes(
            [instance('create', 'i1', 1, flavor='m1', nested={'a': [1]})])
        self.assertEqual([('create', 'instance:i1')], summary(applied))
        entity = self.db.get_entity('instance:i1')
        self.assertEqual(
            {'key': 'instance:i1', 'type': 'instance', 'id': 'i1',
             'name': 'i1', 'state': 'active', 'project_id': 'p1',
             'datasource': 'nova', 'parents': ['host:compute-0'],
             'attributes': {'flavor': 'm1', 'nested': {'a': [1]}},
             'updated_at': at(1), 'children': []}, entity)
        self.assertEqual(['instance:i1'],
                         self.db.get_entity('host:compute-0')['children'])

    def test_update_moves_an_instance_to_another_host(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1)])
        applied = self.db.apply_entity_changes(
            [instance('update', 'i1', 2, host='compute-1', state='error')])
        self.assertEqual([('update', 'instance:i1')], summary(applied))
        self.assertEqual([], self.keys(parent='host:compute-0'))
        self.assertEqual(['instance:i1'], self.keys(parent='host:compute-1'))
        self.assertEqual('error', self.db.get_entity('instance:i1')['state'])

    def test_older_change_is_ignored(self):
        self.db.apply_entity_changes([instance('create', 'i1', 5,
                                               state='error')])
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('update', 'i1', 4, state='active')]))
        self.assertEqual('error', self.db.get_entity('instance:i1')['state'])

    def test_changes_of_one_batch_apply_in_timestamp_order(self):
        applied = self.db.apply_entity_changes([
            instance('update', 'i1', 3, state='error'),
            instance('create', 'i1', 1, state='building'),
            instance('update', 'i1', 2, state='active')])
        self.assertEqual([('create', 'instance:i1'),
                          ('update', 'instance:i1'),
                          ('update', 'instance:i1')], summary(applied))
        self.assertEqual(['building', 'active', 'error'],
                         [change['state'] for change in applied])
        self.assertEqual('error', self.db.get_entity('instance:i1')['state'])

    def test_same_digest_is_not_an_update(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1)])
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('update', 'i1', 3)]))
        # but it is news of the entity: a report older than it is stale.
        self.assertEqual(at(3),
                         self.db.get_entity('instance:i1')['updated_at'])
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('update', 'i1', 2, state='error')]))
        self.assertEqual('active',
                         self.db.get_entity('instance:i1')['state'])

    def test_update_of_an_unknown_entity_is_a_create(self):
        self.assertEqual([('create', 'instance:i1')], summary(
            self.db.apply_entity_changes([instance('update', 'i1', 1)])))

    def test_delete_leaves_a_tombstone_that_wins_over_older_reports(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1)])
        applied = self.db.apply_entity_changes(
            [instance('delete', 'i1', 3)])
        self.assertEqual([('delete', 'instance:i1')], summary(applied))
        self.assertRaises(exception.EntityNotFound, self.db.get_entity,
                          'instance:i1')
        self.assertEqual([], self.keys(entity_type='instance'))
        self.assertEqual([], self.db.get_entity('host:compute-0')
                         ['children'])
        # A snapshot older than the delete does not bring it back...
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('update', 'i1', 2)]))
        # ...a newer report does.
        self.assertEqual([('create', 'instance:i1')], summary(
            self.db.apply_entity_changes([instance('create', 'i1', 4)])))

    def test_delete_of_an_unknown_entity_blocks_older_creates(self):
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('delete', 'i1', 5)]))
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('create', 'i1', 4)]))
        self.assertEqual([], self.keys(entity_type='instance'))

    def test_delete_by_another_datasource_is_ignored(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1)])
        self.assertEqual([], self.db.apply_entity_changes(
            [instance('delete', 'i1', 2, datasource='static')]))
        self.assertEqual('nova',
                         self.db.get_entity('instance:i1')['datasource'])

    def test_report_from_another_datasource_takes_the_entity_over(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1)])
        applied = self.db.apply_entity_changes(
            [instance('update', 'i1', 2, datasource='static')])
        self.assertEqual([('update', 'instance:i1')], summary(applied))
        self.assertEqual('static',
                         self.db.get_entity('instance:i1')['datasource'])

    def test_filters_and_paging(self):
        self.db.apply_entity_changes(
            [instance('create', 'i%d' % n, 1, state=state,
                      host='compute-%d' % (n % 2))
             for n, state in enumerate(['active', 'error', 'active'])]
            + [record('create', 'port', 'p0', 1, datasource='neutron',
                      state='ACTIVE',
                      parents=('host:compute-0', 'instance:i0'))])
        self.assertEqual(['instance:i0', 'instance:i1', 'instance:i2'],
                         self.keys(entity_type='instance'))
        self.assertEqual(['instance:i0', 'instance:i2', 'port:p0'],
                         self.keys(parent='host:compute-0'))
        self.assertEqual(['port:p0'], self.keys(parent='instance:i0'))
        self.assertEqual(['instance:i1'], self.keys(state='error'))
        self.assertEqual(['port:p0'], self.keys(datasource='neutron'))
        self.assertEqual(['instance:i0', 'instance:i1', 'instance:i2',
                          'port:p0'], self.keys(project_id='p1'))
        self.assertEqual(['host:compute-0', 'host:compute-1'],
                         self.keys(limit=2))
        self.assertEqual(['instance:i0', 'instance:i1'],
                         self.keys(limit=2, marker='host:compute-1'))
        self.assertEqual([], self.keys(marker='port:p0'))

    def test_digests_of_a_datasource(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1),
                                      instance('create', 'i2', 1)])
        self.db.apply_entity_changes([instance('delete', 'i2', 2)])
        digests = self.db.get_entity_digests('nova')
        self.assertEqual({'host:compute-0', 'host:compute-1', 'instance:i1'},
                         set(digests))
        expected = instance('create', 'i1', 1)['digest']
        self.assertEqual((expected, at(1)), digests['instance:i1'])
        self.assertEqual({}, self.db.get_entity_digests('static'))

    def test_purge_forgets_old_tombstones_only(self):
        self.db.apply_entity_changes([instance('create', 'i1', 1),
                                      instance('create', 'i2', 1)])
        self.db.apply_entity_changes([instance('delete', 'i1', 2),
                                      instance('delete', 'i2', 20)])
        self.assertEqual(1, self.db.purge_entity_tombstones(at(10)))
        # i1 is forgotten: an old report creates it again; i2 is not.
        self.assertEqual([('create', 'instance:i1')], summary(
            self.db.apply_entity_changes([instance('create', 'i1', 1.5),
                                          instance('create', 'i2', 15)])))

    def test_large_batch(self):
        changes = [instance('create', 'i%05d' % n, 1,
                            host='compute-%d' % (n % 2))
                   for n in range(3000)]
        self.assertEqual(3000, len(self.db.apply_entity_changes(changes)))
        self.assertEqual(1500, len(self.db.get_entities(
            parent='host:compute-1')))
        moved = [instance('update', 'i%05d' % n, 2, host='compute-1')
                 for n in range(0, 3000, 2)]
        self.assertEqual(1500, len(self.db.apply_entity_changes(moved)))
        self.assertEqual(3000, len(self.db.get_entities(
            parent='host:compute-1')))

    def test_replicas_creating_the_same_entities_at_once(self):
        connections = [db_api.get_connection(self.conf) for _ in range(2)]
        for connection in connections:
            self.addCleanup(connection.close)
        barrier = threading.Barrier(2)
        results: list = [None, None]
        errors: list = []

        def apply(i: int) -> None:
            try:
                barrier.wait(10)
                results[i] = connections[i].apply_entity_changes(
                    [instance('create', 'r%03d' % n, 1 + i)
                     for n in range(200)])
            except Exception as e:  # reported below
                errors.append(e)
        threads = [threading.Thread(target=apply, args=(i,))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual([], errors)
        self.assertEqual(200, len(self.db.get_entities(
            entity_type='instance')))
        # The newer reports (replica 1's) are what the store keeps.
        self.assertEqual(
            {at(2)}, {entity['updated_at'] for entity in
                      self.db.get_entities(entity_type='instance')})

    def test_timestamps_keep_their_microseconds(self):
        now = timeutils.utcnow()
        change = instance('create', 'i1', 0)
        change['timestamp'] = now
        self.db.apply_entity_changes([change])
        self.assertEqual(now, self.db.get_entity('instance:i1')['updated_at'])


class PostgreSQLEntityStoreTest(SQLiteEntityStoreTest):
    """The entity store on PostgreSQL."""

    backend = 'postgresql'


class MariaDBEntityStoreTest(SQLiteEntityStoreTest):
    """The entity store on MariaDB (MySQL)."""

    backend = 'mysql'
