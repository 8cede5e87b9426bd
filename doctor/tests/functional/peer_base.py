"""What the fixtures of real OpenStack peers share.

Keystone, Neutron and Nova (:mod:`.keystone`, :mod:`.neutron`,
:mod:`.nova`) run from virtualenvs of their own (:mod:`.peer_install`),
in processes that stop by themselves when the test process
dies, with a directory, databases and a RabbitMQ virtual host made for
each start and removed at stop, or by the next start when a test process
was killed outright. One of each is shared by the tests of a process
(:class:`Shared`): a test skips when a peer cannot run on this machine,
or fails when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set.
"""

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import typing

from oslo_log import log

from doctor.tests.functional import base

LOG = log.getLogger(__name__)

# Peers outlive each test's temporary directory (fixtures.NestedTempfile):
# theirs are made in the system one.
TMP = tempfile.gettempdir()
# The names base.SERVERS gives the databases it makes.
DATABASE_NAME = re.compile('doctor_func_[0-9a-f]{12}')
_OWNER = 'owner.json'
_LAUNCHER = 'launch.py'

# Runs ``module:function`` after starting a thread that stops this process
# (SIGTERM, then SIGKILL after the given seconds) once the process that
# started it is gone.
LAUNCHER_SOURCE = '''\
import importlib
import os
import signal
import sys
import threading
import time


def watch(parent, grace):
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os.kill(os.getpid(), signal.SIGKILL)


grace = float(sys.argv[1])
threading.Thread(target=watch, args=(os.getppid(), grace),
                 daemon=True).start()
module, _, function = sys.argv[2].partition(':')
sys.argv = [module] + sys.argv[3:]
sys.exit(getattr(importlib.import_module(module), function)())
'''


def wsgi_module(module: str) -> str:
    """The source of a module exposing ``module``'s WSGI ``application``.

    OpenStack's WSGI modules configure themselves from ``sys.argv``:
    gunicorn's own arguments are hidden from them while they load.
    """
    return (
        'import sys\n\n'
        '_argv = sys.argv\n'
        'sys.argv = _argv[:1]\n'
        'try:\n'
        '    from %s import application  # noqa: F401\n'
        'finally:\n'
        '    sys.argv = _argv\n' % module)


class Unavailable(Exception):
    """A peer cannot be run on this machine: a service is missing."""


class StartError(Exception):
    """A peer could be run here, but did not start."""


# -- the environment of child processes ---------------------------------------

def child_env() -> dict[str, str]:
    """This environment without what points Python at doctor's venv."""
    env = dict(os.environ)
    for name in ('VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME'):
        env.pop(name, None)
    env['PYTHONWARNINGS'] = 'ignore'
    return env


def tail(path: str, lines: int = 30) -> str:
    """The last ``lines`` lines of the file ``path``; empty if unreadable."""
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


# -- processes ----------------------------------------------------------------

def listen() -> socket.socket:
    """A socket listening on a free loopback port, to hand to a server."""
    listener = socket.socket()
    try:
        listener.bind((base.HOST, 0))
        listener.listen(128)
    except BaseException:
        listener.close()
        raise
    return listener


def root_url(listener: socket.socket) -> str:
    """The HTTP URL of a server on ``listener``."""
    return 'http://%s:%d' % listener.getsockname()[:2]


