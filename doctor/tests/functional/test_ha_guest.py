"""HA guest heartbeats end to end, with the agents as real processes.

doctor-all runs in this process, on the embedded default (SQLite, the
in-process bus) or on RabbitMQ and PostgreSQL; doctor-compute-agent and
two doctor-guest-agents run as processes of their own over real UNIX
sockets, the guest agents binding the sockets QEMU would (``--device
unix-listen:``). One guest agent is killed with SIGKILL: its instance's
tenant alarm fires through the normal pipeline, ``GET /v1/heartbeats``
shows it missed, and the other guest is untouched.
"""

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import typing
import urllib.request

from oslo_config import cfg

from doctor.api import service as api_service
from doctor.cmd import all as all_cmd
from doctor.common import rpc
from doctor.common import service as doctor_service
from doctor.db import api as db_api
from doctor.tests.functional import base

PROJECT = 'c0ffee00000040008000000000000001'
USER = 'c0ffee00000040008000000000000002'
HOST = 'compute-7'
KILLED = 'c0ffee00-0000-4000-8000-000000000011'
KEPT = 'c0ffee00-0000-4000-8000-000000000012'
INTERVAL_MS = 100
THRESHOLD = 3

INVENTORY = """
hosts:
  - name: %(host)s
    instances:
      - id: %(killed)s
        name: vnf-0
        project_id: %(project)s
        state: active
      - id: %(kept)s
        name: vnf-1
        project_id: %(project)s
        state: active
""" % {'host': HOST, 'killed': KILLED, 'kept': KEPT, 'project': PROJECT}


class _Webhook(http.server.BaseHTTPRequestHandler):
    received: typing.ClassVar[list[dict]]

    def do_POST(self) -> None:
        length = int(self.headers.get('Content-Length') or 0)
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class HAGuestTestCase(base.FunctionalTestCase):
    """doctor-all in this process; the agents as processes of their own.
    """

    def setUp(self):
        super().setUp()
        self.channel_dir = os.path.join(self.state_path, 'channels')
        os.mkdir(self.channel_dir)
        self.received: list[dict] = []
        handler = type('Webhook', (_Webhook,), {'received': self.received})
        self.webhook = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       handler)
        threading.Thread(target=self.webhook.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.webhook.server_close)
        self.addCleanup(self.webhook.shutdown)

    def overrides(self, conf: cfg.ConfigOpts) -> None:
        conf.set_override('transport_url', self.conf.transport_url)

    def start_doctor(self, document: str = INVENTORY) -> tuple[str, str]:
        """doctor-all in this process; returns its API URL and database."""
        inventory = os.path.join(self.state_path, 'inventory.yaml')
        with open(inventory, 'w') as f:
            f.write(document)
        conf = cfg.ConfigOpts()
        conf.register_cli_opts(all_cmd.CLI_OPTS)
        doctor_service.prepare_service([], conf=conf,
                                       default_config_files=[])
        self.addCleanup(rpc.cleanup)
        conf.set_override('state_path', self.state_path)
        self.overrides(conf)
        conf.set_override('port', 0, group='api')
        conf.set_override('inventory', inventory, group='static')
        conf.set_override('snapshot_interval', 0.2, group='static')
        conf.set_override('allowed_networks', ['127.0.0.0/8'],
                          group='notifier')
        connection = db_api.get_connection(conf)
        self.addCleanup(connection.close)
        connection.upgrade()
        self.db = connection  # type: ignore[assignment]
        group = all_cmd.build(conf)
        group.start()
        self.addCleanup(group.stop)
        [api] = [service for service in group.services
                 if isinstance(service, api_service.APIService)]
        return ('http://127.0.0.1:%d' % api.port,
                connection.engine.url.render_as_string(hide_password=False))

    def call(self, method: str, url: str, body: typing.Any = None,
             roles: str = 'member') -> typing.Any:
        request = urllib.request.Request(
            url, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={'Content-Type': 'application/json',
                     'X-Project-Id': PROJECT, 'X-User-Id': USER,
                     'X-Roles': roles})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b'null')

    def spawn(self, name: str, code: str, *args: str) -> subprocess.Popen:
        log = open(os.path.join(self.state_path, name + '.log'), 'wb')
        self.addCleanup(log.close)
        process = subprocess.Popen([sys.executable, '-c', code, *args],
                                   stdout=log, stderr=subprocess.STDOUT)

        def stop() -> None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.addCleanup(stop)
        return process

    def start_compute_agent(self, api_url: str, database: str,
                            host: str = HOST,
                            channel_dir: str | None = None,
                            transport_url: str | None = None) -> None:
        path = os.path.join(self.state_path, 'compute-agent-%s.conf' % host)
        with open(path, 'w') as f:
            f.write('[DEFAULT]\nhost = %s\nstate_path = %s\n'
                    '%s'
                    '[database]\nconnection = %s\nmax_pool_size = 1\n'
                    'max_overflow = 1\n'
                    '[compute_agent]\nchannel_dir = %s\napi_url = %s\n'
                    'rescan_interval = 0.05\nmin_interval_ms = 50\n'
                    % (host, self.state_path,
                       'transport_url = %s\n' % transport_url
                       if transport_url else '',
                       database, channel_dir or self.channel_dir, api_url))
        self.spawn('compute-agent-' + host, 'from doctor.cmd.compute_agent '
                   'import main; main()', '--config-file', path)

    def start_guest(self, instance_id: str, channel_dir: str | None = None,
                    *args: str) -> subprocess.Popen:
        return self.spawn(
            'guest-' + instance_id,
            'from doctor.cmd.guest_agent import main; main()',
            '--device', 'unix-listen:' + os.path.join(
                channel_dir or self.channel_dir, instance_id + '.sock'),
            '--interval-ms', str(INTERVAL_MS),
            '--threshold', str(THRESHOLD), *args)

    def heartbeat(self, api_url: str, instance_id: str) -> dict | None:
        try:
            [found] = self.call('GET', '%s/v1/heartbeats/%s'
                                % (api_url, instance_id),
                                roles='reader')['heartbeats']
        except urllib.error.HTTPError:
            return None
        return found


