"""What importing doctor does to the process."""

import configparser
import os
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


class TestExtras(base.TestCase):
    """``pip install doctor[postgresql]`` and ``doctor[mysql]`` bring the
    drivers of the connection URLs the install guide gives.
    """

    def test_database_driver_extras(self):
        setup_cfg = os.path.join(os.path.dirname(__file__), '..', '..',
                                 '..', 'setup.cfg')
        parser = configparser.ConfigParser()
        parser.read(setup_cfg)

        extras = {name: [line.split('>=')[0] for line in value.split()]
                  for name, value in parser['extras'].items()}

        self.assertEqual(['psycopg2-binary'], extras['postgresql'])
        self.assertEqual(['PyMySQL'], extras['mysql'])
        # The drivers of postgresql+psycopg2:// and mysql+pymysql://.
        import psycopg2  # noqa: F401
        import pymysql  # noqa: F401