def launch(python: str, workdir: str, target: str, args: list[str],
           out_path: str, env: dict[str, str] | None = None,
           pass_fds: tuple[int, ...] = (), grace: float = 10
           ) -> subprocess.Popen:
    """Run ``target`` (``module:function``) with ``python``, in a new group.

    The process stops by itself (SIGTERM, then SIGKILL after ``grace``
    seconds) once this process is gone; its output goes to ``out_path``.
    """
    launcher = os.path.join(workdir, _LAUNCHER)
    if not os.path.exists(launcher):
        with open(launcher + '.new', 'w') as f:
            f.write(LAUNCHER_SOURCE)
        os.replace(launcher + '.new', launcher)
    process_env = child_env()
    process_env.update(env or {})
    with open(out_path, 'w') as out:
        return subprocess.Popen(
            [python, launcher, str(grace), target, *args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=process_env, pass_fds=pass_fds, cwd=workdir,
            start_new_session=True)


def gunicorn_args(workdir: str, listener: socket.socket, error_log: str,
                  app: str, timeout: int = 60) -> list[str]:
    """gunicorn's (gthread) arguments to serve ``app`` on ``listener``.

    For ``gunicorn.app.wsgiapp:run`` under :func:`launch`, which must pass
    the listener's descriptor on.
    """
    return [
        '--chdir', workdir,
        '--bind', 'fd://%d' % listener.fileno(),
        '--worker-class', 'gthread', '--workers', '1', '--threads', '8',
        '--graceful-timeout', '3', '--timeout', str(timeout),
        '--no-control-socket',
        '--error-logfile', error_log,
        app,
    ]


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` to the process group ``process`` leads."""
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def stop_processes(processes: typing.Mapping[str, subprocess.Popen],
                   timeout: float) -> None:
    """Stop every process with its group: SIGTERM, SIGKILL after a while."""
    for process in processes.values():
        if process.poll() is None:
            signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for name, process in processes.items():
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            LOG.warning('%s did not stop within %d s: killed', name, timeout)
            signal_group(process, signal.SIGKILL)
            process.wait(timeout)


def run(label: str, argv: list[str], log_path: str, timeout: float,
        cwd: str | None = None,
        logs: typing.Callable[[], str] | None = None) -> None:
    """Run one command, which must succeed within ``timeout``.

    Its output goes to ``log_path``; an error shows ``logs()``, or the
    tail of that log.

    :raises StartError: if it failed or took too long.
    """
    started = time.monotonic()
    with open(log_path, 'w') as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, env=child_env(), cwd=cwd,
            start_new_session=True)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(timeout)
            raise StartError('%s took over %d s\n%s'
                             % (label, timeout,
                                logs() if logs else tail(log_path)))
    if process.returncode:
        raise StartError('%s exited %d:\n%s'
                         % (label, process.returncode,
                            logs() if logs else tail(log_path)))
    LOG.debug('%s took %.1f s', label, time.monotonic() - started)


def wait_until(what: str, ready: typing.Callable[[], bool], timeout: float,
               processes: typing.Mapping[str, subprocess.Popen],
               logs: typing.Callable[..., str],
               interval: float = 0.2) -> None:
    """Poll ``ready`` until true, while every one of ``processes`` runs.

    :raises StartError: if a process exited or ``timeout`` passed, with
        ``logs(name)`` of the process or ``logs()``.
    """
    deadline = time.monotonic() + timeout
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                raise StartError('%s exited %s\n%s'
                                 % (name, process.returncode, logs(name)))
        if ready():
            return
        if time.monotonic() > deadline:
            raise StartError('%s not ready within %d s\n%s'
                             % (what, timeout, logs()))
        time.sleep(interval)


class Timings(dict[str, float]):
    """Seconds from the start of a peer to the end of each of its steps."""

    def __init__(self) -> None:
        super().__init__()
        self.started = time.monotonic()

    def mark(self, step: str) -> None:
        """Note that ``step`` ended now."""
        self[step] = time.monotonic() - self.started


def start_peer(title: str, start: typing.Callable[[], None],
               stop: typing.Callable[[], None], timings: Timings,
               url: typing.Callable[[], str]) -> None:
    """Run ``start``, or ``stop`` what it started if it fails, and re-raise.

    Once started, logs ``title``, ``url()`` and how long each step took.
    """
    timings.started = time.monotonic()
    try:
        start()
    except BaseException:
        stop()
        raise
    timings.mark('total')
    LOG.info('%s serving %s (%s)', title, url(), ', '.join(
        '%s %.1f s' % item for item in timings.items()))


class Background(threading.Thread):
    """Runs ``function`` in a thread at once; join() raises what it raised."""

    def __init__(self, function: typing.Callable[[], typing.Any]) -> None:
        super().__init__(daemon=True)
        self._function = function
        self._error: BaseException | None = None
        self.result: typing.Any = None
        self.start()

    def run(self) -> None:
        """Run the function, keeping its result or its error."""
        try:
            self.result = self._function()
        except BaseException as e:
            self._error = e

    def join(self, timeout: float | None = None) -> None:
        """Wait for the function to end; raise what it raised.

        :raises StartError: if it is still running after ``timeout``.
        """
        super().join(timeout)
        if self.is_alive():
            raise StartError('%s did not end within %s s'
                             % (getattr(self._function, '__name__', 'a task'),
                                timeout))
        if self._error is not None:
            raise self._error


# -- what one start makes -----------------------------------------------------

class Scratch:
    """The directory, databases and virtual host of one start of a peer.

    Made under names starting with ``prefix``; who owns them is written in
    the directory, so that a later start (:meth:`make`) removes what a
    test process killed outright left behind, once that process is gone.

    :param prefix: of the directory's and the virtual host's names.
    :param server: the key in ``base.SERVERS`` of the database server.
    """

    def __init__(self, prefix: str, server: str) -> None:
        self.prefix = prefix
        self.server = server
        self.workdir = ''
        self.vhost = ''
        self.databases: dict[str, tuple[str, str]] = {}

    def make(self) -> str:
        """Reap what dead processes left, then make the directory."""
        reap_abandoned(self.prefix, self.server)
        self.workdir = tempfile.mkdtemp(prefix=self.prefix, dir=TMP)
        self._record()
        return self.workdir

    def path(self, *names: str) -> str:
        """A path in the directory."""
        return os.path.join(self.workdir, *names)

    def database(self, name: str) -> str:
        """A new database, known as ``name``; its URL."""
        self.databases[name] = base.SERVERS[self.server].create()
        self._record()
        return self.databases[name][1]

    def make_vhost(self) -> str:
        """A new RabbitMQ virtual host, open to ``guest``; its name."""
        vhost = self.prefix + os.urandom(6).hex()
        base._rabbitmqctl_run('add_vhost', vhost)
        self.vhost = vhost
        self._record()
        base._rabbitmqctl_run('set_permissions', '-p', vhost, 'guest',
                              '.*', '.*', '.*')
        return vhost

    def _record(self) -> None:
        with open(self.path(_OWNER + '.new'), 'w') as f:
            json.dump({'pid': os.getpid(), 'vhost': self.vhost,
                       'databases': [name for name, _ in
                                     self.databases.values()]}, f)
        os.replace(self.path(_OWNER + '.new'), self.path(_OWNER))

    def remove(self) -> None:
        """Drop the databases, delete the virtual host and the directory."""
        databases, self.databases = self.databases, {}
        for name, _ in databases.values():
            try:
                base.SERVERS[self.server].drop(name)
            except Exception:
                LOG.exception('Cannot drop the database %s', name)
        vhost, self.vhost = self.vhost, ''
        if vhost:
            try:
                base._rabbitmqctl_run('delete_vhost', vhost)
            except Exception:
                LOG.exception('Cannot delete the virtual host %s', vhost)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def reap_abandoned(prefix: str, server: str) -> None:
    """Remove what test processes killed outright left behind.

    Their processes stopped by themselves; the databases, virtual host and
    directory of each :class:`Scratch` with ``prefix`` remain and are
    removed here, once the process that made them is gone.
    """
    vhost_name = re.compile(re.escape(prefix) + '[0-9a-f]{12}')
    for name in os.listdir(TMP):
        workdir = os.path.join(TMP, name)
        if not name.startswith(prefix):
            continue
        try:
            if os.stat(workdir).st_uid != os.getuid():
                continue
            with open(os.path.join(workdir, _OWNER)) as f:
                owner = json.load(f)
            pid = int(owner['pid'])
            databases = [d for d in owner['databases']
                         if DATABASE_NAME.fullmatch(d)]
            vhost = owner['vhost']
            os.kill(pid, 0)
        except ProcessLookupError:
            LOG.info('Removing the databases, virtual host and directory %s '
                     'of process %s, which is gone', workdir, pid)
            try:
                for database in databases:
                    base.SERVERS[server].drop(database)
                if vhost_name.fullmatch(vhost):
                    base._rabbitmqctl_run('delete_vhost', vhost)
            except Exception:
                LOG.exception('Cannot remove what process %s left', pid)
                continue
            shutil.rmtree(workdir, ignore_errors=True)
        except (OSError, ValueError, KeyError, TypeError):
            # Being made, or not ours to judge.
            continue


# -- one peer per process -----------------------------------------------------

class Peer(typing.Protocol):
    """What :class:`Shared` needs of a peer."""

    def start(self) -> None:
        """Start the peer; on failure, stop what was started."""

    def stop(self) -> None:
        """Stop the peer and remove what it made."""


P = typing.TypeVar('P', bound=Peer)


class Shared(typing.Generic[P]):
    """A process's one peer, started on first use and stopped at exit.

    A failure to start is remembered: later callers get it at once.

    :param title: how messages name the peer (e.g. ``Keystone 30.0.0``).
    :param make: makes the peer, not started.
    """

    def __init__(self, title: str, make: typing.Callable[[], P]) -> None:
        self.title = title
        self._make = make
        self._lock = threading.Lock()
        self._peer: P | None = None
        self._failure: BaseException | None = None

    def get(self) -> P:
        """The peer, started if it is not yet.

        :raises Unavailable: if a service the peer needs is missing.
        :raises StartError: if the peer did not start.
        """
        with self._lock:
            if self._failure is not None:
                raise self._failure
            if self._peer is None:
                peer = self._make()
                try:
                    peer.start()
                except Exception as e:
                    self._failure = e
                    raise
                atexit.register(peer.stop)
                self._peer = peer
            return self._peer

    def needed(self, unavailable: type[Unavailable],
               start_error: type[StartError]) -> P:
        """The peer, for another peer that needs it.

        :raises unavailable: if this peer cannot be had here.
        :raises start_error: if this peer did not start.
        """
        try:
            return self.get()
        except Unavailable as e:
            raise unavailable('it needs %s: %s' % (self.title, e))
        except StartError as e:
            raise start_error('%s did not start: %s' % (self.title, e))

    def require(self, test: base.FunctionalTestCase) -> P:
        """The peer, for ``test``.

        Skips ``test`` when the peer cannot be had on this machine, or
        fails it when ``CI`` or ``DOCTOR_REQUIRE_SERVICES`` is set; fails
        it if the peer did not start. Call :meth:`get` from
        ``setUpClass`` first: a first start (an install) may take longer
        than a test is given.
        """
        try:
            return self.get()
        except Unavailable as e:
            if base.services_required():
                test.fail('%s is required (%s is set) but unusable: %s'
                          % (self.title, ' or '.join(base.REQUIRE_ENV), e))
            test.skipTest('%s is not available: %s' % (self.title, e))
        except StartError as e:
            test.fail('%s did not start: %s' % (self.title, e))
