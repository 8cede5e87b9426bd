"""doctor-guest-agent: the guest end of the HA guest channel.

This module uses the Python standard library only and imports nothing
else from doctor: copy it into any guest image with Python 3 and run it
as ``python3 guest.py --device /dev/virtio-ports/org.opendev.doctor.0``.
It also holds the framing of the channel (:class:`LineReader`,
:func:`encode`), which the compute agent shares, so that both ends frame
messages the same way.

The agent registers for heartbeats at the interval and threshold it is
given, answers every challenge of the compute agent, runs the
application's health check (a command, or a Python callable through
:class:`GuestAgent`) and reports its result, and hands the messages of
its server group to the application: to callbacks, or as JSON lines to
the clients of a local UNIX socket (``--app-socket``), which may write
``{"broadcast": <data>}`` lines to broadcast to the other members.

See the HA guest protocol in doctor's documentation for every message.
"""

import argparse
import json
import os
import select
import shlex
import socket
import subprocess
import sys
import threading
import time
import typing

VERSION = 1
VERSIONS = (1,)
# Largest frame, newline included, in bytes. A longer one is discarded.
MAX_FRAME = 4096
DEVICE = '/dev/virtio-ports/org.opendev.doctor.0'
UNIX_LISTEN = 'unix-listen:'

BASE = 'base'
HEARTBEAT = 'heartbeat'
SERVER_GROUP = 'servergroup'

HEALTHY = 'healthy'
UNHEALTHY = 'unhealthy'

MAX_SEQ = 2 ** 53 - 1


class FrameTooLarge(ValueError):
    """A frame longer than the maximum frame size."""


def encode(app: str, msg: str, seq: int, body: dict | None = None,
           max_frame: int = MAX_FRAME) -> bytes:
    """One frame: a JSON object on one line.

    :raises FrameTooLarge: if the frame would exceed ``max_frame`` bytes.
    """
    frame = json.dumps({'v': VERSION, 'app': app, 'seq': seq, 'msg': msg,
                        'body': body or {}}, separators=(',', ':'),
                       ensure_ascii=True).encode('ascii') + b'\n'
    if len(frame) > max_frame:
        raise FrameTooLarge('a %s %s frame of %d bytes exceeds %d'
                            % (app, msg, len(frame), max_frame))
    return frame


class LineReader:
    """Splits a byte stream into frames, discarding oversized ones.

    :meth:`feed` returns the complete lines (without their newline) and,
    for each oversized frame, :data:`None` in its place; the bytes of an
    oversized frame are skipped up to its newline and never buffered.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[bytes | None]:
        out: list[bytes | None] = []
        start = 0
        while start < len(data):
            end = data.find(b'\n', start)
            chunk = data[start:] if end < 0 else data[start:end]
            if self._skipping:
                if end >= 0:
                    self._skipping = False
            elif len(self._buffer) + len(chunk) + 1 > self.max_frame:
                self._buffer.clear()
                out.append(None)
                self._skipping = end < 0
            elif end >= 0:
                self._buffer.extend(chunk)
                out.append(bytes(self._buffer))
                self._buffer.clear()
            else:
                self._buffer.extend(chunk)
            if end < 0:
                break
            start = end + 1
        return out


def _decode(line: bytes) -> dict | None:
    """A host frame as a dict, or None if it is not one this agent reads.
    """
    try:
        frame = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(frame, dict) or frame.get('v') != VERSION
            or not isinstance(frame.get('msg'), str)
            or not isinstance(frame.get('body', {}), dict)):
        return None
    return frame


class _Channel:
    """The byte stream to the host: a virtio-serial port, or a socket.

    With ``unix-listen:PATH`` a UNIX socket is bound at PATH and one
    connection accepted at a time, standing in for QEMU's end.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._fd: int | None = None
        if device.startswith(UNIX_LISTEN):
            path = device[len(UNIX_LISTEN):]
            if os.path.exists(path):
                os.unlink(path)
            self._listener = socket.socket(socket.AF_UNIX,
                                           socket.SOCK_STREAM)
            self._listener.bind(path)
            self._listener.listen(1)

    def open(self, stopping: threading.Event) -> bool:
        """Wait for the host's end; False if stopping meanwhile."""
        while not stopping.is_set():
            if self._listener is not None:
                ready, _, _ = select.select([self._listener], [], [], 0.2)
                if ready:
                    self._conn, _ = self._listener.accept()
                    return True
            else:
                try:
                    self._fd = os.open(self.device, os.O_RDWR)
                    return True
                except OSError:
                    stopping.wait(1.0)
        return False

    def fileno(self) -> int:
        if self._conn is not None:
            return self._conn.fileno()
        assert self._fd is not None
        return self._fd

    def read(self) -> bytes:
        if self._conn is not None:
            return self._conn.recv(65536)
        assert self._fd is not None
        return os.read(self._fd, 65536)

    def write(self, data: bytes) -> None:
        if self._conn is not None:
            self._conn.sendall(data)
            return
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self, unlink: bool = True) -> None:
        self.close_connection()
        if self._listener is not None:
            path = self.device[len(UNIX_LISTEN):]
            self._listener.close()
            self._listener = None
            if unlink:
                try:
                    os.unlink(path)
                except OSError:
                    pass


