"""A delivery to a denied webhook target: refused, recorded, not retried."""

import socket

import fixtures
from oslo_serialization import jsonutils
from stevedore import extension

from doctor.notifier import deliverer
from doctor.notifier import targets
from doctor.notifier.plugins import rest
from doctor.tests.unit.db import factory
from doctor.tests.unit.notifier import test_deliverer


class TestRefusedDelivery(test_deliverer.DelivererTestCase):

    def setUp(self):
        self.resolver = self.useFixture(fixtures.MockPatchObject(
            targets, 'getaddrinfo', autospec=True,
            return_value=[(socket.AF_INET, socket.SOCK_STREAM,
                           socket.IPPROTO_TCP, '',
                           ('169.254.169.254', 80))])).mock
        super().setUp()

    def make_deliverer(self):
        notifiers = extension.ExtensionManager.make_test_instance(
            [extension.Extension('http', None, rest.RestAlarmNotifier,
                                 rest.RestAlarmNotifier(self.conf))])
        result = deliverer.Deliverer(self.conf, self.db, notifiers)
        self.addCleanup(result.stop)
        return result

    def test_a_name_resolving_into_a_denied_network_is_recorded(self):
        firing = self.store_firing('http://vnfm:s3cret@vnfm.example/alarm')
        self.assertEqual([False], self.deliver(firing))
        [entry] = self.action_entries()
        self.assertEqual({
            'action': 'http://vnfm.example/alarm', 'state': 'alarm',
            'result': 'refused',
            'reason': 'http://vnfm.example/alarm is in a denied network: '
                      'its host vnfm.example resolves to 169.254.169.254, '
                      'in 169.254.0.0/16'}, entry)
        # Not retried, now or later: the stored delivery is forgotten.
        self.resolver.assert_called_once_with('vnfm.example', 80)
        self.assertEqual([], factory.stored_deliveries(self.db))
        self.assertNotIn('s3cret', jsonutils.dumps(entry))
        self.assertNotIn('s3cret', self.logger.output)
        self.assertIn('vnfm.example resolves to 169.254.169.254',
                      self.logger.output)
