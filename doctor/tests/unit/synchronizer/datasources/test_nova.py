"""The ``nova`` datasource: snapshots, notifications and failures.

Snapshots go through openstacksdk and keystoneauth to an HTTP server on
loopback answering in Nova's shapes (:mod:`.fake_api`,
:mod:`.nova_samples`); notifications are Nova 34's bodies.
"""

import datetime
import time
from unittest import mock

import fixtures
from oslo_utils import timeutils
import stevedore

from doctor.db import api as db_api
from doctor.synchronizer import collector
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import service as service_mod
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.synchronizer.datasources import base as ds_base
from doctor.synchronizer.datasources import nova
from doctor.tests import base
from doctor.tests.unit.synchronizer.datasources import fake_api
from doctor.tests.unit.synchronizer.datasources import nova_samples as samples

PROJECT = '5f0c1b8e2d3a4c6b9e7f1a2b3c4d5e6f'
SERVER_A = '3b4c9a2e-6d1f-4e8a-9b7c-0d2e4f6a8b01'
SERVER_B = '8e1d7c3b-2a4f-4b6d-8c9e-1f3a5b7d9c02'
SERVER_C = 'c2f4e6a8-0b1d-4f3e-a5c7-9e1b3d5f7a03'
SERVICE_0 = '1f5d3c7a-9b2e-4d6f-8a1c-3e5b7d9f1a10'
SERVICE_1 = '2a6e4d8b-0c3f-4e7a-9b2d-4f6c8e0a2b11'
HYPERVISOR_0 = '9d3b1f5e-7a2c-4e8d-b6f0-2c4e6a8b0d20'
HYPERVISOR_1 = 'a0e4c2f6-8b3d-4f9e-c7a1-3d5f7b9c1e21'
GROUP = 'd4a6c8e0-2f1b-4a3c-9d5e-7f9b1d3e5a40'


def load(conf) -> nova.NovaDatasource:
    """The ``nova`` plugin, as the synchronizer loads it."""
    manager: stevedore.DriverManager = stevedore.DriverManager(
        ds_base.NAMESPACE, 'nova', invoke_on_load=True,
        invoke_args=(conf, 'nova'))
    driver = manager.driver
    assert isinstance(driver, nova.NovaDatasource)
    return driver


class NovaTestCase(base.TestCase):
    """A ``nova`` datasource whose Nova is a :class:`fake_api.FakeAPI`."""

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(fake_api.FakeAPI())
        endpoint = samples.ENDPOINT
        self.api.routes.update({
            endpoint: (200, samples.version()),
            endpoint + '/os-services': (200, {'services': [
                samples.service('compute-0', SERVICE_0),
                samples.service('compute-1', SERVICE_1, state='down',
                                status='disabled', forced_down=True,
                                disabled_reason='doctor: host down'),
            ]}),
            endpoint + '/os-hypervisors/detail': (200, {'hypervisors': [
                samples.hypervisor('compute-0', HYPERVISOR_0, SERVICE_0),
                samples.hypervisor('compute-1', HYPERVISOR_1, SERVICE_1,
                                   state='down'),
            ]}),
            endpoint + '/os-server-groups': (200, {'server_groups': [
                {'id': GROUP, 'name': 'vnf-ha', 'policy': 'anti-affinity',
                 'rules': {}, 'members': [SERVER_A, SERVER_B],
                 'project_id': PROJECT, 'user_id': samples.USER},
            ]}),
            endpoint + '/servers/detail': (200, {'servers': [
                samples.server(SERVER_A, 'vnf-a', PROJECT, 'compute-0'),
                samples.server(SERVER_B, 'vnf-b', PROJECT, 'compute-1',
                               vm_state='error', status='ERROR',
                               power_state=4),
                samples.server(SERVER_C, 'vnf-c', PROJECT, None,
                               vm_state='building', task_state='scheduling',
                               power_state=0, status='BUILD', zone=None),
            ]}),
        })
        self.config.config(auth_type='none',
                           endpoint_override=self.api.url + endpoint,
                           group='nova')
        self.datasource = load(self.conf)
        self.addCleanup(self.datasource.close)

    def snapshot(self) -> dict[str, entity_mod.Entity]:
        return {entity.key: entity for entity in self.datasource.snapshot()}


