"""The ``neutron`` datasource: snapshots, notifications and failures.

Snapshots go through openstacksdk and keystoneauth to an HTTP server on
loopback answering in Neutron's shapes (:mod:`.fake_api`,
:mod:`.neutron_samples`); notifications are Neutron's bodies.
"""

import datetime

import stevedore

from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer.datasources import base as ds_base
from doctor.synchronizer.datasources import neutron
from doctor.tests import base
from doctor.tests.unit.synchronizer.datasources import fake_api
import doctor.tests.unit.synchronizer.datasources.neutron_samples as samples

PROJECT = '5f0c1b8e2d3a4c6b9e7f1a2b3c4d5e6f'
SERVER = '3b4c9a2e-6d1f-4e8a-9b7c-0d2e4f6a8b01'
PORT_A = '6a2c4e8f-0b1d-4a3e-9c5f-7b9d1f3a5c01'
PORT_B = '9f1b3d5e-7a2c-4e6f-8b0d-2c4e6a8c0e02'
PORT_C = 'd4e6a8c0-2f3b-4d5e-a7c9-1e3f5b7d9f03'


class NeutronTestCase(base.TestCase):
    """A ``neutron`` datasource whose Neutron is a :class:`FakeAPI`."""

    def setUp(self):
        super().setUp()
        self.ports = [
            samples.port(PORT_A, PROJECT, host='compute-0',
                         device_id=SERVER, device_owner='compute:nova',
                         status='ACTIVE', data_plane_status='ACTIVE',
                         name='vnf-a-0'),
            samples.port(PORT_B, PROJECT, host='compute-1',
                         device_id='router-1',
                         device_owner='network:router_interface',
                         status='ACTIVE', ip_address='10.64.0.1'),
            samples.port(PORT_C, PROJECT, ip_address='10.64.0.11'),
        ]
        self.api = self.useFixture(fake_api.FakeAPI())
        self.api.routes.update({
            '/': (200, samples.versions()),
            '/v2.0/ports': (200, {'ports': self.ports}),
        })
        self.config.config(auth_type='none',
                           endpoint_override=self.api.url + '/',
                           group='neutron')
        manager = stevedore.DriverManager(ds_base.NAMESPACE, 'neutron',
                                          invoke_on_load=True,
                                          invoke_args=(self.conf, 'neutron'))
        self.datasource = manager.driver
        self.addCleanup(self.datasource.close)

    def snapshot(self) -> dict[str, entity_mod.Entity]:
        return {entity.key: entity for entity in self.datasource.snapshot()}

    def changes(self, event_type, payload, metadata=None):
        return self.datasource.changes_from_notification(
            event_type, payload,
            samples.metadata() if metadata is None else metadata)


class TestPlugin(NeutronTestCase):

    def test_loaded_by_name(self):
        self.assertIsInstance(self.datasource, neutron.NeutronDatasource)
        self.assertEqual(('port',), self.datasource.types)
        self.assertTrue(self.datasource.is_collector)
        self.assertTrue(self.datasource.is_listener)

    def test_configuration(self):
        self.config.config(snapshot_interval=20.0, snapshot_timeout=9.0,
                           notification_topics=['notifications', 'extra'],
                           notification_exchange='networking',
                           group='neutron')
        self.assertEqual(20.0, self.datasource.snapshot_interval)
        self.assertEqual(9.0, self.datasource.snapshot_timeout)
        self.assertEqual([('notifications', 'networking'),
                          ('extra', 'networking')],
                         [(t.topic, t.exchange) for t in
                          self.datasource.notification_targets()])

    def test_default_notifications(self):
        self.assertEqual([('notifications', 'neutron')],
                         [(t.topic, t.exchange) for t in
                          self.datasource.notification_targets()])


