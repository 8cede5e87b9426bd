"""doctor-status upgrade check: each check passing, warning and failing."""

import io
import json
import os
import sqlite3
import sys
import textwrap

import fixtures
from oslo_config import cfg
from oslo_policy import policy as oslo_policy
from oslo_upgradecheck import upgradecheck
import sqlalchemy as sa
from sqlalchemy import pool as sa_pool

from doctor import conf as doctor_conf
from doctor import policies
from doctor.cmd import status
from doctor.common import service
from doctor.db import api as db_api
from doctor.db.sqlalchemy import migration
from doctor.notifier.plugins import rest
from doctor.tests import base
from doctor.tests.unit.db import factory
from doctor.tests.unit.inspector.controllers import fake_api as ctl_api

Code = upgradecheck.Code

# Nothing listens on port 1 of the loopback: a refused connection.
UNREACHABLE = 'postgresql+psycopg2://doctor:SECRET@127.0.0.1:1/doctor'

CREDENTIALS = '''\
auth_type = password
auth_url = http://127.0.0.1:5000/v3
username = doctor
password = SECRET
project_name = service
user_domain_name = Default
project_domain_name = Default
'''


class StatusTestCase(base.TestCase):
    """Checks run on a configuration file written by the test."""

    def setUp(self):
        super().setUp()
        self.config_file = os.path.join(self.state_path, 'doctor.conf')

    def checks(self, text: str = '') -> status.Checks:
        """The checks of a configuration made of ``text``."""
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n' % self.state_path)
            f.write(textwrap.dedent(text))
        conf = cfg.ConfigOpts()
        service.prepare_service(['--config-file', self.config_file],
                                conf=conf, default_config_files=[])
        return status.Checks(conf)

    def assertResult(self, code, result, *fragments):
        self.assertEqual(code, result.code, result.details)
        for fragment in fragments:
            self.assertIn(fragment, result.details)


class TestDatabase(StatusTestCase):

    def _sqlite(self, name: str = 'doctor.sqlite') -> tuple[str, str]:
        path = os.path.join(self.state_path, name)
        return path, 'sqlite:///' + path

    def _migrate(self, url: str, revision: str) -> None:
        engine = sa.create_engine(url, poolclass=sa_pool.NullPool)
        try:
            migration.upgrade(engine, revision)
        finally:
            engine.dispose()

    def _check(self, url: str):
        return self.checks('[database]\nconnection = %s\n'
                           % url)._check_database()

    def test_at_head(self):
        path, url = self._sqlite()
        self._migrate(url, 'head')
        self.assertResult(Code.SUCCESS, self._check(url))

    def test_behind_head_names_both_revisions_and_the_fix(self):
        path, url = self._sqlite()
        self._migrate(url, '0002')
        self.assertResult(Code.FAILURE, self._check(url),
                          'at revision 0002',
                          'needs %s' % migration.head(),
                          'doctor-manage db sync')

    def test_empty_database(self):
        path, url = self._sqlite()
        sqlite3.connect(path).close()
        self.assertResult(Code.FAILURE, self._check(url),
                          'has no doctor schema', 'doctor-manage db sync')

    def test_missing_sqlite_file_is_not_created(self):
        path, url = self._sqlite('absent.sqlite')
        self.assertResult(Code.FAILURE, self._check(url),
                          path, 'does not exist', 'doctor-manage db sync')
        self.assertFalse(os.path.exists(path))

    def test_revision_unknown_to_this_release(self):
        path, url = self._sqlite()
        self._migrate(url, 'head')
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE alembic_version SET version_num = "
                               "'9999'")
        self.assertResult(Code.FAILURE, self._check(url),
                          'revision 9999', 'does not know',
                          'newer doctor')

    def test_unreachable_server_hides_the_password(self):
        result = self._check(UNREACHABLE)
        self.assertResult(Code.FAILURE, result, 'Cannot reach the database',
                          '127.0.0.1:1', '[database] connection')
        self.assertNotIn('SECRET', result.details)

    def test_driver_not_installed(self):
        self.assertResult(
            Code.FAILURE,
            self._check('mysql+nosuchdriver://doctor@127.0.0.1/doctor'),
            'driver', 'cannot be loaded', 'install it')

    def test_not_a_url(self):
        self.assertResult(Code.FAILURE, self._check('not a url'),
                          '[database] connection is not a database URL')


