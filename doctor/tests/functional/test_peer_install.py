"""The peers' installs tell how far along they are."""

import io
import subprocess
import sys

import testtools

from doctor.tests.functional import peer_install

PIP_OUTPUT = [
    'Collecting nova==34.0.0',
    '  Downloading nova-34.0.0-py3-none-any.whl (4.1 MB)',
    'Collecting openstack-placement==16.0.0',
    'Requirement already satisfied: pbr>=6.0 in ./lib (6.1.0)',
    'Collecting oslo.db>=15.0.0 (from nova==34.0.0)',
    'Building wheels for collected packages: netifaces',
    '  Building wheel for netifaces (setup.py): started',
    "  Building wheel for netifaces (setup.py): finished with status 'done'",
    'Installing collected packages: netifaces, pbr, oslo.db, nova',
    'Successfully installed netifaces-0.11.0 nova-34.0.0 oslo.db-16.0.0',
]


class FakeClock:

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TestPipProgress(testtools.TestCase):

    def feed(self, lines: list[str], clock: FakeClock,
             seconds_per_line: float) -> list[str]:
        reports: list[str] = []
        progress = peer_install.PipProgress('Nova 34.0.0', reports.append,
                                            interval=15.0, clock=clock)
        for line in lines:
            clock.now += seconds_per_line
            progress.feed(line + '\n')
        return reports

    def test_a_few_lines_saying_what_and_how_far(self):
        reports = self.feed(PIP_OUTPUT, FakeClock(), seconds_per_line=1.0)

        self.assertEqual([
            'Installing Nova 34.0.0: 1 requirements resolved, now '
            'nova==34.0.0 (1 s)',
            'Installing Nova 34.0.0: building netifaces from source (7 s)',
            'Installing Nova 34.0.0: 4 requirements resolved, installing 4 '
            'packages (9 s)',
        ], reports)

    def test_resolving_is_reported_once_an_interval(self):
        lines = ['Collecting package-%d' % number for number in range(60)]

        reports = self.feed(lines, FakeClock(), seconds_per_line=1.0)

        # One at the first requirement, then one every 15 s.
        self.assertEqual([1, 16, 31, 46],
                         [int(report.split(': ')[1].split()[0])
                          for report in reports])
        self.assertIn('now package-15 (16 s)', reports[1])


class TestRunPip(testtools.TestCase):

    def run_lines(self, code: str, timeout: float = 60
                  ) -> tuple[int, str, list[str]]:
        out = io.StringIO()
        reports: list[str] = []
        progress = peer_install.PipProgress('x', reports.append,
                                            interval=0.0)
        returncode = peer_install._run_pip([sys.executable, '-c', code],
                                           out, progress, timeout)
        return returncode, out.getvalue(), reports

    def test_output_goes_to_the_log_and_the_progress(self):
        returncode, logged, reports = self.run_lines(
            'import sys; print("Collecting a"); '
            'print("oops", file=sys.stderr); sys.exit(3)')

        self.assertEqual(3, returncode)
        self.assertEqual('Collecting a\noops\n', logged)
        self.assertEqual(1, len(reports))

    def test_an_install_past_its_timeout_is_stopped(self):
        self.assertRaises(subprocess.TimeoutExpired, self.run_lines,
                          'import time; print("Collecting a", flush=True); '
                          'time.sleep(600)', timeout=1)