HealthCheck = typing.Callable[[], tuple[bool, str]]
PeerCallback = typing.Callable[[dict], None]
MessageCallback = typing.Callable[[dict], None]


def command_check(command: str, timeout: float) -> HealthCheck:
    """A health check running ``command``: healthy when it exits 0."""
    argv = shlex.split(command)

    def check() -> tuple[bool, str]:
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False, 'health check timed out after %ss' % timeout
        except OSError as e:
            return False, 'health check could not run: %s' % e
        if done.returncode == 0:
            return True, ''
        output = done.stdout.decode('utf-8', 'replace').strip()
        return False, ('health check exited %d: %s'
                       % (done.returncode, output[-200:])).strip()
    return check


class GuestAgent:
    """The guest library API, and what the command line runs.

    :param device: the virtio-serial port, or ``unix-listen:PATH``.
    :param interval_ms: heartbeat interval asked of the host.
    :param threshold: missed heartbeats before the host reports a fault.
    :param health_check: called every interval; (healthy, reason).
    """

    def __init__(self, device: str = DEVICE, interval_ms: int = 1000,
                 threshold: int = 3,
                 health_check: HealthCheck | None = None) -> None:
        self.device = device
        self.interval_ms = interval_ms
        self.threshold = threshold
        self.health_check = health_check
        self.registered = threading.Event()
        self._want_registration = False
        self._peer_callbacks: list[PeerCallback] = []
        self._message_callbacks: list[MessageCallback] = []
        self._ack_callbacks: list[MessageCallback] = []
        self._health: tuple[bool, str] = (True, '')
        self._seq = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._channel: _Channel | None = None
        self._connected = False
        self._threads: list[threading.Thread] = []

    # the library API

    def register(self, interval_ms: int | None = None,
                 threshold: int | None = None) -> None:
        """Ask the host for heartbeats (again, when already registered)."""
        if interval_ms is not None:
            self.interval_ms = interval_ms
        if threshold is not None:
            self.threshold = threshold
        self._want_registration = True
        self._send(HEARTBEAT, 'register', {
            'interval_ms': self.interval_ms, 'threshold': self.threshold,
            'health_check': self.health_check is not None})

    def deregister(self) -> None:
        """Stop the heartbeats: the host no longer watches this guest."""
        self._want_registration = False
        self.registered.clear()
        self._send(HEARTBEAT, 'deregister', {})

    def report_health(self, healthy: bool, reason: str = '',
                      action: str | None = None) -> None:
        """Report the application's health now, not at the next beat.

        :param action: a corrective action the guest asks for
            (``reboot``, ``stop``), sent with an unhealthy report.
        """
        self._health = (healthy, reason)
        body: dict[str, typing.Any] = {
            'status': HEALTHY if healthy else UNHEALTHY,
            'reason': reason[:255]}
        if action and not healthy:
            body['action'] = action
        self._send(HEARTBEAT, 'health', body)

    def on_peer_state(self, callback: PeerCallback) -> None:
        """Call ``callback({"instance_id", "state", "reason"})`` when a
        member of this guest's server group changes state.
        """
        self._peer_callbacks.append(callback)

    def on_message(self, callback: MessageCallback) -> None:
        """Call ``callback({"from", "id", "data"})`` for each broadcast
        of another member.
        """
        self._message_callbacks.append(callback)

    def on_ack(self, callback: MessageCallback) -> None:
        """Call ``callback({"id", "delivered"})`` when the host has
        delivered one of this guest's broadcasts.
        """
        self._ack_callbacks.append(callback)

    def broadcast(self, data: typing.Any, message_id: str | None = None
                  ) -> str:
        """Send ``data`` (JSON) to every other member of the server group.

        :returns: the message's id, which its acknowledgement carries.
        :raises FrameTooLarge: if the message does not fit in a frame.
        """
        message_id = message_id or '%x-%d' % (os.getpid(), self._next_seq())
        self._send(SERVER_GROUP, 'broadcast',
                   {'id': message_id, 'data': data}, strict=True)
        return message_id

    # running

    def start(self) -> None:
        """Open the channel and serve it from threads of its own."""
        self._channel = _Channel(self.device)
        self._stopping.clear()
        for target, name in ((self._serve, 'channel'),
                             (self._check_health, 'health')):
            thread = threading.Thread(target=target, daemon=True,
                                      name='doctor-guest-%s' % name)
            thread.start()
            self._threads.append(thread)

    def stop(self, unlink: bool = True) -> None:
        """Stop serving the channel and close it.

        :param unlink: remove the socket of ``unix-listen:``; without,
            the socket file is left behind, refusing connections, as
            when the agent is killed.
        """
        self._stopping.set()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        if self._channel is not None:
            self._channel.close(unlink)

    def _next_seq(self) -> int:
        with self._lock:
            self._seq = self._seq + 1 if self._seq < MAX_SEQ else 1
            return self._seq

    def _send(self, app: str, msg: str, body: dict,
              strict: bool = False) -> None:
        with self._lock:
            self._seq = self._seq + 1 if self._seq < MAX_SEQ else 1
            frame = encode(app, msg, self._seq, body)
            if not self._connected or self._channel is None:
                if strict:
                    raise ConnectionError('the channel is not connected')
                return
            try:
                self._channel.write(frame)
            except OSError:
                if strict:
                    raise

    def _serve(self) -> None:
        assert self._channel is not None
        while not self._stopping.is_set():
            if not self._channel.open(self._stopping):
                return
            with self._lock:
                self._connected = True
            reader = LineReader()
            self._send(BASE, 'hello', {'versions': list(VERSIONS)})
            try:
                while not self._stopping.is_set():
                    ready, _, _ = select.select([self._channel], [], [],
                                                0.2)
                    if not ready:
                        continue
                    data = self._channel.read()
                    if not data:
                        break
                    for line in reader.feed(data):
                        frame = _decode(line) if line is not None else None
                        if frame is not None:
                            self._handle(frame)
            except OSError:
                pass
            finally:
                with self._lock:
                    self._connected = False
                self.registered.clear()
                self._channel.close_connection()

    def _handle(self, frame: dict) -> None:
        app, msg, body = frame.get('app'), frame['msg'], frame['body']
        if app == BASE and msg == 'hello':
            self._send(BASE, 'hello', {'versions': list(VERSIONS)})
        elif app == BASE and msg == 'welcome':
            if self._want_registration:
                self.register()
        elif app == HEARTBEAT and msg == 'registered':
            self.registered.set()
        elif app == HEARTBEAT and msg == 'challenge':
            healthy, reason = self._health
            self._send(HEARTBEAT, 'response', {
                'nonce': str(body.get('nonce', ''))[:64],
                'health': HEALTHY if healthy else UNHEALTHY,
                'reason': reason[:255]})
        elif app == SERVER_GROUP:
            callbacks = {'peer_state': self._peer_callbacks,
                         'message': self._message_callbacks,
                         'ack': self._ack_callbacks}.get(msg, [])
            for callback in callbacks:
                try:
                    callback(body)
                except Exception as e:  # the application's own fault
                    print('doctor-guest-agent: callback failed: %s' % e,
                          file=sys.stderr)

    def _check_health(self) -> None:
        while not self._stopping.wait(self.interval_ms / 1000.0):
            if self.health_check is None:
                continue
            healthy, reason = self.health_check()
            if (healthy, reason) != self._health:
                self.report_health(healthy, reason)


