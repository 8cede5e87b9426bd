"""Tests of the notifier plugins: log, test, http and https."""

import base64
from unittest import mock
from urllib import parse

import fixtures
from oslo_serialization import jsonutils

from doctor.common import exception
from doctor.notifier import deliverer
from doctor.notifier.plugins import base as plugin_base
from doctor.notifier.plugins import log as log_plugin
from doctor.notifier.plugins import rest
from doctor.notifier.plugins import test as test_plugin
from doctor.tests import base
from doctor.tests.unit.notifier import webhook

BODY = {'alarm_id': 'a-1', 'alarm_name': 'InstanceStatusAlarm',
        'severity': 'critical', 'previous': 'ok', 'current': 'alarm',
        'reason': 'Event hits the query.',
        'reason_data': {'type': 'event', 'event': {'message_id': 'm-1'}},
        'fault_id': 'f-1'}


class TestLoading(base.TestCase):

    def test_every_scheme_has_a_plugin(self):
        notifiers = deliverer.load_notifiers(self.conf)
        self.assertEqual({'log', 'test', 'http', 'https'},
                         set(notifiers.names()))
        self.assertIsInstance(notifiers['https'].obj,
                              rest.RestAlarmNotifier)
        for ext in notifiers:
            ext.obj.close()


class TestSafeUrl(base.TestCase):

    def _safe(self, url):
        return plugin_base.safe_url(parse.urlsplit(url))

    def test_credentials_are_removed(self):
        self.assertEqual('http://vnfm:8000/alarm?x=1',
                         self._safe('http://user:s3cret@vnfm:8000/alarm?x=1'))
        self.assertEqual('https://vnfm/alarm',
                         self._safe('https://token@vnfm/alarm'))

    def test_without_credentials_unchanged(self):
        self.assertEqual('http://vnfm:8000/alarm',
                         self._safe('http://vnfm:8000/alarm'))

    def test_ipv6_host_keeps_its_brackets(self):
        self.assertEqual('http://[fd00::1]:8000/alarm',
                         self._safe('http://u:p@[fd00::1]:8000/alarm'))

    def test_bad_port_does_not_raise(self):
        self.assertEqual('http://vnfm:99999/alarm',
                         self._safe('http://u:p@vnfm:99999/alarm'))


class TestLogAndTestPlugins(base.TestCase):

    def test_log(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='doctor.notifier.plugins.log'))
        log_plugin.LogAlarmNotifier(self.conf).notify(
            parse.urlsplit('log://'), BODY, 'req-1')
        self.assertEqual(
            'Alarm InstanceStatusAlarm (a-1) went from ok to alarm, '
            'severity critical: Event hits the query. [request req-1]\n',
            logger.output)

    def test_test_plugin_records(self):
        test_plugin.TestAlarmNotifier.reset()
        self.addCleanup(test_plugin.TestAlarmNotifier.reset)
        plugin = test_plugin.TestAlarmNotifier(self.conf)
        plugin.notify(parse.urlsplit('test://consumer/a'), BODY, 'req-1')
        self.assertEqual([('test://consumer/a', BODY, 'req-1')],
                         test_plugin.TestAlarmNotifier.notifications)
        test_plugin.TestAlarmNotifier.reset()
        self.assertEqual([], test_plugin.TestAlarmNotifier.notifications)


class RestTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY',
                     'HTTPS_PROXY'):
            self.useFixture(fixtures.EnvironmentVariable(name))
        # The webhook receivers of these tests listen on loopback.
        self.config.config(retry_backoff=0.01, max_retries=3,
                           http_connect_timeout=2, http_read_timeout=2,
                           allowed_networks=['127.0.0.0/8'],
                           group='notifier')
        self.sleep = self.useFixture(fixtures.MockPatchObject(
            rest, 'time', autospec=True)).mock.sleep
        self.logger = self.useFixture(fixtures.FakeLogger())

    def _notify(self, url, body=BODY, request_id='req-1'):
        plugin = rest.RestAlarmNotifier(self.conf)
        self.addCleanup(plugin.close)
        plugin.notify(parse.urlsplit(url), body, request_id)


