"""Tests of the doctor-monitor command."""

import os
import subprocess
import sys

from doctor.tests import base


class MainTest(base.TestCase):

    def run_main(self, *lines: str) -> subprocess.CompletedProcess:
        path = os.path.join(self.state_path, 'doctor.conf')
        with open(path, 'w') as conf:
            conf.write('\n'.join(('[monitor]',) + lines) + '\n')
        return subprocess.run(
            [sys.executable, '-c',
             'from doctor.cmd import monitor; monitor.main()',
             '--config-file', path],
            capture_output=True, text=True, timeout=60)

    def test_bad_host_entry_is_refused_at_start(self):
        result = self.run_main('hosts = compute-0=10.0.0.1,compute-1=oops',
                               'method = tcp')
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn('doctor-monitor: Invalid configuration: [monitor] '
                      'hosts entry "compute-1=oops"', result.stderr)

    def test_nothing_to_watch(self):
        result = self.run_main('method = tcp')
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn('[monitor] hosts is empty', result.stderr)