class TestPlugin(NovaTestCase):

    def test_loaded_by_name(self):
        self.assertIsInstance(self.datasource, nova.NovaDatasource)
        self.assertEqual('nova', self.datasource.name)
        self.assertEqual(('host', 'instance', 'server_group'),
                         self.datasource.types)
        self.assertTrue(self.datasource.is_collector)
        self.assertTrue(self.datasource.is_listener)

    def test_configured_with_the_others(self):
        self.config.config(datasources=['static', 'nova', 'neutron'],
                           group='synchronizer')
        datasources = service_mod.load_datasources(self.conf)
        self.assertEqual(['static', 'nova', 'neutron'],
                         [datasource.name for datasource in datasources])
        self.assertIsInstance(datasources[1], nova.NovaDatasource)

    def test_interval_and_timeout_from_the_nova_group(self):
        self.config.config(snapshot_interval=15.0, snapshot_timeout=7.0,
                           group='nova')
        self.assertEqual(15.0, self.datasource.snapshot_interval)
        self.assertEqual(7.0, self.datasource.snapshot_timeout)

    def test_follows_both_notification_formats(self):
        targets = self.datasource.notification_targets()
        self.assertEqual([('notifications', 'nova'),
                          ('versioned_notifications', 'nova')],
                         [(t.topic, t.exchange) for t in targets])

    def test_notification_topics_configured(self):
        self.config.config(notification_topics=['versioned_notifications'],
                           notification_exchange='compute', group='nova')
        targets = self.datasource.notification_targets()
        self.assertEqual([('versioned_notifications', 'compute')],
                         [(t.topic, t.exchange) for t in targets])

    def test_no_topics_no_listener(self):
        self.config.config(notification_topics=[], group='nova')
        self.assertFalse(self.datasource.is_listener)
        self.assertTrue(self.datasource.is_collector)