class TestHttp(RestTestCase):

    def test_environment_is_read_once_without_a_proxy(self):
        plugin = rest.RestAlarmNotifier(self.conf)
        self.addCleanup(plugin.close)
        with mock.patch.object(rest.request, 'getproxies_environment',
                               autospec=True) as lookup:
            server = self.useFixture(webhook.WebhookServer())
            plugin.notify(parse.urlsplit(server.url + '/a'), BODY, 'req')
            plugin.notify(parse.urlsplit(server.url + '/b'), BODY, 'req')
        lookup.assert_not_called()
        self.assertEqual(2, len(server.received))

    def test_a_configured_proxy_is_honoured(self):
        server = self.useFixture(webhook.WebhookServer())
        # The webhook server stands in for the proxy: it receives the
        # request with the absolute URL of the real destination.
        self.useFixture(fixtures.EnvironmentVariable('http_proxy',
                                                     server.url))
        self._notify('http://vnfm.invalid:8000/alarm')
        [received] = server.received
        self.assertEqual('http://vnfm.invalid:8000/alarm', received.path)

    def test_posts_json_with_the_request_id(self):
        server = self.useFixture(webhook.WebhookServer())
        self._notify(server.url + '/failure?site=a', request_id='req-42')
        [received] = server.received
        self.assertEqual('/failure?site=a', received.path)
        self.assertEqual(BODY, jsonutils.loads(received.body))
        self.assertEqual('application/json',
                         received.headers['Content-Type'])
        self.assertEqual('req-42',
                         received.headers['X-Openstack-Request-Id'])
        self.sleep.assert_not_called()

    def test_server_error_is_retried(self):
        server = self.useFixture(webhook.WebhookServer(statuses=[500]))
        self._notify(server.url + '/alarm')
        self.assertEqual(2, len(server.received))
        self.assertEqual(server.received[0].body, server.received[1].body)
        self.sleep.assert_called_once_with(0.01)

    def test_retried_statuses(self):
        server = self.useFixture(webhook.WebhookServer(
            statuses=[502, 503, 429]))
        self._notify(server.url + '/alarm')
        self.assertEqual(4, len(server.received))

    def test_client_error_is_not_retried(self):
        server = self.useFixture(webhook.WebhookServer(statuses=[400]))
        e = self.assertRaises(exception.DeliveryFailed, self._notify,
                              server.url + '/alarm')
        self.assertEqual(
            'Delivery to %s/alarm failed: HTTP 400 after 1 attempt(s)'
            % server.url, str(e))
        self.assertEqual(1, len(server.received))
        self.sleep.assert_not_called()

    def test_gives_up_after_the_retries_with_backoff(self):
        server = self.useFixture(webhook.WebhookServer(statuses=[500] * 9))
        e = self.assertRaises(exception.DeliveryFailed, self._notify,
                              server.url + '/alarm')
        self.assertIn('HTTP 500 after 4 attempt(s)', str(e))
        self.assertEqual(4, len(server.received))
        self.assertEqual([mock.call(0.01), mock.call(0.02),
                          mock.call(0.04)], self.sleep.call_args_list)

    def test_no_retries(self):
        self.config.config(max_retries=0, group='notifier')
        server = self.useFixture(webhook.WebhookServer(statuses=[503]))
        self.assertRaises(exception.DeliveryFailed, self._notify,
                          server.url + '/alarm')
        self.assertEqual(1, len(server.received))

    def test_connection_refused(self):
        self.config.config(max_retries=2, group='notifier')
        url = 'http://127.0.0.1:%d/alarm' % webhook.closed_port()
        e = self.assertRaises(exception.DeliveryFailed, self._notify, url)
        self.assertIn('ConnectionError', str(e))
        self.assertIn('after 3 attempt(s)', str(e))
        self.assertEqual([mock.call(0.01), mock.call(0.02)],
                         self.sleep.call_args_list)

    def test_read_timeout(self):
        self.config.config(max_retries=0, http_read_timeout=0.1,
                           group='notifier')
        server = self.useFixture(webhook.WebhookServer(delay=1.0))
        e = self.assertRaises(exception.DeliveryFailed, self._notify,
                              server.url + '/alarm')
        self.assertIn('Timeout', str(e))

    def test_credentials_are_sent_but_never_shown(self):
        server = self.useFixture(webhook.WebhookServer(statuses=[500] * 9))
        url = server.url.replace('//', '//vnfm:s3cret@') + '/alarm'
        e = self.assertRaises(exception.DeliveryFailed, self._notify, url)
        self.assertNotIn('s3cret', str(e))
        self.assertNotIn('s3cret', self.logger.output)
        self.assertIn(server.url + '/alarm', str(e))
        self.assertIn('Delivery of alarm a-1 to %s/alarm failed (HTTP 500)'
                      % server.url, self.logger.output)
        self.assertEqual(
            'Basic ' + base64.b64encode(b'vnfm:s3cret').decode(),
            server.received[0].headers['Authorization'])

    def test_credentials_hidden_when_unreachable(self):
        self.config.config(max_retries=0, group='notifier')
        url = 'http://vnfm:s3cret@127.0.0.1:%d/alarm' % (
            webhook.closed_port())
        e = self.assertRaises(exception.DeliveryFailed, self._notify, url)
        self.assertNotIn('s3cret', str(e))
        self.assertIn('Connection refused', str(e))


class TestHttps(RestTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(max_retries=0, group='notifier')
        self.cert, key = webhook.self_signed_certificate(self.state_path)
        self.server = self.useFixture(webhook.WebhookServer(
            tls_files=(self.cert, key)))

    def test_verified_with_the_configured_ca(self):
        self.config.config(ssl_verify=True, ssl_ca_file=self.cert,
                           group='notifier')
        self._notify(self.server.url + '/alarm')
        self.assertEqual(BODY, jsonutils.loads(self.server.received[0].body))

    def test_unknown_certificate_is_refused(self):
        self.config.config(ssl_verify=True, group='notifier')
        e = self.assertRaises(exception.DeliveryFailed, self._notify,
                              self.server.url + '/alarm')
        self.assertIn('SSLError', str(e))
        self.assertEqual([], self.server.received)

    def test_verification_off(self):
        self.useFixture(fixtures.WarningsFilter([
            {'action': 'ignore', 'message': 'Unverified HTTPS request'}]))
        self.config.config(ssl_verify=False, ssl_ca_file=None,
                           group='notifier')
        self._notify(self.server.url + '/alarm')
        self.assertEqual(1, len(self.server.received))
