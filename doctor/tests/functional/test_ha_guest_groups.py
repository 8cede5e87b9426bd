"""HA guests' server groups, health checks and bad guests end to end.

doctor-all runs in this process (the server-group router runs in it,
beside the inspector); doctor-compute-agent and doctor-guest-agent run as
processes of their own over real UNIX sockets, each guest agent with an
application socket the test reads the server group's messages from and
writes broadcasts to. Members A and B of a server group, C of the same
group, and a bad guest that sends garbage and floods, which is in no
group.

On RabbitMQ and PostgreSQL, C is on a second compute host with a
compute agent of its own: what reaches it, or comes from it, crosses the
router. The embedded default's bus is in-process and reaches no other
process, so there a compute agent routes between its own guests only:
every guest is on one compute agent.
"""

import json
import os
import socket
import threading

from oslo_config import cfg

from doctor.heartbeat import guest
from doctor.tests.functional import test_ha_guest

PROJECT = test_ha_guest.PROJECT
HOST_1 = 'compute-7'
HOST_2 = 'compute-8'
GROUP = 'c0ffee00-0000-4000-8000-0000000000aa'
A = 'c0ffee00-0000-4000-8000-000000000021'
B = 'c0ffee00-0000-4000-8000-000000000022'
C = 'c0ffee00-0000-4000-8000-000000000023'
BAD = 'c0ffee00-0000-4000-8000-000000000024'
NAMES = {A: 'A', B: 'B', C: 'C', BAD: 'bad'}


def inventory(hosts_apart: bool) -> str:
    """Members A, B (and the bad guest) on the first host, C on the
    second one when ``hosts_apart``, else on the first too.
    """
    instance = '      - {id: %s, name: %s, project_id: %s}\n'
    first = ''.join(instance % (instance_id, name, PROJECT) for instance_id,
                    name in ((A, 'vnf-a'), (B, 'vnf-b'), (BAD, 'noisy')))
    c = instance % (C, 'vnf-c', PROJECT)
    return ('hosts:\n'
            '  - name: %s\n    instances:\n%s%s'
            '  - name: %s\n    instances:\n%s'
            'server_groups:\n'
            '  - id: %s\n    name: vnf-ha\n    project_id: %s\n'
            '    members: [%s, %s, %s]\n'
            % (HOST_1, first, '' if hosts_apart else c,
               HOST_2, c if hosts_apart else '',
               GROUP, PROJECT, A, B, C))