class TestPolicyFile(StatusTestCase):

    def _check(self, rules: str, name: str = 'policy.yaml'):
        path = os.path.join(self.state_path, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent(rules))
        self.policy_path = path
        return self.checks('[oslo_policy]\npolicy_file = %s\n'
                           % path)._check_policy_file()

    def test_no_policy_file(self):
        self.assertResult(Code.SUCCESS, self.checks()._check_policy_file())

    def test_policy_file_named_but_missing(self):
        missing = os.path.join(self.state_path, 'missing.yaml')
        result = self.checks('[oslo_policy]\npolicy_file = %s\n'
                             % missing)._check_policy_file()
        self.assertResult(Code.WARNING, result, missing, 'does not exist')

    def test_overrides_of_doctor_rules(self):
        self.assertResult(Code.SUCCESS, self._check('''\
            "context_is_admin": "role:admin or role:cloud_admin"
            "alarm:create": "rule:context_is_admin"
        '''))

    def test_alias_referenced_by_a_rule_is_known(self):
        self.assertResult(Code.SUCCESS, self._check('''\
            "cloud_admin": "role:cloud_admin"
            "context_is_admin": "role:admin or rule:cloud_admin"
        '''))

    def test_unknown_rule_is_a_warning_naming_it(self):
        result = self._check('''\
            "context_is_admin": "role:admin"
            "alarm:craete": "rule:admin_or_owner"
        ''')
        self.assertResult(Code.WARNING, result, self.policy_path,
                          'alarm:craete', 'no effect')

    def test_deprecated_rule_name_is_a_warning(self):
        renamed = oslo_policy.RuleDefault(
            'doctor:new_name', 'rule:context_is_admin',
            deprecated_rule=oslo_policy.DeprecatedRule(
                'doctor:old_name', 'rule:context_is_admin',
                deprecated_reason='renamed', deprecated_since='1.0'))
        self.useFixture(fixtures.MockPatchObject(
            policies, 'list_rules', autospec=True,
            return_value=policies.list_rules() + [renamed]))
        result = self._check('"doctor:old_name": "role:admin"\n')
        self.assertResult(Code.WARNING, result,
                          'doctor:old_name (now doctor:new_name)')

    def test_reference_to_an_undefined_rule_fails(self):
        result = self._check('"context_is_admin": "rule:cloud_admn"\n')
        self.assertResult(Code.FAILURE, result,
                          'cloud_admn (in context_is_admin)',
                          'defined nowhere')

    def test_cycle_fails(self):
        result = self._check('''\
            "context_is_admin": "rule:admin_or_owner"
        ''')
        self.assertResult(Code.FAILURE, result, 'cycle')

    def test_not_yaml(self):
        result = self._check('"context_is_admin": [role:admin\n')
        self.assertResult(Code.FAILURE, result, 'Cannot read the policy '
                                                'file', self.policy_path)

    def test_not_a_mapping_of_strings(self):
        result = self._check('- context_is_admin\n')
        self.assertResult(Code.FAILURE, result, 'must map rule names')

    def test_json_policy_file_fails_the_common_check(self):
        path = os.path.join(self.state_path, 'policy.json')
        with open(path, 'w') as f:
            json.dump({'context_is_admin': 'role:admin'}, f)
        result = self.checks('[oslo_policy]\npolicy_file = %s\n'
                             % path)._check_policy_json()
        self.assertResult(Code.FAILURE, result, 'JSON-formatted')

    def test_yaml_policy_file_passes_the_common_check(self):
        self._check('"context_is_admin": "role:admin"\n')
        result = self.checks('[oslo_policy]\npolicy_file = %s\n'
                             % self.policy_path)._check_policy_json()
        self.assertResult(Code.SUCCESS, result)