class AppSocket:
    """Hands server-group messages to local applications over a UNIX
    socket, as JSON lines, and takes their broadcasts.
    """

    def __init__(self, agent: GuestAgent, path: str) -> None:
        self.agent = agent
        self.path = path
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        if os.path.exists(path):
            os.unlink(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        self._listener.listen(8)
        agent.on_peer_state(lambda body: self._publish('peer_state', body))
        agent.on_message(lambda body: self._publish('message', body))
        agent.on_ack(lambda body: self._publish('ack', body))
        threading.Thread(target=self._accept, daemon=True,
                         name='doctor-guest-app').start()

    def _publish(self, kind: str, body: dict) -> None:
        line = json.dumps({kind: body}).encode('utf-8') + b'\n'
        with self._lock:
            for client in list(self._clients):
                try:
                    client.sendall(line)
                except OSError:
                    self._clients.remove(client)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
            threading.Thread(target=self._read, args=(client,),
                             daemon=True).start()

    def _read(self, client: socket.socket) -> None:
        reader = LineReader()
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b''
            if not data:
                return
            for line in reader.feed(data):
                try:
                    request = json.loads(line) if line else None
                    if isinstance(request, dict) and 'broadcast' in request:
                        self.agent.broadcast(request['broadcast'])
                except (ValueError, OSError) as e:
                    print('doctor-guest-agent: application request '
                          'refused: %s' % e, file=sys.stderr)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='doctor-guest-agent',
        description='The guest end of doctor\'s HA guest channel: '
                    'heartbeats, health checks, server-group messages.')
    parser.add_argument('--device', default=DEVICE,
                        help='virtio-serial port of the channel (default '
                             '%(default)s), or unix-listen:PATH to bind a '
                             'UNIX socket at PATH instead')
    parser.add_argument('--interval-ms', type=int, default=1000,
                        help='heartbeat interval in milliseconds '
                             '(default %(default)s)')
    parser.add_argument('--threshold', type=int, default=3,
                        help='missed heartbeats before the host reports '
                             'the instance down (default %(default)s)')
    parser.add_argument('--health-command',
                        help='command run every interval: the application '
                             'is healthy while it exits 0')
    parser.add_argument('--health-timeout', type=float, default=None,
                        help='seconds the health command may take '
                             '(default: the interval)')
    parser.add_argument('--app-socket',
                        help='UNIX socket where applications read the '
                             'server group\'s messages as JSON lines and '
                             'write {"broadcast": DATA} lines')
    args = parser.parse_args(argv)
    if not 1 <= args.interval_ms <= 3600000:
        parser.error('--interval-ms must be between 1 and 3600000')
    if not 1 <= args.threshold <= 100:
        parser.error('--threshold must be between 1 and 100')
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check = None
    if args.health_command:
        check = command_check(args.health_command,
                              args.health_timeout or args.interval_ms / 1e3)
    agent = GuestAgent(args.device, args.interval_ms, args.threshold, check)
    # Not connected yet: registers as soon as the host welcomes it.
    agent.register()
    if args.app_socket:
        AppSocket(agent, args.app_socket)
    agent.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        agent.stop()


if __name__ == '__main__':
    main()
