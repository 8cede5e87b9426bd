"""How doctor-monitor asks a host whether it is there: ICMP echo or TCP.

A prober runs inside the monitor's one selector loop: it sends a probe
when told to, never blocks, and reports each reply through the callback
it was attached with, from the loop's thread.

ICMP is written here rather than taken from a library. icmplib, the
maintained one, reads replies with a blocking ``receive`` that waits until
a reply or a timeout and throws away a datagram it reads after its own
deadline. The monitor shares one non-blocking raw socket among all its
hosts and drains every reply queued on it at once, before it looks at any
deadline, so that a reply that came in time is never taken for a missed
one because the loop woke late; that needs only a few lines of packet
code, and no blocking call.
"""

import abc
from collections.abc import Callable
import dataclasses
import errno
import functools
import ipaddress
import random
import selectors
import socket
import struct
import sys

from oslo_log import log

LOG = log.getLogger(__name__)

ReplyCallback = Callable[[str, int], None]
"""Called with the address that answered and the sequence of its probe."""

ICMP = 'icmp'
TCP = 'tcp'
AUTO = 'auto'

_ICMP_ECHO_REQUEST = 8
_ICMP_ECHO_REPLY = 0
_ICMPV6_ECHO_REQUEST = 128
_ICMPV6_ECHO_REPLY = 129
_PAYLOAD = b'doctor-monitor\x00\x00'
# Linux socket options that keep every ICMP message but echo replies away
# from the raw sockets (SOL_RAW is not exported by the socket module).
_SOL_RAW = 255
_ICMP_FILTER = 1
_ICMP6_FILTER = 1
# Replies read from one socket in one go, so that a flood of ICMP cannot
# keep the loop from its deadlines.
_MAX_DRAIN = 4096
# A TCP probe that got any of these heard from the host's own TCP stack.
_TCP_ANSWERS = frozenset((0, errno.ECONNREFUSED, errno.ECONNRESET))


class ProbeUnavailable(Exception):
    """This process cannot probe this way (no raw socket, for instance)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """A watched host: the name doctor knows it by and where to probe it.

    ``address`` is in the normal form of :func:`normal_address`, the form
    replies are matched in.
    """

    name: str
    address: str

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ':' in self.address else socket.AF_INET


def normal_address(text: str) -> str:
    """``text`` as the one spelling of its IP address.

    :raises ValueError: if it is not an IP address without a zone.
    """
    address = ipaddress.ip_address(text.strip())
    if getattr(address, 'scope_id', None):
        raise ValueError('an address with a zone (%s) is not supported'
                         % text)
    return str(address)


class Prober(abc.ABC):
    """Sends probes and reports replies, inside the monitor's loop."""

    method: str

    def __init__(self) -> None:
        self._selector: selectors.BaseSelector | None = None
        self._on_reply: ReplyCallback | None = None

    def attach(self, selector: selectors.BaseSelector,
               on_reply: ReplyCallback) -> None:
        """Register with the loop's selector; replies go to ``on_reply``.

        The selector's key data is a callable taking the event mask: the
        loop calls it when the file object is ready.
        """
        self._selector = selector
        self._on_reply = on_reply

    def _reply(self, address: str, seq: int) -> None:
        assert self._on_reply is not None
        self._on_reply(address, seq)

    @abc.abstractmethod
    def send(self, target: Target, seq: int) -> None:
        """Probe ``target``; its reply, if any, carries ``seq``.

        A reply may be reported before this returns (a TCP connection
        refused at once).
        """

    def cancel(self, target: Target) -> None:
        """Give up waiting for the reply to ``target``'s last probe."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the sockets."""

    @abc.abstractmethod
    def describe(self) -> str:
        """How this prober probes, for the log."""


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b'\x00'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def echo_request(family: int, ident: int, seq: int,
                 payload: bytes = _PAYLOAD) -> bytes:
    """An ICMP (or ICMPv6) echo request.

    The kernel fills in the checksum of an ICMPv6 message itself.
    """
    if family == socket.AF_INET6:
        return struct.pack('!BBHHH', _ICMPV6_ECHO_REQUEST, 0, 0, ident,
                           seq) + payload
    header = struct.pack('!BBHHH', _ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    checksum = _checksum(header + payload)
    return struct.pack('!BBHHH', _ICMP_ECHO_REQUEST, 0, checksum, ident,
                       seq) + payload


def parse_echo_reply(family: int, packet: bytes) -> tuple[int, int] | None:
    """Identifier and sequence of an echo reply, None for anything else.

    A raw IPv4 socket reads the IP header too (of variable length); a raw
    ICMPv6 socket reads the ICMPv6 message alone.
    """
    if family == socket.AF_INET:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0f) * 4:]
        expected = _ICMP_ECHO_REPLY
    else:
        expected = _ICMPV6_ECHO_REPLY
    if len(packet) < 8:
        return None
    kind, code, _sum, ident, seq = struct.unpack('!BBHHH', packet[:8])
    if kind != expected or code != 0:
        return None
    return ident, seq


