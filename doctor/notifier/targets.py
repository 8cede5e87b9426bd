"""Where alarm actions may send webhooks: the address policy of [notifier].

A tenant chooses the URL of an alarm action, and doctor's notifier makes
the connection from inside the cloud. Without a policy a tenant could aim
it at the metadata service, at doctor's own API or at the database on the
notifier's host. ``[notifier] denied_networks`` lists the networks a
webhook may not reach; ``[notifier] allowed_networks`` reopens parts of
them for consumers that live there.

An address can be spelled in many ways that all reach the same host:
``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and ``127.1`` are 127.0.0.1 to
the C resolver, ``::ffff:127.0.0.1`` and ``::127.0.0.1`` carry it inside
IPv6, and ``fe80::1%eth0`` has a zone. The policy never parses these
itself: it asks the system resolver (``getaddrinfo``, numeric only when
no lookup is wanted) which is what the connection would use, then
compares with :mod:`ipaddress`. netaddr, the only address library at
hand, parses the shorthand forms with its own rules, which could differ
from the resolver's exactly where it matters, and neither it nor any
library we use pins the connection to the address that was checked.

The check runs twice: when an alarm is created or replaced, on the
actions whose host is a literal address (a name may resolve differently
by delivery time), and at every delivery, on each address the host
resolves to. The delivery then connects to the address that was checked
(see :mod:`doctor.notifier.plugins.rest`), so a name cannot resolve to a
harmless address for the check and a denied one for the connection.
"""

import ipaddress
import re
import socket
from typing import Union

from oslo_config import cfg

from doctor.common import exception
from doctor.i18n import _

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# The authority of a URL: what follows '//' up to the path, query or
# fragment. Matched by hand: a malformed URL must be masked too.
_AUTHORITY = re.compile(r'^(?P<head>[^:/?#]*:)?//(?P<netloc>[^/?#]*)')
# A URL with user information anywhere in a text, up to its '@'.
_URL_IN_TEXT = re.compile(
    r'(?P<head>[A-Za-z][A-Za-z0-9+.-]*:)?//(?P<userinfo>[^/?#@\s\'"]*)@')
# IPv4 addresses embedded in IPv6 ones that a connection reaches as IPv4:
# IPv4-mapped (::ffff:0:0/96) and the deprecated IPv4-compatible (::/96,
# but for :: and ::1 themselves).
_COMPATIBLE = ipaddress.ip_network('::/96')


def _parse_networks(conf: cfg.ConfigOpts, name: str) -> list[Network]:
    networks = []
    for value in getattr(conf.notifier, name):
        try:
            networks.append(ipaddress.ip_network(value.strip()))
        except ValueError as e:
            raise exception.ConfigInvalid(
                reason=_('[notifier] %(option)s: %(value)r is not a network '
                         'in CIDR notation such as 10.0.0.0/8 or fd00::/8 '
                         '(%(error)s)')
                % {'option': name, 'value': value, 'error': e})
    return networks


def check_config(conf: cfg.ConfigOpts) -> None:
    """Refuse, before any service starts, networks that are not CIDRs.

    :raises ConfigInvalid: naming the option and the value.
    """
    TargetPolicy.from_conf(conf)


def mask_url(url: str) -> str:
    """``url`` with its password (or lone user, often a token) masked.

    ``http://user:pass@host/`` becomes ``http://user:***@host/`` and
    ``http://token@host/`` becomes ``http://***@host/``; anything else,
    malformed URLs included, is returned unchanged.
    """
    match = _AUTHORITY.match(url)
    if match is None or '@' not in match.group('netloc'):
        return url
    userinfo, _at, host = match.group('netloc').rpartition('@')
    user, colon, _password = userinfo.partition(':')
    masked = '%s:***' % user if colon else '***'
    return '%s//%s@%s%s' % (match.group('head') or '', masked, host,
                            url[match.end():])


def mask_credentials(text: str) -> str:
    """``text`` with the password of every URL in it masked.

    For messages that quote what a client sent, such as the schema's
    complaint about a list of actions.
    """
    def mask(match: re.Match) -> str:
        user, colon, _password = match.group('userinfo').partition(':')
        return '%s//%s@' % (match.group('head') or '',
                            '%s:***' % user if colon else '***')
    return _URL_IN_TEXT.sub(mask, text)