class TestAPIAuth(StatusTestCase):

    def test_noauth_needs_nothing(self):
        self.assertResult(Code.SUCCESS, self.checks()._check_api_auth())

    def test_keystone_with_service_credentials(self):
        checks = self.checks(
            '[api]\nauth_strategy = keystone\n[keystone_authtoken]\n'
            'www_authenticate_uri = http://127.0.0.1:5000/v3\n'
            + CREDENTIALS)
        self.assertResult(Code.SUCCESS, checks._check_api_auth())

    def test_keystone_without_auth_type_fails(self):
        checks = self.checks('[api]\nauth_strategy = keystone\n'
                             '[keystone_authtoken]\n'
                             'www_authenticate_uri = http://k:5000/v3\n')
        self.assertResult(Code.FAILURE, checks._check_api_auth(),
                          '[keystone_authtoken] auth_type is not set',
                          'auth_url')

    def test_keystone_without_auth_url_fails_naming_it(self):
        checks = self.checks(
            '[api]\nauth_strategy = keystone\n[keystone_authtoken]\n'
            'www_authenticate_uri = http://127.0.0.1:5000/v3\n'
            + CREDENTIALS.replace('auth_url', '# auth_url'))
        self.assertResult(Code.FAILURE, checks._check_api_auth(),
                          'auth_url', 'cannot authenticate doctor')

    def test_keystone_without_www_authenticate_uri_warns(self):
        checks = self.checks('[api]\nauth_strategy = keystone\n'
                             '[keystone_authtoken]\n' + CREDENTIALS)
        self.assertResult(Code.WARNING, checks._check_api_auth(),
                          'www_authenticate_uri is not set')

    def test_invalid_auth_strategy_is_a_failure_not_a_traceback(self):
        checks = self.checks('[api]\nauth_strategy = kerberos\n')
        self.assertResult(Code.FAILURE, checks._check_api_auth(),
                          'kerberos', 'doctor.conf')


class TestPlugins(StatusTestCase):

    def test_embedded_default(self):
        self.assertResult(Code.SUCCESS, self.checks()._check_plugins())

    def test_unknown_datasource_and_controller(self):
        checks = self.checks('[synchronizer]\ndatasources = static,novaa\n'
                             '[inspector]\ncontrollers = locall\n')
        self.assertResult(Code.FAILURE, checks._check_plugins(),
                          '[synchronizer] datasources: no datasource novaa',
                          '[inspector] controllers: no controller locall',
                          'there are:')

    def test_controllers_that_leave_an_action_to_nobody(self):
        checks = self.checks('[inspector]\ncontrollers = neutron\n')
        self.assertResult(Code.FAILURE, checks._check_plugins(),
                          'none of neutron acts on host')

    def test_missing_event_definitions(self):
        checks = self.checks('[evaluator]\nevent_definitions_file = '
                             '/nonexistent/events.yaml\n')
        self.assertResult(Code.FAILURE, checks._check_plugins(),
                          '/nonexistent/events.yaml')