class TestSnapshot(NovaTestCase):

    def test_compute_hosts(self):
        entities = self.snapshot()
        self.assertEqual(entity_mod.Entity(
            'host', 'compute-0', state='up', name='compute-0',
            attributes={'service_id': SERVICE_0, 'status': 'enabled',
                        'disabled_reason': None, 'forced_down': False,
                        'hypervisors': [{'id': HYPERVISOR_0,
                                         'hostname': 'compute-0'}]}),
            entities['host:compute-0'])
        self.assertEqual(entity_mod.Entity(
            'host', 'compute-1', state='down', name='compute-1',
            attributes={'service_id': SERVICE_1, 'status': 'disabled',
                        'disabled_reason': 'doctor: host down',
                        'forced_down': True,
                        'hypervisors': [{'id': HYPERVISOR_1,
                                         'hostname': 'compute-1'}]}),
            entities['host:compute-1'])

    def test_servers_of_all_projects(self):
        entities = self.snapshot()
        self.assertEqual(entity_mod.Entity(
            'instance', SERVER_A, state='active', name='vnf-a',
            project_id=PROJECT,
            parents=('host:compute-0', 'server_group:' + GROUP),
            attributes={'user_id': samples.USER, 'task_state': None,
                        'node': 'compute-0', 'availability_zone': 'nova',
                        'flavor': samples.FLAVOR}),
            entities['instance:' + SERVER_A])
        self.assertEqual('error', entities['instance:' + SERVER_B].state)
        self.assertEqual(('host:compute-1', 'server_group:' + GROUP),
                         entities['instance:' + SERVER_B].parents)
        building = entities['instance:' + SERVER_C]
        self.assertEqual('building', building.state)
        self.assertEqual((), building.parents)
        self.assertEqual('scheduling', building.attributes['task_state'])
        self.assertIsNone(building.attributes['availability_zone'])
        self.assertEqual(6, len(entities))

    def test_server_groups_of_all_projects(self):
        entities = self.snapshot()
        self.assertEqual(entity_mod.Entity(
            'server_group', GROUP, name='vnf-ha', project_id=PROJECT,
            attributes={'policy': 'anti-affinity'}),
            entities['server_group:' + GROUP])
        queries = {request.path: request.query
                   for request in self.api.requests}
        self.assertEqual({'all_projects': ['True']},
                         queries[samples.ENDPOINT + '/os-server-groups'])

    def test_soft_deleted_servers_are_no_entities(self):
        self.api.routes[samples.ENDPOINT + '/servers/detail'] = (
            200, {'servers': [
                samples.server(SERVER_A, 'vnf-a', PROJECT, 'compute-0'),
                samples.server(SERVER_B, 'vnf-b', PROJECT, 'compute-1',
                               vm_state='soft-delete',
                               status='SOFT_DELETED', power_state=4)]})

        entities = self.snapshot()

        self.assertIn('instance:' + SERVER_A, entities)
        self.assertNotIn('instance:' + SERVER_B, entities)

    def test_asks_for_compute_services_and_all_projects(self):
        self.snapshot()
        queries = {request.path: request.query
                   for request in self.api.requests}
        endpoint = samples.ENDPOINT
        self.assertEqual({'binary': ['nova-compute']},
                         queries[endpoint + '/os-services'])
        self.assertEqual({'all_tenants': ['True']},
                         queries[endpoint + '/servers/detail'])

    def test_other_binaries_are_no_hosts(self):
        self.api.routes[samples.ENDPOINT + '/os-services'] = (200, {
            'services': [samples.service('compute-0', SERVICE_0),
                         samples.service('controller', SERVICE_1,
                                         binary='nova-conductor',
                                         zone='internal')]})
        hosts = [key for key in self.snapshot() if key.startswith('host:')]
        self.assertEqual(['host:compute-0'], hosts)

    def test_servers_on_several_pages(self):
        endpoint = samples.ENDPOINT
        first = [samples.server('%08d-0000-4000-8000-000000000000' % i,
                                'vnf-%d' % i, PROJECT, 'compute-0')
                 for i in range(3)]
        second = [samples.server('%08d-0000-4000-8000-000000000000' % i,
                                 'vnf-%d' % i, PROJECT, 'compute-0')
                  for i in range(3, 5)]

        def servers(request):
            if request.query.get('marker') == [first[-1]['id']]:
                return 200, {'servers': second}
            return 200, {'servers': first, 'servers_links': [{
                'rel': 'next',
                'href': '{url}%s/servers/detail?all_tenants=True&limit=3'
                        '&marker=%s' % (endpoint, first[-1]['id'])}]}

        self.api.routes[endpoint + '/servers/detail'] = servers
        instances = [key for key in self.snapshot()
                     if key.startswith('instance:')]
        self.assertEqual(['instance:' + server['id']
                          for server in first + second], instances)

    def test_host_without_hypervisor(self):
        self.api.routes[samples.ENDPOINT + '/os-hypervisors/detail'] = (
            200, {'hypervisors': []})
        host = self.snapshot()['host:compute-0']
        self.assertEqual([], host.attributes['hypervisors'])


