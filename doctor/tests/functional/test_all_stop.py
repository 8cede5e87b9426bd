"""doctor-all stops quickly on RabbitMQ, and loses nothing doing so.

A real ``doctor-all`` process on the test's RabbitMQ virtual host and
PostgreSQL database, stopped by SIGTERM as an init system stops it.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from doctor.tests.functional import base

# Seconds: a listener on RabbitMQ notices it is stopped within 5 s; the
# services used to stop one after another, which took 20 s.
STOPPED_WITHIN = 10.0
READY_WITHIN = 60.0
# An idle listener waits ever longer for a message, up to 5 s at a time:
# a process that has run idle this long is as slow to stop as one that
# ran for days.
IDLE = 8.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class DoctorAllStopTest(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.use_database('postgresql')
        self.url = self.use_rabbit()

    def start(self) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        config = os.path.join(self.state_path, 'doctor.conf')
        with open(config, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\ntransport_url = %s\n'
                    'log_file = %s\n[database]\nconnection = %s\n'
                    'max_pool_size = 2\nmax_overflow = 0\n'
                    '[api]\nport = %d\n'
                    % (self.state_path, self.url,
                       os.path.join(self.state_path, 'doctor-all.log'),
                       self.conf.database.connection, port))
        process = subprocess.Popen(
            [sys.executable, '-c',
             'import sys; from doctor.cmd import all; '
             'sys.exit(all.main(sys.argv[1:]))',
             '--config-file', config], start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(self._kill, process)
        api = 'http://127.0.0.1:%d/' % port

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError('doctor-all exited with %s: %s'
                                     % (process.returncode, self.log()))
            try:
                return requests.get(api, timeout=1).status_code == 200
            except requests.RequestException:
                return False
        self.wait_for(ready, timeout=READY_WITHIN,
                      message='doctor-all serving its API')
        return process, api

    def log(self) -> str:
        try:
            with open(os.path.join(self.state_path, 'doctor-all.log')) as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    @staticmethod
    def _kill(process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def test_sigterm_stops_it_within_seconds(self):
        process, _ = self.start()
        time.sleep(IDLE)

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOPPED_WITHIN * 3)
        except subprocess.TimeoutExpired:
            pass
        took = time.monotonic() - started

        self.assertEqual(0, process.returncode, self.log())
        self.assertLess(took, STOPPED_WITHIN,
                        'doctor-all took %.1f s to stop' % took)
        self.assertNotIn('Traceback', self.log())
