"""``openstack doctor …``: the real OpenStack client against the real API.

The ``openstack`` command of the test's environment runs as a user runs
it, in a process of its own, with nothing but ``OS_*`` variables: it logs
in to a real Keystone (see :mod:`doctor.tests.functional.keystone`) with a
user's password, finds doctor's API in the catalog under the service type
``fault-management``, and calls it with the token. Behind the API, which
validates tokens with keystonemiddleware, run the synchronizer (the
``static`` datasource on a small inventory) and the inspector (the
``local`` controller), so that every command has the real service behind
it. Outputs are read as the JSON, YAML or values the commands print.

A last test class runs the client against the API in its ``noauth`` mode,
with ``--os-auth-type none``: it needs no Keystone.
"""

import json
import os
import subprocess
import sys
import threading
import uuid

import fixtures
import yaml

from doctor.api import service as api_service
from doctor.inspector import service as inspector_service
from doctor.osc import plugin
from doctor.synchronizer import service as synchronizer_service
from doctor.tests.functional import base
from doctor.tests.functional import keystone

TENANT = 'tenant-a'
# Bound of one command, in seconds: the client's start is most of it.
COMMAND_TIMEOUT = 60
# Bound of one test, which runs a command after another.
TEST_TIMEOUT = 300
HOSTS = ('compute-0', 'compute-1')
PER_HOST = 2
ACTION = 'http://127.0.0.1:9/alarm'


def instance_id(host: int, number: int) -> str:
    return 'c0c0c0c0-0000-4000-8000-%012d' % (host * 100 + number)


def port_id(host: int, number: int) -> str:
    return 'c0c0c0c0-0000-4000-8000-%012d' % (5000 + host * 100 + number)


def inventory(project_id: str) -> str:
    """The static inventory: :data:`HOSTS`, each with instances of
    ``project_id`` and a port each.
    """
    lines = ['hosts:']
    for host, name in enumerate(HOSTS):
        lines += ['  - name: %s' % name, '    instances:']
        for number in range(PER_HOST):
            lines += [
                '      - id: %s' % instance_id(host, number),
                '        name: vnf-%d-%d' % (host, number),
                '        project_id: %s' % project_id,
                '        state: active',
                '        ports:',
                '          - id: %s' % port_id(host, number),
            ]
    return '\n'.join(lines) + '\n'


def openstack_command() -> str:
    """The ``openstack`` command beside the tests' Python."""
    return os.path.join(os.path.dirname(sys.executable), 'openstack')


class CLITestCase(base.FunctionalTestCase):
    """Runs the ``openstack`` command; starts doctor's services."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(TEST_TIMEOUT, gentle=True))
        self.openstack = openstack_command()
        if not os.access(self.openstack, os.X_OK):
            self.fail('%s is missing: python-openstackclient (in '
                      'test-requirements.txt) provides it' % self.openstack)
        # A home of its own: no clouds.yaml or cache of the user's.
        self.home = os.path.join(self.state_path, 'home')
        os.mkdir(self.home)
        self.clouds = os.path.join(self.home, 'clouds.yaml')
        with open(self.clouds, 'w') as stream:
            stream.write('clouds: {}\n')
        self._services: list = []
        self.addCleanup(self._stop_services)

    def start_services(self, project_id: str, auth_strategy: str) -> str:
        """Synchronizer, inspector and API on the inventory; the API's root
        URL, once the inspector knows every instance.
        """
        path = os.path.join(self.state_path, 'inventory.yaml')
        with open(path, 'w') as stream:
            stream.write(inventory(project_id))
        self.config.config(inventory=path, snapshot_interval=0.1,
                           group='static')
        self.config.config(datasources=['static'], group='synchronizer')
        self.config.config(controllers=['local'], group='inspector')
        self.config.config(host=base.HOST, port=0,
                           auth_strategy=auth_strategy, group='api')
        inspector = inspector_service.InspectorService(self.conf)
        for service in (synchronizer_service.SynchronizerService(self.conf),
                        inspector, api_service.APIService(self.conf)):
            self._services.append(service)
            service.start()
        self.wait_for(lambda: inspector.cache.counts()['instances']
                      == len(HOSTS) * PER_HOST,
                      message='the inspector to know the inventory')
        return 'http://%s:%d' % (base.HOST, self._services[-1].port)

    def _stop_services(self) -> None:
        stoppers = [threading.Thread(target=service.stop)
                    for service in reversed(self._services)]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(30)

    def environment(self) -> dict[str, str]:
        """The client's environment without any OS_* variable."""
        env = {name: value for name, value in os.environ.items()
               if not name.startswith('OS_')}
        env.update(HOME=self.home, XDG_CONFIG_HOME=self.home,
                   OS_CLIENT_CONFIG_FILE=self.clouds)
        return env

    def run_cli(self, env: dict[str, str], *argv: str,
                expected: int = 0) -> subprocess.CompletedProcess:
        """``openstack argv``; its exit status must be ``expected``."""
        done = subprocess.run([self.openstack, *argv], env=env,
                              capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT)
        self.assertEqual(expected, done.returncode,
                         'openstack %s\nstdout: %s\nstderr: %s'
                         % (' '.join(argv), done.stdout, done.stderr))
        # Whatever the outcome, no traceback reaches the user.
        self.assertNotIn('Traceback', done.stderr)
        return done

    def assert_refused(self, done: subprocess.CompletedProcess,
                       *fragments: str) -> None:
        """A command that failed says why, in one message."""
        self.assertEqual('', done.stdout)
        for fragment in fragments:
            self.assertIn(fragment, done.stderr)


