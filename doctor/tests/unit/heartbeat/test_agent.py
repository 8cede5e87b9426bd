"""The compute agent against guest agents over real UNIX sockets."""

import json
import os
import select
import socket
import threading
import time

import fixtures

from doctor.heartbeat import agent as agent_mod
from doctor.heartbeat import guest
from doctor.tests import base

LIMITS = agent_mod.Limits(min_interval_ms=10, max_interval_ms=60000,
                          max_messages_per_second=1000,
                          rescan_interval=0.02, status_interval=60.0)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    """Whether ``predicate`` became true; polls, never asserts speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class RawGuest:
    """A guest's end that the test writes bytes to, recording frames."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.conn: socket.socket | None = None
        self.frames: list[dict] = []
        self._reader = guest.LineReader()
        self._ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.conn, _ = self.listener.accept()
        self._ready.set()
        while True:
            ready, _, _ = select.select([self.conn], [], [], 0.1)
            if not ready:
                continue
            try:
                data = self.conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            for line in self._reader.feed(data):
                self.frames.append(json.loads(line))

    def write(self, data: bytes) -> None:
        assert self._ready.wait(20)
        assert self.conn is not None
        self.conn.sendall(data)

    def errors(self) -> list[str]:
        return [f['body']['code'] for f in list(self.frames)
                if f['msg'] == 'error']

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


class AgentTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.channel_dir = self.useFixture(fixtures.TempDir()).path
        self.reports: list[tuple] = []
        self.records: dict[str, dict | None] = {}
        self.groups: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def make_agent(self, limits=LIMITS) -> agent_mod.ComputeAgent:
        def report(instance_id, down, reason, action):
            with self.lock:
                self.reports.append((instance_id, down, reason, action))

        def record(instance_id, values):
            with self.lock:
                self.records[instance_id] = values

        def members(instance_id):
            for group in self.groups.values():
                if instance_id in group:
                    return list(group)
            return []

        agent = agent_mod.ComputeAgent(
            self.channel_dir, 'compute-0', limits, report, record, members,
            lambda instance_id: 'project-' + instance_id)
        agent.start()
        self.addCleanup(agent.stop)
        return agent

    def path(self, instance_id: str) -> str:
        return os.path.join(self.channel_dir, instance_id + '.sock')

    def make_guest(self, instance_id: str, interval_ms: int = 20,
                   threshold: int = 2, health=None) -> guest.GuestAgent:
        agent = guest.GuestAgent(guest.UNIX_LISTEN + self.path(instance_id),
                                 interval_ms, threshold, health)
        agent.register()
        agent.start()
        self.addCleanup(agent.stop)
        return agent

    def status(self, instance_id: str) -> str | None:
        with self.lock:
            values = self.records.get(instance_id)
        return values['status'] if values else None

    def reports_of(self, instance_id: str) -> list[tuple]:
        with self.lock:
            return [r[1:] for r in self.reports if r[0] == instance_id]


