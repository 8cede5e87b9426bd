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
