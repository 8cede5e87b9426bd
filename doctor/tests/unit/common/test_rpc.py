import oslo_messaging as messaging

from doctor.common import rpc
from doctor.tests import base


class TestExecutor(base.TestCase):
    """Servers and listeners run on threads, never on eventlet."""

    def test_rpc_server_uses_threads(self):
        server = rpc.get_server(self.conf, messaging.Target(
            topic='doctor-test', server='host-1'), [])
        self.assertEqual('threading', server.executor_type)

    def test_notification_listener_uses_threads(self):
        listener = rpc.get_notification_listener(
            self.conf, [messaging.Target(topic='notifications')], [],
            pool='doctor-test')
        self.assertEqual('threading', listener.executor_type)
