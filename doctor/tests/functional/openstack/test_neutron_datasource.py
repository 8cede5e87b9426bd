"""The ``neutron`` datasource against a real Neutron.

Everything here is real, nothing recorded: neutron-server with ML2 and
the ``data_plane_status`` extension, authenticated by a real Keystone
(see :mod:`doctor.tests.functional.neutron`), Neutron's notifications on
its RabbitMQ virtual host, and doctor's entity store on SQLite. doctor's
``[neutron]`` group holds the cloud administrator's keystoneauth password
options, as an operator's ``doctor.conf`` would.

Not shown here: a port changed by a project member, whose notification
lacks the ``binding:*`` fields (the unit tests cover it).
"""

import types
import typing
import uuid

from doctor.synchronizer import service as service_mod
from doctor.tests.functional import neutron
from doctor.tests.functional.openstack import base as os_base

# Long enough that only the first snapshot is taken during a test: what
# arrives later came through the notifications.
INTERVAL = 3600.0
NOTIFIED_WITHIN = 30.0


class NeutronDatasourceTest(os_base.DatasourceTestCase):
    """Snapshots of a real Neutron and its notifications, in the store."""

    peer_module: typing.ClassVar[types.ModuleType] = neutron
    datasource = 'neutron'
    interval = INTERVAL

    def setUp(self):
        super().setUp()
        self.neutron = self.peer

    # helpers

    def create_port(self, host: str, device_id: str | None = None) -> str:
        port = self.neutron.create_port(host, device_id=device_id)
        self.addCleanup(self._delete_if_there, port)
        return port

    def _delete_if_there(self, port: str) -> None:
        try:
            self.neutron.delete_port(port)
        except neutron.StartError as e:
            if ' 404' not in str(e):
                raise

    def update_port(self, port: str, **values) -> None:
        self.neutron.call('PUT', '/ports/' + port, {'port': values})

    # tests

    def test_snapshot_then_notifications(self):
        server = str(uuid.uuid4())
        first = self.create_port('compute-0', device_id=server)
        service = service_mod.SynchronizerService(self.conf)
        service.start()
        self.addCleanup(service.stop)

        port = self.wait_entity('port:' + first, 'the port', timeout=60)
        document = self.neutron.call('GET', '/ports/' + first)['port']
        self.assertEqual(
            ('neutron', 'ACTIVE', document['project_id'],
             ['host:compute-0', 'instance:' + server]),
            (port['datasource'], port['state'], port['project_id'],
             port['parents']))
        self.assertEqual(
            {'device_id': server, 'device_owner': neutron.COMPUTE_OWNER,
             'binding_host_id': 'compute-0',
             'mac_address': document['mac_address'],
             'network_id': self.neutron.network_id,
             'data_plane_status': None, 'admin_state_up': True,
             'fixed_ips': document['fixed_ips']},
            port['attributes'])

        self.update_port(first, data_plane_status='DOWN')
        self.wait_entity(
            'port:' + first, 'data-plane status DOWN, notified',
            lambda e: e['attributes']['data_plane_status'] == 'DOWN')
        self.update_port(first, **{'binding:host_id': 'compute-1'})
        self.wait_entity(
            'port:' + first, 'the port on another host, notified',
            lambda e: e['parents'] == ['host:compute-1',
                                       'instance:' + server])
        second = self.create_port('compute-2')
        self.wait_entity('port:' + second, 'a new port, notified',
                         lambda e: e['parents'] == ['host:compute-2'])
        self.neutron.delete_port(second)
        self.wait_for(lambda: self.entity('port:' + second) is None,
                      timeout=NOTIFIED_WITHIN,
                      message='the deleted port gone, notified')

        # What the notifications said is what a snapshot says.
        assert service.synchronizer is not None
        changes = self.collected(service.synchronizer)
        self.assertEqual(0, service.runners['neutron'].run())
        service.synchronizer.wait_idle()
        self.assertEqual([], changes)

    def test_snapshot_after_an_unnotified_change_reports_it_alone(self):
        snapshot, changes = self.snapshots()

        port = self.create_port('compute-0', device_id=str(uuid.uuid4()))
        self.assertIn(('create', 'port:' + port), snapshot())
        self.assertEqual([], snapshot())

        self.update_port(port, data_plane_status='DOWN')
        self.assertEqual([('update', 'port:' + port)], snapshot())
        self.assertEqual('DOWN',
                         changes[0]['attributes']['data_plane_status'])
        other = self.create_port('compute-1')
        self.assertEqual([('create', 'port:' + other)], snapshot())
        self.neutron.delete_port(port)
        self.assertEqual([('delete', 'port:' + port)], snapshot())

    def test_wrong_password_is_one_line_and_retried(self):
        self.check_wrong_password(
            'Neutron: cannot list the ports: Unauthorized')
