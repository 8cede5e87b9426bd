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
import time
import typing

from oslo_log import log

from doctor.tests.functional import peer_base

LOG = log.getLogger(__name__)

# Bounds, in seconds.
INSTALL_TIMEOUT = 900
PROBE_TIMEOUT = 120

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
        LOG.info('Installing %s into %s', venv.what, path)
        commands = (
            [sys.executable, '-m', 'venv', path],
            [os.path.join(path, 'bin', 'python'), '-m', 'pip', 'install',
             '--quiet', '--disable-pip-version-check', *venv.requirements],
        )
        with open(log_path, 'w') as out:
            for argv in commands:
                try:
                    result = subprocess.run(
                        argv, stdout=out, stderr=subprocess.STDOUT,
                        env=peer_base.child_env(), timeout=INSTALL_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise peer_base.Unavailable(
                        'installing %s timed out after %d s'
                        % (venv.what, INSTALL_TIMEOUT))
                if result.returncode:
                    raise peer_base.Unavailable(
                        'cannot install %s into %s (%s exited %d):\n%s'
                        % (venv.what, path, ' '.join(argv[:4]),
                           result.returncode, peer_base.tail(log_path, 10)))
        with open(os.path.join(path, _MARKER), 'w') as f:
            f.write('\n'.join(venv.requirements) + '\n')
        if not _venv_matches(path, venv, probe_timeout):
            raise peer_base.Unavailable(
                '%s installed into %s does not run; see %s'
                % (venv.what, path, log_path))
        LOG.info('Installed %s in %.0f s', venv.what,
                 time.monotonic() - started)
        return path