class KeystoneCLITest(CLITestCase):
    """Every command, with Keystone's tokens and catalog."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Started here, outside the tests' time limit: the first run on a
        # machine installs Keystone. A failure is remembered and reported
        # by each test's setUp.
        try:
            keystone.shared()
        except Exception:
            pass

    def setUp(self):
        super().setUp()
        self.keystone = keystone.require(self)
        self.admin = self.keystone.admin
        self.member = self.keystone.members[TENANT]
        # The member's ids are known once one of its tokens was issued.
        self.keystone.token(self.member)
        self.use_database('sqlite')
        keystone.configure_authtoken(self, self.keystone)
        root = self.start_services(self.member.project_id, 'keystone')
        service = self.keystone.register_service(
            plugin.SERVICE_TYPE, 'doctor-%s' % uuid.uuid4().hex[:8], root)
        self.addCleanup(self.keystone.forget, services=[service])

    def cli(self, user: keystone.User, *argv: str,
            expected: int = 0) -> subprocess.CompletedProcess:
        """``openstack argv`` as ``user``, logged in by password."""
        env = self.environment()
        env.update(
            OS_AUTH_TYPE='password',
            OS_AUTH_URL=self.keystone.url,
            OS_IDENTITY_API_VERSION='3',
            OS_USERNAME=user.name,
            OS_PASSWORD=user.password,
            OS_PROJECT_NAME=user.project,
            OS_USER_DOMAIN_NAME=keystone.DOMAIN,
            OS_PROJECT_DOMAIN_NAME=keystone.DOMAIN,
            OS_REGION_NAME=keystone.REGION,
            OS_INTERFACE='public')
        return self.run_cli(env, *argv, expected=expected)

    def json(self, user: keystone.User, *argv: str):
        return json.loads(self.cli(user, *argv, '-f', 'json').stdout)

    def value(self, user: keystone.User, *argv: str) -> str:
        return self.cli(user, *argv, '-f', 'value').stdout.strip()

    def test_alarm_commands(self):
        resource = instance_id(0, 0)
        created = self.json(
            self.member, 'doctor', 'alarm', 'create', '--name', 'vm-error',
            '--resource-id', resource,
            '--event-type', 'compute.instance.update',
            '--query', 'traits.state eq error', '--alarm-action', ACTION,
            '--severity', 'critical', '--description', 'vnf-0-0 failed')
        alarm_id = created['alarm_id']
        self.assertEqual(
            ('vm-error', 'notification', 'critical', True, resource,
             'compute.instance.update', 'insufficient data',
             self.member.project_id, self.member.user_id, [ACTION]),
            (created['name'], created['type'], created['severity'],
             created['enabled'], created['resource_id'],
             created['event_type'], created['state'],
             created['project_id'], created['user_id'],
             created['alarm_actions']))
        self.assertEqual([{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}],
                         created['query'])

        listed = self.json(self.member, 'doctor', 'alarm', 'list')
        self.assertEqual([(alarm_id, 'vm-error', 'insufficient data')],
                         [(a['Alarm ID'], a['Name'], a['State'])
                          for a in listed])
        shown = yaml.safe_load(self.cli(
            self.member, 'doctor', 'alarm', 'show', 'vm-error',
            '-f', 'yaml').stdout)
        self.assertEqual(created, shown)
        self.assertEqual('vnf-0-0 failed', self.value(
            self.member, 'doctor', 'alarm', 'show', alarm_id,
            '-c', 'description'))

        changed = self.json(
            self.member, 'doctor', 'alarm', 'set', alarm_id,
            '--severity', 'low', '--ok-action', ACTION + '/ok',
            '--no-query', '--disable')
        self.assertEqual(('low', [ACTION + '/ok'], [], False, [ACTION]),
                         (changed['severity'], changed['ok_actions'],
                          changed['query'], changed['enabled'],
                          changed['alarm_actions']))

        self.assertEqual('ok', self.value(
            self.member, 'doctor', 'alarm', 'state', 'set', alarm_id,
            '--state', 'ok', '-c', 'state'))
        self.assertEqual({'alarm_id': alarm_id, 'state': 'ok'}, self.json(
            self.member, 'doctor', 'alarm', 'state', 'get', 'vm-error'))

        history = self.json(self.member, 'doctor', 'alarm', 'history',
                            alarm_id)
        self.assertEqual(['state transition', 'rule change', 'creation'],
                         [entry['Type'] for entry in history])
        self.assertEqual({'state': 'ok', 'previous': 'insufficient data'},
                         {key: history[0]['Detail'][key]
                          for key in ('state', 'previous')})

        # The API's refusals, as the API words them.
        self.assert_refused(
            self.cli(self.member, 'doctor', 'alarm', 'create', '--name', 'x',
                     '--resource-id', resource, '--event-type', 'a.b',
                     '--alarm-action', 'log://', expected=1),
            '403 Forbidden', 'only an administrator may use the log')
        self.assert_refused(
            self.cli(self.member, 'doctor', 'alarm', 'create', '--name', 'x',
                     '--event-type', 'a.b', expected=1),
            "400 Bad Request: Invalid value for 'resource_id'")
        # Another project's alarm does not exist for this one.
        self.assert_refused(
            self.cli(self.keystone.members['tenant-b'], 'doctor', 'alarm',
                     'show', alarm_id, expected=1),
            '404 Not Found', alarm_id)

        self.cli(self.member, 'doctor', 'alarm', 'delete', 'vm-error')
        self.assertEqual([], self.json(self.member, 'doctor', 'alarm',
                                       'list'))
        self.assert_refused(
            self.cli(self.member, 'doctor', 'alarm', 'show', alarm_id,
                     expected=1), '404 Not Found')
        history = self.json(self.member, 'doctor', 'alarm', 'history',
                            alarm_id)
        self.assertEqual('deletion', history[0]['Type'])

    def test_host_port_event_entity_and_fault_commands(self):
        # Hosts are for administrators.
        self.assert_refused(
            self.cli(self.member, 'doctor', 'host', 'list', expected=1),
            '403 Forbidden', 'only administrators may see and report hosts')

        entities = self.json(self.admin, 'doctor', 'entity', 'list',
                             '--type', 'host')
        self.assertEqual(['host:compute-0', 'host:compute-1'],
                         [entity['Key'] for entity in entities])
        entity = self.json(self.admin, 'doctor', 'entity', 'show',
                           'instance:' + instance_id(0, 0))
        self.assertEqual(
            (['host:compute-0'], ['port:' + port_id(0, 0)], 'static'),
            (entity['parents'], entity['children'], entity['datasource']))

        hosts = self.json(self.admin, 'doctor', 'host', 'list')
        self.assertEqual([('compute-0', 'up'), ('compute-1', 'up')],
                         [(h['Name'], h['State']) for h in hosts])
        host = self.json(self.admin, 'doctor', 'host', 'show', 'compute-0')
        self.assertEqual([instance_id(0, n) for n in range(PER_HOST)],
                         sorted(i['id'] for i in host['instances']))

        port = port_id(0, 1)
        shown = self.json(self.admin, 'doctor', 'port', 'show', port)
        self.assertEqual(('compute-0', instance_id(0, 1), False),
                         (shown['host'], shown['device_id'],
                          shown['dp_down']))
        down = self.json(self.admin, 'doctor', 'port', 'set', port,
                         '--dp-down')
        self.assertEqual((True, 'DOWN'),
                         (down['dp_down'], down['data_plane_status']))
        self.assertEqual('ACTIVE', self.value(
            self.admin, 'doctor', 'port', 'set', port, '--no-dp-down',
            '-c', 'data_plane_status'))

        reported = self.json(self.admin, 'doctor', 'host', 'set',
                             'compute-0', '--down')
        fault_id = reported['fault_id']
        self.assertEqual(('down', True),
                         (reported['state'], reported['host_down_reported']))
        fault = self.json(self.admin, 'doctor', 'fault', 'show', fault_id)
        self.assertEqual(('compute-0', 'open', 'api'),
                         (fault['host'], fault['status'],
                          fault['reports'][0]['monitor']))
        self.assertEqual(
            {instance_id(0, n) for n in range(PER_HOST)},
            {item['id'] for item in fault['affected']
             if item['type'] == 'instance'})

        [event] = self.json(self.admin, 'doctor', 'event', 'create',
                            '--hostname', 'compute-1', '--monitor',
                            'osc-test', '--monitor-event-id', 'e-1')
        self.assertEqual(('compute-1', 'down'),
                         (event['Hostname'], event['Status']))
        fault = self.json(self.admin, 'doctor', 'fault', 'show',
                          event['Fault ID'])
        self.assertEqual(('compute-1', 'osc-test', 'e-1', event['Event ID']),
                         (fault['host'], fault['reports'][0]['monitor'],
                          fault['reports'][0]['monitor_event_id'],
                          fault['reports'][0]['id']))

        recovered = self.json(self.admin, 'doctor', 'host', 'set',
                              'compute-0', '--up')
        self.assertEqual(('up', None),
                         (recovered['state'], recovered['fault_id']))
        closed = self.json(self.admin, 'doctor', 'fault', 'list',
                           '--status', 'closed')
        self.assertEqual([fault_id], [f['ID'] for f in closed])
        open_faults = self.json(self.admin, 'doctor', 'fault', 'list',
                                '--host', 'compute-1')
        self.assertEqual([(event['Fault ID'], 'open')],
                         [(f['ID'], f['Status']) for f in open_faults])

        self.assert_refused(
            self.cli(self.admin, 'doctor', 'host', 'show', 'compute-9',
                     expected=1), '404 Not Found', 'compute-9')
        self.assert_refused(
            self.cli(self.admin, 'doctor', 'event', 'create', '--hostname',
                     'compute-0', '--time', 'yesterday', expected=1),
            '400 Bad Request', "'[0].time'")


class NoAuthCLITest(CLITestCase):
    """The client against the API in ``noauth`` mode, without Keystone."""

    PROJECT = 'd0c70000-0000-4000-8000-0000000000aa'

    def setUp(self):
        super().setUp()
        self.use_database('sqlite')
        self.root = self.start_services(self.PROJECT, 'noauth')

    def test_identity_from_options_and_environment(self):
        env = self.environment()
        env.update(OS_AUTH_TYPE='none', OS_ENDPOINT=self.root,
                   OS_DOCTOR_PROJECT_ID=self.PROJECT,
                   OS_DOCTOR_USER_ID='vnfm', OS_DOCTOR_ROLES='member')

        created = json.loads(self.run_cli(
            env, 'doctor', 'alarm', 'create', '--name', 'a',
            '--resource-id', instance_id(1, 1), '--event-type', 'a.b',
            '-f', 'json').stdout)
        self.assertEqual((self.PROJECT, 'vnfm'),
                         (created['project_id'], created['user_id']))
        self.assert_refused(
            self.run_cli(env, 'doctor', 'host', 'list', expected=1),
            '403 Forbidden')

        # --os-doctor-url wins over the endpoint; options over the
        # environment.
        env['OS_ENDPOINT'] = 'http://127.0.0.1:9'
        hosts = json.loads(self.run_cli(
            env, '--os-doctor-url', self.root + '/v1',
            '--os-doctor-roles', 'admin', 'doctor', 'host', 'list',
            '-f', 'json').stdout)
        self.assertEqual(['compute-0', 'compute-1'],
                         [host['Name'] for host in hosts])

    def test_unreachable_api(self):
        env = self.environment()
        env.update(OS_AUTH_TYPE='none', OS_ENDPOINT='http://127.0.0.1:9')

        self.assert_refused(
            self.run_cli(env, 'doctor', 'fault', 'list', expected=1),
            "Cannot reach doctor's API at http://127.0.0.1:9")
