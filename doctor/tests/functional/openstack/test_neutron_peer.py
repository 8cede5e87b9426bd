"""The real Neutron that doctor's Neutron datasource and controller meet.

What doctor relies on, shown against neutron-server itself (see
:mod:`doctor.tests.functional.neutron`): a port bound to a compute host
and used by a server is listed by openstacksdk with its binding host,
device, status and data-plane status; the administrator sets its
data-plane status DOWN and back; and Neutron announces each change on
the bus as ``port.*.end`` notifications.
"""

from collections.abc import Callable
import types
import typing
import uuid

from openstack import exceptions as sdk_exceptions

from doctor.tests.functional import neutron
from doctor.tests.functional.openstack import base as os_base

NOTIFICATION_TIMEOUT = 10.0


def _of_port(port_id: str) -> Callable[[dict], bool]:
    """Whether a port notification's payload is about ``port_id``."""
    return lambda payload: _port_of(payload) == port_id


def _port_of(payload: dict) -> str | None:
    if 'port_id' in payload:
        return payload['port_id']
    return (payload.get('port') or {}).get('id')


class NeutronPeerTest(os_base.PeerTestCase):
    """Ports on a real neutron-server, through openstacksdk and the bus."""

    peer_module: typing.ClassVar[types.ModuleType] = neutron

    def setUp(self):
        super().setUp()
        self.neutron = self.peer
        self.cloud = self.neutron.connection()
        self.addCleanup(self.cloud.close)
        self.host = 'compute-%s' % uuid.uuid4().hex[:8]
        self.server_id = str(uuid.uuid4())
        self.notifications = self._listen()

    def _listen(self) -> os_base.NotificationRecorder:
        """Neutron's notifications on a queue of this test's own."""
        return self.listen(neutron.EXCHANGE, [neutron.NOTIFICATION_TOPIC])

    def _create_port(self) -> str:
        port_id = self.neutron.create_port(self.host,
                                           device_id=self.server_id)
        self.addCleanup(self._delete_if_present, port_id)
        return port_id

    def _delete_if_present(self, port_id: str) -> None:
        self.cloud.network.delete_port(port_id, ignore_missing=True)

    def test_port_bound_to_host_is_listed(self):
        port_id = self._create_port()

        ports = list(self.cloud.network.ports(
            **{'binding:host_id': self.host}))
        self.assertEqual([port_id], [port.id for port in ports])
        port = ports[0]
        self.assertEqual(self.host, port.binding_host_id)
        self.assertEqual(self.server_id, port.device_id)
        self.assertEqual(neutron.COMPUTE_OWNER, port.device_owner)
        self.assertEqual('ACTIVE', port.status)
        self.assertIsNone(port.data_plane_status)
        self.assertEqual(self.neutron.network_id, port.network_id)
        payload = self.notifications.wait('port.create.end', _of_port(port_id),
                                          NOTIFICATION_TIMEOUT)
        self.assertEqual(self.host, payload['port']['binding:host_id'])
        self.assertEqual(self.server_id, payload['port']['device_id'])

    def test_port_of_a_project(self):
        identity = self.neutron.keystone
        assert identity is not None
        project_id = identity.members['tenant-a'].project_id
        port_id = self.neutron.create_port(self.host, project=project_id)
        self.addCleanup(self._delete_if_present, port_id)

        port = self.cloud.network.get_port(port_id)
        self.assertEqual(project_id, port.project_id)
        self.assertEqual(self.host, port.binding_host_id)
        self.assertEqual('', port.device_id)
        self.assertEqual('', port.device_owner)

    def test_data_plane_status_down_and_back(self):
        port_id = self._create_port()

        for status in ('DOWN', 'ACTIVE'):
            updated = self.cloud.network.update_port(
                port_id, data_plane_status=status)
            self.assertEqual(status, updated.data_plane_status)
            self.assertEqual(
                status, self.cloud.network.get_port(port_id).data_plane_status)
            self.wait_for(
                lambda: self._updated_to(port_id, status),
                timeout=NOTIFICATION_TIMEOUT,
                message='port.update.end with data_plane_status %s' % status)

    def _updated_to(self, port_id: str, status: str) -> bool:
        return any(
            kind == 'port.update.end' and _port_of(payload) == port_id
            and payload['port'].get('data_plane_status') == status
            for kind, payload in list(self.notifications.notifications))

    def test_delete_is_notified(self):
        port_id = self._create_port()

        self.neutron.delete_port(port_id)

        payload = self.notifications.wait('port.delete.end', _of_port(port_id),
                                          NOTIFICATION_TIMEOUT)
        self.assertEqual(port_id, _port_of(payload))
        self.assertRaises(sdk_exceptions.NotFoundException,
                          self.cloud.network.get_port, port_id)