class TestSnapshot(NeutronTestCase):

    def test_port_of_a_server(self):
        self.assertEqual(entity_mod.Entity(
            'port', PORT_A, state='ACTIVE', name='vnf-a-0',
            project_id=PROJECT,
            parents=('host:compute-0', 'instance:' + SERVER),
            attributes={
                'device_id': SERVER, 'device_owner': 'compute:nova',
                'binding_host_id': 'compute-0',
                'mac_address': 'fa:16:3e:4c:2d:1a',
                'network_id': samples.NETWORK,
                'data_plane_status': 'ACTIVE', 'admin_state_up': True,
                'fixed_ips': [{'subnet_id': samples.SUBNET,
                               'ip_address': '10.64.0.10'}]}),
            self.snapshot()['port:' + PORT_A])

    def test_other_ports(self):
        entities = self.snapshot()
        router = entities['port:' + PORT_B]
        self.assertEqual(('host:compute-1',), router.parents)
        self.assertEqual('router-1', router.attributes['device_id'])
        unbound = entities['port:' + PORT_C]
        self.assertEqual((), unbound.parents)
        self.assertEqual('DOWN', unbound.state)
        self.assertIsNone(unbound.name)
        self.assertIsNone(unbound.attributes['binding_host_id'])
        self.assertIsNone(unbound.attributes['data_plane_status'])
        self.assertEqual(3, len(entities))

    def test_ports_on_several_pages(self):
        def ports(request):
            if request.query.get('marker') == [PORT_B]:
                return 200, {'ports': self.ports[2:]}
            return 200, {'ports': self.ports[:2], 'ports_links': [{
                'rel': 'next',
                'href': '{url}/v2.0/ports?limit=2&marker=' + PORT_B}]}

        self.api.routes['/v2.0/ports'] = ports
        self.assertEqual(['port:' + PORT_A, 'port:' + PORT_B,
                          'port:' + PORT_C], list(self.snapshot()))

    def test_neutron_unreachable(self):
        self.config.config(endpoint_override='http://127.0.0.1:9/',
                           group='neutron')
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertIn('Neutron: cannot list the ports: ', str(error))
        self.assertIn('127.0.0.1:9', str(error))

    def test_refused_then_reconnects(self):
        good = self.api.routes['/v2.0/ports']
        self.api.routes['/v2.0/ports'] = (401, {'NeutronError': {
            'type': 'NotAuthorized', 'message': 'Not authorized.',
            'detail': ''}})
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertIn('Neutron: cannot list the ports: ', str(error))
        self.assertIn('401', str(error))
        self.api.routes['/v2.0/ports'] = good
        self.assertEqual(3, len(self.snapshot()))
        self.assertEqual(2, self.api.paths().count('/'))

    def test_no_credentials(self):
        self.config.config(auth_type=None, group='neutron')
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertIn('[neutron] auth_type is not set', str(error))


class TestNotifications(NeutronTestCase):

    def test_update_end(self):
        document = dict(self.ports[0], data_plane_status='DOWN')
        [change] = self.changes('port.update.end', {'port': document})
        self.assertEqual(('update', 'port:' + PORT_A, 'neutron'),
                         (change.action, change.key, change.datasource))
        self.assertEqual(datetime.datetime(2026, 11, 22, 3, 10, 7, 654321),
                         change.timestamp)
        self.assertEqual('DOWN', change.entity.attributes['data_plane_status'])
        self.assertEqual(('host:compute-0', 'instance:' + SERVER),
                         change.entity.parents)

    def test_same_state_as_a_snapshot_says(self):
        snapshot = self.snapshot()
        for document in self.ports:
            for event_type in ('port.create.end', 'port.update.end'):
                [change] = self.changes(event_type, {'port': document})
                self.assertEqual(snapshot[change.key].digest(),
                                 change.digest)

    def test_create_end(self):
        [change] = self.changes('port.create.end', {'port': self.ports[2]})
        self.assertEqual(('create', 'port:' + PORT_C),
                         (change.action, change.key))

    def test_bulk_create_end(self):
        changes = self.changes('port.create.end', {'ports': self.ports})
        self.assertEqual([('create', 'port:' + port['id'])
                          for port in self.ports],
                         [(change.action, change.key) for change in changes])

    def test_delete_end(self):
        for payload in ({'port_id': PORT_A, 'port': self.ports[0]},
                        {'port_id': PORT_A},
                        {'port': self.ports[0]}):
            [change] = self.changes('port.delete.end', payload)
            self.assertEqual(('delete', 'port:' + PORT_A),
                             (change.action, change.key))

    def test_member_view_left_to_the_snapshot(self):
        self.assertEqual([], self.changes('port.update.end', {
            'port': samples.member_view(self.ports[0])}))

    def test_other_notifications_change_nothing(self):
        for event_type in ('port.create.start', 'port.update.start',
                           'port.delete.start', 'network.update.end',
                           'port.data_plane_status.update',
                           'compute.instance.update'):
            self.assertEqual([], self.changes(event_type,
                                              {'port': self.ports[0]}),
                             event_type)

    def test_broken_payloads_name_the_field(self):
        for event_type, payload, field in (
                ('port.update.end', {}, 'port'),
                ('port.update.end', None, 'port'),
                ('port.create.end', {'port': 'text'}, 'port'),
                ('port.update.end', {'port': dict(self.ports[0], id='')},
                 'id'),
                ('port.delete.end', {}, 'port_id'),
                ('port.delete.end', [PORT_A], 'port_id')):
            error = self.assertRaises(ds_base.NotificationError,
                                      self.changes, event_type, payload)
            self.assertIn(field, str(error))
            self.assertIn(event_type, str(error))
