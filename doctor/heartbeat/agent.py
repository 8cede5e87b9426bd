"""doctor-compute-agent: the host's end of every guest channel.

The agent connects to every ``<instance_id>.sock`` in ``[compute_agent]
channel_dir`` (QEMU binds one per guest for its virtio-serial channel)
and rescans the directory for new ones. Each guest is served by a
:class:`GuestChannel` on a thread of its own, so that a guest that goes
silent, sends garbage, floods or registers twice costs no other guest
anything.

A registered guest is challenged every interval it asked for (bounded by
``[compute_agent] min_interval_ms`` and ``max_interval_ms``). A challenge
not answered by the next one is missed; at ``threshold`` missed in a row
the guest is reported down (``compute.instance.down`` with the reason),
which happens at most (threshold + 1) × interval after its last answer,
plus the time a read or a connection attempt takes (at most
``rescan_interval``). A failed health check is reported at once. An
answer (or a healthy report) after either is reported as the recovery.

The agent keeps no state of its own: a restarted agent says ``hello``
on each channel and the guest agent registers again.

Server-group messages (a guest's state change, its broadcasts) go at
once to the members of its group served here, and over the RPC bus to
the router in doctor-inspector (:mod:`doctor.heartbeat.router`) for the
members on other compute hosts; the router's messages for the guests
here come back on the agent's own RPC server.
"""

import collections
from collections.abc import Callable
from concurrent import futures
import dataclasses
import os
import select
import socket
import threading
import time
import typing

from oslo_log import log
from oslo_service import service
from oslo_utils import uuidutils

from doctor.heartbeat import guest
from doctor.heartbeat import protocol

LOG = log.getLogger(__name__)

OK = 'ok'
MISSED = 'missed'
UNHEALTHY = 'unhealthy'
UNREGISTERED = 'unregistered'
BAD = (MISSED, UNHEALTHY)
SUFFIX = '.sock'

# Seconds a connection attempt or a write to a guest may block.
IO_TIMEOUT = 1.0
# The servergroup messages the host sends.
PEER_STATE = 'peer_state'
MESSAGE = 'message'
# Threads that talk to the remote router.
REMOTE_WORKERS = 4
# Server-group messages remembered as delivered, to deliver each once.
DELIVERED_MEMORY = 10000


@dataclasses.dataclass
class Status:
    """What the agent knows of one guest, as GET /v1/heartbeats shows it.
    """

    instance_id: str
    status: str = UNREGISTERED
    interval_ms: int | None = None
    threshold: int | None = None
    reason: str | None = None
    last_seen: float | None = None  # wall clock


class Limits(typing.NamedTuple):
    """The agent's bounds, from ``[compute_agent]``."""

    min_interval_ms: int
    max_interval_ms: int
    max_messages_per_second: int
    rescan_interval: float
    status_interval: float