class TestHeartbeats(AgentTestCase):

    def test_a_guest_registers_and_is_recorded_ok(self):
        self.make_agent()
        vm = self.make_guest('vm1', interval_ms=50, threshold=4)
        self.assertTrue(vm.registered.wait(20))
        self.assertTrue(wait_for(lambda: self.status('vm1') == 'ok'))
        values = self.records['vm1']
        self.assertEqual((50, 4, 'compute-0', 'project-vm1'),
                         (values['interval_ms'], values['threshold'],
                          values['host'], values['project_id']))
        self.assertIsNotNone(values['last_seen'])
        self.assertEqual([], self.reports_of('vm1'))

    def test_the_agent_rescans_for_new_sockets(self):
        compute = self.make_agent()
        self.assertEqual([], compute.channels())
        vm = self.make_guest('late')
        self.assertTrue(vm.registered.wait(20))
        self.assertEqual(['late'],
                         [c.instance_id for c in compute.channels()])

    def test_a_stopped_guest_is_reported_missed_then_recovers(self):
        self.make_agent()
        vm = self.make_guest('vm1', threshold=2)
        self.assertTrue(vm.registered.wait(20))
        vm.stop(unlink=False)
        self.assertTrue(wait_for(lambda: self.reports_of('vm1')))
        [(down, reason, _action)] = self.reports_of('vm1')
        self.assertTrue(down)
        self.assertIn('missed 2 heartbeats', reason)
        self.assertEqual('missed', self.status('vm1'))

        again = self.make_guest('vm1', threshold=2)
        self.assertTrue(again.registered.wait(20))
        self.assertTrue(wait_for(lambda: len(self.reports_of('vm1')) == 2))
        self.assertFalse(self.reports_of('vm1')[1][0])
        self.assertEqual('ok', self.status('vm1'))

    def test_the_interval_is_bounded_by_the_agent(self):
        self.make_agent(LIMITS._replace(min_interval_ms=500))
        vm = self.make_guest('vm1', interval_ms=20)
        self.assertTrue(vm.registered.wait(20))
        self.assertTrue(wait_for(lambda: self.status('vm1') == 'ok'))
        self.assertEqual(500, self.records['vm1']['interval_ms'])

    def test_a_failed_health_check_is_reported_and_its_recovery(self):
        healthy = threading.Event()
        healthy.set()
        self.make_agent()
        vm = self.make_guest(
            'vm1', health=lambda: ((True, '') if healthy.is_set()
                                   else (False, 'database unreachable')))
        self.assertTrue(vm.registered.wait(20))
        healthy.clear()
        self.assertTrue(wait_for(lambda: self.reports_of('vm1')))
        self.assertEqual((True, 'database unreachable', None),
                         self.reports_of('vm1')[0])
        self.assertEqual('unhealthy', self.status('vm1'))
        healthy.set()
        self.assertTrue(wait_for(lambda: len(self.reports_of('vm1')) == 2))
        self.assertFalse(self.reports_of('vm1')[1][0])
        self.assertEqual('ok', self.status('vm1'))

    def test_a_health_command(self):
        check = guest.command_check('sh -c "echo broken; exit 3"', 5)
        self.assertEqual((False, 'health check exited 3: broken'), check())
        self.assertEqual((True, ''), guest.command_check('true', 5)())
        healthy, reason = guest.command_check('/nonexistent/check', 5)()
        self.assertFalse(healthy)
        self.assertIn('could not run', reason)

    def test_a_corrective_action_is_reported(self):
        self.make_agent()
        vm = self.make_guest('vm1')
        self.assertTrue(vm.registered.wait(20))
        vm.report_health(False, 'hung worker', action='reboot')
        self.assertTrue(wait_for(lambda: self.reports_of('vm1')))
        self.assertEqual((True, 'hung worker', 'reboot'),
                         self.reports_of('vm1')[0])

    def test_registering_twice_takes_the_new_interval(self):
        self.make_agent()
        vm = self.make_guest('vm1', interval_ms=20)
        self.assertTrue(vm.registered.wait(20))
        vm.registered.clear()
        vm.register(interval_ms=40, threshold=5)
        self.assertTrue(vm.registered.wait(20))
        self.assertTrue(wait_for(
            lambda: self.records['vm1']['interval_ms'] == 40))
        self.assertEqual('ok', self.status('vm1'))
        self.assertEqual([], self.reports_of('vm1'))

    def test_deregistered_guest_is_not_reported(self):
        compute = self.make_agent()
        vm = self.make_guest('vm1')
        self.assertTrue(vm.registered.wait(20))
        vm.deregister()
        self.assertTrue(wait_for(
            lambda: self.status('vm1') == 'unregistered'))
        # Taken before the guest stops: once its socket is gone the agent
        # forgets the channel, and may have done so at the next look.
        channel = compute.channel('vm1')
        self.assertIsNotNone(channel)
        vm.stop()
        self.assertTrue(wait_for(lambda: not channel.connected.is_set()))
        self.assertEqual([], self.reports_of('vm1'))

    def test_a_removed_socket_forgets_the_guest(self):
        compute = self.make_agent()
        vm = self.make_guest('vm1')
        self.assertTrue(vm.registered.wait(20))
        self.assertTrue(wait_for(lambda: 'vm1' in self.records))
        vm.stop()  # unlinks its socket
        self.assertTrue(wait_for(lambda: compute.channel('vm1') is None))
        self.assertTrue(wait_for(lambda: self.records.get('vm1', 1) is None))

    def test_a_restarted_agent_gets_the_registrations_again(self):
        first = self.make_agent()
        vm = self.make_guest('vm1', threshold=50)
        self.assertTrue(vm.registered.wait(20))
        first.stop()
        self.assertTrue(wait_for(lambda: not vm.registered.is_set()))
        self.records.clear()
        self.make_agent()
        self.assertTrue(vm.registered.wait(20))
        self.assertTrue(wait_for(lambda: self.status('vm1') == 'ok'))
        self.assertEqual(50, self.records['vm1']['threshold'])


