"""doctor-status upgrade check, the console script, on PostgreSQL.

The command runs as an operator runs it, in a process of its own with a
configuration file, against a database of the test's own: behind the
newest migration, then after ``doctor-manage db sync``.
"""

import json
import os
import subprocess
import sys

from oslo_upgradecheck import upgradecheck
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool
from testtools import content

from doctor.cmd import status
from doctor.db.sqlalchemy import migration
from doctor.tests.functional import base

COMMAND_TIMEOUT = 60
BIN = os.path.dirname(sys.executable)


class UpgradeCheckOnPostgreSQLTest(base.FunctionalTestCase):
    """doctor-status against a real PostgreSQL database."""

    def setUp(self):
        super().setUp()
        self.config_file = os.path.join(self.state_path, 'doctor.conf')

    def _configure(self, url: str) -> None:
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\n'
                    'state_path = %s\n'
                    'transport_url = rabbit://guest:guest@127.0.0.1:5672/\n'
                    '[database]\n'
                    'connection = %s\n' % (self.state_path, url))

    def _run(self, script: str, *args: str) -> subprocess.CompletedProcess:
        path = os.path.join(BIN, script)
        self.assertTrue(os.path.exists(path),
                        '%s is not installed beside %s: pip install -e .'
                        % (script, sys.executable))
        result = subprocess.run(
            [path, '--config-file', self.config_file] + list(args),
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        self.addDetail(script, content.text_content(
            result.stdout + result.stderr))
        return result

    @staticmethod
    def assertInTable(expected: str, output: str) -> None:
        """``expected`` is in the table, however its lines were wrapped.

        The table wraps its details at 60 characters, within words too
        (long URLs): compare without the borders and any white space.
        """
        table = ''.join(''.join(line.strip('|+-').split())
                        for line in output.splitlines())
        if ''.join(expected.split()) not in table:
            raise AssertionError('%r not in the table:\n%s'
                                 % (expected, output))

    def test_behind_head_then_after_db_sync(self):
        url = self.empty_database_url('postgresql')
        engine = sa.create_engine(url, poolclass=sa_pool.NullPool)
        try:
            migration.upgrade(engine, '0002')
        finally:
            engine.dispose()
        self._configure(url)
        head = migration.head()

        behind = self._run('doctor-status', 'upgrade', 'check')
        self.assertEqual(upgradecheck.Code.FAILURE, behind.returncode)
        self.assertInTable('doctor upgrade check results', behind.stdout)
        self.assertInTable('Check: Database schema Result: Failure Details: '
                           'The database %s is at revision 0002, this '
                           'release needs %s: run "doctor-manage db sync".'
                           % (url, head), behind.stdout)
        for name, check in status.Checks._upgrade_checks[1:]:
            self.assertInTable('Check: %s Result: Success Details: None'
                               % name, behind.stdout)
        self.assertNotIn('Traceback', behind.stdout + behind.stderr)

        sync = self._run('doctor-manage', 'db', 'sync')
        self.assertEqual(0, sync.returncode, sync.stderr)

        synced = self._run('doctor-status', 'upgrade', 'check', '--json')
        self.assertEqual(upgradecheck.Code.SUCCESS, synced.returncode)
        output = json.loads(synced.stdout)
        self.assertEqual(
            [(name, upgradecheck.Code.SUCCESS, None)
             for name, check in status.Checks._upgrade_checks],
            [(check['check'], check['result'], check['details'])
             for check in output['checks']])

    def test_empty_database(self):
        url = self.empty_database_url('postgresql')
        self._configure(url)
        result = self._run('doctor-status', 'upgrade', 'check')
        self.assertEqual(upgradecheck.Code.FAILURE, result.returncode)
        self.assertInTable('The database %s has no doctor schema, this '
                           'release needs revision %s: run "doctor-manage '
                           'db sync".' % (url, migration.head()),
                           result.stdout)

    def test_database_that_does_not_exist(self):
        self.require(base.POSTGRESQL)
        server = base.SERVERS['postgresql'].admin_url.rsplit('/', 1)[0]
        url = server + '/doctor_absent_database'
        self._configure(url)
        result = self._run('doctor-status', 'upgrade', 'check')
        self.assertEqual(upgradecheck.Code.FAILURE, result.returncode)
        self.assertInTable('Cannot reach the database %s' % url,
                           result.stdout)
        self.assertInTable('database "doctor_absent_database" does not '
                           'exist', result.stdout)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
