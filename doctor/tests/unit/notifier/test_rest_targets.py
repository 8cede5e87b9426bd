"""The webhook target policy at delivery: after DNS, pinned, no redirects."""

import os
import socket
from urllib import parse

import fixtures

from doctor.common import exception
from doctor.notifier import targets
from doctor.notifier.plugins import rest
from doctor.tests import base
from doctor.tests.unit.notifier import webhook

BODY = {'alarm_id': 'a-1', 'alarm_name': 'InstanceStatusAlarm',
        'severity': 'critical', 'previous': 'ok', 'current': 'alarm',
        'reason': 'Event hits the query.', 'reason_data': {}}

# A name nothing resolves: only the patched resolver knows it, so a
# connection that reaches the consumer went to the address it gave.
NAME = 'consumer.doctor-test.invalid'


def _answer(address, port):
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    sockaddr = ((address, port, 0, 0) if family == socket.AF_INET6
                else (address, port))
    return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, '', sockaddr)]


class TargetsTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY',
                     'HTTPS_PROXY', 'no_proxy', 'NO_PROXY'):
            self.useFixture(fixtures.EnvironmentVariable(name))
        self.config.config(retry_backoff=0.01, max_retries=3,
                           http_connect_timeout=2, http_read_timeout=2,
                           group='notifier')
        self.sleep = self.useFixture(fixtures.MockPatchObject(
            rest, 'time', autospec=True)).mock.sleep
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.resolver = self.useFixture(fixtures.MockPatchObject(
            targets, 'getaddrinfo', autospec=True,
            side_effect=self._resolve)).mock
        # What the patched resolver answers for NAME, in turn.
        self.answers = []

    def _resolve(self, host, port):
        if host == NAME:
            return _answer(self.answers.pop(0), port)
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)

    def allow_loopback(self):
        self.config.config(allowed_networks=['127.0.0.0/8'],
                           group='notifier')

    def notify(self, url):
        plugin = rest.RestAlarmNotifier(self.conf)
        self.addCleanup(plugin.close)
        plugin.notify(parse.urlsplit(url), BODY, 'req-1')


class TestRefusedAtDelivery(TargetsTestCase):

    def test_a_consumer_on_loopback_is_refused_by_default(self):
        server = self.useFixture(webhook.WebhookServer())
        e = self.assertRaises(exception.TargetDenied, self.notify,
                              server.url + '/alarm')
        self.assertEqual('%s/alarm is in a denied network: 127.0.0.1 is in '
                         '127.0.0.0/8' % server.url, str(e))
        self.assertEqual([], server.received)

    def test_and_reached_when_allowed(self):
        self.allow_loopback()
        server = self.useFixture(webhook.WebhookServer())
        self.notify(server.url + '/alarm')
        self.assertEqual(['/alarm'], [r.path for r in server.received])

    def test_a_name_resolving_to_a_denied_address_is_refused_once(self):
        self.answers = ['169.254.169.254']
        e = self.assertRaises(exception.TargetDenied, self.notify,
                              'http://u:s3cret@%s:8000/alarm' % NAME)
        self.assertIn('resolves to 169.254.169.254, in 169.254.0.0/16',
                      str(e))
        self.assertNotIn('s3cret', str(e))
        # Refused for good: neither retried nor waited for.
        self.resolver.assert_called_once_with(NAME, 8000)
        self.sleep.assert_not_called()

    def test_a_name_mapped_into_a_denied_network_is_refused(self):
        self.answers = ['::ffff:127.0.0.1']
        self.assertRaises(exception.TargetDenied, self.notify,
                          'http://%s/alarm' % NAME)

    def test_a_name_that_does_not_resolve_is_retried(self):
        self.config.config(max_retries=1, group='notifier')
        self.resolver.side_effect = socket.gaierror(
            socket.EAI_NONAME, 'Name or service not known')
        e = self.assertRaises(exception.DeliveryFailed, self.notify,
                              'http://%s/alarm' % NAME)
        self.assertIn("Failed to resolve '%s'" % NAME, str(e))
        self.assertIn('after 2 attempt(s)', str(e))


