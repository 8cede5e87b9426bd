"""The plugin module the OpenStack client loads, and its entry points."""

import argparse
from importlib import metadata

import fixtures
from osc_lib import exceptions as osc_exceptions

from doctor.osc import plugin
from doctor.osc.v1 import client
from doctor.tests import base
from doctor.tests.unit.osc import fakes

COMMANDS = {
    'doctor_alarm_create', 'doctor_alarm_list', 'doctor_alarm_show',
    'doctor_alarm_set', 'doctor_alarm_delete', 'doctor_alarm_state_get',
    'doctor_alarm_state_set', 'doctor_alarm_history', 'doctor_host_list',
    'doctor_host_show', 'doctor_host_set', 'doctor_port_show',
    'doctor_port_set', 'doctor_event_create', 'doctor_entity_list',
    'doctor_entity_show', 'doctor_fault_list', 'doctor_fault_show',
    'doctor_fault_timeline', 'doctor_heartbeat_list',
    'doctor_heartbeat_show',
}


class FakeInstance:
    """What make_client uses of osc-lib's ClientManager."""

    def __init__(self, session, **config) -> None:
        self._api_version = {'doctor': '1'}
        self._config = config
        self.session = session
        self.interface = 'internal'
        self.region_name = 'RegionTwo'
        self.auth_set_up = False

    def get_configuration(self):
        return dict(self._config)

    def setup_auth(self):
        self.auth_set_up = True


class TestMakeClient(base.TestCase):

    def setUp(self):
        super().setUp()
        self.fake = self.useFixture(fakes.FakeDoctor())

    def make(self, **config) -> client.Client:
        instance = FakeInstance(self.fake.session, **config)
        made = plugin.make_client(instance)
        self.assertTrue(instance.auth_set_up)
        return made

    def root(self, made: client.Client) -> str:
        return made.http.root

    def test_session_interface_and_region_are_the_shells(self):
        made = self.make(auth_type='password')

        adapter = made.http._adapter
        self.assertIs(self.fake.session, adapter.session)
        self.assertEqual(('fault-management', 'internal', 'RegionTwo'),
                         (adapter.service_type, adapter.interface,
                          adapter.region_name))
        # No override: the endpoint is the auth plugin's (here none's).
        self.assertEqual(fakes.ROOT, self.root(made))

    def test_doctor_url_comes_first(self):
        made = self.make(auth_type='password',
                         doctor_url='http://first:1/v1',
                         fault_management_endpoint_override='http://then:2')

        self.assertEqual('http://first:1', self.root(made))

    def test_endpoint_override_of_the_cloud(self):
        made = self.make(auth_type='password',
                         fault_management_endpoint_override='http://then:2')

        self.assertEqual('http://then:2', self.root(made))

    def test_noauth_identity_becomes_headers(self):
        made = self.make(auth_type='none', doctor_project_id='p1',
                         doctor_user_id='u1', doctor_roles='admin,member')

        self.assertEqual({'X-Project-Id': 'p1', 'X-User-Id': 'u1',
                          'X-Roles': 'admin,member'},
                         made.http._adapter.additional_headers)

    def test_unknown_api_version_is_refused(self):
        instance = FakeInstance(self.fake.session, auth_type='none')
        instance._api_version['doctor'] = '2'

        e = self.assertRaises(osc_exceptions.CommandError,
                              plugin.make_client, instance)
        self.assertEqual('doctor API version 2 is not supported; '
                         'supported: 1', str(e))

    def test_noauth_identity_is_refused_with_a_token(self):
        instance = FakeInstance(self.fake.session, auth_type='password',
                                doctor_project_id='p1')

        e = self.assertRaises(osc_exceptions.CommandError,
                              plugin.make_client, instance)
        self.assertIn('--os-auth-type none', str(e))


class TestOptions(base.TestCase):

    def parse(self, *argv):
        return plugin.build_option_parser(
            argparse.ArgumentParser()).parse_args(list(argv))

    def test_defaults(self):
        for name in ('OS_DOCTOR_URL', 'OS_DOCTOR_API_VERSION',
                     'OS_DOCTOR_ROLES'):
            self.useFixture(fixtures.EnvironmentVariable(name))

        options = self.parse()

        self.assertEqual('1', options.os_doctor_api_version)
        self.assertIsNone(options.os_doctor_url)
        self.assertIsNone(options.os_doctor_roles)

    def test_environment(self):
        self.useFixture(fixtures.EnvironmentVariable('OS_DOCTOR_URL',
                                                     'http://d:1'))
        self.useFixture(fixtures.EnvironmentVariable('OS_DOCTOR_USER_ID',
                                                     'u1'))

        options = self.parse()

        self.assertEqual(('http://d:1', 'u1'),
                         (options.os_doctor_url, options.os_doctor_user_id))

    def test_options(self):
        options = self.parse('--os-doctor-url', 'http://d:2',
                             '--os-doctor-project-id', 'p1',
                             '--os-doctor-roles', 'admin')

        self.assertEqual(('http://d:2', 'p1', 'admin'),
                         (options.os_doctor_url,
                          options.os_doctor_project_id,
                          options.os_doctor_roles))


class TestEntryPoints(base.TestCase):

    def test_the_shell_finds_the_plugin(self):
        [entry_point] = [ep for ep in metadata.entry_points(
            group='openstack.cli.extension') if ep.name == 'doctor']

        module = entry_point.load()

        self.assertIs(plugin, module)
        self.assertEqual('doctor', module.API_NAME)
        self.assertEqual('os_doctor_api_version', module.API_VERSION_OPTION)
        self.assertIn(module.DEFAULT_API_VERSION, module.API_VERSIONS)

    def test_every_command_loads(self):
        entry_points = metadata.entry_points(group='openstack.doctor.v1')

        self.assertEqual(COMMANDS, {ep.name for ep in entry_points})
        for entry_point in entry_points:
            command_class = entry_point.load()
            self.assertTrue(callable(command_class.take_action),
                            entry_point.name)
            self.assertTrue(command_class.__doc__, entry_point.name)