class TestCredentials(StatusTestCase):

    def test_local_plugins_need_none(self):
        self.assertResult(Code.SUCCESS, self.checks()._check_credentials())

    def test_nova_and_neutron_with_credentials(self):
        checks = self.checks(
            '[synchronizer]\ndatasources = nova,neutron\n'
            '[inspector]\ncontrollers = nova,neutron\n'
            '[nova]\n' + CREDENTIALS + '[neutron]\n' + CREDENTIALS)
        self.assertResult(Code.SUCCESS, checks._check_credentials())

    def test_nova_without_credentials_names_where_it_is_used(self):
        checks = self.checks('[synchronizer]\ndatasources = static,nova\n'
                             '[inspector]\ncontrollers = nova,local\n')
        self.assertResult(Code.FAILURE, checks._check_credentials(),
                          '[synchronizer] datasources and [inspector] '
                          'controllers name nova',
                          '[nova] has no credentials')

    def test_neutron_with_incomplete_credentials(self):
        checks = self.checks(
            '[inspector]\ncontrollers = local,neutron\n[neutron]\n'
            + CREDENTIALS.replace('auth_url', '# auth_url'))
        result = checks._check_credentials()
        self.assertResult(Code.FAILURE, result,
                          '[inspector] controllers names neutron',
                          '[neutron] is incomplete', 'auth_url')
        self.assertNotIn('[nova]', result.details)


class TestEndpoints(StatusTestCase):
    """endpoint_override asked what it is, with auth_type none."""

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(ctl_api.FakeAPI())
        self.api.routes.update({
            '/': (300, {'versions': [{'id': 'v2.1', 'status': 'CURRENT'}]}),
            '/v2.1': (200, {'version': {'id': 'v2.1',
                                        'status': 'CURRENT'}}),
            '/v2.0/ports': (200, {'ports': []}),
        })

    def configured(self, group: str, endpoint: str) -> status.Checks:
        plugin = 'nova' if group == 'nova' else 'neutron'
        return self.checks(
            '[inspector]\ncontrollers = %s,local\n[%s]\nauth_type = '
            'none\nendpoint_override = %s\n'
            % (plugin, group, self.api.url + endpoint))

    def test_no_override_is_not_checked(self):
        self.assertResult(Code.SUCCESS, self.checks(
            '[inspector]\ncontrollers = nova,local\n[nova]\n'
            + CREDENTIALS)._check_endpoints())
        self.assertEqual([], self.api.calls)

    def test_versioned_nova_endpoint(self):
        self.assertResult(Code.SUCCESS,
                          self.configured('nova', '/v2.1')._check_endpoints())

    def test_nova_root_url_fails(self):
        result = self.configured('nova', '')._check_endpoints()
        self.assertResult(Code.FAILURE, result,
                          'is not the versioned compute API',
                          'http://controller:8774/v2.1', 'answered 300')

    def test_neutron_root_url(self):
        self.assertResult(Code.SUCCESS,
                          self.configured('neutron', '')._check_endpoints())

    def test_neutron_with_the_version_fails(self):
        result = self.configured('neutron', '/v2.0')._check_endpoints()
        self.assertResult(Code.FAILURE, result,
                          "is not the networking API's root",
                          'e.g. http://controller:9696')

    def test_unreachable_is_a_warning(self):
        result = self.checks(
            '[inspector]\ncontrollers = nova,local\n[nova]\nauth_type = '
            'none\nendpoint_override = http://127.0.0.1:9/v2.1\n'
        )._check_endpoints()
        self.assertResult(Code.WARNING, result, 'could not be checked')


class TestTransport(StatusTestCase):

    def test_embedded_bus(self):
        self.assertResult(Code.SUCCESS, self.checks()._check_transport())

    def test_rabbit(self):
        checks = self.checks('[DEFAULT]\ntransport_url = '
                             'rabbit://doctor:SECRET@127.0.0.1:5672/doctor\n')
        self.assertResult(Code.SUCCESS, checks._check_transport())

    def test_unknown_driver(self):
        checks = self.checks('[DEFAULT]\ntransport_url = rabit://h/\n')
        self.assertResult(Code.FAILURE, checks._check_transport(),
                          '[DEFAULT] transport_url', '"rabit"',
                          'not installed', 'rabbit')

    def test_malformed_notification_url(self):
        checks = self.checks('[oslo_messaging_notifications]\n'
                             'transport_url = rabbit://u:p@host:port/\n')
        self.assertResult(Code.FAILURE, checks._check_transport(),
                          '[oslo_messaging_notifications] transport_url '
                          'is not a transport URL')