class TestPinned(TargetsTestCase):
    """The connection goes to the address that was checked."""

    def setUp(self):
        super().setUp()
        self.allow_loopback()
        self.lookups = self.useFixture(fixtures.MockPatchObject(
            socket, 'getaddrinfo', autospec=True,
            side_effect=socket.getaddrinfo)).mock

    def assert_name_never_looked_up_again(self):
        # Parsing it as a number (AI_NUMERICHOST) is no lookup.
        for call in self.lookups.call_args_list:
            if call.kwargs.get('flags', 0) & socket.AI_NUMERICHOST:
                continue
            self.assertNotEqual(NAME, call.args[0])

    def test_http_keeps_the_name_in_the_host_header(self):
        server = self.useFixture(webhook.WebhookServer())
        self.answers = ['127.0.0.1']
        self.notify('http://%s:%d/alarm?site=a' % (NAME, server.port))
        [received] = server.received
        self.assertEqual('/alarm?site=a', received.path)
        self.assertEqual('%s:%d' % (NAME, server.port),
                         received.headers['Host'])
        self.resolver.assert_called_once_with(NAME, server.port)
        self.assert_name_never_looked_up_again()

    def test_a_rebound_name_cannot_reach_the_denied_address(self):
        # The name resolves to an allowed address when checked, and to a
        # denied one after: a second lookup would connect there.
        server = self.useFixture(webhook.WebhookServer())
        self.answers = ['127.0.0.1', '169.254.169.254']
        self.notify('http://%s:%d/alarm' % (NAME, server.port))
        self.assertEqual(1, len(server.received))
        self.assertEqual(['169.254.169.254'], self.answers)
        self.assert_name_never_looked_up_again()

    def test_https_verifies_the_certificate_of_the_name(self):
        directory = os.path.join(self.state_path, 'name')
        os.mkdir(directory)
        cert, key = webhook.self_signed_certificate(directory, [NAME])
        self.config.config(ssl_verify=True, ssl_ca_file=cert,
                           group='notifier')
        server = self.useFixture(webhook.WebhookServer(
            tls_files=(cert, key)))
        self.answers = ['127.0.0.1']
        self.notify('https://%s:%d/alarm' % (NAME, server.port))
        [received] = server.received
        self.assertEqual('%s:%d' % (NAME, server.port),
                         received.headers['Host'])
        self.assert_name_never_looked_up_again()

    def test_https_refuses_a_certificate_not_for_the_name(self):
        # The certificate is good for the address connected to, not for
        # the name in the action: refused.
        self.config.config(max_retries=0, group='notifier')
        cert, key = webhook.self_signed_certificate(self.state_path)
        self.config.config(ssl_verify=True, ssl_ca_file=cert,
                           group='notifier')
        server = self.useFixture(webhook.WebhookServer(
            tls_files=(cert, key)))
        self.answers = ['127.0.0.1']
        e = self.assertRaises(exception.DeliveryFailed, self.notify,
                              'https://%s:%d/alarm' % (NAME, server.port))
        self.assertIn('SSLError', str(e))
        self.assertEqual([], server.received)

    def test_redirects_are_not_followed(self):
        self.config.config(max_retries=0, group='notifier')
        elsewhere = self.useFixture(webhook.WebhookServer())
        server = self.useFixture(webhook.WebhookServer(
            statuses=[302], location=elsewhere.url + '/metadata'))
        e = self.assertRaises(exception.DeliveryFailed, self.notify,
                              server.url + '/alarm')
        self.assertIn('HTTP 302', str(e))
        self.assertEqual(1, len(server.received))
        self.assertEqual([], elsewhere.received)


class TestThroughAProxy(TargetsTestCase):

    def setUp(self):
        super().setUp()
        self.proxy = self.useFixture(webhook.WebhookServer())
        self.useFixture(fixtures.EnvironmentVariable('http_proxy',
                                                     self.proxy.url))

    def test_a_denied_literal_address_is_refused(self):
        self.assertRaises(exception.TargetDenied, self.notify,
                          'http://0xa9fea9fe/latest/meta-data/')
        self.assertEqual([], self.proxy.received)

    def test_a_name_resolving_to_a_denied_address_is_refused(self):
        self.answers = ['127.0.0.1']
        self.assertRaises(exception.TargetDenied, self.notify,
                          'http://%s/alarm' % NAME)
        self.assertEqual([], self.proxy.received)

    def test_a_name_only_the_proxy_resolves_goes_to_the_proxy(self):
        self.resolver.side_effect = socket.gaierror(
            socket.EAI_NONAME, 'Name or service not known')
        self.notify('http://%s/alarm' % NAME)
        [received] = self.proxy.received
        self.assertEqual('http://%s/alarm' % NAME, received.path)