class TestBadGuests(AgentTestCase):

    def test_garbage_is_refused_and_disturbs_no_other_guest(self):
        compute = self.make_agent()
        good = self.make_guest('good', threshold=2)
        self.assertTrue(good.registered.wait(20))
        bad = RawGuest(self.path('bad'))
        self.addCleanup(bad.close)
        self.assertTrue(wait_for(lambda: compute.channel('bad')))
        bad.write(b'not json\n' + b'x' * 10000 + b'\n[]\n'
                  + b'{"v":1,"app":"heartbeat","seq":5,"msg":"response",'
                    b'"body":{"nonce":"1"}}\n'
                  + b'{"v":1,"app":"heartbeat","seq":3,"msg":"deregister",'
                    b'"body":{}}\n'
                  + b'{"v":9,"app":"base","seq":6,"msg":"hello",'
                    b'"body":{"versions":[9]}}\n')
        self.assertTrue(wait_for(lambda: len(bad.errors()) == 6))
        self.assertEqual(['malformed', 'too_large', 'malformed',
                          'not_registered', 'out_of_order',
                          'unsupported_version'], bad.errors())
        # The good guest kept answering throughout.
        self.assertTrue(wait_for(lambda: compute.channel('good')._beats > 5))
        self.assertEqual('ok', self.status('good'))
        self.assertEqual([], self.reports_of('good'))
        self.assertIsNotNone(compute.channel('bad'))

    def test_a_flooding_guest_is_rate_limited(self):
        compute = self.make_agent(LIMITS._replace(max_messages_per_second=20))
        bad = RawGuest(self.path('flood'))
        self.addCleanup(bad.close)
        self.assertTrue(wait_for(lambda: compute.channel('flood')))
        hello = guest.encode('base', 'hello', 1, {'versions': [1]})
        bad.write(hello * 500)
        self.assertTrue(wait_for(lambda: 'rate_limited' in bad.errors()))
        self.assertLess(len([f for f in bad.frames if f['msg'] == 'welcome']),
                        500)

    def test_a_version_nobody_speaks(self):
        compute = self.make_agent()
        bad = RawGuest(self.path('old'))
        self.addCleanup(bad.close)
        self.assertTrue(wait_for(lambda: compute.channel('old')))
        bad.write(guest.encode('base', 'hello', 1, {'versions': [7]}))
        self.assertTrue(wait_for(
            lambda: 'unsupported_version' in bad.errors()))


class TestServerGroups(AgentTestCase):

    def test_broadcast_reaches_every_other_member_once(self):
        self.groups['g'] = ['a', 'b', 'c']
        self.make_agent()
        received: dict[str, list] = {'a': [], 'b': [], 'c': [], 'x': []}
        acks: list[dict] = []
        guests = {}
        for name in received:
            guests[name] = self.make_guest(name, threshold=50)
            guests[name].on_message(received[name].append)
        guests['a'].on_ack(acks.append)
        for vm in guests.values():
            self.assertTrue(vm.registered.wait(20))

        message_id = guests['a'].broadcast({'role': 'active'})

        self.assertTrue(wait_for(lambda: acks))
        self.assertEqual([{'id': message_id, 'delivered': 2}], acks)
        expected = [{'from': 'a', 'id': message_id,
                     'data': {'role': 'active'}}]
        self.assertTrue(wait_for(lambda: received['b'] and received['c']))
        self.assertEqual(expected, received['b'])
        self.assertEqual(expected, received['c'])
        self.assertEqual([], received['a'])
        self.assertEqual([], received['x'])

    def test_a_guest_in_no_group_cannot_broadcast(self):
        compute = self.make_agent()
        bad = RawGuest(self.path('solo'))
        self.addCleanup(bad.close)
        self.assertTrue(wait_for(lambda: compute.channel('solo')))
        bad.write(guest.encode('heartbeat', 'register', 1,
                               {'interval_ms': 60000, 'threshold': 3})
                  + guest.encode('servergroup', 'broadcast', 2,
                                 {'id': 'm', 'data': 1}))
        self.assertTrue(wait_for(lambda: bad.errors()))
        self.assertEqual(['no_server_group'], bad.errors())

    def test_peers_learn_of_a_member_going_missing(self):
        self.groups['g'] = ['a', 'b']
        self.make_agent()
        states: list[dict] = []
        a = self.make_guest('a', threshold=50)
        a.on_peer_state(states.append)
        b = self.make_guest('b', threshold=2)
        self.assertTrue(a.registered.wait(20))
        self.assertTrue(b.registered.wait(20))
        b.stop(unlink=False)
        self.assertTrue(wait_for(
            lambda: any(s['state'] == 'missed' for s in states)))
        missed = [s for s in states if s['state'] == 'missed']
        self.assertEqual('b', missed[0]['instance_id'])
        self.assertIn('missed 2 heartbeats', missed[0]['reason'])