class GuestChannel:
    """One guest's channel: its socket, heartbeats and messages.

    :param agent: the :class:`ComputeAgent` that reports for it.
    """

    def __init__(self, agent: 'ComputeAgent', instance_id: str,
                 path: str) -> None:
        self.agent = agent
        self.instance_id = instance_id
        self.path = path
        self.limits = agent.limits
        self.status = Status(instance_id)
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._seq_out = 0
        self._seq_in = protocol.Sequence()
        self._missed = 0
        self._nonce: str | None = None
        self._beats = 0
        self._next_beat: float | None = None
        self._tokens = float(self.limits.max_messages_per_second)
        self._refilled = time.monotonic()
        self._limited_at = 0.0
        self._recorded_at = 0.0
        self.refused = 0
        self._thread: threading.Thread | None = None

    # life

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, daemon=True,
            name='doctor-guest-%s' % self.instance_id[:8])
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def run(self) -> None:
        """Serve the channel until stopped or its socket file is gone."""
        self.agent.record(self.status)
        next_connect = 0.0
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                if self._sock is None and now >= next_connect:
                    if not os.path.exists(self.path):
                        break
                    self._connect()
                    next_connect = now + self.limits.rescan_interval
                self._beat(now)
                self._serve_once(next_connect)
        except Exception:
            LOG.exception('The channel of instance %s failed',
                          self.instance_id)
        finally:
            self._disconnect()
            self.agent.channel_ended(self)

    def _connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(IO_TIMEOUT)
        try:
            sock.connect(self.path)
        except OSError as e:
            sock.close()
            LOG.debug('Cannot connect to %s: %s', self.path, e)
            return
        self._sock = sock
        self._seq_in = protocol.Sequence()
        self._reader = guest.LineReader(protocol.MAX_FRAME)
        self.connected.set()
        LOG.info('Connected to the channel of instance %s',
                 self.instance_id)
        self.send(protocol.BASE, 'hello',
                  {'versions': list(protocol.VERSIONS)})

    def _disconnect(self) -> None:
        self.connected.clear()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            LOG.info('The channel of instance %s closed', self.instance_id)

    def _serve_once(self, next_connect: float) -> None:
        now = time.monotonic()
        deadline = next_connect if self._sock is None else now + 1.0
        if self._next_beat is not None:
            deadline = min(deadline, self._next_beat)
        timeout = max(0.0, deadline - now)
        if self._sock is None:
            self.stopping.wait(timeout)
            return
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return
        try:
            data = self._sock.recv(65536)
        except OSError:
            data = b''
        if not data:
            self._disconnect()
            return
        for line in self._reader.feed(data):
            self.receive(line)

    # sending

    def send(self, app: str, msg: str, body: dict) -> bool:
        """Send one frame; False if the guest is not connected."""
        with self._send_lock:
            sock = self._sock
            if sock is None:
                return False
            self._seq_out = (self._seq_out + 1
                             if self._seq_out < protocol.MAX_SEQ else 1)
            frame = guest.encode(app, msg, self._seq_out, body)
            try:
                sock.sendall(frame)
                return True
            except OSError as e:
                LOG.debug('Cannot write to instance %s: %s',
                          self.instance_id, e)
                return False

    def _error(self, error: protocol.ProtocolError) -> None:
        self.refused += 1
        LOG.debug('Instance %s: refused a frame: %s: %s', self.instance_id,
                  error.code, error.reason)
        self.send(protocol.BASE, 'error',
                  {'code': error.code, 'reason': error.reason[:255],
                   'ref_seq': error.seq})

    # receiving

    def _take_token(self) -> bool:
        now = time.monotonic()
        rate = self.limits.max_messages_per_second
        self._tokens = min(float(rate),
                           self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def receive(self, line: bytes | None) -> None:
        """Handle one frame of the guest (None: one too large)."""
        if not self._take_token():
            self.refused += 1
            now = time.monotonic()
            if now - self._limited_at >= 1.0:
                self._limited_at = now
                LOG.warning('Instance %s sends more than %d messages a '
                            'second; dropping them', self.instance_id,
                            self.limits.max_messages_per_second)
                self.send(protocol.BASE, 'error',
                          {'code': protocol.RATE_LIMITED,
                           'reason': 'more than %d messages a second'
                                     % self.limits.max_messages_per_second,
                           'ref_seq': None})
            return
        try:
            message = protocol.parse(line)
            if (message.app, message.msg) == (protocol.BASE, 'hello'):
                self._seq_in = protocol.Sequence()
            self._seq_in.check(message.seq)
            self._dispatch(message)
        except protocol.ProtocolError as e:
            self._error(e)

    def _dispatch(self, message: protocol.Message) -> None:
        handler: Callable[[dict], None] = {
            (protocol.BASE, 'hello'): self._hello,
            (protocol.HEARTBEAT, 'register'): self._register,
            (protocol.HEARTBEAT, 'response'): self._response,
            (protocol.HEARTBEAT, 'health'): self._health,
            (protocol.HEARTBEAT, 'deregister'): self._deregister,
            (protocol.SERVER_GROUP, 'broadcast'): self._broadcast,
        }[(message.app, message.msg)]
        try:
            handler(message.body)
        except protocol.ProtocolError as e:
            e.seq = message.seq
            raise

    def _hello(self, body: dict) -> None:
        version = protocol.negotiate(body['versions'])
        if version is None:
            raise protocol.ProtocolError(
                protocol.UNSUPPORTED_VERSION,
                'no common version; this agent speaks %s'
                % ', '.join(str(v) for v in protocol.VERSIONS))
        self.send(protocol.BASE, 'welcome',
                  {'version': version, 'max_frame': protocol.MAX_FRAME,
                   'instance_id': self.instance_id})

    def _register(self, body: dict) -> None:
        interval = min(max(body['interval_ms'],
                           self.limits.min_interval_ms),
                       self.limits.max_interval_ms)
        status = self.status
        again = status.interval_ms is not None
        status.interval_ms = interval
        status.threshold = body['threshold']
        self._missed = 0
        self._nonce = None
        self._next_beat = time.monotonic() + interval / 1000.0
        status.last_seen = time.time()
        if status.status == UNREGISTERED:
            self._change(OK, None)
        else:
            self.agent.record(status)
        LOG.info('Instance %(id)s registered%(again)s: every %(ms)d ms, '
                 'threshold %(n)d', {'id': self.instance_id,
                                     'again': ' again' if again else '',
                                     'ms': interval, 'n': status.threshold})
        self.send(protocol.HEARTBEAT, 'registered',
                  {'interval_ms': interval, 'threshold': status.threshold})

    def _require_registration(self) -> None:
        if self.status.interval_ms is None:
            raise protocol.ProtocolError(protocol.NOT_REGISTERED,
                                         'register first')

    def _response(self, body: dict) -> None:
        self._require_registration()
        if body['nonce'] != self._nonce:
            # A late answer to an older challenge: not a sign of life now.
            return
        self._nonce = None
        self._missed = 0
        self.status.last_seen = time.time()
        if body['health'] == protocol.UNHEALTHY:
            self._change(UNHEALTHY, body['reason'] or 'unhealthy')
        elif self.status.status != OK:
            self._change(OK, None)
        elif time.monotonic() - self._recorded_at >= (
                self.limits.status_interval):
            self.agent.record(self.status)

    def _health(self, body: dict) -> None:
        self._require_registration()
        self.status.last_seen = time.time()
        if body['status'] == protocol.UNHEALTHY:
            action = body['action']
            self._change(UNHEALTHY, body['reason'] or 'unhealthy',
                         action if action != 'none' else None)
        elif self.status.status == UNHEALTHY:
            self._change(OK, None)

    def _deregister(self, body: dict) -> None:
        self._require_registration()
        self._next_beat = None
        self._nonce = None
        self.status.interval_ms = self.status.threshold = None
        LOG.info('Instance %s deregistered', self.instance_id)
        self._change(UNREGISTERED, 'deregistered by the guest')

    def _broadcast(self, body: dict) -> None:
        self._require_registration()
        if not self.agent.router.broadcast(self, body):
            raise protocol.ProtocolError(protocol.NO_SERVER_GROUP,
                                         'this instance is in no server '
                                         'group')

    # heartbeats

    def _beat(self, now: float) -> None:
        if self._next_beat is None or now < self._next_beat:
            return
        status = self.status
        assert status.interval_ms is not None
        assert status.threshold is not None
        interval = status.interval_ms / 1000.0
        if self._nonce is not None:
            self._missed += 1
            if self._missed >= status.threshold and status.status == OK:
                self._change(MISSED, 'missed %d heartbeats (every %d ms)'
                             % (self._missed, status.interval_ms))
        self._beats += 1
        self._nonce = '%x' % self._beats
        self.send(protocol.HEARTBEAT, 'challenge', {'nonce': self._nonce})
        self._next_beat += interval
        if self._next_beat < now:
            # After a stall: on with the grid, not a burst to catch up.
            self._next_beat = now + interval

    def _change(self, new: str, reason: str | None,
                action: str | None = None) -> None:
        status = self.status
        old = status.status
        status.status = new
        status.reason = reason
        LOG.info('Instance %(id)s: %(old)s -> %(new)s%(reason)s',
                 {'id': self.instance_id, 'old': old, 'new': new,
                  'reason': ' (%s)' % reason if reason else ''})
        self.agent.record(status)
        if new in BAD and old not in BAD:
            self.agent.report(self.instance_id, True, reason or new, action)
        elif old in BAD and new == OK:
            self.agent.report(self.instance_id, False,
                              'heartbeats answered again', None)
        if new != old:
            self.agent.router.peer_state(self.instance_id, new, reason)

    def recorded(self) -> None:
        self._recorded_at = time.monotonic()


class Remote(typing.Protocol):
    """The server-group router beyond this agent (over the RPC bus).

    It delivers a message to the members of the sender's group served by
    other compute agents; those served here the agent delivers itself.
    """

    def broadcast(self, sender: str, message_id: str, body: dict
                  ) -> int | None:
        """Members elsewhere that got it; None: the sender is in no
        server group.
        """

    def peer_state(self, sender: str, message_id: str, body: dict
                   ) -> None:
        """Forward a state change; returns before it is delivered."""


class Router:
    """Server-group messages of the guests of this agent.

    A member's state change, and a broadcast, go at once to the other
    members connected to this agent (the fast path), and through
    ``remote``, when there is one, to the members on other compute hosts.
    Each message has an id of its own, so that a member gets it once.

    :param members: the instances of an instance's server group (itself
        included), empty if it is in none.
    :param remote: the router of the other compute hosts; None: the
        members on this host only.
    """

    def __init__(self, agent: 'ComputeAgent',
                 members: Callable[[str], list[str]],
                 remote: Remote | None = None) -> None:
        self.agent = agent
        self.members = members
        self.remote = remote
        # The remote router is a call away: never on a channel's thread,
        # so that a slow bus delays no guest's heartbeats.
        self._pool = (futures.ThreadPoolExecutor(
            max_workers=REMOTE_WORKERS, thread_name_prefix='doctor-route')
            if remote is not None else None)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _peers(self, instance_id: str) -> list[str] | None:
        try:
            members = self.members(instance_id)
        except Exception:
            LOG.exception('The server group of %s could not be read',
                          instance_id)
            return []
        if instance_id not in members:
            return None
        return [member for member in members if member != instance_id]

    def _submit(self, function: Callable[..., typing.Any],
                *args: typing.Any) -> None:
        assert self._pool is not None
        try:
            self._pool.submit(function, *args)
        except RuntimeError:  # shut down: the agent is stopping
            pass

    def peer_state(self, instance_id: str, state: str,
                   reason: str | None) -> int:
        """Tell the other members; return how many here got it."""
        peers = self._peers(instance_id)
        if peers is None:
            return 0
        body = {'instance_id': instance_id, 'state': state,
                'reason': reason, 'source': 'heartbeat'}
        message_id = uuidutils.generate_uuid()
        sent = self.agent.deliver(PEER_STATE, message_id, peers, body)
        if self.remote is not None:
            self._submit(self._remote_peer_state, instance_id, message_id,
                         body)
        return sent

    def _remote_peer_state(self, instance_id: str, message_id: str,
                           body: dict) -> None:
        assert self.remote is not None
        try:
            self.remote.peer_state(instance_id, message_id, body)
        except Exception as e:
            LOG.warning('The state of %s reached no member on another '
                        'host: %s', instance_id, e)

    def broadcast(self, channel: 'GuestChannel', body: dict) -> bool:
        """Deliver a broadcast and acknowledge it to ``channel``; False
        (and no acknowledgement) if the sender is in no server group.
        """
        instance_id = channel.instance_id
        peers = self._peers(instance_id)
        if peers is None:
            return False
        message = {'from': instance_id, 'id': body['id'],
                   'data': body['data']}
        message_id = uuidutils.generate_uuid()
        local = self.agent.deliver(MESSAGE, message_id, peers, message)
        if self.remote is None:
            self._ack(channel, body['id'], local)
        else:
            self._submit(self._remote_broadcast, channel, message_id,
                         message, local)
        return True

    def _remote_broadcast(self, channel: 'GuestChannel', message_id: str,
                          message: dict, local: int) -> None:
        assert self.remote is not None
        try:
            remote = self.remote.broadcast(channel.instance_id, message_id,
                                           message) or 0
        except Exception as e:
            LOG.warning('The broadcast %s of %s reached no member on '
                        'another host: %s', message['id'],
                        channel.instance_id, e)
            remote = 0
        self._ack(channel, message['id'], local + remote)

    @staticmethod
    def _ack(channel: 'GuestChannel', guest_id: str, delivered: int
             ) -> None:
        channel.send(protocol.SERVER_GROUP, 'ack',
                     {'id': guest_id, 'delivered': delivered})


class ComputeAgent:
    """Finds the guests' sockets and runs a channel for each.

    :param report: posts an instance fault: (instance_id, down, reason,
        corrective action).
    :param record: stores a guest's :class:`Status` (None: forget it).
    :param members: see :class:`Router`.
    :param project_of: the project of an instance, for its record.
    :param remote: see :class:`Router`.
    """

    def __init__(self, channel_dir: str, host: str, limits: Limits,
                 report: Callable[[str, bool, str, str | None], None],
                 record: Callable[[str, dict | None], None],
                 members: Callable[[str], list[str]],
                 project_of: Callable[[str], str | None],
                 remote: Remote | None = None) -> None:
        self.channel_dir = channel_dir
        self.host = host
        self.limits = limits
        self._report = report
        self._record = record
        self._project_of = project_of
        self.router = Router(self, members, remote)
        self._channels: dict[str, GuestChannel] = {}
        self._lock = threading.Lock()
        self._delivered: collections.OrderedDict[tuple[str, str], None] = (
            collections.OrderedDict())
        self._delivered_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._scan_loop, daemon=True,
                                        name='doctor-channel-scan')
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            channels = list(self._channels.values())
        for channel in channels:
            channel.stop()
        self.router.stop()

    def deliver(self, kind: str, message_id: str, recipients: list[str],
                body: dict) -> int:
        """Send a servergroup message to those of ``recipients`` served
        here that have not had ``message_id`` yet; return how many got it.
        """
        sent = 0
        for recipient in recipients:
            channel = self.channel(recipient)
            if channel is None:
                continue
            key = (recipient, message_id)
            with self._delivered_lock:
                if key in self._delivered:
                    continue
                self._delivered[key] = None
                if len(self._delivered) > DELIVERED_MEMORY:
                    self._delivered.popitem(last=False)
            if channel.send(protocol.SERVER_GROUP, kind, body):
                sent += 1
        return sent

    def channel(self, instance_id: str) -> GuestChannel | None:
        with self._lock:
            return self._channels.get(instance_id)

    def channels(self) -> list[GuestChannel]:
        with self._lock:
            return list(self._channels.values())

    def scan(self) -> list[str]:
        """Start a channel for each new socket; return their instances."""
        try:
            names = os.listdir(self.channel_dir)
        except OSError as e:
            LOG.warning('Cannot read %s: %s', self.channel_dir, e)
            return []
        started = []
        for name in sorted(names):
            if not name.endswith(SUFFIX) or len(name) == len(SUFFIX):
                continue
            instance_id = name[:-len(SUFFIX)]
            with self._lock:
                if instance_id in self._channels:
                    continue
                channel = GuestChannel(
                    self, instance_id, os.path.join(self.channel_dir, name))
                self._channels[instance_id] = channel
            channel.start()
            started.append(instance_id)
        return started

    def _scan_loop(self) -> None:
        while not self._stopping.is_set():
            self.scan()
            self._stopping.wait(self.limits.rescan_interval)

    def channel_ended(self, channel: GuestChannel) -> None:
        with self._lock:
            if self._channels.get(channel.instance_id) is channel:
                del self._channels[channel.instance_id]
        if not self._stopping.is_set() and not channel.stopping.is_set():
            LOG.info('The channel of instance %s is gone',
                     channel.instance_id)
            self._record(channel.instance_id, None)

    def record(self, status: Status) -> None:
        """Store a guest's status (at once: the caller decides when)."""
        channel = self.channel(status.instance_id)
        if channel is not None:
            channel.recorded()
        self._record(status.instance_id, {
            'instance_id': status.instance_id, 'host': self.host,
            'project_id': self._project_of(status.instance_id),
            'interval_ms': status.interval_ms,
            'threshold': status.threshold, 'status': status.status,
            'reason': (status.reason or None) and status.reason[:255],
            'last_seen': status.last_seen,
        })

    def report(self, instance_id: str, down: bool, reason: str,
               action: str | None) -> None:
        self._report(instance_id, down, reason, action)


