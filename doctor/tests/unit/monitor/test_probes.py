"""Tests of the probers and of how the monitor chooses one."""

import logging
import selectors
import socket
import struct
import time
from unittest import mock

import fixtures

from doctor.common import exception
from doctor.monitor import monitor as monitor_mod
from doctor.monitor import probes
from doctor.tests import base


def _ipv4_header(options: bytes = b'') -> bytes:
    ihl = (20 + len(options)) // 4
    return bytes([0x40 | ihl]) + bytes(19) + options


class PacketTest(base.TestCase):

    def test_echo_request_checksum(self):
        packet = probes.echo_request(socket.AF_INET, 0x1234, 7)
        self.assertEqual((8, 0), (packet[0], packet[1]))
        self.assertEqual((0x1234, 7), struct.unpack('!HH', packet[4:8]))
        # A packet with a right checksum sums to zero.
        self.assertEqual(0, probes._checksum(packet))
        odd = probes.echo_request(socket.AF_INET, 1, 2, payload=b'abc')
        self.assertEqual(0, probes._checksum(odd))

    def test_icmpv6_echo_request(self):
        packet = probes.echo_request(socket.AF_INET6, 0x1234, 7)
        self.assertEqual((128, 0), (packet[0], packet[1]))
        self.assertEqual((0x1234, 7), struct.unpack('!HH', packet[4:8]))

    def test_parse_echo_reply(self):
        reply = struct.pack('!BBHHH', 0, 0, 0, 0x1234, 9) + b'data'
        self.assertEqual((0x1234, 9), probes.parse_echo_reply(
            socket.AF_INET, _ipv4_header() + reply))
        # The IP header's length is read, not assumed.
        self.assertEqual((0x1234, 9), probes.parse_echo_reply(
            socket.AF_INET, _ipv4_header(b'\x01' * 4) + reply))
        v6 = struct.pack('!BBHHH', 129, 0, 0, 0x1234, 9)
        self.assertEqual((0x1234, 9),
                         probes.parse_echo_reply(socket.AF_INET6, v6))

    def test_parse_anything_else(self):
        request = probes.echo_request(socket.AF_INET, 1, 1)
        unreachable = struct.pack('!BBHHH', 3, 1, 0, 0, 0)
        for packet in (b'', b'\x45' * 10, _ipv4_header(),
                       _ipv4_header() + b'\x00\x00',
                       _ipv4_header() + request,
                       _ipv4_header() + unreachable):
            self.assertIsNone(
                probes.parse_echo_reply(socket.AF_INET, packet))
        self.assertIsNone(probes.parse_echo_reply(
            socket.AF_INET6, probes.echo_request(socket.AF_INET6, 1, 1)))

    def test_normal_address(self):
        self.assertEqual('::1', probes.normal_address('0:0::1'))
        self.assertEqual('10.0.0.1', probes.normal_address(' 10.0.0.1 '))
        self.assertRaises(ValueError, probes.normal_address, 'compute-0')
        self.assertRaises(ValueError, probes.normal_address, 'fe80::1%lo')