class TestUpgradeLevels(StatusTestCase):

    def test_no_pins(self):
        self.assertResult(Code.SUCCESS,
                          self.checks()._check_upgrade_levels())

    def test_pins_of_known_versions(self):
        checks = self.checks('[upgrade_levels]\nevaluator = 1.0\n'
                             'notifier = 1.0\n')
        self.assertResult(Code.SUCCESS, checks._check_upgrade_levels())

    def test_pin_that_is_not_a_version(self):
        checks = self.checks('[upgrade_levels]\ninspector = newest\n')
        self.assertResult(Code.FAILURE, checks._check_upgrade_levels(),
                          '[upgrade_levels] inspector = newest',
                          'MAJOR.MINOR')

    def test_pin_newer_than_this_release(self):
        checks = self.checks('[upgrade_levels]\nevaluator = 1.9\n')
        self.assertResult(Code.WARNING, checks._check_upgrade_levels(),
                          'evaluator = 1.9', 'caps nothing')

    def test_the_ha_guest_services_are_checked_too(self):
        checks = self.checks('[upgrade_levels]\ncompute_agent = 1.0\n'
                             'guest_router = 9.0\n')
        self.assertResult(Code.WARNING, checks._check_upgrade_levels(),
                          'guest_router = 9.0', 'caps nothing')


class TestMain(StatusTestCase):
    """The command: its table, its JSON and its exit status."""

    def setUp(self):
        super().setUp()
        # main() reads the global configuration: give it a fresh one.
        self.useFixture(fixtures.MockPatchObject(doctor_conf, 'CONF',
                                                 cfg.ConfigOpts()))
        self.useFixture(fixtures.MockPatchObject(upgradecheck, 'CONF',
                                                 None))
        self.stdout = self.useFixture(fixtures.MockPatchObject(
            sys, 'stdout', io.StringIO())).mock
        self.stderr = self.useFixture(fixtures.MockPatchObject(
            sys, 'stderr', io.StringIO())).mock
        self.url = 'sqlite:///' + os.path.join(self.state_path,
                                               'doctor.sqlite')

    def _main(self, revision: str | None, *args: str,
              config: str = '') -> int:
        if revision is not None:
            engine = sa.create_engine(self.url, poolclass=sa_pool.NullPool)
            migration.upgrade(engine, revision)
            engine.dispose()
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n[database]\n'
                    'connection = %s\n' % (self.state_path, self.url))
            f.write(config)
        return status.main(['--config-file', self.config_file, 'upgrade',
                            'check'] + list(args))

    def _table(self) -> str:
        """The table's text, one line, without its borders."""
        return ' '.join(line.strip('|+- ')
                        for line in self.stdout.getvalue().splitlines())

    def test_all_passed(self):
        self.assertEqual(0, self._main('head'))
        table = self._table()
        for name, check in status.Checks._upgrade_checks:
            self.assertIn('Check: %s Result: Success Details: None' % name,
                          table)
        self.assertNotIn('Failure', table)
        self.assertNotIn('Warning', table)

    def test_schema_behind_fails(self):
        self.assertEqual(2, self._main('0003'))
        table = self._table()
        self.assertIn('Check: Database schema Result: Failure', table)
        self.assertIn('is at revision 0003, this release needs %s: run '
                      '"doctor-manage db sync".' % migration.head(), table)

    def test_warning_exits_1(self):
        self.assertEqual(1, self._main(
            'head', config='[upgrade_levels]\nevaluator = 7.0\n'))
        self.assertIn('Check: RPC version pins Result: Warning',
                      self._table())

    def test_json(self):
        self.assertEqual(2, self._main('0001', '--json'))
        output = json.loads(self.stdout.getvalue())
        results = {check['check']: check for check in output['checks']}
        self.assertEqual(Code.FAILURE, results['Database schema']['result'])
        self.assertIn('at revision 0001',
                      results['Database schema']['details'])
        self.assertEqual(Code.SUCCESS, results['Plugins']['result'])

    def test_missing_config_file_is_one_line(self):
        missing = os.path.join(self.state_path, 'missing.conf')
        self.assertEqual(2, status.main(['--config-file', missing,
                                         'upgrade', 'check']))
        error = self.stderr.getvalue()
        self.assertIn('doctor-status:', error)
        self.assertIn(missing, error)
        self.assertNotIn('Traceback', error)
        self.assertEqual(1, len(error.splitlines()))

    def test_bad_values_fail_their_checks_without_traceback(self):
        # oslo.upgradecheck prints a traceback and exits 255 when a check
        # raises: every check turns what it cannot use into a failure.
        self.url = UNREACHABLE
        self.assertEqual(2, self._main(
            None, config='[api]\nauth_strategy = x\n'
                         '[inspector]\ncontrollers = nova\n'
                         '[upgrade_levels]\nnotifier = x\n'
                         '[oslo_messaging_notifications]\n'
                         'transport_url = ://\n'))
        table = self._table()
        self.assertNotIn('Traceback', table)
        self.assertEqual(6, table.count('Result: Failure'), table)
        self.assertIn('Check: Notifier plugins Result: Success', table)