def check_config(conf) -> None:
    """Refuse, before launching, a configuration the agent can't run.

    :raises ConfigInvalid: saying what is wrong.
    """
    from doctor.common import exception

    group = conf.compute_agent
    if group.min_interval_ms > group.max_interval_ms:
        raise exception.ConfigInvalid(
            reason='[compute_agent] min_interval_ms (%d) is more than '
                   'max_interval_ms (%d)' % (group.min_interval_ms,
                                             group.max_interval_ms))
    if not group.api_url.startswith(('http://', 'https://')):
        raise exception.ConfigInvalid(
            reason='[compute_agent] api_url must be an http:// or https:// '
                   'URL, not %r' % group.api_url)


class ComputeAgentService(service.Service):
    """doctor-compute-agent as an oslo.service service."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf
        self.poster: typing.Any = None
        self.writer: typing.Any = None
        self.agent: ComputeAgent | None = None
        self.server: typing.Any = None

    def start(self) -> None:
        from doctor.db import api as db_api
        from doctor.heartbeat import remote as remote_mod
        from doctor.heartbeat import reporting

        super().start()
        conf = self.conf
        group = conf.compute_agent
        connection = db_api.get_connection(conf)
        membership = reporting.Membership(connection)
        self.writer = reporting.StatusWriter(connection)
        self.writer.start()
        self.poster = reporting.FaultPoster(conf)
        self.poster.start()
        writer, poster = self.writer, self.poster

        def record(instance_id: str, values: dict | None) -> None:
            if values is None:
                writer.forget(instance_id)
                return
            values = dict(values, last_seen=reporting.utc(
                values['last_seen']))
            writer.put(values)

        def report(instance_id: str, down: bool, reason: str,
                   action: str | None) -> None:
            poster.post(reporting.instance_event(
                instance_id, down, reason, conf.host, group.name, action))

        limits = Limits(group.min_interval_ms, group.max_interval_ms,
                        group.max_messages_per_second, group.rescan_interval,
                        group.status_interval)
        remote: Remote | None = None
        if remote_mod.on_the_embedded_bus(conf):
            LOG.warning('transport_url is the in-process bus: server-group '
                        'messages reach the members on this host only')
        else:
            remote = remote_mod.BusRemote(conf, conf.host)
        self.agent = ComputeAgent(group.channel_dir, conf.host, limits,
                                  report, record, membership.members,
                                  membership.project_of, remote)
        if remote is not None:
            self.server = remote_mod.serve(conf, conf.host,
                                           self.agent.deliver)
        self.agent.start()
        LOG.info('doctor-compute-agent of host %s watches %s', conf.host,
                 group.channel_dir)

    def stop(self, graceful: bool = False) -> None:
        if self.server is not None:
            self.server.stop()
            self.server.wait()
            self.server = None
        if self.agent is not None:
            self.agent.stop()
        if self.poster is not None:
            self.poster.stop(5)
        if self.writer is not None:
            self.writer.stop()
        super().stop(graceful)
