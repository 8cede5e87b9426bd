"""Tests of the notifier RPC API and manager over the test's bus."""

import threading
from unittest import mock

import fixtures
import oslo_messaging as messaging

from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.notifier import deliverer
from doctor.notifier import manager
from doctor.notifier import rpcapi
from doctor.objects import firing as firing_obj
from doctor.tests import base
from doctor.tests.unit.evaluator import test_rpcapi

WAIT = 10


class OldNotifierManager(manager.NotifierManager):
    """The endpoint of a notifier of RPC API 1.0, mid-upgrade."""

    target = messaging.Target(version='1.0')


def make_firing():
    return firing_obj.AlarmFiring(
        alarm_id='a-1', alarm_name='InstanceStatusAlarm',
        severity='critical', previous='ok', current='alarm',
        reason='Event hits the query.',
        reason_data={'type': 'event', 'event': {'message_id': 'm-1'}},
        deliveries={'d-1': 'http://vnfm:8000/alarm', 'd-2': 'test://x'},
        request_id='req-1', fault_id='f-1')


class TestNotifierAPI(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.context = doctor_context.get_admin_context()
        self.received = []
        self.arrived = threading.Event()
        self.servers = []
        self.addCleanup(test_rpcapi.stop_servers, self.servers)

    def _notifier(self, endpoint=manager.NotifierManager, host='notifier'):
        """A notifier replica whose deliverer only records firings."""
        capture = mock_deliverer(self.received, self.arrived)
        target = messaging.Target(topic=rpcapi.TOPIC, server=host)
        server = rpc.get_server(self.conf, target, [endpoint(capture)])
        server.start()
        self.servers.append(server)
        return capture

    def test_get_target(self):
        self.config.config(host='node-1')
        target = rpcapi.get_target(self.conf)
        self.assertEqual((rpcapi.TOPIC, 'node-1', '1.1'),
                         (target.topic, target.server, target.version))

    def test_firing_is_delivered(self):
        self._notifier()
        firing = make_firing()
        rpcapi.NotifierAPI(self.conf).deliver(self.context, firing)
        self.assertTrue(self.arrived.wait(WAIT))
        [received] = self.received
        self.assertIsInstance(received, firing_obj.AlarmFiring)
        self.assertEqual('1.1', received.VERSION)
        self.assertEqual(firing.webhook_body(), received.webhook_body())
        self.assertEqual('f-1', received.webhook_body()['fault_id'])
        self.assertEqual(firing.deliveries, received.deliveries)
        self.assertEqual('req-1', received.request_id)

    def test_one_replica_takes_each_firing(self):
        self._notifier(host='notifier-1')
        self._notifier(host='notifier-2')
        api = rpcapi.NotifierAPI(self.conf)
        for _ in range(4):
            api.deliver(self.context, make_firing())
        for _ in range(WAIT * 100):
            if len(self.received) >= 4:
                break
            threading.Event().wait(0.01)
        # Let a duplicate, if any, arrive too.
        threading.Event().wait(0.2)
        self.assertEqual(4, len(self.received))

    def test_capped_at_1_0_an_old_notifier_delivers(self):
        self._notifier(OldNotifierManager)
        self.config.config(notifier='1.0', group='upgrade_levels')
        rpcapi.NotifierAPI(self.conf).deliver(self.context, make_firing())
        self.assertTrue(self.arrived.wait(WAIT))
        [received] = self.received
        self.assertEqual('1.0', received.VERSION)
        self.assertFalse(received.obj_attr_is_set('fault_id'))
        body = received.webhook_body()
        self.assertNotIn('fault_id', body)
        self.assertEqual('InstanceStatusAlarm', body['alarm_name'])
        self.assertEqual(make_firing().deliveries, received.deliveries)

    def test_uncapped_an_old_notifier_refuses(self):
        self._notifier(OldNotifierManager)
        rpcapi.NotifierAPI(self.conf).deliver(self.context, make_firing())
        for _ in range(WAIT * 100):
            if 'UnsupportedVersion' in self.logger.output:
                break
            threading.Event().wait(0.01)
        self.assertIn('UnsupportedVersion', self.logger.output)
        self.assertEqual([], self.received)


def mock_deliverer(received, arrived):
    """A Deliverer (autospec) that records what it is asked to deliver."""
    capture = mock.create_autospec(deliverer.Deliverer, instance=True)

    def deliver(firing):
        received.append(firing)
        arrived.set()
        return []
    # The manager hands firings over through whichever entry point the
    # deliverer offers them.
    for name in ('deliver', 'deliver_handed_over'):
        if hasattr(deliverer.Deliverer, name):
            getattr(capture, name).side_effect = deliver
    return capture