class TestNotifications(NovaTestCase):

    def changes(self, event_type, payload, metadata=None):
        return self.datasource.changes_from_notification(
            event_type, payload,
            samples.metadata() if metadata is None else metadata)

    def test_legacy_update(self):
        [change] = self.changes('compute.instance.update',
                                samples.legacy_instance(
                                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                                    state='error'))
        self.assertEqual('update', change.action)
        self.assertEqual('nova', change.datasource)
        self.assertEqual(datetime.datetime(2026, 11, 22, 3, 10, 5, 123456),
                         change.timestamp)
        self.assertEqual(entity_mod.Entity(
            'instance', SERVER_A, state='error', name='vnf-a',
            project_id=PROJECT, parents=('host:compute-0',),
            attributes={'user_id': samples.USER, 'task_state': None,
                        'node': 'compute-0', 'availability_zone': 'nova',
                        'flavor': samples.FLAVOR}), change.entity)

    def test_server_group_notifications(self):
        group = samples._object('ServerGroupPayload', '1.1', {
            'uuid': GROUP, 'name': 'vnf-ha', 'policy': 'anti-affinity',
            'policies': ['anti-affinity'], 'members': [SERVER_C],
            'project_id': PROJECT, 'user_id': samples.USER, 'rules': {}})
        [change] = self.changes('server_group.add_member', group)
        self.assertEqual(('update', entity_mod.Entity(
            'server_group', GROUP, name='vnf-ha', project_id=PROJECT,
            attributes={'policy': 'anti-affinity'})),
            (change.action, change.entity))
        # The member's next notification names its group.
        [change] = self.changes('instance.update',
                                samples.versioned_instance(
                                    SERVER_C, 'vnf-c', PROJECT, 'compute-0'))
        self.assertEqual(('host:compute-0', 'server_group:' + GROUP),
                         change.entity.parents)
        [change] = self.changes('server_group.delete', group)
        self.assertEqual(('delete', 'server_group:' + GROUP),
                         (change.action, change.key))
        [change] = self.changes('instance.update',
                                samples.versioned_instance(
                                    SERVER_C, 'vnf-c', PROJECT, 'compute-0'))
        self.assertEqual(('host:compute-0',), change.entity.parents)

    def test_a_snapshot_s_groups_stay_with_a_notified_member(self):
        self.snapshot()
        [change] = self.changes('compute.instance.update',
                                samples.legacy_instance(
                                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                                    state='error'))
        self.assertEqual(('host:compute-0', 'server_group:' + GROUP),
                         change.entity.parents)

    def test_versioned_update(self):
        [change] = self.changes('instance.update',
                                samples.versioned_instance(
                                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                                    task_state='powering-off'))
        self.assertEqual('update', change.action)
        self.assertEqual('active', change.entity.state)
        self.assertEqual('powering-off',
                         change.entity.attributes['task_state'])
        self.assertEqual(('host:compute-0',), change.entity.parents)
        self.assertEqual(samples.FLAVOR, change.entity.attributes['flavor'])

    def test_same_state_as_a_snapshot_says(self):
        snapshot = self.snapshot()
        for event_type, payload in (
                ('compute.instance.update', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0')),
                ('compute.instance.power_on.end', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0')),
                ('instance.update', samples.versioned_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0')),
                ('compute.instance.update', samples.legacy_instance(
                    SERVER_C, 'vnf-c', PROJECT, None, state='building',
                    task_state='scheduling', zone=None)),
                ('instance.update', samples.versioned_instance(
                    SERVER_C, 'vnf-c', PROJECT, None, state='building',
                    task_state='scheduling', power_state='pending',
                    zone=None))):
            [change] = self.changes(event_type, payload)
            self.assertEqual(snapshot[change.key].digest(), change.digest,
                             event_type)

    def test_create_end(self):
        for event_type, payload in (
                ('compute.instance.create.end', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0')),
                ('instance.create.end', samples.versioned_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0'))):
            [change] = self.changes(event_type, payload)
            self.assertEqual(('create', 'instance:' + SERVER_A),
                             (change.action, change.key))

    def test_delete_end(self):
        for event_type, payload in (
                ('compute.instance.delete.end', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='deleted')),
                ('instance.delete.end', samples.versioned_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='deleted', power_state='pending'))):
            [change] = self.changes(event_type, payload)
            self.assertEqual(('delete', 'instance:' + SERVER_A),
                             (change.action, change.key))

    def test_an_update_saying_deleted_is_a_delete(self):
        # Nova's last word on a deleted server comes after delete.end.
        for event_type, payload in (
                ('compute.instance.update', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='deleted')),
                ('instance.update', samples.versioned_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='deleted', power_state='pending')),
                ('compute.instance.soft_delete.end', samples.legacy_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='soft-delete')),
                ('instance.soft_delete.end', samples.versioned_instance(
                    SERVER_A, 'vnf-a', PROJECT, 'compute-0',
                    state='soft-delete'))):
            [change] = self.changes(event_type, payload)
            self.assertEqual(('delete', 'instance:' + SERVER_A),
                             (change.action, change.key), event_type)

    def test_compute_service_forced_down(self):
        self.snapshot()
        [change] = self.changes('service.update', samples.service_status(
            'compute-0', SERVICE_0, forced_down=True, disabled=True,
            disabled_reason='doctor: host down'))
        self.assertEqual('update', change.action)
        self.assertEqual(entity_mod.Entity(
            'host', 'compute-0', state='down', name='compute-0',
            attributes={'service_id': SERVICE_0, 'status': 'disabled',
                        'disabled_reason': 'doctor: host down',
                        'forced_down': True,
                        'hypervisors': [{'id': HYPERVISOR_0,
                                         'hostname': 'compute-0'}]}),
            change.entity)

    def test_compute_service_same_as_a_snapshot_says(self):
        snapshot = self.snapshot()
        for payload in (
                samples.service_status('compute-0', SERVICE_0),
                samples.service_status(
                    'compute-1', SERVICE_1, forced_down=True, disabled=True,
                    disabled_reason='doctor: host down')):
            [change] = self.changes('service.update', payload)
            self.assertEqual(snapshot[change.key].digest(), change.digest)

    def test_compute_service_not_seen_for_long_is_down(self):
        [change] = self.changes('service.update', samples.service_status(
            'compute-0', SERVICE_0, disabled=True,
            last_seen_up='2026-11-22T03:08:59Z'))
        self.assertEqual('down', change.entity.state)
        self.assertFalse(change.entity.attributes['forced_down'])
        [change] = self.changes('service.update', samples.service_status(
            'compute-0', SERVICE_0, last_seen_up=None))
        self.assertEqual('up', change.entity.state)

    def test_compute_service_created_and_deleted(self):
        [change] = self.changes('service.create', samples.service_status(
            'compute-9', SERVICE_1, last_seen_up=None))
        self.assertEqual(('create', 'host:compute-9', 'up'),
                         (change.action, change.key, change.entity.state))
        self.assertEqual([], change.entity.attributes['hypervisors'])
        [change] = self.changes('service.delete', samples.service_status(
            'compute-9', SERVICE_1))
        self.assertEqual(('delete', 'host:compute-9'),
                         (change.action, change.key))

    def test_other_services_are_no_hosts(self):
        self.assertEqual([], self.changes(
            'service.update', samples.service_status(
                'controller', SERVICE_1, binary='nova-scheduler')))

    def test_other_notifications_change_nothing(self):
        for event_type in ('compute.metrics.update',
                           'scheduler.select_destinations.end',
                           'aggregate.update_metadata.end',
                           'flavor.update', 'compute_task.build_instances',
                           'port.update.end'):
            self.assertEqual([], self.changes(event_type, {'any': 'thing'}),
                             event_type)

    def test_time_of_publication_or_now(self):
        before = timeutils.utcnow()
        [change] = self.changes('instance.update',
                                samples.versioned_instance(
                                    SERVER_A, 'vnf-a', PROJECT, 'compute-0'),
                                metadata={})
        self.assertIsNone(change.timestamp.tzinfo)
        self.assertGreaterEqual(change.timestamp, before)
        [change] = self.changes(
            'compute.instance.update',
            samples.legacy_instance(SERVER_A, 'vnf-a', PROJECT, 'compute-0'),
            metadata=samples.metadata('2026-11-22T03:10:05.5+01:00'))
        self.assertEqual(datetime.datetime(2026, 11, 22, 2, 10, 5, 500000),
                         change.timestamp)

    def test_broken_payloads_name_the_field(self):
        legacy = samples.legacy_instance(SERVER_A, 'vnf-a', PROJECT,
                                         'compute-0')
        versioned = samples.versioned_instance(SERVER_A, 'vnf-a', PROJECT,
                                               'compute-0')
        status = samples.service_status('compute-0', SERVICE_0)
        for event_type, payload, field in (
                ('compute.instance.update',
                 dict(legacy, instance_id=None), 'instance_id'),
                ('compute.instance.update', dict(legacy, state=''),
                 'state'),
                ('compute.instance.delete.end', {}, 'instance_id'),
                ('compute.instance.update', ['not', 'a', 'dict'],
                 'instance_id'),
                ('instance.update', {'nova_object.name': 'X'},
                 'nova_object.data'),
                ('instance.update', dict(versioned, **{
                    'nova_object.data': 'text'}), 'nova_object.data'),
                ('instance.update', dict(versioned, **{
                    'nova_object.data': dict(versioned['nova_object.data'],
                                             uuid=None)}), 'uuid'),
                ('instance.delete.end', None, 'nova_object.data'),
                ('service.update', dict(status, **{
                    'nova_object.data': dict(status['nova_object.data'],
                                             host=None)}), 'host'),
                ('service.update', dict(status, **{
                    'nova_object.data': {'host': 'compute-0'}}), 'binary')):
            error = self.assertRaises(ds_base.NotificationError,
                                      self.changes, event_type, payload)
            self.assertIn(field, str(error))
            self.assertIn(event_type, str(error))


class TestFailures(NovaTestCase):

    def test_no_credentials(self):
        self.config.config(auth_type=None, group='nova')
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertEqual('[nova] auth_type is not set: no credentials to '
                         'reach Nova', str(error))

    def test_password_options_missing(self):
        self.config.config(auth_type='password', group='nova')
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertIn('Nova: invalid [nova] options: ', str(error))
        self.assertIn('auth_url', str(error))
        # The plugin's options, registered as it was loaded, are this
        # configuration's alone.
        self.assertNotIn('auth_url', base.new_conf().nova)

    def test_nova_unreachable(self):
        self.config.config(endpoint_override='http://127.0.0.1:9/v2.1',
                           group='nova')
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertIn('Nova: cannot list the compute services: ', str(error))
        self.assertIn('127.0.0.1:9', str(error))

    def test_refused(self):
        for path, status, what in (
                ('/os-services', 401, 'list the compute services'),
                ('/os-hypervisors/detail', 403, 'list the hypervisors'),
                ('/servers/detail', 500, 'list the servers')):
            route = samples.ENDPOINT + path
            good = self.api.routes[route]
            self.api.routes[route] = (
                status, {'error': {'code': status, 'message': 'No way'}})
            error = self.assertRaises(ds_base.SnapshotError,
                                      self.datasource.snapshot)
            self.api.routes[route] = good
            self.assertIn('Nova: cannot %s: ' % what, str(error))
            self.assertIn(str(status), str(error))

    def test_reconnects_after_a_failure(self):
        services = samples.ENDPOINT + '/os-services'
        good = self.api.routes[services]
        self.api.routes[services] = (503, {'message': 'Service Unavailable'})
        self.assertRaises(ds_base.SnapshotError, self.datasource.snapshot)
        self.api.routes[services] = good
        self.assertEqual(6, len(self.snapshot()))
        discoveries = self.api.paths().count(samples.ENDPOINT)
        self.assertEqual(2, discoveries)

    def test_one_connection_until_closed(self):
        self.snapshot()
        self.snapshot()
        self.assertEqual(1, self.api.paths().count(samples.ENDPOINT))
        self.datasource.close()
        self.snapshot()
        self.assertEqual(2, self.api.paths().count(samples.ENDPOINT))

    def test_calls_bounded_by_the_snapshot_timeout(self):
        self.config.config(snapshot_timeout=1.0, group='nova')
        servers = samples.ENDPOINT + '/servers/detail'
        answer = self.api.routes[servers]

        def slow(request):
            time.sleep(1.5)
            return answer

        self.api.routes[servers] = slow
        started = time.monotonic()
        error = self.assertRaises(ds_base.SnapshotError,
                                  self.datasource.snapshot)
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertIn('Nova: cannot list the servers: ', str(error))

    def test_logged_in_one_line_and_retried(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='doctor.synchronizer.collector'))
        synchronizer = mock.create_autospec(synchronizer_mod.Synchronizer,
                                            instance=True)
        db = mock.create_autospec(db_api.Connection, instance=True)
        db.get_entity_digests.return_value = {}
        runner = collector.CollectorRunner(self.datasource, synchronizer, db,
                                           lambda name: True)
        self.addCleanup(runner.stop)
        self.config.config(endpoint_override='http://127.0.0.1:9/v2.1',
                           group='nova')
        self.assertIsNone(runner.run())
        self.assertIn('The snapshot of nova failed, retried at the next '
                      'interval: Nova: cannot list the compute services',
                      logger.output)
        self.assertNotIn('Traceback', logger.output)
        synchronizer.submit.assert_not_called()
        self.config.config(endpoint_override=self.api.url
                           + samples.ENDPOINT, group='nova')
        self.assertEqual(6, runner.run())
        [changes], _ = synchronizer.submit.call_args
        self.assertEqual({'create'}, {change.action for change in changes})
