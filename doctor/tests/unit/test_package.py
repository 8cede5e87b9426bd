"""What importing doctor does to the process."""

import subprocess
import sys

from doctor.tests import base


class TestImport(base.TestCase):

    def test_no_eventlet_notice_on_start(self):
        # futurist imports eventlet, which prints a deprecation notice on
        # import; a doctor command must start without it.
        done = subprocess.run(
            [sys.executable, '-W', 'default', '-c',
             'import doctor.cmd.status, futurist'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertNotIn('Eventlet is deprecated', done.stderr)

    def test_no_dsa_deprecation_notice_from_dnspython_on_start(self):
        # dnspython's DNSSEC module names cryptography's deprecated DSA
        # classes at import, each one a warning.
        done = subprocess.run(
            [sys.executable, '-c', 'import doctor.cmd.status, dns.dnssec'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertNotIn('DSA is deprecated', done.stderr)

    def test_dsa_notice_stays_for_doctor_s_own_code(self):
        # Only dnspython's use is muted, not the warning everywhere.
        done = subprocess.run(
            [sys.executable, '-c',
             'import doctor, warnings; '
             'warnings.warn("DSA is deprecated and support will be '
             'removed")'],
            capture_output=True, text=True, timeout=120)
        self.assertIn('DSA is deprecated', done.stderr)
