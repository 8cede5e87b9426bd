"""Fault injection for the functional tests: outages and killed services.

The machine's PostgreSQL and RabbitMQ are shared and must stay up: an
outage is made by a :class:`TcpProxy` of the test's own, between a doctor
service and the server, which the test cuts and restores. A doctor
service runs as a separate process (:class:`ServiceProcess`), so that the
test can ``kill -9`` it and start it again.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import fixtures
from oslo_log import log
from testtools import content

LOG = log.getLogger(__name__)

_BUFFER = 65536


class TcpProxy(fixtures.Fixture):
    """Forwards connections on a loopback port to ``host``:``port``.

    :meth:`cut` resets every open connection and refuses new ones, as an
    unreachable server does; :meth:`restore` lets them through again.
    """

    def __init__(self, port: int, host: str = '127.0.0.1') -> None:
        super().__init__()
        self._target = (host, port)
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.connections = 0

    def _setUp(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._stopped = False
        thread = threading.Thread(target=self._accept, daemon=True,
                                  name='tcp-proxy-%d' % self.port)
        thread.start()

        def stop():
            self._stopped = True
            self._listener.close()
            self._reset_all()
            thread.join(5)
        self.addCleanup(stop)

    def cut(self) -> None:
        """Reset every connection and refuse new ones until restored."""
        self._up.clear()
        self._reset_all()

    def restore(self) -> None:
        self._up.set()

    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    def _reset_all(self) -> None:
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _reset(sock)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                _reset(client)
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
                self.connections += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink),
                                 daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(_BUFFER)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._open.discard(source)
            self._open.discard(sink)
        _reset(source)
        _reset(sink)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a reset, as a dead server's host answers."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b'\x01\x00\x00\x00\x00\x00\x00\x00')
    except OSError:
        pass
    # close() alone leaves the connection open while the other pump thread
    # is blocked reading it; shutdown() ends that read and the connection.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def console_script(name: str) -> str:
    """The path of one of doctor's console scripts in this environment."""
    return os.path.join(os.path.dirname(sys.executable), name)


def write_config(path: str, sections: dict[str, dict[str, object]]) -> str:
    """Write an oslo.config file of ``sections``; returns ``path``."""
    with open(path, 'w') as f:
        for section, options in sections.items():
            f.write('[%s]\n' % section)
            for name, value in options.items():
                if isinstance(value, (list, tuple)):
                    value = ','.join(map(str, value))
                f.write('%s = %s\n' % (name, value))
            f.write('\n')
    return path


class ServiceProcess(fixtures.Fixture):
    """One doctor service run as a process of its own.

    Its log goes to ``log_path``, attached to the test's details. The
    service counts as started when ``ready`` appears in the log after the
    start.
    """

    def __init__(self, command: str, config_file: str, log_path: str,
                 ready: str) -> None:
        super().__init__()
        self.command = command
        self.config_file = config_file
        self.log_path = log_path
        self.ready = ready
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def _setUp(self) -> None:
        self.addCleanup(self.stop)

    def attach_log(self, test) -> None:
        """Show the service's whole log with ``test``'s result."""
        test.addDetail(os.path.basename(self.log_path),
                       content.text_content(self.log()))

    def start(self, timeout: float = 60) -> None:
        """Start the service and wait until it says it is ready."""
        offset = (os.path.getsize(self.log_path)
                  if os.path.exists(self.log_path) else 0)
        with open(self.log_path, 'ab') as log_file:
            self.process = subprocess.Popen(
                [console_script(self.command), '--config-file',
                 self.config_file, '--log-file', self.log_path],
                stdout=log_file, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # oslo.service runs the service in a forked worker: a
                # group of its own lets a kill reach both processes.
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError('%s exited with %s at start; see %s'
                                     % (self.command, self.process.returncode,
                                        self.log_path))
            if self.ready in self._log_since(offset):
                return
            if time.monotonic() > deadline:
                raise AssertionError('%s not ready within %.0f s; see %s'
                                     % (self.command, timeout,
                                        self.log_path))
            time.sleep(0.05)

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(offset)
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def kill9(self) -> None:
        """``kill -9`` the service, its workers too: no cleanup of any kind.
        """
        if self.process is not None and self.process.poll() is None:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(30)
            self.kills += 1

    def stop(self) -> None:
        """Stop the service as an operator does (SIGTERM), or kill it."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(10)

    def log(self) -> str:
        return self._log_since(0)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass


def rabbit_queue_depths(vhost: str, rabbitmqctl: str) -> dict[str, tuple]:
    """``{queue: (messages ready + unacknowledged, consumers)}`` of a vhost.
    """
    result = subprocess.run(
        [rabbitmqctl, '-q', 'list_queues', '-p', vhost, '--no-table-headers',
         'name', 'messages', 'consumers'],
        check=True, capture_output=True, text=True, timeout=60)
    depths = {}
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1].isdigit():
            depths[fields[0]] = (int(fields[1]), int(fields[2]))
    return depths
