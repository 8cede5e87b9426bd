"""The ``nova`` controller against a real Nova.

Everything here is real, nothing recorded: Nova 34 with fake-driver
computes, authenticated by a real Keystone (see
:mod:`doctor.tests.functional.nova`), and Nova's notifications on its
RabbitMQ virtual host. doctor's ``[nova]`` group holds the cloud
administrator's keystoneauth password options, as an operator's
``doctor.conf`` would; the controller is loaded by name, as the inspector
loads it.

The computes are fake: a compute forced down keeps running, so a stop
Nova hands it is carried out at once, as on a host whose data plane
failed while its nova-compute went on.
"""

import types
import typing
import uuid

from doctor.common import exception
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import nova as nova_controller
from doctor.inspector.controllers import openstack
from doctor.tests.functional import nova
from doctor.tests.functional.openstack import base as os_base

TENANT = 'tenant-a'
NOTIFIED_WITHIN = 30.0
STOPPED_WITHIN = 60.0


def _versioned(payload: dict) -> dict:
    return payload['nova_object.data']


class NovaControllerTest(os_base.ControllerTestCase):
    """Hosts forced down and servers' states set in a real Nova."""

    peer_module: typing.ClassVar[types.ModuleType] = nova
    controller_name = 'nova'

    def setUp(self):
        super().setUp()
        self.nova = self.peer
        self.controller = self.load_controller()
        self.fault_id = str(uuid.uuid4())
        self.context = controller_base.ActionContext(fault_id=self.fault_id)

    # helpers

    def boot(self, host: str) -> controller_base.Instance:
        server = self.nova.boot('doctor-%s' % uuid.uuid4().hex[:8], host,
                                project=TENANT)
        self.addCleanup(self._delete_if_there, server)
        return controller_base.Instance(
            id=server, host=host, state='active',
            project_id=self.nova.project_id(TENANT))

    def _delete_if_there(self, server: str) -> None:
        try:
            self.nova.delete(server)
        except nova.APIError as e:
            if ' 404' not in str(e):
                raise

    def compute_service(self, host: str) -> dict:
        [service] = self.nova.call(
            'GET', '/os-services?binary=nova-compute&host=' + host)[
                'services']
        return service

    def force_down(self, host: str) -> None:
        """Force ``host`` down through the controller, up again at cleanup.
        """
        service_id = self.nova.service_id(host)
        self.addCleanup(self.nova.call, 'PUT', '/os-services/' + service_id,
                        {'forced_down': False})
        self.controller.set_host_down(self.context,
                                      controller_base.Host(name=host), True)

    def server(self, server: str) -> dict:
        return self.nova.call('GET', '/servers/' + server)['server']

    def listen_to_nova(self) -> os_base.NotificationRecorder:
        """Nova's legacy and versioned notifications from now on."""
        return self.listen('nova', ['notifications',
                                    'versioned_notifications'])

    # tests

    def test_loaded_by_name_acts_on_hosts_and_instances(self):
        self.assertIsInstance(self.controller,
                              nova_controller.NovaController)
        self.assertEqual(frozenset(('host', 'instance')),
                         self.controller.handles)

    def test_host_forced_down_then_up(self):
        host = self.nova.hosts[1]
        service_id = self.nova.service_id(host)
        recorder = self.listen_to_nova()

        # The host as a datasource other than nova reports it: no service
        # id, which the controller looks up.
        self.force_down(host)

        service = self.compute_service(host)
        self.assertEqual((True, 'down'),
                         (service['forced_down'], service['state']))
        recorder.wait('service.update',
                      lambda p: (_versioned(p)['host'] == host
                                 and _versioned(p)['forced_down']),
                      NOTIFIED_WITHIN)

        # The host as the nova datasource stores it, with its service id.
        self.controller.set_host_down(
            self.context, controller_base.Host(
                name=host, attributes={'service_id': service_id}), False)

        service = self.compute_service(host)
        self.assertEqual((False, 'up'),
                         (service['forced_down'], service['state']))
        recorder.wait('service.update',
                      lambda p: (_versioned(p)['host'] == host
                                 and not _versioned(p)['forced_down']),
                      NOTIFIED_WITHIN)

    def test_a_stale_service_id_is_looked_up_again(self):
        host = self.nova.hosts[2]
        service_id = self.nova.service_id(host)
        self.addCleanup(self.nova.call, 'PUT', '/os-services/' + service_id,
                        {'forced_down': False})

        self.controller.set_host_down(
            self.context, controller_base.Host(
                name=host, attributes={'service_id': str(uuid.uuid4())}),
            True)

        self.assertTrue(self.compute_service(host)['forced_down'])

    def test_instance_on_a_forced_down_host_set_to_error(self):
        host = self.nova.hosts[1]
        instance = self.boot(host)
        self.force_down(host)
        recorder = self.listen_to_nova()

        self.controller.set_instance_state(self.context, instance, 'error')

        self.assertEqual('ERROR', self.server(instance.id)['status'])
        legacy = recorder.wait(
            'compute.instance.update',
            lambda p: (p['instance_id'] == instance.id
                       and p['state'] == 'error'),
            NOTIFIED_WITHIN)
        self.assertEqual('active', legacy['old_state'])
        self.assertEqual(instance.project_id, legacy['tenant_id'])
        self.assertEqual(host, legacy['host'])

    def test_instance_on_a_forced_down_host_stopped(self):
        host = self.nova.hosts[0]
        instance = self.boot(host)
        self.force_down(host)
        recorder = self.listen_to_nova()

        # Nova takes the stop although the host is forced down.
        self.controller.set_instance_state(self.context, instance,
                                           'stopped')

        self.wait_for(
            lambda: self.server(instance.id)['status'] == 'SHUTOFF',
            timeout=STOPPED_WITHIN,
            message='the server stopped by its (still running) compute')
        legacy = recorder.wait(
            'compute.instance.update',
            lambda p: (p['instance_id'] == instance.id
                       and p['state'] == 'stopped'),
            NOTIFIED_WITHIN)
        self.assertEqual(instance.project_id, legacy['tenant_id'])
        # Stopped already: Nova refuses a second stop, which has nothing
        # left to do.
        self.controller.set_instance_state(self.context, instance,
                                           'stopped')
        self.assertEqual('SHUTOFF', self.server(instance.id)['status'])

    def test_unknown_host_and_instance_fail_for_good(self):
        error = self.assertRaises(
            exception.HostNotFound, self.controller.set_host_down,
            self.context, controller_base.Host(name='no-such-host'), True)
        self.assertIn('no-such-host', str(error))

        missing = str(uuid.uuid4())
        for state in ('error', 'stopped'):
            error = self.assertRaises(
                exception.EntityNotFound,
                self.controller.set_instance_state, self.context,
                controller_base.Instance(id=missing, host='compute-0'),
                state)
            self.assertIn('POST /servers/%s/action answered 404' % missing,
                          str(error))

    def test_wrong_password_is_a_clear_final_error(self):
        self.config.config(password='wrong', group='nova')
        controller = self.load_controller()

        error = self.assertRaises(
            openstack.Refused, controller.set_host_down, self.context,
            controller_base.Host(name=self.nova.hosts[0]), True)

        self.assertIn('the [nova] credentials were refused (Keystone '
                      'answered 401)', str(error))
        self.assertFalse(
            self.compute_service(self.nova.hosts[0])['forced_down'])
