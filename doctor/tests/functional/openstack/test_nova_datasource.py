"""The ``nova`` datasource against a real Nova.

Everything here is real, nothing recorded: Nova 34 with Placement, Glance
and fake-driver computes, authenticated by a real Keystone (see
:mod:`doctor.tests.functional.nova`), Nova's notifications on its RabbitMQ
virtual host, and doctor's entity store on SQLite. doctor's ``[nova]``
group holds the cloud administrator's keystoneauth password options, as
an operator's ``doctor.conf`` would.
"""

import types
import typing
import uuid

from doctor.synchronizer import service as service_mod
from doctor.tests.functional import nova
from doctor.tests.functional.openstack import base as os_base

TENANT = 'tenant-a'
# Long enough that only the first snapshot is taken during a test: what
# arrives later came through the notifications.
INTERVAL = 3600.0
NOTIFIED_WITHIN = 30.0


class NovaDatasourceTest(os_base.DatasourceTestCase):
    """Snapshots of a real Nova and its notifications, in the store."""

    peer_module: typing.ClassVar[types.ModuleType] = nova
    datasource = 'nova'
    interval = INTERVAL

    def setUp(self):
        super().setUp()
        self.nova = self.peer

    # helpers

    def boot(self, host: str) -> str:
        server = self.nova.boot('doctor-%s' % uuid.uuid4().hex[:8], host,
                                project=TENANT)
        self.addCleanup(self._delete_if_there, server)
        return server

    def _delete_if_there(self, server: str) -> None:
        try:
            self.nova.delete(server)
        except nova.APIError as e:
            if ' 404' not in str(e):
                raise

    def force_down(self, host: str, forced: bool) -> None:
        service_id = self.nova.service_id(host)
        if forced:
            self.addCleanup(self.nova.call, 'PUT',
                            '/os-services/' + service_id,
                            {'forced_down': False})
        self.nova.call('PUT', '/os-services/' + service_id,
                       {'forced_down': forced})

    def start_service(self) -> service_mod.SynchronizerService:
        service = service_mod.SynchronizerService(self.conf)
        service.start()
        self.addCleanup(service.stop)
        return service

    # tests

    def test_snapshot_then_notifications(self):
        project = self.nova.project_id(TENANT)
        first = self.boot(self.nova.hosts[1])
        service = self.start_service()

        instance = self.wait_entity('instance:' + first,
                                    'the booted server', timeout=60)
        self.assertEqual(
            ('nova', 'active', project,
             ['host:' + self.nova.hosts[1]]),
            (instance['datasource'], instance['state'],
             instance['project_id'], instance['parents']))
        self.assertEqual(nova.FLAVOR, instance['attributes']['flavor'])
        for host in self.nova.hosts:
            entity = self.entity('host:' + host)
            self.assertIsNotNone(entity, host)
            assert entity is not None
            self.assertEqual('up', entity['state'])
            self.assertEqual(self.nova.service_id(host),
                             entity['attributes']['service_id'])
            self.assertEqual([host], [hypervisor['hostname'] for hypervisor
                                      in entity['attributes']['hypervisors']])
        self.assertIn('instance:' + first,
                      self.entity('host:' + self.nova.hosts[1])['children'])

        second = self.boot(self.nova.hosts[0])
        self.wait_entity(
            'instance:' + second, 'the second server, notified',
            lambda e: (e['state'] == 'active'
                       and e['attributes']['task_state'] is None
                       and e['parents'] == ['host:' + self.nova.hosts[0]]))
        self.nova.delete(first)
        self.wait_for(lambda: self.entity('instance:' + first) is None,
                      timeout=NOTIFIED_WITHIN,
                      message='the deleted server gone, notified')

        # What the notifications said is what a snapshot says.
        assert service.synchronizer is not None
        changes = self.collected(service.synchronizer)
        self.assertEqual(0, service.runners['nova'].run(),
                         'a snapshot found more: see the changes stored')
        service.synchronizer.wait_idle()
        self.assertEqual([], changes)

    def test_compute_service_forced_down_notified(self):
        host = self.nova.hosts[2]
        service = self.start_service()
        self.wait_entity('host:' + host, 'the host', timeout=60)

        self.force_down(host, True)
        entity = self.wait_entity('host:' + host, 'the host down, notified',
                                  lambda e: e['state'] == 'down')
        self.assertTrue(entity['attributes']['forced_down'])
        assert service.synchronizer is not None
        changes = self.collected(service.synchronizer)
        self.assertEqual(0, service.runners['nova'].run())

        self.force_down(host, False)
        self.wait_entity('host:' + host, 'the host up again, notified',
                         lambda e: e['state'] == 'up')
        self.assertEqual(0, service.runners['nova'].run())
        service.synchronizer.wait_idle()
        self.assertEqual(['update'], [c['action'] for c in changes])

    def test_snapshot_after_an_unnotified_change_reports_it_alone(self):
        snapshot, changes = self.snapshots()

        taken = snapshot()
        self.assertEqual(
            {('create', 'host:' + host) for host in self.nova.hosts},
            {change for change in taken if change[1].startswith('host:')})
        self.assertEqual([], snapshot())

        host = self.nova.hosts[2]
        server = self.boot(host)
        self.assertEqual([('create', 'instance:' + server)], snapshot())
        self.force_down(host, True)
        self.assertEqual([('update', 'host:' + host)], snapshot())
        self.assertEqual('down', changes[0]['state'])
        self.nova.delete(server)
        self.assertEqual([('delete', 'instance:' + server)], snapshot())

    def test_wrong_password_is_one_line_and_retried(self):
        self.check_wrong_password(
            'Nova: cannot list the compute services: Unauthorized')
