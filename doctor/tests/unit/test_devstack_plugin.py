"""The DevStack plugin (devstack/plugin.sh and devstack/settings).

Each test runs the plugin's phases in bash, as stack.sh, unstack.sh and
clean.sh would, against stand-ins of DevStack's functions
(devstack_stub/functions.sh): they record their calls and write real INI
files, so that the tests read the doctor.conf, nova.conf and neutron.conf
the plugin leaves behind and the commands it ran. The inputs are what
DevStack gives a plugin, and what stack.sh does between the phases is
done here too; tools/devstack-check.sh runs the same phases against a
checkout of DevStack itself.
"""

import configparser
import os
import shlex
import socket
import subprocess

import fixtures
from oslo_config import cfg
import testtools

from doctor.conf import opts as doctor_opts
from doctor.tests import base

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__),
                                    os.pardir, os.pardir, os.pardir))
PLUGIN_DIR = os.path.join(REPO, 'devstack')
STUB = os.path.join(os.path.dirname(__file__), 'devstack_stub',
                    'functions.sh')

SERVICE_HOST = '192.0.2.10'
BUS = 'rabbit://stackrabbit:secret@%s:5672/' % SERVICE_HOST
# DevStack's NEUTRON_CORE_PLUGIN_CONF, relative to the file system's root.
ML2_CONF = 'etc/neutron/plugins/ml2/ml2_conf.ini'
# What a devstack with Keystone, Nova and Neutron enables, besides doctor.
OPENSTACK = ('key,mysql,rabbit,n-api,n-cond,n-sch,n-cpu,placement-api,'
             'q-svc,q-agt,q-dhcp')
DOCTOR_DEFAULT = ('doctor-sync', 'doctor-inspector', 'doctor-eval',
                  'doctor-notifier', 'doctor-api')
# stack.sh: the phases, and what it does itself between them.
STACK: tuple[tuple[str, ...] | str, ...] = (
    ('stack', 'install'),
    # Nova's Neutron settings are written in the background from here on.
    'if is_service_enabled nova; then\n'
    '    async_runfunc configure_neutron_nova\n'
    'fi',
    ('stack', 'post-config'),
    'async_wait configure_neutron_nova',
    # nova-cpu.conf is made from nova.conf when nova-compute starts.
    'if is_service_enabled n-cpu; then\n'
    '    start_nova_compute\n'
    'fi',
    ('stack', 'extra'),
    ('stack', 'test-config'),
)


def _read_ini(path: str) -> configparser.ConfigParser:
    # No section is special: [DEFAULT] is read as any other.
    parser = configparser.ConfigParser(interpolation=None,
                                       default_section='\0')
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    with open(path) as f:
        parser.read_file(f)
    return parser


def _is_known(conf: cfg.ConfigOpts, section: str, option: str) -> bool:
    """Whether doctor's services read ``option`` of ``section``.

    ``conf`` holds what the services register when they start; the
    options of the keystoneauth plugin in [nova], [neutron] and [monitor]
    are registered only once the plugin is loaded, and come from the
    sample config's list instead.
    """
    if section == 'DEFAULT':
        return option in conf
    if section in conf and option in conf[section]:
        return True
    return any(getattr(group, 'name', group) == section
               and option in {opt.dest for opt in opts}
               for group, opts in doctor_opts.list_opts())


