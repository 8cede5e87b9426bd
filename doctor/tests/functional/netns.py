"""Hosts that can really fail: network namespaces behind veth links.

:class:`NetnsHosts` makes ``count`` network namespaces, each joined to
the test's own (root) namespace by a veth pair on a /30 of its own from
``10.213.0.0/16``, and answering ICMP echo and TCP (a refused port is an
answer too) at its address. Taking a host's link down inside its
namespace is what a failed NIC or cable looks like from outside: the
address stops answering. Usage::

    netns.require(self)                    # skip, or fail in CI, first
    hosts = self.useFixture(netns.NetnsHosts(3))
    hosts.hosts                            # [('compute-0', '10.213.x.2'),
                                           #  ...]
    hosts.link_down('compute-1')           # the host stops answering
    hosts.link_up('compute-1')             # and answers again
    hosts.popen('compute-0', [...])        # a process inside a host

Making namespaces needs root and ``ip`` (iproute2). Without them
:func:`require` skips the test, or fails it when ``CI`` or
``DOCTOR_REQUIRE_SERVICES`` is set, as for the other services of the
functional tests. Every namespace and link is removed at cleanup, also
when the test fails; those a killed test process left behind are removed
by the next fixture that starts.
"""

import ipaddress
import os
import random
import re
import shutil
import subprocess
import sys
import uuid

import fixtures
from oslo_log import log

from doctor.tests.functional import base

LOG = log.getLogger(__name__)

NETWORK = ipaddress.ip_network('10.213.0.0/16')
NETNS = 'Network namespaces'
_IP_TIMEOUT = 30
# Namespaces are named after the process that made them, so that one
# whose process is gone can be told apart and removed.
_NAME = re.compile(r'^doctor-test-(\d+)-[0-9a-f]{6}-\d+$')
_checked: list[str | None] = []


def _ip_path() -> str | None:
    path = os.pathsep.join([os.environ.get('PATH', ''), '/usr/sbin',
                            '/sbin'])
    return shutil.which('ip', path=path)


def ip(*args: str, stdin: str | None = None,
       check: bool = True) -> subprocess.CompletedProcess:
    """Run ``ip`` with ``args``; on failure raise naming its stderr."""
    command = [_ip_path() or 'ip'] + list(args)
    result = subprocess.run(command, input=stdin, text=True,
                            capture_output=True, timeout=_IP_TIMEOUT)
    if check and result.returncode:
        raise RuntimeError('%s failed (%d): %s'
                           % (' '.join(command), result.returncode,
                              result.stderr.strip()))
    return result


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None."""
    if not _checked:
        _checked.append(_why_not())
    return _checked[0]


def _why_not() -> str | None:
    if not sys.platform.startswith('linux'):
        return 'network namespaces are Linux only'
    if os.geteuid() != 0:
        return 'making network namespaces needs root'
    if _ip_path() is None:
        return 'ip (iproute2) is not installed'
    name = 'doctor-test-%d-%s-0' % (os.getpid(), uuid.uuid4().hex[:6])
    try:
        ip('netns', 'add', name)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        return str(e)
    ip('netns', 'delete', name, check=False)
    return None


def require(test) -> None:
    """Skip ``test``, or fail it in CI, if namespaces cannot be made."""
    reason = unavailable()
    if reason is None:
        return
    if base.services_required():
        test.fail('%s are required (%s is set) but unusable: %s'
                  % (NETNS, ' or '.join(base.REQUIRE_ENV), reason))
    test.skipTest('%s are not available: %s' % (NETNS, reason))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> None:
    """Remove the namespaces of test processes that are gone."""
    listing = ip('netns', 'list', check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ''
        match = _NAME.match(name)
        if match and not _alive(int(match.group(1))):
            LOG.info('Removing namespace %s, left by a test process that '
                     'is gone', name)
            ip('netns', 'delete', name, check=False)


def _used_networks() -> list[ipaddress.IPv4Network]:
    """The networks of this namespace's IPv4 addresses."""
    used = []
    for line in ip('-4', '-o', 'addr', 'show', check=False
                   ).stdout.splitlines():
        fields = line.split()
        if 'inet' in fields:
            used.append(ipaddress.IPv4Interface(
                fields[fields.index('inet') + 1]).network)
    return used


