"""Tests of the static datasource: the YAML inventory."""

import os
import textwrap

import stevedore

from doctor.common import exception
from doctor.synchronizer.datasources import base as ds_base
from doctor.synchronizer.datasources import static
from doctor.tests import base

INVENTORY = """\
hosts:
  - name: compute-0
    rack: r1
    instances:
      - id: i1
        name: vnf-a-0
        project_id: p1
        flavor: m1.small
        ports:
          - id: port1
            mac_address: "fa:16:3e:00:00:01"
      - id: i2
        project_id: p2
        state: stopped
  - name: compute-1
    state: down
"""


class TestParse(base.TestCase):

    def test_entities_and_their_parents(self):
        entities = {entity.key: entity
                    for entity in static.parse(
                        static.yaml.safe_load(INVENTORY), 'inv.yaml')}
        self.assertEqual(
            {'host:compute-0', 'host:compute-1', 'instance:i1',
             'instance:i2', 'port:port1'}, set(entities))
        host = entities['host:compute-0']
        self.assertEqual(('up', {'rack': 'r1'}, ()),
                         (host.state, host.attributes, host.parents))
        self.assertEqual('down', entities['host:compute-1'].state)
        i1 = entities['instance:i1']
        self.assertEqual(('active', 'vnf-a-0', 'p1', ('host:compute-0',),
                          {'flavor': 'm1.small'}),
                         (i1.state, i1.name, i1.project_id, i1.parents,
                          i1.attributes))
        self.assertEqual('stopped', entities['instance:i2'].state)
        port = entities['port:port1']
        self.assertEqual(('ACTIVE', 'p1', ('host:compute-0', 'instance:i1'),
                          {'mac_address': 'fa:16:3e:00:00:01'}),
                         (port.state, port.project_id, port.parents,
                          port.attributes))

    def test_server_groups_and_their_members(self):
        document = static.yaml.safe_load(INVENTORY + textwrap.dedent("""\
            server_groups:
              - id: g1
                name: vnf-a-ha
                project_id: p1
                policy: anti-affinity
                members: [i1]
            """))
        document['hosts'][1]['instances'] = [
            {'id': 'i3', 'project_id': 'p3', 'server_group': 'g2'},
            {'id': 'i4', 'server_group': 'g1'}]
        entities = {entity.key: entity
                    for entity in static.parse(document, 'inv.yaml')}
        self.assertEqual(('vnf-a-ha', 'p1', {'policy': 'anti-affinity'}),
                         (entities['server_group:g1'].name,
                          entities['server_group:g1'].project_id,
                          entities['server_group:g1'].attributes))
        self.assertEqual(('host:compute-0', 'server_group:g1'),
                         entities['instance:i1'].parents)
        self.assertEqual(('host:compute-0',),
                         entities['instance:i2'].parents)
        self.assertEqual(('host:compute-1', 'server_group:g1'),
                         entities['instance:i4'].parents)
        # An instance's own group need not be listed.
        self.assertEqual(('host:compute-1', 'server_group:g2'),
                         entities['instance:i3'].parents)
        self.assertEqual('p3', entities['server_group:g2'].project_id)
        self.assertEqual({}, entities['instance:i4'].attributes)

    def test_empty_document_has_no_entities(self):
        self.assertEqual([], static.parse(None, 'inv.yaml'))
        self.assertEqual([], static.parse({'hosts': []}, 'inv.yaml'))

    def test_errors_name_the_file_the_entry_and_the_field(self):
        cases = [
            ([], 'inv.yaml: the top level must be a mapping'),
            ({'hosts': [], 'vms': []}, 'unknown top-level key(s) vms'),
            ({'hosts': {'name': 'x'}}, 'inv.yaml: hosts must be a list'),
            ({'hosts': ['compute-0']}, 'hosts[0] must be a mapping'),
            ({'hosts': [{'state': 'up'}]}, 'hosts[0]: name is required'),
            ({'hosts': [{'name': 'h', 'state': 'sideways'}]},
             'hosts[0]: state must be one of up, down'),
            ({'hosts': [{'name': 'h', 'instances': [{'name': 'x'}]}]},
             'hosts[0].instances[0]: id is required'),
            ({'hosts': [{'name': 'h', 'instances': [
                {'id': 'i', 'name': ['x']}]}]},
             'hosts[0].instances[0]: name must be a string'),
            ({'hosts': [{'name': 'h', 'instances': [
                {'id': 'i', 'ports': [{}]}]}]},
             'hosts[0].instances[0].ports[0]: id is required'),
            ({'hosts': [{'name': 'h'}, {'name': 'h'}]},
             'hosts[1]: host:h is listed twice'),
            ({'hosts': [], 'server_groups': [{'id': 'g', 'members': 'i'}]},
             'server_groups[0]: members must be a list'),
            ({'hosts': [], 'server_groups': [{'id': 'g', 'members': ['i']}]},
             'server_groups: member i is no instance of the inventory'),
            ({'hosts': [], 'server_groups': [{'id': 'g'}, {'id': 'g'}]},
             'server_groups[1]: server group g is listed twice'),
        ]
        for document, message in cases:
            error = self.assertRaises(static.InventoryError, static.parse,
                                      document, 'inv.yaml')
            self.assertIn(message, str(error), document)
            self.assertIn('inv.yaml', str(error))