def _raw_socket(family: int) -> socket.socket:
    proto = (socket.IPPROTO_ICMPV6 if family == socket.AF_INET6
             else socket.IPPROTO_ICMP)
    sock = socket.socket(family, socket.SOCK_RAW, proto)
    sock.setblocking(False)
    if sys.platform.startswith('linux'):
        # Fewer wake-ups: the kernel passes echo replies alone. A bit set
        # blocks a message type.
        try:
            if family == socket.AF_INET:
                sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack(
                    '=I', 0xffffffff & ~(1 << _ICMP_ECHO_REPLY)))
            else:
                words = [0xffffffff] * 8
                words[_ICMPV6_ECHO_REPLY >> 5] &= ~(
                    1 << (_ICMPV6_ECHO_REPLY & 31))
                sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER,
                                struct.pack('=8I', *words))
        except OSError as e:
            LOG.debug('No ICMP filter on the raw socket: %s', e)
    return sock


class IcmpProber(Prober):
    """ICMP echo on one raw socket per address family, shared by all hosts.

    Every raw ICMP socket of the machine sees every echo reply; this
    prober's own are those carrying its random identifier, from the
    probed address, with the sequence of the host's last probe.

    :raises ProbeUnavailable: if a raw socket cannot be opened (it needs
        root or CAP_NET_RAW).
    """

    method = ICMP

    def __init__(self, families: tuple[int, ...] = (socket.AF_INET,)
                 ) -> None:
        super().__init__()
        self.ident = random.getrandbits(16)
        self._sockets: dict[int, socket.socket] = {}
        try:
            for family in dict.fromkeys(families):
                self._sockets[family] = _raw_socket(family)
        except OSError as e:
            self.close()
            raise ProbeUnavailable('cannot open a raw ICMP socket: %s'
                                   % (e.strerror or e)) from e

    def attach(self, selector: selectors.BaseSelector,
               on_reply: ReplyCallback) -> None:
        super().attach(selector, on_reply)
        for family, sock in self._sockets.items():
            selector.register(sock, selectors.EVENT_READ,
                              functools.partial(self._drain, family, sock))

    def send(self, target: Target, seq: int) -> None:
        sock = self._sockets.get(target.family)
        if sock is None:
            LOG.warning('No ICMP socket for %s: it cannot be probed',
                        target.address)
            return
        packet = echo_request(target.family, self.ident, seq)
        try:
            sock.sendto(packet, (target.address, 0))
        except OSError as e:
            # No route, a full send buffer: the probe goes unanswered.
            LOG.debug('Echo request to %s (%s) not sent: %s', target.name,
                      target.address, e)

    def _drain(self, family: int, sock: socket.socket, mask: int) -> None:
        for _ in range(_MAX_DRAIN):
            try:
                packet, source = sock.recvfrom(2048)
            except BlockingIOError:
                return
            except OSError as e:
                LOG.debug('Reading the ICMP socket failed: %s', e)
                return
            parsed = parse_echo_reply(family, packet)
            if parsed is None or parsed[0] != self.ident:
                continue
            try:
                address = normal_address(source[0].split('%')[0])
            except ValueError:
                continue
            self._reply(address, parsed[1])

    def close(self) -> None:
        for sock in self._sockets.values():
            if self._selector is not None:
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
            sock.close()
        self._sockets.clear()

    def describe(self) -> str:
        return 'ICMP echo'


class TcpProber(Prober):
    """TCP connect to one port: a connection made or refused is a reply.

    Each probe opens a non-blocking socket; the loop's selector says when
    the connection is made or refused. A connection made is closed with a
    reset at once, so that ten probes a second leave no TIME_WAIT behind.
    """

    method = TCP

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self._pending: dict[str, socket.socket] = {}

    def send(self, target: Target, seq: int) -> None:
        self.cancel(target)
        try:
            sock = socket.socket(target.family, socket.SOCK_STREAM)
        except OSError as e:
            LOG.warning('No socket to probe %s (%s): %s', target.name,
                        target.address, e)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
        code = sock.connect_ex((target.address, self.port))
        if code in (errno.EINPROGRESS, errno.EAGAIN):
            assert self._selector is not None
            self._selector.register(
                sock, selectors.EVENT_WRITE,
                functools.partial(self._connected, target, seq, sock))
            self._pending[target.address] = sock
            return
        sock.close()
        self._answer(target, seq, code)

    def _connected(self, target: Target, seq: int, sock: socket.socket,
                   mask: int) -> None:
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self.cancel(target)
        self._answer(target, seq, code)

    def _answer(self, target: Target, seq: int, code: int) -> None:
        if code in _TCP_ANSWERS:
            self._reply(target.address, seq)
        else:
            LOG.debug('TCP probe of %s (%s) port %d: %s', target.name,
                      target.address, self.port, errno.errorcode.get(
                          code, code))

    def cancel(self, target: Target) -> None:
        self._forget(target.address)

    def _forget(self, address: str) -> None:
        sock = self._pending.pop(address, None)
        if sock is None:
            return
        if self._selector is not None:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
        sock.close()

    def close(self) -> None:
        for address in list(self._pending):
            self._forget(address)

    def describe(self) -> str:
        return 'TCP connect to port %d' % self.port


def make_prober(method: str, tcp_port: int, families: tuple[int, ...]
                ) -> Prober:
    """The prober of ``method``; ``auto`` is ICMP where it may be used.

    :raises ProbeUnavailable: for ``icmp`` when no raw socket may be
        opened.
    """
    if method == TCP:
        return TcpProber(tcp_port)
    try:
        return IcmpProber(families)
    except ProbeUnavailable as e:
        if method == ICMP:
            raise
        LOG.info('Probing by TCP connect to port %d: %s (ICMP echo needs '
                 'root or CAP_NET_RAW)', tcp_port, e)
        return TcpProber(tcp_port)
