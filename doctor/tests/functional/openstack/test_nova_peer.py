"""The real Nova that doctor's Nova datasource and controller meet.

What doctor relies on, shown against Nova itself (see
:mod:`doctor.tests.functional.nova`): a server booted on a chosen compute
host is listed by openstacksdk across projects with that host and its
project; the administrator forces the host's compute service down by its
id and sees it forced down; and resetting a server's state to error is
announced on Nova's bus both as the versioned ``instance.update`` and as
the legacy ``compute.instance.update``.
"""

import types
import typing
import uuid

from openstack import exceptions as sdk_exceptions

from doctor.tests.functional import nova
from doctor.tests.functional.openstack import base as os_base

NOTIFICATION_TIMEOUT = 20.0
TENANT = 'tenant-a'


def _versioned(payload: dict) -> dict:
    return payload['nova_object.data']


class NovaPeerTest(os_base.PeerTestCase):
    """Nova, as doctor's datasource and controller use it."""

    peer_module: typing.ClassVar[types.ModuleType] = nova

    def setUp(self):
        super().setUp()
        self.nova = self.peer
        self.sdk = self.nova.connection()
        self.addCleanup(self.sdk.close)

    def _boot(self, host: str) -> str:
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

    def _listen(self) -> os_base.NotificationRecorder:
        """Nova's legacy and versioned notifications from now on."""
        return self.listen('nova', ['notifications',
                                    'versioned_notifications'])

    def _compute_service(self, host: str):
        services = list(self.sdk.compute.services(binary='nova-compute',
                                                  host=host))
        self.assertEqual(1, len(services))
        return services[0]

    def test_servers_of_all_projects_with_their_host(self):
        host = self.nova.hosts[1]
        server = self._boot(host)

        listed = {s.id: s for s in self.sdk.compute.servers(
            all_projects=True)}

        self.assertIn(server, listed)
        self.assertEqual(host, listed[server].compute_host)
        self.assertEqual(self.nova.project_id(TENANT),
                         listed[server].project_id)
        self.assertEqual('ACTIVE', listed[server].status)

    def test_force_down_compute_service_by_id(self):
        host = self.nova.hosts[2]
        recorder = self._listen()
        service_id = self.nova.service_id(host)
        self.addCleanup(self.sdk.compute.update_service_forced_down,
                        service_id, forced=False)

        self.sdk.compute.update_service_forced_down(service_id, forced=True)

        service = self._compute_service(host)
        self.assertEqual(service_id, service.id)
        self.assertTrue(service.is_forced_down)
        self.assertEqual('down', service.state)
        payload = recorder.wait(
            'service.update',
            lambda p: (_versioned(p)['host'] == host
                       and _versioned(p)['forced_down']),
            NOTIFICATION_TIMEOUT)
        self.assertEqual('nova-compute', _versioned(payload)['binary'])

    def test_reset_state_to_error_is_notified(self):
        host = self.nova.hosts[0]
        server = self._boot(host)
        recorder = self._listen()

        self.sdk.compute.reset_server_state(server, 'error')

        versioned = _versioned(recorder.wait(
            'instance.update',
            lambda p: (_versioned(p)['uuid'] == server
                       and _versioned(p)['state'] == 'error'),
            NOTIFICATION_TIMEOUT))
        self.assertEqual(host, versioned['host'])
        self.assertEqual(self.nova.project_id(TENANT),
                         versioned['tenant_id'])
        legacy = recorder.wait(
            'compute.instance.update',
            lambda p: (p['instance_id'] == server
                       and p['state'] == 'error'),
            NOTIFICATION_TIMEOUT)
        self.assertEqual('active', legacy['old_state'])
        self.assertEqual(self.nova.project_id(TENANT), legacy['tenant_id'])
        self.assertEqual('ERROR',
                         self.sdk.compute.get_server(server).status)

        self.nova.delete(server)

        self.assertRaises(sdk_exceptions.NotFoundException,
                          self.sdk.compute.get_server, server)