class TestStaticDatasource(base.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.state_path, 'inventory.yaml')
        self.write(INVENTORY)
        self.config.config(inventory=self.path, group='static')
        self.datasource = static.StaticDatasource(self.conf, 'static')

    def write(self, text: str) -> None:
        with open(self.path, 'w') as stream:
            stream.write(textwrap.dedent(text))
        # Make every write visible to the change check, however fast.
        stat = os.stat(self.path)
        self.mtime = getattr(self, 'mtime', stat.st_mtime_ns) + 10**9
        os.utime(self.path, ns=(self.mtime, self.mtime))

    def test_loaded_through_stevedore(self):
        manager = stevedore.DriverManager(ds_base.NAMESPACE, 'static')
        self.assertIs(static.StaticDatasource, manager.driver)

    def test_a_collector_and_not_a_listener(self):
        self.assertTrue(self.datasource.is_collector)
        self.assertFalse(self.datasource.is_listener)
        self.assertEqual(2.0, self.datasource.snapshot_interval)

    def test_reads_again_only_when_the_file_changes(self):
        first = self.datasource.snapshot()
        self.assertEqual(5, len(list(first)))
        self.assertIsNone(self.datasource.snapshot())
        self.write('hosts:\n  - name: compute-9\n')
        self.assertEqual(['host:compute-9'],
                         [e.key for e in self.datasource.snapshot()])
        self.assertIsNone(self.datasource.snapshot())

    def test_forget_makes_the_next_snapshot_whole(self):
        self.datasource.snapshot()
        self.datasource.forget()
        self.assertEqual(5, len(list(self.datasource.snapshot())))

    def test_invalid_file_raises_and_is_read_again_once_fixed(self):
        self.datasource.snapshot()
        self.write('hosts: [\n')
        error = self.assertRaises(static.InventoryError,
                                  self.datasource.snapshot)
        self.assertIn('not valid YAML', str(error))
        self.assertIsInstance(error, ds_base.SnapshotError)
        self.write(INVENTORY)
        self.assertEqual(5, len(list(self.datasource.snapshot())))

    def test_missing_file_raises(self):
        os.unlink(self.path)
        error = self.assertRaises(static.InventoryError,
                                  self.datasource.snapshot)
        self.assertIn(self.path, str(error))

    def test_relative_name_found_in_the_packaged_files(self):
        self.config.config(inventory='inventory.yaml', group='static')
        path = static.find_inventory(self.conf)
        self.assertTrue(path.endswith(os.path.join('etc', 'doctor',
                                                   'inventory.yaml')))
        entities = static.load(path)
        self.assertIn('host:compute-0', {e.key for e in entities})

    def test_unknown_relative_name_is_a_config_error(self):
        self.config.config(inventory='nowhere.yaml', group='static')
        error = self.assertRaises(exception.ConfigInvalid,
                                  static.find_inventory, self.conf)
        self.assertIn('inventory file nowhere.yaml not found', str(error))