class EmbeddedHAGuestTest(HAGuestTestCase):
    """The embedded default: doctor-all on SQLite and the in-process bus."""

    def test_a_killed_guest_agent_fires_its_tenant_s_alarm(self):
        api_url, database = self.start_doctor()
        self.wait_for(lambda: self.db.get_entities(entity_type='instance'),
                      30, 'the inventory in the entity store')
        webhook = 'http://127.0.0.1:%d/alarm' % self.webhook.server_port
        alarm = self.call('POST', api_url + '/v1/alarms', {
            'name': 'vnf-0-down', 'type': 'notification',
            'resource_id': KILLED,
            'notification_rule': {
                'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}]},
            'alarm_actions': [webhook]})

        killed = self.start_guest(KILLED)
        self.start_guest(KEPT)
        self.start_compute_agent(api_url, database)
        for instance_id in (KILLED, KEPT):
            found = self.wait_for(
                lambda: (self.heartbeat(api_url, instance_id) or {}).get(
                    'status') == 'ok' and self.heartbeat(api_url,
                                                         instance_id),
                60, 'guest %s registered' % instance_id)
        self.assertEqual((HOST, INTERVAL_MS, THRESHOLD),
                         (found['host'], found['interval_ms'],
                          found['threshold']))

        killed.send_signal(signal.SIGKILL)
        killed.wait()

        self.wait_for(lambda: self.received, 60, 'the alarm')
        [fired] = self.received
        self.assertEqual((alarm['alarm_id'], 'alarm'),
                         (fired['alarm_id'], fired['current']))
        missed = self.wait_for(
            lambda: (self.heartbeat(api_url, KILLED) or {}).get(
                'status') == 'missed' and self.heartbeat(api_url, KILLED),
            30, 'the heartbeat record missed')
        self.assertIn('missed %d heartbeats' % THRESHOLD, missed['reason'])
        listed = self.call('GET', api_url + '/v1/heartbeats',
                           roles='reader')['heartbeats']
        self.assertEqual({KILLED: 'missed', KEPT: 'ok'},
                         {h['instance_id']: h['status'] for h in listed})
        [fault] = [f for f in self.db.get_faults()
                   if f['type'] == 'compute.instance.down']
        self.assertEqual('instance:' + KILLED, fault['host'])
        self.assertEqual([KILLED], [a['id'] for a in fault['affected']])
        # The alarm fired once; the other guest's instance is untouched.
        self.assertEqual(1, len(self.received))
        self.assertEqual('active', self.db.get_entity(
            'instance:' + KEPT)['state'])


class RabbitPostgreSQLHAGuestTest(EmbeddedHAGuestTest):
    """doctor's services on RabbitMQ and PostgreSQL, as in production."""

    def overrides(self, conf: cfg.ConfigOpts) -> None:
        conf.set_override('transport_url', self.use_rabbit())
        self.use_database('postgresql')
        conf.set_override('connection', self.conf.database.connection,
                          group='database')
        conf.set_override('max_pool_size', 2, group='database')
        conf.set_override('max_overflow', 2, group='database')