class TestDevstackPlugin(testtools.TestCase):
    """The phases of the plugin in a DevStack with Nova and Neutron."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.log = os.path.join(self.tmp, 'calls.log')
        self.bin = os.path.join(self.tmp, 'bin')
        os.mkdir(self.bin)
        # doctor-manage is run by path: a stand-in records its arguments.
        manage = os.path.join(self.bin, 'doctor-manage')
        with open(manage, 'w') as f:
            f.write('#!/bin/sh\n'
                    '{ printf "doctor-manage"; printf "\\t%s" "$@"; echo; }'
                    ' >> "$STUB_LOG"\n')
        os.chmod(manage, 0o755)

        nova_dir = os.path.join(self.tmp, 'etc', 'nova')
        neutron_dir = os.path.join(self.tmp, 'etc', 'neutron')
        os.makedirs(nova_dir)
        os.makedirs(os.path.join(neutron_dir, 'plugins', 'ml2'))
        self.nova_conf = os.path.join(nova_dir, 'nova.conf')
        self.nova_cpu_conf = os.path.join(nova_dir, 'nova-cpu.conf')
        self.nova_cell_conf = os.path.join(nova_dir, 'nova_cell1.conf')
        self.neutron_conf = os.path.join(neutron_dir, 'neutron.conf')
        self.ml2_conf = os.path.join(neutron_dir, 'plugins', 'ml2',
                                     'ml2_conf.ini')
        self.conf_dir = os.path.join(self.tmp, 'etc', 'doctor')
        self.doctor_conf = os.path.join(self.conf_dir, 'doctor.conf')
        self.tempest_conf = os.path.join(self.tmp, 'tempest.conf')
        # stack.sh's working directory: its checkout.
        self.devstack = os.path.join(self.tmp, 'devstack')
        os.mkdir(self.devstack)
        # As lib/nova leaves them before post-config: nova.conf names the
        # notification bus; a cell conductor's file (superconductor, the
        # default) has its cell's virtual host as its only transport.
        self._write(self.nova_conf,
                    '[DEFAULT]\ndebug = True\ntransport_url = %s\n'
                    '[oslo_messaging_notifications]\n'
                    'driver = messagingv2\ntransport_url = %s\n'
                    '[notifications]\nnotification_format = unversioned\n'
                    % (BUS, BUS))
        self._write(self.nova_cell_conf,
                    '[database]\nconnection = mysql+pymysql://root:secret@'
                    '%s/nova_cell1?charset=utf8\n'
                    '[DEFAULT]\ndebug = True\ntransport_url = %snova_cell1\n'
                    % (SERVICE_HOST, BUS))
        self._write(self.neutron_conf,
                    '[oslo_messaging_notifications]\n'
                    'topics = notifications_designate\n')
        self._write(self.ml2_conf,
                    '[ml2]\nextension_drivers = port_security\n')

        self.env = {
            'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
            'STUB_LOG': self.log,
            'STUB_BIN_DIR': self.bin,
            'DEST': os.path.join(self.tmp, 'opt'),
            'DATA_DIR': os.path.join(self.tmp, 'data'),
            'DOCTOR_DIR': REPO,
            'DOCTOR_CONF_DIR': self.conf_dir,
            'STACK_USER': str(os.getuid()),
            'HOST_IP': SERVICE_HOST,
            'SERVICE_HOST': SERVICE_HOST,
            'SERVICE_PROTOCOL': 'http',
            'SERVICE_LISTEN_ADDRESS': '0.0.0.0',
            'SERVICE_PASSWORD': 'service-secret',
            'SERVICE_PROJECT_NAME': 'service',
            'SERVICE_DOMAIN_NAME': 'Default',
            'SERVICE_TIMEOUT': '60',
            'REGION_NAME': 'RegionOne',
            'KEYSTONE_SERVICE_URI': 'http://%s/identity' % SERVICE_HOST,
            'ENABLE_DEBUG_LOG_LEVEL': 'True',
            'SSL_BUNDLE_FILE': '/opt/stack/data/ca-bundle.pem',
            'NOVA_CONF_DIR': nova_dir,
            'NOVA_CONF': self.nova_conf,
            'NOVA_CPU_CONF': self.nova_cpu_conf,
            'NEUTRON_CONF_DIR': neutron_dir,
            'NEUTRON_CONF': self.neutron_conf,
            'NEUTRON_CORE_PLUGIN_CONF': ML2_CONF,
            'STUB_ASYNC_DIR': self.useFixture(fixtures.TempDir()).path,
            'TEMPEST_CONFIG': self.tempest_conf,
            'ENABLED_SERVICES': OPENSTACK,
        }

    @staticmethod
    def _write(path: str, text: str) -> None:
        with open(path, 'w') as f:
            f.write(text)

    def _run(self, *calls: tuple[str, ...] | str, before: str = '',
             check: bool = True) -> subprocess.CompletedProcess:
        """Source the stub and the settings, then plugin.sh once per call.

        ``before`` runs ahead of the settings, where local.conf's lines
        would (``disable_service``, variables). A call that is a string
        is a shell command of stack.sh's own, run as it is.
        """
        lines = ['set -o errexit', 'source %s' % shlex.quote(STUB), before,
                 'source %s' % shlex.quote(os.path.join(PLUGIN_DIR,
                                                        'settings'))]
        for args in calls:
            if isinstance(args, str):
                lines.append(args)
                continue
            lines.append('source %s %s' % (
                shlex.quote(os.path.join(PLUGIN_DIR, 'plugin.sh')),
                ' '.join(args)))
        result = subprocess.run(['bash', '-c', '\n'.join(lines)],
                                env=self.env, capture_output=True,
                                text=True, timeout=60, cwd=self.devstack)
        if check:
            self.assertEqual(0, result.returncode,
                             'plugin failed:\n%s' % result.stderr[-3000:])
        return result

    def _stack(self, before: str = '', check: bool = True
               ) -> subprocess.CompletedProcess:
        return self._run(*STACK, before=before, check=check)

    def _calls(self, name: str | None = None) -> list[list[str]]:
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            calls = [line.rstrip('\n').split('\t') for line in f]
        if name is None:
            return calls
        return [call[1:] for call in calls if call[0] == name]

    def _started(self) -> dict[str, str]:
        return {name: command
                for name, command in self._calls('run_process')}

    def test_shell_syntax(self):
        for path in (os.path.join(PLUGIN_DIR, 'plugin.sh'),
                     os.path.join(PLUGIN_DIR, 'settings'), STUB):
            result = subprocess.run(['bash', '-n', path],
                                    capture_output=True, text=True)
            self.assertEqual(0, result.returncode,
                             '%s: %s' % (path, result.stderr))

    def test_install(self):
        self._run(('stack', 'install'))
        self.assertEqual([[]], self._calls('install_database_python'))
        self.assertEqual([[REPO]], self._calls('setup_develop'))
        self.assertEqual([], self._calls('pip_install'))

    def test_doctor_conf(self):
        self._stack()
        conf = _read_ini(self.doctor_conf)
        self.assertEqual(BUS, conf['DEFAULT']['transport_url'])
        self.assertEqual(BUS, conf['oslo_messaging_notifications'][
            'transport_url'])
        self.assertEqual(os.path.join(self.tmp, 'data', 'doctor'),
                         conf['DEFAULT']['state_path'])
        # Without DevStack's query counter (plugin=dbcounter).
        self.assertEqual('mysql+pymysql://root:secret@%s/doctor'
                         '?charset=utf8' % SERVICE_HOST,
                         conf['database']['connection'])
        self.assertEqual({'host': '0.0.0.0', 'port': '12345',
                          'auth_strategy': 'keystone'}, dict(conf['api']))
        self.assertEqual([[self.doctor_conf, 'doctor']], self._calls(
            'configure_keystone_authtoken_middleware'))
        self.assertEqual('nova,neutron',
                         conf['inspector']['controllers'])
        self.assertEqual('nova,neutron',
                         conf['synchronizer']['datasources'])
        self.assertEqual('notifications,versioned_notifications',
                         conf['evaluator']['notification_topics'])
        self.assertEqual('False', conf['evaluator']['inline_notifier'])
        credentials = {
            'auth_type': 'password',
            'auth_url': 'http://%s/identity' % SERVICE_HOST,
            'username': 'doctor', 'password': 'service-secret',
            'user_domain_name': 'Default', 'project_name': 'service',
            'project_domain_name': 'Default', 'region_name': 'RegionOne'}
        self.assertEqual(
            dict(credentials, notification_topics='notifications,'
                                                  'versioned_notifications'),
            dict(conf['nova']))
        self.assertEqual(dict(credentials,
                              notification_topics='notifications'),
                         dict(conf['neutron']))
        self.assertNotIn('coordination', conf)
        self.assertNotIn('monitor', conf)
        self.assertTrue(os.path.isfile(
            os.path.join(self.conf_dir, 'event_definitions.yaml')))

    def test_doctor_conf_has_only_options_doctor_reads(self):
        self.env['ENABLED_SERVICES'] += (',etcd3,doctor-monitor,tls-proxy,'
                                         'doctor-compute-agent')
        self._stack()
        registered = base.new_conf()
        conf = _read_ini(self.doctor_conf)
        for section in conf.sections():
            if section == 'keystone_authtoken':
                # keystonemiddleware's, written by DevStack itself.
                continue
            for option in conf[section]:
                self.assertTrue(_is_known(registered, section, option),
                                'doctor reads no [%s] %s'
                                % (section, option))

    def test_keystone_accounts(self):
        self._stack()
        self.assertEqual([['doctor', 'admin']],
                         self._calls('create_service_user'))
        self.assertEqual([['doctor', 'fault-management', 'Fault management']],
                         self._calls('get_or_create_service'))
        self.assertEqual([['fault-management', 'RegionOne',
                           'http://%s:12345' % SERVICE_HOST]],
                         self._calls('get_or_create_endpoint'))

    def test_database_created_then_synced(self):
        self._stack()
        calls = [call for call in self._calls()
                 if call[0] in ('recreate_database', 'doctor-manage')]
        self.assertEqual(
            [['recreate_database', 'doctor'],
             ['doctor-manage', '--config-file', self.doctor_conf, 'db',
              'sync']], calls)

    def test_nova_notifications(self):
        with open(self.nova_cell_conf, 'a') as f:
            f.write('[oslo_messaging_notifications]\n'
                    'topics = notifications,custom\n')
        self._stack()
        # nova-cpu.conf did not exist at post-config: it has what the
        # plugin set in nova.conf.
        self.assertEqual([[]], self._calls('start_nova_compute'))
        for path in (self.nova_conf, self.nova_cpu_conf,
                     self.nova_cell_conf):
            conf = _read_ini(path)
            self.assertEqual('messagingv2',
                             conf['oslo_messaging_notifications']['driver'],
                             path)
            self.assertEqual(BUS, conf['oslo_messaging_notifications'][
                'transport_url'], path)
            self.assertEqual({'notification_format': 'both',
                              'versioned_notifications_topics':
                                  'versioned_notifications',
                              'notify_on_state_change':
                                  'vm_and_task_state'},
                             dict(conf['notifications']), path)
        self.assertEqual(
            'notifications',
            _read_ini(self.nova_conf)['oslo_messaging_notifications'][
                'topics'])
        # Topics other consumers set stay.
        self.assertEqual(
            'notifications,custom',
            _read_ini(self.nova_cell_conf)['oslo_messaging_notifications'][
                'topics'])

    def test_cell_conductor_notifies_on_doctor_bus(self):
        # A cell conductor runs with its own file alone, whose transport
        # is its cell's virtual host: notifications would go there
        # unless the file names the notification bus.
        self._stack()
        cell = _read_ini(self.nova_cell_conf)
        self.assertEqual(BUS + 'nova_cell1',
                         cell['DEFAULT']['transport_url'])
        doctor = _read_ini(self.doctor_conf)
        self.assertEqual(
            doctor['oslo_messaging_notifications']['transport_url'],
            cell['oslo_messaging_notifications']['transport_url'])
        self.assertEqual('vm_and_task_state',
                         cell['notifications']['notify_on_state_change'])

    def test_nova_background_job_ends_before_nova_files_change(self):
        self._stack()
        # The job was collected inside post-config, before the plugin
        # wrote Nova's files, and every setting of both is there.
        self.assertEqual([], self._calls('race'))
        waits = [call for call in self._calls()
                 if call[0] in ('async_wait', 'create_service_user')]
        self.assertEqual(['create_service_user', 'async_wait'],
                         [call[0] for call in waits[:2]])
        for path in (self.nova_conf, self.nova_cell_conf):
            conf = _read_ini(path)
            self.assertEqual('password', conf['neutron']['auth_type'], path)
            self.assertEqual('True', conf['DEFAULT']['vif_plugging_is_fatal'],
                             path)
            self.assertEqual('both',
                             conf['notifications']['notification_format'],
                             path)

    def test_nova_without_background_job(self):
        # DEVSTACK_PARALLEL=False, or an older DevStack: nothing to wait
        # for.
        self._run(('stack', 'install'), ('stack', 'post-config'))
        self.assertEqual('both', _read_ini(self.nova_conf)['notifications'][
            'notification_format'])

    def test_other_notification_topic(self):
        self.env['DOCTOR_NOTIFICATION_TOPIC'] = 'doctor_notifications'
        self._stack()
        # Nova's default topic is kept for other consumers.
        self.assertEqual(
            'notifications,doctor_notifications',
            _read_ini(self.nova_conf)['oslo_messaging_notifications'][
                'topics'])
        conf = _read_ini(self.doctor_conf)
        self.assertEqual('doctor_notifications,versioned_notifications',
                         conf['evaluator']['notification_topics'])
        self.assertEqual('doctor_notifications',
                         conf['neutron']['notification_topics'])

    def test_neutron_notifications_and_data_plane_status(self):
        # NEUTRON_CORE_PLUGIN_CONF is relative, as DevStack sets it.
        self._stack()
        conf = _read_ini(self.neutron_conf)
        self.assertEqual(
            {'driver': 'messagingv2', 'transport_url': BUS,
             'topics': 'notifications_designate,notifications'},
            dict(conf['oslo_messaging_notifications']))
        self.assertEqual('port_security,data_plane_status',
                         _read_ini(self.ml2_conf)['ml2'][
                             'extension_drivers'])

    def test_data_plane_status_with_absolute_core_plugin_conf(self):
        self.env['NEUTRON_CORE_PLUGIN_CONF'] = self.ml2_conf
        self._stack()
        self.assertEqual('port_security,data_plane_status',
                         _read_ini(self.ml2_conf)['ml2'][
                             'extension_drivers'])

    def test_missing_core_plugin_conf_is_reported(self):
        os.unlink(self.ml2_conf)
        result = self._stack()
        self.assertIn("core plugin file '%s' is missing"
                      % self.ml2_conf, result.stderr)
        self.assertFalse(os.path.exists(self.ml2_conf))

    def test_extra_starts_every_enabled_service(self):
        self._stack()
        option = '--config-file %s' % self.doctor_conf
        self.assertEqual(
            {'doctor-sync': '%s/doctor-synchronizer %s' % (self.bin, option),
             'doctor-inspector': '%s/doctor-inspector %s' % (self.bin,
                                                             option),
             'doctor-eval': '%s/doctor-evaluator %s' % (self.bin, option),
             'doctor-notifier': '%s/doctor-notifier %s' % (self.bin,
                                                           option),
             'doctor-api': '%s/doctor-api %s' % (self.bin, option)},
            self._started())
        self.assertEqual([['60', 'http://%s:12345' % SERVICE_HOST]],
                         self._calls('wait_for_service'))

    def test_disabled_service_is_not_started(self):
        self._stack(before='disable_service doctor-notifier')
        self.assertEqual(set(DOCTOR_DEFAULT) - {'doctor-notifier'},
                         set(self._started()))
        # The evaluators deliver fired alarms themselves.
        self.assertEqual('True', _read_ini(self.doctor_conf)['evaluator'][
            'inline_notifier'])

    def test_api_disabled_is_not_waited_for(self):
        self._stack(before='disable_service doctor-api')
        self.assertNotIn('doctor-api', self._started())
        self.assertEqual([], self._calls('wait_for_service'))

    def test_api_not_answering_stops_stack(self):
        self.env['STUB_WAIT_STATUS'] = '1'
        result = self._stack(check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertEqual(
            [['doctor-api did not answer at http://%s:12345'
              % SERVICE_HOST]], self._calls('die'))

    def test_monitor(self):
        self.env['ENABLED_SERVICES'] += ',doctor-monitor'
        self.env['DOCTOR_MONITOR_HOSTS'] = 'compute-0=192.0.2.20'
        self._stack()
        monitor = _read_ini(self.doctor_conf)['monitor']
        self.assertEqual('compute-0=192.0.2.20', monitor['hosts'])
        self.assertEqual('http://%s:12345' % SERVICE_HOST,
                         monitor['api_url'])
        self.assertEqual('doctor', monitor['username'])
        self.assertNotIn('region_name', monitor)
        self.assertEqual('%s/doctor-monitor --config-file %s'
                         % (self.bin, self.doctor_conf),
                         self._started()['doctor-monitor'])
        # It posts to the API: started once the API answers.
        names = [call[0] if call[0] != 'run_process' else call[1]
                 for call in self._calls()]
        self.assertLess(names.index('wait_for_service'),
                        names.index('doctor-monitor'))

    def test_monitor_watches_this_host_by_default(self):
        self.env['ENABLED_SERVICES'] += ',doctor-monitor'
        self._stack()
        self.assertEqual('%s=%s' % (socket.gethostname(), SERVICE_HOST),
                         _read_ini(self.doctor_conf)['monitor']['hosts'])

    def test_monitor_without_hosts_is_refused(self):
        self.env['ENABLED_SERVICES'] += ',doctor-monitor'
        self.env['HOST_IP'] = ''
        result = self._stack(check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('DOCTOR_MONITOR_HOSTS', result.stderr)
        self.assertEqual({}, self._started())

    def test_compute_agent(self):
        self.env['ENABLED_SERVICES'] += ',doctor-compute-agent'
        self._stack()
        agent = _read_ini(self.doctor_conf)['compute_agent']
        channel_dir = os.path.join(self.tmp, 'data', 'doctor',
                                   'guest-channels')
        self.assertEqual(channel_dir, agent['channel_dir'])
        self.assertTrue(os.path.isdir(channel_dir))
        self.assertEqual('http://%s:12345' % SERVICE_HOST,
                         agent['api_url'])
        self.assertEqual(('password', 'doctor'),
                         (agent['auth_type'], agent['username']))
        self.assertEqual('%s/doctor-compute-agent --config-file %s'
                         % (self.bin, self.doctor_conf),
                         self._started()['doctor-compute-agent'])
        # It posts to the API: started once the API answers.
        names = [call[0] if call[0] != 'run_process' else call[1]
                 for call in self._calls()]
        self.assertLess(names.index('wait_for_service'),
                        names.index('doctor-compute-agent'))

    def test_compute_agent_channel_dir_from_local_conf(self):
        self.env['ENABLED_SERVICES'] += ',doctor-compute-agent'
        channel_dir = os.path.join(self.tmp, 'channels')
        self.env['DOCTOR_CHANNEL_DIR'] = channel_dir
        self._stack()
        self.assertEqual(channel_dir, _read_ini(self.doctor_conf)[
            'compute_agent']['channel_dir'])
        self.assertTrue(os.path.isdir(channel_dir))

    def test_compute_agent_is_off_by_default(self):
        self._stack()
        self.assertNotIn('compute_agent', _read_ini(self.doctor_conf))
        self.assertNotIn('doctor-compute-agent', self._started())

    def test_without_nova_and_neutron(self):
        self.env['ENABLED_SERVICES'] = 'key,mysql,rabbit'
        self._stack()
        conf = _read_ini(self.doctor_conf)
        self.assertEqual('local', conf['inspector']['controllers'])
        self.assertEqual('static', conf['synchronizer']['datasources'])
        self.assertNotIn('nova', conf)
        self.assertNotIn('neutron', conf)
        self.assertEqual({'notification_format': 'unversioned'},
                         dict(_read_ini(self.nova_conf)['notifications']))
        self.assertEqual('port_security', _read_ini(self.ml2_conf)['ml2'][
            'extension_drivers'])

    def test_controllers_and_datasources_from_local_conf(self):
        self.env['DOCTOR_CONTROLLERS'] = 'nova,local'
        self.env['DOCTOR_DATASOURCES'] = 'nova'
        self._stack()
        conf = _read_ini(self.doctor_conf)
        self.assertEqual('nova,local', conf['inspector']['controllers'])
        self.assertEqual('nova', conf['synchronizer']['datasources'])
        self.assertNotIn('neutron', conf)
        # No neutron controller: Neutron's extension drivers stay.
        self.assertEqual('port_security', _read_ini(self.ml2_conf)['ml2'][
            'extension_drivers'])

    def test_without_keystone(self):
        self.env['ENABLED_SERVICES'] = 'mysql,rabbit'
        self._stack()
        self.assertEqual('noauth', _read_ini(self.doctor_conf)['api'][
            'auth_strategy'])
        self.assertEqual([], self._calls('create_service_user'))
        self.assertEqual([], self._calls('get_or_create_endpoint'))
        self.assertEqual([], self._calls(
            'configure_keystone_authtoken_middleware'))

    def test_coordination_on_etcd3(self):
        self.env['ENABLED_SERVICES'] += ',etcd3'
        self._stack()
        self.assertEqual([['etcd3gw']], self._calls('pip_install'))
        self.assertEqual('etcd3+http://%s:2379' % SERVICE_HOST,
                         _read_ini(self.doctor_conf)['coordination'][
                             'backend_url'])

    def test_coordination_url_from_local_conf(self):
        self.env['ENABLED_SERVICES'] += ',etcd3'
        self.env['DOCTOR_COORDINATION_URL'] = 'redis://127.0.0.1:6379'
        self._stack()
        self.assertEqual([['redis']], self._calls('pip_install'))
        self.assertEqual('redis://127.0.0.1:6379',
                         _read_ini(self.doctor_conf)['coordination'][
                             'backend_url'])

    def test_tls_proxy(self):
        # DevStack leaves SERVICE_PROTOCOL at http under tls-proxy.
        self.env['ENABLED_SERVICES'] += ',tls-proxy,doctor-monitor'
        self._stack()
        conf = _read_ini(self.doctor_conf)
        self.assertEqual('22345', conf['api']['port'])
        self.assertEqual('/opt/stack/data/ca-bundle.pem',
                         conf['nova']['cafile'])
        self.assertEqual([['doctor', '*', '12345', SERVICE_HOST, '22345']],
                         self._calls('start_tls_proxy'))
        url = 'https://%s:12345' % SERVICE_HOST
        self.assertEqual(url, self._calls('get_or_create_endpoint')[0][2])
        self.assertEqual(url, conf['monitor']['api_url'])
        self.assertEqual([['60', url]], self._calls('wait_for_service'))

    def test_service_protocol_from_local_conf(self):
        self.env['DOCTOR_SERVICE_PROTOCOL'] = 'https'
        self._stack()
        self.assertEqual('https://%s:12345' % SERVICE_HOST,
                         self._calls('get_or_create_endpoint')[0][2])

    def test_ipv6(self):
        # DevStack with SERVICE_IP_VERSION=6: addresses in URL brackets.
        self.env['SERVICE_LISTEN_ADDRESS'] = '[::]'
        self.env['SERVICE_HOST'] = '[2001:db8::10]'
        self._stack()
        conf = _read_ini(self.doctor_conf)
        self.assertEqual('::', conf['api']['host'])
        registered = base.new_conf()
        registered.set_override('host', conf['api']['host'], group='api')
        self.assertEqual('::', registered.api.host)
        self.assertEqual('http://[2001:db8::10]:12345',
                         self._calls('get_or_create_endpoint')[0][2])

    def test_database_url_without_query_counter(self):
        self.env['MYSQL_GATHER_PERFORMANCE'] = 'False'
        self._stack()
        self.assertEqual('mysql+pymysql://root:secret@%s/doctor'
                         '?charset=utf8' % SERVICE_HOST,
                         _read_ini(self.doctor_conf)['database'][
                             'connection'])

    def test_tempest(self):
        self.env['ENABLED_SERVICES'] += ',tempest'
        self._stack()
        self.assertEqual('True', _read_ini(self.tempest_conf)[
            'service_available']['doctor'])

    def test_unstack_stops_each_service(self):
        self._run(('unstack',))
        self.assertEqual(sorted([name] for name in DOCTOR_DEFAULT),
                         sorted(self._calls('stop_process')))

    def test_unstack_stops_the_compute_agent(self):
        self.env['ENABLED_SERVICES'] += ',doctor-compute-agent'
        self._run(('unstack',))
        self.assertIn(['doctor-compute-agent'], self._calls('stop_process'))

    def test_unstack_stops_the_monitor(self):
        self.env['ENABLED_SERVICES'] += ',doctor-monitor'
        self._run(('unstack',))
        self.assertIn(['doctor-monitor'], self._calls('stop_process'))

    def test_clean(self):
        self._stack()
        self.assertTrue(os.path.exists(self.doctor_conf))
        self._run(('unstack',), ('clean',))
        self.assertFalse(os.path.exists(self.conf_dir))
        self.assertFalse(os.path.exists(
            os.path.join(self.tmp, 'data', 'doctor')))

    def test_nothing_when_no_doctor_service_is_enabled(self):
        before = 'disable_service %s' % ' '.join(DOCTOR_DEFAULT)
        self._stack(before=before)
        self._run(('unstack',), ('clean',), before=before)
        # Besides stack.sh's own calls.
        self.assertEqual([['configure_neutron_nova']],
                         self._calls('async_wait'))
        self.assertEqual(['define_plugin'],
                         sorted({call[0] for call in self._calls()} -
                                {'async_runfunc', 'async_wait',
                                 'start_nova_compute'}))
        self.assertFalse(os.path.exists(self.conf_dir))
