"""Adding the HA guest channel to a domain, on libvirt's test driver.

libvirt's ``test:///default`` driver keeps domains in memory: it defines
and describes them, but does not implement attaching a device
(virDomainAttachDeviceFlags), so the attach itself is seen refused
here, with libvirt's reason; against QEMU it is not tested.
"""

import os
from unittest import mock

from doctor.common import exception
from doctor.heartbeat import libvirt_channel
from doctor.tests import base

TEST_URI = 'test:///default'
WITH_CHANNEL = 'c0ffee00-0000-4000-8000-0000000000c1'
WITHOUT = 'c0ffee00-0000-4000-8000-0000000000c2'
DOMAIN = """<domain type='test'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory>65536</memory>
  <os><type>hvm</type></os>
  <devices>%(devices)s</devices>
</domain>"""


class TestXML(base.TestCase):

    def test_the_channel_qemu_binds_in_the_channel_dir(self):
        xml = libvirt_channel.channel_xml('i-1', '/var/lib/doctor/ch')
        self.assertEqual(
            '<channel type="unix"><source mode="bind" '
            'path="/var/lib/doctor/ch/i-1.sock" /><target type="virtio" '
            'name="org.opendev.doctor.0" /></channel>', xml)
        self.assertTrue(libvirt_channel.has_channel(
            '<domain><devices>%s</devices></domain>' % xml))
        self.assertFalse(libvirt_channel.has_channel(
            '<domain><devices><channel type="unix"><target type="virtio" '
            'name="org.qemu.guest_agent.0"/></channel></devices></domain>'))

    def test_without_libvirt_python(self):
        with mock.patch.object(libvirt_channel, 'libvirt', None):
            error = self.assertRaises(exception.ChannelError,
                                      libvirt_channel.attach, TEST_URI,
                                      'i-1', '/tmp')
        self.assertIn('libvirt-python is not installed', str(error))


class TestTestDriver(base.TestCase):

    def setUp(self):
        super().setUp()
        if libvirt_channel.libvirt is None:
            # CI installs it (.ci/run): there, its absence is a failure.
            if any(os.environ.get(name)
                   for name in ('DOCTOR_REQUIRE_SERVICES', 'CI')):
                self.fail('libvirt-python is required but not installed')
            self.skipTest('libvirt-python is not installed')
        libvirt = libvirt_channel.libvirt
        self.connection = libvirt.open(TEST_URI)
        self.addCleanup(self.connection.close)
        channel = libvirt_channel.channel_xml(WITH_CHANNEL, self.state_path)
        for uuid, devices in ((WITH_CHANNEL, channel), (WITHOUT, '')):
            domain = self.connection.createXML(
                DOMAIN % {'name': 'vm-' + uuid[-2:], 'uuid': uuid,
                          'devices': devices}, 0)
            self.addCleanup(domain.destroy)

    def test_a_domain_with_the_channel_is_left_alone(self):
        with mock.patch.object(libvirt_channel.libvirt.virDomain,
                               'attachDeviceFlags',
                               autospec=True) as attach:
            self.assertEqual(libvirt_channel.PRESENT, libvirt_channel.attach(
                TEST_URI, WITH_CHANNEL, self.state_path))
        attach.assert_not_called()

    def test_the_test_driver_refuses_the_attach_with_its_reason(self):
        error = self.assertRaises(exception.ChannelError,
                                  libvirt_channel.attach, TEST_URI, WITHOUT,
                                  self.state_path)
        self.assertIn('not supported', str(error))
        self.assertIn(WITHOUT, str(error))

    def test_the_attach_is_live_only_for_a_transient_domain(self):
        with mock.patch.object(libvirt_channel.libvirt.virDomain,
                               'attachDeviceFlags',
                               autospec=True) as attach:
            self.assertEqual(libvirt_channel.ATTACHED, libvirt_channel.attach(
                TEST_URI, WITHOUT, self.state_path))
        [(domain, xml, flags)] = [call.args for call in attach.call_args_list]
        self.assertEqual(WITHOUT, domain.UUIDString())
        self.assertEqual(libvirt_channel.channel_xml(WITHOUT,
                                                     self.state_path), xml)
        self.assertEqual(libvirt_channel.libvirt.VIR_DOMAIN_AFFECT_LIVE,
                         flags)

    def test_no_such_domain(self):
        error = self.assertRaises(
            exception.ChannelError, libvirt_channel.attach, TEST_URI,
            'c0ffee00-0000-4000-8000-0000000000ff', self.state_path)
        self.assertIn('no domain', str(error))