class AppClient:
    """An application of a guest, on its guest agent's app socket."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.lines: list[dict] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        reader = guest.LineReader()
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            for line in reader.feed(data):
                if line:
                    with self._lock:
                        self.lines.append(json.loads(line))

    def of(self, kind: str) -> list[dict]:
        with self._lock:
            return [line[kind] for line in self.lines if kind in line]

    def states_of(self, instance_id: str) -> list[str]:
        return [body['state'] for body in self.of('peer_state')
                if body['instance_id'] == instance_id]

    def broadcast(self, data) -> None:
        self.sock.sendall(json.dumps({'broadcast': data}).encode() + b'\n')

    def close(self) -> None:
        self.sock.close()


class BadGuest:
    """A guest that sends garbage and floods its channel until stopped.
    """

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.sent = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.listener.settimeout(60)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        conn.settimeout(0.01)
        reader = guest.LineReader()
        seq = 0
        register = guest.encode('heartbeat', 'register', 1,
                                {'interval_ms': 100, 'threshold': 3})
        frames = [b'not json\n', b'{"v": 1}\n', b'\xff' * 5000 + b'\n',
                  register]
        while not self.stopping.is_set():
            seq += 1
            try:
                # A burst each round: far more than the agent takes.
                conn.sendall(frames[seq % len(frames)] * 20)
                self.sent += 20
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            for line in reader.feed(data):
                frame = json.loads(line) if line else {}
                if frame.get('msg') == 'error':
                    self.errors.append(frame['body']['code'])
        conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()


class EmbeddedServerGroupTest(test_ha_guest.HAGuestTestCase):
    """The embedded default: every guest on one compute agent."""

    hosts_apart = False

    def transport_url(self) -> str | None:
        return None

    def start_everything(self) -> tuple[str, dict[str, AppClient]]:
        api_url, database = self.start_doctor(inventory(self.hosts_apart))
        self.wait_for(lambda: len(self.db.get_entities(
            parent='server_group:' + GROUP)) == 3, 30,
            'the server group in the entity store')
        dirs = {HOST_1: self.channel_dir}
        if self.hosts_apart:
            dirs[HOST_2] = os.path.join(self.state_path, 'channels-2')
            os.mkdir(dirs[HOST_2])
        self.flag = os.path.join(self.state_path, 'c-unhealthy')
        apps = {}
        for instance_id in (A, B, C):
            directory = dirs[HOST_2 if instance_id == C and self.hosts_apart
                             else HOST_1]
            app_socket = os.path.join(self.state_path,
                                      'app-%s.sock' % NAMES[instance_id])
            extra = ['--app-socket', app_socket]
            if instance_id == C:
                extra += ['--health-command', 'test ! -e %s' % self.flag]
            self.start_guest(instance_id, directory, *extra)
            self.wait_for(lambda: os.path.exists(app_socket), 30,
                          'the app socket of %s' % NAMES[instance_id])
            apps[instance_id] = AppClient(app_socket)
            self.addCleanup(apps[instance_id].close)
        self.bad = BadGuest(os.path.join(self.channel_dir, BAD + '.sock'))
        self.addCleanup(self.bad.stop)
        for host, directory in dirs.items():
            self.start_compute_agent(api_url, database, host, directory,
                                     self.transport_url())
        for instance_id in (A, B, C):
            self.wait_for(lambda: (self.heartbeat(api_url, instance_id)
                                   or {}).get('status') == 'ok', 60,
                          'guest %s registered' % NAMES[instance_id])
        return api_url, apps

    def test_server_group_messages_health_checks_and_a_bad_guest(self):
        api_url, apps = self.start_everything()

        # A broadcast reaches every other member once: the ack comes
        # after every delivery.
        apps[A].broadcast({'role': 'active', 'epoch': 1})
        [ack] = self.wait_for(lambda: apps[A].of('ack'), 30, 'the ack')
        self.assertEqual(2, ack['delivered'])
        for member in (B, C):
            [message] = self.wait_for(lambda: apps[member].of('message'),
                                      30, 'the broadcast at %s'
                                      % NAMES[member])
            self.assertEqual((A, {'role': 'active', 'epoch': 1}),
                             (message['from'], message['data']))
        self.assertEqual([], apps[A].of('message'))

        # C fails its health check: reported, and its peers learn of it.
        open(self.flag, 'w').close()
        for member in (A, B):
            self.wait_for(lambda: 'unhealthy' in apps[member].states_of(C),
                          60, '%s told of C unhealthy' % NAMES[member])
        fault = self.wait_for(lambda: self.db.get_faults(
            host='instance:' + C), 60, 'the fault of C')[0]
        self.assertEqual('compute.instance.down', fault['type'])
        if self.hosts_apart:
            # doctor's own fault state reaches the peers too: the router
            # follows the instance's entity (on a bus the agents share).
            for member in (A, B):
                self.wait_for(lambda: 'error' in apps[member].states_of(C),
                              60, '%s told of C in error' % NAMES[member])

        # C recovers: reported (its fault closed), and told to its peers.
        os.unlink(self.flag)
        self.wait_for(lambda: self.db.get_faults(
            host='instance:' + C, status='closed'), 60,
            'the fault of C closed')
        for member in (A, B):
            self.wait_for(lambda: 'ok' in self.after(
                apps[member].states_of(C), 'unhealthy'), 60,
                '%s told of C ok' % NAMES[member])
        self.assertEqual('ok', self.heartbeat(api_url, C)['status'])

        # The bad guest was refused all along, and disturbed nobody.
        self.assertIn('malformed', self.bad.errors)
        self.assertGreater(self.bad.sent, 100)
        for member in (A, B, C):
            self.assertEqual('ok', self.heartbeat(api_url, member)['status'])
        for app in apps.values():
            self.assertNotIn('missed', [body['state'] for body in
                                        app.of('peer_state')])
        # Still one copy of the broadcast each, and one ack.
        self.assertEqual([1, 1, 1], [len(apps[A].of('ack')),
                                     len(apps[B].of('message')),
                                     len(apps[C].of('message'))])

    @staticmethod
    def after(states: list[str], state: str) -> list[str]:
        """The states told after the first ``state``."""
        return states[states.index(state) + 1:] if state in states else []


class RabbitPostgreSQLServerGroupTest(EmbeddedServerGroupTest):
    """RabbitMQ and PostgreSQL: C on a second compute host."""

    hosts_apart = True

    def overrides(self, conf: cfg.ConfigOpts) -> None:
        self.rabbit_url = self.use_rabbit()
        conf.set_override('transport_url', self.rabbit_url)
        self.use_database('postgresql')
        conf.set_override('connection', self.conf.database.connection,
                          group='database')
        conf.set_override('max_pool_size', 2, group='database')
        conf.set_override('max_overflow', 2, group='database')

    def transport_url(self) -> str | None:
        return self.rabbit_url
