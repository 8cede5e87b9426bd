"""tools/venv.sh, which the quick-start scripts source: what it prints
while pip installs.
"""

import os
import stat
import subprocess

from doctor.tests import base

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..',
                                     '..'))

# What pip prints, in a pipe, for a first install.
PIP_OUTPUT = '''\
Obtaining file:///src/doctor
  Installing build dependencies: started
  Installing build dependencies: finished with status 'done'
Collecting oslo.config>=9.0.0 (from doctor==1.0)
  Downloading oslo.config-9.6.0-py3-none-any.whl (132 kB)
Requirement already satisfied: pbr>=6.0 in ./lib (from doctor==1.0) (6.1.0)
Collecting oslo.db>=15.0.0 (from doctor==1.0)
  Using cached oslo.db-16.0.0-py3-none-any.whl (170 kB)
Collecting netifaces>=0.10.4 (from oslo.utils)
Building wheels for collected packages: doctor, netifaces
  Building editable for doctor (pyproject.toml): started
  Building editable for doctor (pyproject.toml): finished with status 'done'
  Building wheel for netifaces (setup.py): started
  Building wheel for netifaces (setup.py): finished with status 'done'
Installing collected packages: netifaces, oslo.config, oslo.db, doctor
Successfully installed doctor-1.0 netifaces-0.11.0 oslo.config-9.6.0 \
oslo.db-16.0.0
'''


class TestProgress(base.TestCase):

    def run_script(self, interval: str) -> list[str]:
        venv = os.path.join(self.state_path, 'venv')
        os.makedirs(os.path.join(venv, 'bin'))
        output = os.path.join(self.state_path, 'pip-output.txt')
        with open(output, 'w') as f:
            f.write(PIP_OUTPUT)
        python = os.path.join(venv, 'bin', 'python')
        with open(python, 'w') as f:
            f.write('#!/bin/sh\ncat "%s"\n' % output)
        os.chmod(python, stat.S_IRWXU)
        done = subprocess.run(
            ['bash', '-c', 'set -eu -o pipefail; source tools/venv.sh '
             'requirements.txt'],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env=dict(os.environ, DOCTOR_VENV=venv,
                     DOCTOR_PROGRESS_INTERVAL=interval))
        self.assertEqual(0, done.returncode, done.stderr)
        return [' '.join(line.split()[2:]) if line.startswith('  ')
                else line for line in done.stdout.splitlines()]

    def test_what_is_installed_and_how_far_along(self):
        lines = self.run_script(interval='3600')

        self.assertEqual([
            'Installing doctor and requirements.txt into %s (about a '
            'minute the first time)' % os.path.join(self.state_path,
                                                    'venv'),
            '1 requirements resolved, now oslo.config>=9.0.0',
            'building doctor from source',
            'building netifaces from source',
            '4 requirements resolved, installing 4 packages',
            'done',
        ], lines)

    def test_a_line_per_requirement_at_interval_zero(self):
        lines = self.run_script(interval='0')

        self.assertEqual(['1 requirements resolved, now oslo.config>=9.0.0',
                          '2 requirements resolved, now pbr>=6.0',
                          '3 requirements resolved, now oslo.db>=15.0.0',
                          '4 requirements resolved, now netifaces>=0.10.4'],
                         [line for line in lines if ', now ' in line])

    def test_every_line_gives_the_elapsed_time(self):
        venv = os.path.join(self.state_path, 'venv')
        self.run_script(interval='0')
        with open(os.path.join(venv, 'bin', 'python'), 'w') as f:
            f.write('#!/bin/sh\necho "Collecting six"\n')
        done = subprocess.run(
            ['bash', '-c', 'source tools/venv.sh'], cwd=ROOT,
            capture_output=True, text=True, timeout=60,
            env=dict(os.environ, DOCTOR_VENV=venv))

        self.assertRegex(done.stdout,
                         r'\n +\d+ s  1 requirements resolved, now six\n')

    def test_a_failing_pip_fails_the_script(self):
        venv = os.path.join(self.state_path, 'venv')
        os.makedirs(os.path.join(venv, 'bin'))
        python = os.path.join(venv, 'bin', 'python')
        with open(python, 'w') as f:
            f.write('#!/bin/sh\necho "ERROR: No matching distribution" >&2\n'
                    'exit 1\n')
        os.chmod(python, stat.S_IRWXU)

        done = subprocess.run(
            ['bash', '-c', 'set -eu -o pipefail; source tools/venv.sh; '
             'echo after'], cwd=ROOT, capture_output=True, text=True,
            timeout=60, env=dict(os.environ, DOCTOR_VENV=venv))

        self.assertNotEqual(0, done.returncode)
        self.assertIn('No matching distribution', done.stderr)
        self.assertNotIn('after', done.stdout)
