"""The virtualenvs the OpenStack peers of the functional tests run from.

Each lives under the user's cache directory (``~/.cache/doctor-tests``, or
under ``$XDG_CACHE_HOME``), never in doctor's: made once per machine under
a file lock, so that parallel test processes wait for one install, and
reused while it holds the pinned requirements.
"""

import dataclasses
import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
import typing

from oslo_log import log

from doctor.tests.functional import peer_base

LOG = log.getLogger(__name__)

# Bounds, in seconds.
INSTALL_TIMEOUT = 900
PROBE_TIMEOUT = 120
# How often a long install says how far along it is, in seconds.
PROGRESS_INTERVAL = 15.0

_MARKER = 'doctor-requirements.txt'


def cache_dir() -> str:
    """Where the tests keep what they install, per user."""
    root = (os.environ.get('XDG_CACHE_HOME')
            or os.path.join(os.path.expanduser('~'), '.cache'))
    return os.path.join(root, 'doctor-tests')


def lock_file(lock: typing.IO[str], timeout: float) -> None:
    """Take an exclusive lock of the open file ``lock``, waiting a while.

    :raises peer_base.StartError: if another still holds it after
        ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise peer_base.StartError('%s is still locked after %d s'
                                           % (lock.name, timeout))
            time.sleep(0.5)


@dataclasses.dataclass(frozen=True)
class Venv:
    """A virtualenv of a peer: its folder name and what it holds.

    ``package`` at ``version`` is what proves an install finished;
    ``title`` names it in logs and errors (the package and version if
    empty).
    """

    name: str
    package: str
    version: str
    requirements: tuple[str, ...]
    title: str = ''

    @property
    def what(self) -> str:
        """How logs and errors name this virtualenv's content."""
        return self.title or '%s %s' % (self.package, self.version)


class PipProgress:
    """pip's output, one line a requirement, told in a few log lines:
    what is being installed and how far along it is.

    A line every ``interval`` seconds while requirements are resolved and
    downloaded, one for each package built from source, one when the
    installing starts.
    """

    def __init__(self, what: str, report: typing.Callable[[str], None],
                 interval: float = PROGRESS_INTERVAL,
                 clock: typing.Callable[[], float] = time.monotonic
                 ) -> None:
        self._what = what
        self._report = report
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last: float | None = None
        self.resolved = 0

    def _say(self, text: str) -> None:
        self._last = self._clock()
        self._report('Installing %s: %s (%.0f s)'
                     % (self._what, text, self._last - self._started))

    def feed(self, line: str) -> None:
        """Take one line of pip's output."""
        line = line.strip()
        for prefix in ('Collecting ', 'Requirement already satisfied: '):
            if line.startswith(prefix):
                self.resolved += 1
                if (self._last is None or self._clock() - self._last
                        >= self._interval):
                    name = line[len(prefix):].split(' ', 1)[0]
                    self._say('%d requirements resolved, now %s'
                              % (self.resolved, name))
                return
        if line.startswith('Building ') and line.endswith(': started'):
            name = line.split(' for ', 1)[-1].split(' ', 1)[0]
            self._say('building %s from source' % name)
        elif line.startswith('Installing collected packages: '):
            count = line.count(',') + 1
            self._say('%d requirements resolved, installing %d packages'
                      % (self.resolved, count))


def _run_pip(argv: list[str], out: typing.IO[str], progress: PipProgress,
             timeout: float) -> int:
    """Run pip, its output into ``out`` and through ``progress``.

    :raises subprocess.TimeoutExpired: if it runs longer than ``timeout``.
    """
    process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env=peer_base.child_env())
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            progress.feed(line)
        returncode = process.wait()
    finally:
        expired = not timer.is_alive()
        timer.cancel()
    if expired and returncode < 0:
        raise subprocess.TimeoutExpired(argv, timeout)
    return returncode


def _venv_matches(path: str, venv: Venv, timeout: float) -> bool:
    """Whether ``path`` finished installing ``venv``'s requirements."""
    try:
        with open(os.path.join(path, _MARKER)) as f:
            if f.read().split() != list(venv.requirements):
                return False
        probe = subprocess.run(
            [os.path.join(path, 'bin', 'python'), '-c',
             'import importlib.metadata as m; print(m.version(%r))'
             % venv.package],
            env=peer_base.child_env(), capture_output=True, text=True,
            timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0 and probe.stdout.strip() == venv.version


def ensure_venv(venv: Venv,
                prepare: typing.Callable[[], None] | None = None,
                probe_timeout: float = PROBE_TIMEOUT) -> str:
    """The path of ``venv``, made if missing or not the pinned one.

    It is made once per machine, under a file lock that parallel test
    processes wait on; ``prepare``, if given, runs under that lock too.

    :raises peer_base.Unavailable: if it cannot be installed.
    :raises peer_base.StartError: if another process holds the lock too long.
    """
    directory = cache_dir()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, venv.name)
    with open(os.path.join(directory, venv.name + '.lock'), 'w') as lock:
        lock_file(lock, 2 * INSTALL_TIMEOUT + probe_timeout)
        if prepare is not None:
            prepare()
        if _venv_matches(path, venv, probe_timeout):
            return path
        shutil.rmtree(path, ignore_errors=True)
        log_path = os.path.join(directory, venv.name + '-install.log')
        started = time.monotonic()
        LOG.info('Installing %s into %s: %s; a few minutes, pip\'s '
                 'whole output in %s', venv.what, path,
                 ' '.join(venv.requirements), log_path)
        commands = (
            [sys.executable, '-m', 'venv', path],
            [os.path.join(path, 'bin', 'python'), '-m', 'pip', 'install',
             '--disable-pip-version-check', '--progress-bar', 'off',
             *venv.requirements],
        )
        progress = PipProgress(venv.what, LOG.info)
        with open(log_path, 'w') as out:
            for argv in commands:
                try:
                    returncode = _run_pip(argv, out, progress,
                                          INSTALL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise peer_base.Unavailable(
                        'installing %s timed out after %d s'
                        % (venv.what, INSTALL_TIMEOUT))
                if returncode:
                    out.flush()
                    raise peer_base.Unavailable(
                        'cannot install %s into %s (%s exited %d):\n%s'
                        % (venv.what, path, ' '.join(argv[:4]),
                           returncode, peer_base.tail(log_path, 10)))
        with open(os.path.join(path, _MARKER), 'w') as f:
            f.write('\n'.join(venv.requirements) + '\n')
        if not _venv_matches(path, venv, probe_timeout):
            raise peer_base.Unavailable(
                '%s installed into %s does not run; see %s'
                % (venv.what, path, log_path))
        LOG.info('Installed %s in %.0f s', venv.what,
                 time.monotonic() - started)
        return path