def _unwrap(address: Address) -> Address:
    """The address a connection reaches: embedded IPv4 unwrapped."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if (address in _COMPATIBLE
                and int(address) > 1):
            return ipaddress.IPv4Address(int(address))
        if address.scope_id is not None:
            return ipaddress.IPv6Address(int(address))
    return address


def _from_sockaddr(sockaddr: tuple) -> Address:
    # The address string of an IPv6 sockaddr leaves its scope out.
    return _unwrap(ipaddress.ip_address(sockaddr[0]))


def literal_address(host: str) -> Address | None:
    """The address ``host`` denotes without a lookup, or None for a name.

    ``host`` is a URL's host without brackets. Every spelling the C
    resolver reads as a number counts: ``getaddrinfo`` with
    ``AI_NUMERICHOST`` parses it. A zone (``%eth0``, or ``%25eth0`` as a
    URL writes it) is ignored, even one this host has no interface for.
    """
    host = host.replace('%25', '%', 1)
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        # An unknown zone fails here: the address is still a literal.
        try:
            return _unwrap(ipaddress.ip_address(host.partition('%')[0]))
        except ValueError:
            return None
    return _from_sockaddr(infos[0][4])


def getaddrinfo(host: str, port: int) -> list[tuple]:
    """The resolver's answer for a TCP connection to ``host``:``port``."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class TargetPolicy:
    """Decides which addresses alarm actions may send webhooks to."""

    def __init__(self, denied: list[Network],
                 allowed: list[Network]) -> None:
        self.denied = denied
        self.allowed = allowed

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> 'TargetPolicy':
        """The policy of ``[notifier]``.

        :raises ConfigInvalid: naming the option that holds a value that is
            not a network.
        """
        return cls(_parse_networks(conf, 'denied_networks'),
                   _parse_networks(conf, 'allowed_networks'))

    def denying_network(self, address: Address) -> Network | None:
        """The denied network holding ``address``, unless it is allowed."""
        address = _unwrap(address)
        for network in self.denied:
            if address in network:
                break
        else:
            return None
        if any(address in allowed for allowed in self.allowed):
            return None
        return network

    def _refuse(self, target: str, host: str, address: Address,
                network: Network, resolved: bool) -> exception.TargetDenied:
        if resolved:
            where = _('its host %(host)s resolves to %(address)s, in '
                      '%(network)s')
        elif str(address) == host:
            where = _('%(address)s is in %(network)s')
        else:
            where = _('its host %(host)s is the address %(address)s, in '
                      '%(network)s')
        return exception.TargetDenied(
            target=target,
            reason=where % {'host': host, 'address': address,
                            'network': network})

    def check_literal(self, target: str, host: str) -> None:
        """Refuse ``host`` if it is a literal address in a denied network.

        A name passes: it is checked when it is resolved, at delivery.

        :param target: the action as shown in the refusal (masked).
        :raises TargetDenied: saying which address and network.
        """
        address = literal_address(host)
        if address is None:
            return
        network = self.denying_network(address)
        if network is not None:
            raise self._refuse(target, host, address, network,
                               resolved=False)

    def resolve(self, target: str, host: str, port: int) -> str:
        """The address to connect to for ``host``, every answer checked.

        The host is resolved once; if any of its addresses is denied the
        target is refused, otherwise the first address is returned, with
        its IPv6 zone, ready to connect to without another lookup.

        :param target: the action as shown in the refusal (masked).
        :raises TargetDenied: when an address of the host is denied.
        :raises socket.gaierror: when the host does not resolve.
        """
        infos = getaddrinfo(host.replace('%25', '%', 1), port)
        for info in infos:
            address = _from_sockaddr(info[4])
            network = self.denying_network(address)
            if network is not None:
                raise self._refuse(target, host, address, network,
                                   resolved=literal_address(host) is None)
        sockaddr = infos[0][4]
        if len(sockaddr) == 4 and sockaddr[3]:
            return '%s%%%d' % (sockaddr[0], sockaddr[3])
        return sockaddr[0]