class _LoopTestCase(base.TestCase):
    """Probers attached to one selector that the test turns by hand."""

    def setUp(self):
        super().setUp()
        self._selector = selectors.DefaultSelector()
        self.addCleanup(self._selector.close)

    def attach(self, prober: probes.Prober) -> list:
        """Attach ``prober``; the list its replies are appended to."""
        self.addCleanup(prober.close)
        replies: list = []
        prober.attach(self._selector,
                      lambda address, seq: replies.append((address, seq)))
        return replies

    def turn(self, done, timeout: float = 2.0) -> None:
        """Turn the selector until ``done()`` or ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            for key, mask in self._selector.select(0.05):
                key.data(mask)


class TcpProberTest(_LoopTestCase):

    def test_connection_made_is_a_reply(self):
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(('127.0.0.1', 0))
        listener.listen(8)
        prober = probes.TcpProber(listener.getsockname()[1])
        replies = self.attach(prober)
        prober.send(probes.Target('lo', '127.0.0.1'), 5)
        self.turn(lambda: replies)
        self.assertEqual([('127.0.0.1', 5)], replies)
        self.assertEqual({}, prober._pending)

    def test_connection_refused_is_a_reply(self):
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        prober = probes.TcpProber(port)
        replies = self.attach(prober)
        for seq in (1, 2):
            prober.send(probes.Target('lo', '127.0.0.1'), seq)
            self.turn(lambda: len(replies) == seq)
        self.assertEqual([('127.0.0.1', 1), ('127.0.0.1', 2)], replies)

    def test_cancel_gives_up_a_probe_without_answer(self):
        # A listener whose accept queue is full drops further SYNs: the
        # connection neither succeeds nor fails.
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(('127.0.0.1', 0))
        listener.listen(0)
        filler = socket.create_connection(listener.getsockname())
        self.addCleanup(filler.close)
        prober = probes.TcpProber(listener.getsockname()[1])
        replies = self.attach(prober)
        target = probes.Target('lo', '127.0.0.1')
        prober.send(target, 1)
        self.turn(lambda: replies, timeout=0.3)
        self.assertEqual([], replies)
        pending = prober._pending[target.address]
        prober.cancel(target)
        self.assertEqual({}, prober._pending)
        self.assertEqual(-1, pending.fileno())
        self.assertEqual({}, dict(self._selector.get_map()))


class IcmpProberTest(_LoopTestCase):
    """Real echo requests on loopback; raw sockets need root."""

    def setUp(self):
        super().setUp()
        try:
            probes.IcmpProber().close()
        except probes.ProbeUnavailable as e:
            self.skipTest(str(e))

    def test_each_prober_gets_its_own_replies(self):
        first, second = probes.IcmpProber(), probes.IcmpProber()
        if first.ident == second.ident:
            second.ident = (first.ident + 1) & 0xffff
        first_replies = self.attach(first)
        second_replies = self.attach(second)
        target = probes.Target('lo', '127.0.0.1')
        first.send(target, 11)
        second.send(target, 22)
        self.turn(lambda: first_replies and second_replies)
        # Nothing else comes: each saw the other's reply and let it be.
        self.turn(lambda: False, timeout=0.1)
        self.assertEqual([('127.0.0.1', 11)], first_replies)
        self.assertEqual([('127.0.0.1', 22)], second_replies)

    def test_ipv6(self):
        try:
            prober = probes.IcmpProber((socket.AF_INET, socket.AF_INET6))
        except probes.ProbeUnavailable as e:
            self.skipTest('no raw ICMPv6 socket: %s' % e)
        replies = self.attach(prober)
        prober.send(probes.Target('lo6', '::1'), 3)
        self.turn(lambda: replies)
        self.assertEqual([('::1', 3)], replies)


class ChoiceTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO))
        # Events, if any, go nowhere.
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.config.config(
                api_url='http://127.0.0.1:%d' % sock.getsockname()[1],
                group='monitor')

    def deny_raw_sockets(self):
        self.useFixture(fixtures.MockPatchObject(
            probes, '_raw_socket', autospec=True,
            side_effect=PermissionError(1, 'Operation not permitted')))

    def allow_raw_sockets(self):
        def fake(family):
            return socket.socket(family, socket.SOCK_DGRAM)
        self.useFixture(fixtures.MockPatchObject(
            probes, '_raw_socket', autospec=True, side_effect=fake))

    def test_tcp(self):
        prober = probes.make_prober('tcp', 2222, (socket.AF_INET,))
        self.assertIsInstance(prober, probes.TcpProber)
        self.assertEqual('TCP connect to port 2222', prober.describe())

    def test_auto_takes_icmp_where_it_may(self):
        self.allow_raw_sockets()
        prober = probes.make_prober('auto', 22, (socket.AF_INET,))
        self.addCleanup(prober.close)
        self.assertIsInstance(prober, probes.IcmpProber)

    def test_auto_falls_back_to_tcp(self):
        self.deny_raw_sockets()
        prober = probes.make_prober('auto', 2222, (socket.AF_INET,))
        self.assertIsInstance(prober, probes.TcpProber)
        self.assertEqual(2222, prober.port)
        self.assertIn('Probing by TCP connect to port 2222: cannot open a '
                      'raw ICMP socket: Operation not permitted (ICMP echo '
                      'needs root or CAP_NET_RAW)', self.logger.output)

    def test_icmp_does_not_fall_back(self):
        self.deny_raw_sockets()
        error = self.assertRaises(probes.ProbeUnavailable,
                                  probes.make_prober, 'icmp', 22,
                                  (socket.AF_INET,))
        self.assertIn('Operation not permitted', str(error))

    def test_icmp_refused_at_start(self):
        self.deny_raw_sockets()
        self.config.config(hosts=['a=127.0.0.1'], method='icmp',
                           group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('[monitor] method = icmp: cannot open a raw ICMP '
                      'socket', str(error))
        self.assertIn('CAP_NET_RAW', str(error))

    def test_monitor_logs_its_method(self):
        self.deny_raw_sockets()
        self.config.config(hosts=['a=127.0.0.1', 'b=127.0.0.2'],
                           method='auto', tcp_port=2222, group='monitor')
        monitor = monitor_mod.Monitor(self.conf)
        monitor.start()
        self.addCleanup(monitor.stop)
        self.assertEqual('tcp', monitor.prober.method)
        self.assertIn('Watching 2 host(s) by TCP connect to port 2222 '
                      'every 0.1 s', self.logger.output)

    def test_monitor_takes_an_icmpv6_socket_for_ipv6_hosts(self):
        self.allow_raw_sockets()
        self.config.config(hosts=['a=127.0.0.1', 'b=::1'], method='auto',
                           group='monitor')
        monitor = monitor_mod.Monitor(self.conf)
        monitor.start()
        self.addCleanup(monitor.stop)
        self.assertEqual('icmp', monitor.prober.method)
        self.assertEqual([mock.call(socket.AF_INET),
                          mock.call(socket.AF_INET6)],
                         probes._raw_socket.call_args_list)


class RootTest(base.TestCase):
    """Whether this process may open raw sockets is what auto follows."""

    def test_auto_matches_privileges(self):
        prober = probes.make_prober('auto', 22, (socket.AF_INET,))
        self.addCleanup(prober.close)
        try:
            socket.socket(socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_ICMP).close()
            may = True
        except PermissionError:
            may = False
        self.assertEqual('icmp' if may else 'tcp', prober.method)