class NetnsHosts(fixtures.Fixture):
    """``count`` hosts, each a network namespace behind a veth link.

    :param count: how many hosts.
    :param prefix: the hosts' names are ``prefix`` and their index.

    After setUp, ``hosts`` is the list of ``(name, address)``, the address
    being the host's own, inside its namespace. Call :func:`require`
    first: the fixture raises if namespaces cannot be made.
    """

    def __init__(self, count: int, prefix: str = 'compute-') -> None:
        super().__init__()
        if not 1 <= count <= 999:
            raise ValueError('count must be from 1 to 999, not %r' % count)
        self.count = count
        self.prefix = prefix
        self.hosts: list[tuple[str, str]] = []
        self._namespaces: dict[str, str] = {}

    def _setUp(self) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError('%s are not available: %s' % (NETNS, reason))
        remove_stale()
        tag = uuid.uuid4().hex[:6]
        used = _used_networks()
        blocks: list[ipaddress.IPv4Network] = []
        total = NETWORK.num_addresses // 4
        for index in random.sample(range(total), total):
            block = ipaddress.IPv4Network(
                (int(NETWORK.network_address) + 4 * index, 30))
            if not any(block.overlaps(network) for network in used):
                blocks.append(block)
                if len(blocks) == self.count:
                    break
        else:
            raise RuntimeError('no %d free /30 networks in %s'
                               % (self.count, NETWORK))
        for index in range(self.count):
            name = '%s%d' % (self.prefix, index)
            namespace = 'doctor-test-%d-%s-%d' % (os.getpid(), tag, index)
            outside = 'dt%s-%d' % (tag, index)
            block = blocks[index]
            gateway, address = (str(host) for host in block.hosts())
            self.addCleanup(self._remove, namespace, outside)
            ip('netns', 'add', namespace)
            ip('link', 'add', outside, 'type', 'veth', 'peer', 'name',
               'eth0', 'netns', namespace)
            ip('-batch', '-', stdin=(
                'addr add %s/30 dev %s\n'
                'link set %s up\n' % (gateway, outside, outside)))
            ip('-n', namespace, '-batch', '-', stdin=(
                'addr add %s/30 dev eth0\n'
                'link set eth0 up\n'
                'link set lo up\n' % address))
            self._namespaces[name] = namespace
            self.hosts.append((name, address))
        LOG.info('Network namespace hosts: %s',
                 ', '.join('%s %s (%s)' % (name, address,
                                           self._namespaces[name])
                           for name, address in self.hosts))

    @staticmethod
    def _remove(namespace: str, outside: str) -> None:
        # Either end of a veth pair takes the other with it; the namespace
        # would keep its end alive while a process still runs in it.
        ip('link', 'delete', outside, check=False)
        ip('netns', 'delete', namespace, check=False)

    def namespace(self, name: str) -> str:
        """The name of host ``name``'s namespace (for ``ip -n``)."""
        try:
            return self._namespaces[name]
        except KeyError:
            raise KeyError('no host %r among %s'
                           % (name, ', '.join(self._namespaces))) from None

    def link_down(self, name: str) -> None:
        """Take host ``name``'s link down: it stops answering at once."""
        ip('-n', self.namespace(name), 'link', 'set', 'eth0', 'down')

    def link_up(self, name: str) -> None:
        """Bring host ``name``'s link up again."""
        ip('-n', self.namespace(name), 'link', 'set', 'eth0', 'up')

    def popen(self, name: str, args: list[str],
              **kwargs) -> subprocess.Popen:
        """Start ``args`` inside host ``name``; killed at cleanup."""
        process = subprocess.Popen(
            [_ip_path() or 'ip', 'netns', 'exec', self.namespace(name)]
            + list(args), **kwargs)

        def stop():
            if process.poll() is None:
                process.kill()
            process.wait(10)
        self.addCleanup(stop)
        return process