class TestNotifiers(StatusTestCase):

    def setUp(self):
        super().setUp()
        path = os.path.join(self.state_path, 'doctor.sqlite')
        self.url = 'sqlite:///' + path
        engine = sa.create_engine(self.url, poolclass=sa_pool.NullPool)
        migration.upgrade(engine, 'head')
        engine.dispose()

    def _store(self, *actions: list[str]) -> None:
        checks = self.checks('[database]\nconnection = %s\n' % self.url)
        db = db_api.get_connection(checks.conf)
        self.addCleanup(db.close)
        for alarm_actions in actions:
            factory.create_alarm(db, alarm_actions=alarm_actions)

    def _check(self, text: str = ''):
        return self.checks('[database]\nconnection = %s\n%s'
                           % (self.url, text))._check_notifiers()

    def test_actions_every_notifier_serves(self):
        self._store(['http://vnfm.example.com/alarm', 'log:'],
                    ['https://vnfm.example.com/alarm'])
        self.assertResult(Code.SUCCESS, self._check())

    def test_actions_no_notifier_serves_counted_by_scheme(self):
        self._store(['ftp://vnfm.example.com/alarm'],
                    ['ftp://other.example.com/', 'mailto:ops@example.com'],
                    ['http://vnfm.example.com/alarm'])
        result = self._check()
        self.assertResult(Code.WARNING, result, 'ftp (2), mailto (1)',
                          'no notifier delivers')
        self.assertNotIn('http (', result.details)

    def test_database_behind_is_left_to_the_database_check(self):
        engine = sa.create_engine(self.url, poolclass=sa_pool.NullPool)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "UPDATE alembic_version SET version_num = '0003'"))
        engine.dispose()
        self.assertResult(Code.SUCCESS, self._check())

    def test_missing_tls_files(self):
        missing = os.path.join(self.state_path, 'ca.pem')
        result = self._check('[notifier]\nssl_ca_file = %s\n' % missing)
        self.assertResult(Code.FAILURE, result,
                          '[notifier] ssl_ca_file = %s: no such file'
                          % missing)

    def test_plugin_that_fails_to_load(self):
        self.useFixture(fixtures.MockPatchObject(
            rest.RestAlarmNotifier, '__init__', autospec=True,
            side_effect=ValueError('no usable CA bundle')))
        result = self._check()
        self.assertResult(Code.FAILURE, result, 'http (no usable CA '
                                                'bundle)', 'https (')
