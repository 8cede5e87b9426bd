"""doctor-monitor against hosts that really fail.

Three network namespaces stand for three hosts; the monitor runs in the
test's process and posts to a stub API (an HTTP server on loopback that
records each POST). Taking one host's link down must bring exactly one
``down`` event for that host, within a second, and none for the others;
bringing it up, exactly one ``up`` event.
"""

import datetime
import socket
import subprocess
import sys
import time

from oslo_log import log
from testtools import content

from doctor.monitor import monitor as monitor_mod
from doctor.tests.functional import base
from doctor.tests.functional import netns
from doctor.tests.functional import peers

LOG = log.getLogger(__name__)

EVENTS = '/v1/events'
MONITOR_NAME = 'netns-monitor'
DETECTION_LIMIT = 1.0

# Accepts and closes connections until killed; says when it listens.
_LISTENER = '''
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('0.0.0.0', int(sys.argv[1])))
server.listen(128)
print('listening', flush=True)
while True:
    connection, _ = server.accept()
    connection.close()
'''


def _seconds(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp).timestamp()


class IcmpMonitorTest(base.FunctionalTestCase):
    """ICMP echo from a raw socket (the functional tests run as root)."""

    method = 'icmp'

    def setUp(self):
        super().setUp()
        netns.require(self)
        self.netns = self.useFixture(netns.NetnsHosts(3))
        self.api = self.useFixture(peers.WebhookReceiver())
        self.config.config(
            group='monitor', method=self.method, interval=0.1,
            hosts=['%s=%s' % host for host in self.netns.hosts],
            api_url='http://127.0.0.1:%d' % self.api.port,
            name=MONITOR_NAME)
        self.prepare_hosts()
        self.monitor = monitor_mod.Monitor(self.conf)
        self.monitor.start()
        self.addCleanup(self.monitor.stop)
        self.assertEqual(self.method, self.monitor.prober.method)
        self.wait_for(lambda: set(self.monitor.states().values()) == {'up'},
                      timeout=5, message='every host to answer')

    def prepare_hosts(self) -> None:
        """Start what the hosts need before the monitor watches them."""

    def test_link_down_then_up(self):
        name, address = self.netns.hosts[1]
        failed_at = time.time()
        started = time.monotonic()
        self.netns.link_down(name)
        [request] = self.api.wait_for(1, EVENTS, timeout=DETECTION_LIMIT)
        arrived = time.monotonic() - started
        [event] = request.body
        detected = _seconds(event['time']) - failed_at
        report = ('%s probe of %s (%s): link down -> detected in %.1f ms '
                  '(event time), event at the API in %.1f ms'
                  % (self.method, name, address, detected * 1000,
                     arrived * 1000))
        LOG.info('Detection delay: %s', report)
        self.addDetail('detection delay', content.text_content(report))
        self.assertLessEqual(arrived, DETECTION_LIMIT)

        self.assertEqual({'id', 'time', 'type', 'details'}, set(event))
        self.assertEqual('compute.host.down', event['type'])
        details = event['details']
        self.assertEqual({'hostname': name, 'status': 'down',
                          'monitor': MONITOR_NAME},
                         {key: details[key] for key in
                          ('hostname', 'status', 'monitor')})
        self.assertEqual('admin', request.headers['x-roles'])
        self.api.assert_no_more(1, EVENTS, grace=0.5)
        self.assertEqual({host: 'down' if host == name else 'up'
                          for host, _ in self.netns.hosts},
                         self.monitor.states())

        self.netns.link_up(name)
        requests = self.api.wait_for(2, EVENTS, timeout=5)
        [recovery] = requests[1].body
        self.assertEqual('up', recovery['details']['status'])
        self.assertEqual(name, recovery['details']['hostname'])
        self.assertEqual(details['monitor_event_id'],
                         recovery['details']['monitor_event_id'])
        self.assertNotEqual(event['id'], recovery['id'])
        self.api.assert_no_more(2, EVENTS, grace=0.5)
        self.assertEqual({'up'}, set(self.monitor.states().values()))


class TcpMonitorTest(IcmpMonitorTest):
    """TCP connect: a listener on the failing host, refused elsewhere.

    A refused connection is an answer: the other hosts are up.
    """

    method = 'tcp'

    def prepare_hosts(self) -> None:
        port = 2222
        self.config.config(group='monitor', tcp_port=port)
        name, address = self.netns.hosts[1]
        listener = self.netns.popen(
            name, [sys.executable, '-c', _LISTENER, str(port)],
            stdout=subprocess.PIPE, text=True)
        self.assertEqual('listening', listener.stdout.readline().strip())
        # The monitor's probes of this host are accepted, not refused.
        socket.create_connection((address, port), timeout=5).close()
