"""Tests of the monitor: its configuration, state machine and schedule."""

import logging
import socket
import time
from unittest import mock

import fixtures

from doctor.common import exception
from doctor.monitor import events
from doctor.monitor import monitor as monitor_mod
from doctor.monitor import probes
from doctor.tests import base
from doctor.tests.unit.monitor import fakes

A = '10.0.0.1'
B = '10.0.0.2'


class ParseHostsTest(base.TestCase):

    def test_entries(self):
        targets = monitor_mod.parse_hosts(
            ['compute-0=10.0.0.1', ' compute-1 = 10.0.0.2 ', '10.0.0.3',
             'v6=0:0::1'])
        self.assertEqual(
            [probes.Target('compute-0', '10.0.0.1'),
             probes.Target('compute-1', '10.0.0.2'),
             probes.Target('10.0.0.3', '10.0.0.3'),
             probes.Target('v6', '::1')], targets)
        self.assertEqual([socket.AF_INET] * 3 + [socket.AF_INET6],
                         [target.family for target in targets])

    def test_bad_entries_are_named(self):
        cases = [
            ('compute-0=', "'' does not appear to be an IPv4 or IPv6"),
            ('compute-0=compute-0.example.org', 'compute-0.example.org'),
            ('=10.0.0.5', 'has no host name'),
            ('compute-9=10.0.0.1.2', "'10.0.0.1.2' does not appear"),
            ('ll=fe80::1%eth0', 'with a zone'),
            ('ok=10.0.0.8', 'names host ok again (first in "ok=10.0.0.9")'),
            ('other=10.0.0.9', 'probes 10.0.0.9 again'),
        ]
        for entry, reason in cases:
            error = self.assertRaises(exception.ConfigInvalid,
                                      monitor_mod.parse_hosts,
                                      ['ok=10.0.0.9', entry])
            self.assertIn('[monitor] hosts entry "%s"' % entry, str(error))
            self.assertIn(reason, str(error))

    def test_hosts_option_is_parsed_as_a_list(self):
        self.config.config(hosts=['a=10.0.0.1', 'b=::1'], group='monitor')
        self.assertEqual(['a', 'b'], [
            target.name for target in
            monitor_mod.parse_hosts(self.conf.monitor.hosts)])


class CheckConfigTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.config.config(hosts=['a=127.0.0.1'], method='tcp',
                           group='monitor')

    def test_valid(self):
        monitor_mod.check_config(self.conf)

    def test_no_hosts(self):
        self.config.config(hosts=[], group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('[monitor] hosts is empty', str(error))

    def test_bad_host_entry(self):
        self.config.config(hosts=['a=127.0.0.1', 'b=nowhere'],
                           group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('"b=nowhere"', str(error))

    def test_probe_timeout_longer_than_interval(self):
        self.config.config(interval=0.1, probe_timeout=0.2, group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('probe_timeout (0.2 s) must not be longer', str(error))

    def test_probe_timeout_defaults_to_interval(self):
        self.config.config(interval=0.25, group='monitor')
        self.assertEqual(0.25, monitor_mod.probe_timeout(self.conf))
        self.config.config(probe_timeout=0.05, group='monitor')
        self.assertEqual(0.05, monitor_mod.probe_timeout(self.conf))

    def test_api_url_not_http(self):
        self.config.config(api_url='127.0.0.1:12345', group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('api_url "127.0.0.1:12345"', str(error))

    def test_incomplete_keystone_options(self):
        self.config.config(auth_type='password', group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  monitor_mod.check_config, self.conf)
        self.assertIn('[monitor] authentication', str(error))
        self.assertIn('auth_url', str(error))


class HostStateTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.state = monitor_mod.HostState(probes.Target('a', A))

    def test_first_reply_makes_the_host_up(self):
        seq = self.state.probe_sent()
        self.assertEqual(('unknown', 'up'), self.state.replied(seq))
        self.assertIsNone(self.state.replied(seq))
        seq = self.state.probe_sent()
        self.assertIsNone(self.state.replied(seq))
        self.assertEqual('up', self.state.status)

    def test_first_miss_makes_the_host_down_once(self):
        self.state.replied(self.state.probe_sent())
        seq = self.state.probe_sent()
        self.assertEqual(('up', 'down'), self.state.missed(seq))
        self.assertIsNone(self.state.missed(self.state.probe_sent()))
        self.assertEqual(('down', 'up'),
                         self.state.replied(self.state.probe_sent()))

    def test_a_host_silent_from_the_start_is_down(self):
        self.assertEqual(('unknown', 'down'),
                         self.state.missed(self.state.probe_sent()))

    def test_replies_to_other_probes_do_not_count(self):
        old = self.state.probe_sent()
        seq = self.state.probe_sent()
        self.assertIsNone(self.state.replied(old))
        self.assertTrue(self.state.waiting)
        self.assertEqual(('unknown', 'down'), self.state.missed(seq))
        # A reply after its deadline does not undo the miss.
        self.assertIsNone(self.state.replied(seq))
        self.assertEqual('down', self.state.status)

    def test_an_answered_probe_is_not_missed(self):
        seq = self.state.probe_sent()
        self.state.replied(seq)
        self.assertIsNone(self.state.missed(seq))
        self.assertEqual('up', self.state.status)

    def test_sequence_wraps(self):
        self.state.seq = 0xffff
        self.assertEqual(0, self.state.probe_sent())


class _MonitorTestCase(base.TestCase):

    def make(self, hosts=(('a', A), ('b', B)), answering=(A, B),
             interval=0.1, probe_timeout=None, clock=None, prober=None,
             poster=None, started=False):
        """A monitor on a fake clock, its timeline laid out at ``now``.

        With ``started`` the test starts it (on a real clock).
        """
        self.config.config(
            hosts=['%s=%s' % host for host in hosts], interval=interval,
            probe_timeout=probe_timeout, name='m1', group='monitor')
        self.clock = clock or fakes.Clock()
        self.wall = fakes.Clock(1700000000.0)
        self.prober = prober or fakes.ScriptedProber(answering, self.clock)
        if poster is None:
            poster = mock.create_autospec(events.EventPoster, instance=True)
            poster.url = 'http://127.0.0.1:12345/v1/events'
        self.poster = poster
        monitor = monitor_mod.Monitor(self.conf, prober=self.prober,
                                      poster=self.poster, clock=self.clock,
                                      wall=self.wall)
        if not started:
            self.prober.attach(mock.Mock(), monitor._on_reply)
            monitor.schedule(self.clock())
        return monitor

    def run_until(self, monitor, until: float, late: float = 0.0) -> None:
        """Run the timeline up to ``until``, each turn ``late`` late."""
        while monitor.next_due() is not None and monitor.next_due() <= until:
            self.clock.now = monitor.next_due() + late
            self.wall.now = 1700000000.0 + self.clock.now - 1000.0
            monitor.run_due(self.clock.now)

    def posted(self) -> list[dict]:
        return [call.args[0] for call in self.poster.post.call_args_list]


class MonitorScheduleTest(_MonitorTestCase):

    def test_down_at_the_first_miss_then_up(self):
        monitor = self.make()
        self.run_until(monitor, 1001.0)
        self.assertEqual({'a': 'up', 'b': 'up'}, monitor.states())
        self.assertEqual([], self.posted())

        self.prober.answering.discard(B)
        failed = self.clock.now
        self.run_until(monitor, 1003.0)
        [down] = self.posted()
        self.assertEqual({'a': 'up', 'b': 'down'}, monitor.states())
        self.assertEqual('b', down['details']['hostname'])
        self.assertEqual('down', down['details']['status'])
        self.assertEqual('m1', down['details']['monitor'])
        # Detected at the deadline of the first probe sent after the
        # failure: within an interval and a probe timeout.
        detected = events.iso_time(1700000000.0 + failed - 1000.0 + 0.2)
        self.assertLessEqual(down['time'], detected)
        self.assertIn(B, self.prober.cancelled)

        self.prober.answering.add(B)
        self.run_until(monitor, 1005.0)
        down_again, up = self.posted()
        self.assertIs(down, down_again)
        self.assertEqual('up', up['details']['status'])
        self.assertEqual('b', up['details']['hostname'])
        self.assertEqual(down['details']['monitor_event_id'],
                         up['details']['monitor_event_id'])
        self.assertNotEqual(down['id'], up['id'])
        self.assertEqual({'a': 'up', 'b': 'up'}, monitor.states())

    def test_each_failure_is_a_new_monitor_event(self):
        monitor = self.make()
        for start in (1001.0, 1003.0):
            self.run_until(monitor, start)
            self.prober.answering.discard(A)
            self.run_until(monitor, start + 1)
            self.prober.answering.add(A)
        self.run_until(monitor, 1005.0)
        statuses = [(e['details']['hostname'], e['details']['status'])
                    for e in self.posted()]
        self.assertEqual([('a', 'down'), ('a', 'up')] * 2, statuses)
        ids = [e['details']['monitor_event_id'] for e in self.posted()]
        self.assertEqual(ids[0], ids[1])
        self.assertEqual(ids[2], ids[3])
        self.assertNotEqual(ids[0], ids[2])

    def test_silent_from_the_start(self):
        monitor = self.make(answering=(A,))
        self.run_until(monitor, 1002.0)
        [down] = self.posted()
        self.assertEqual(('b', 'down'), (down['details']['hostname'],
                                         down['details']['status']))

    def test_detection_logged_as_checkpoint_zero(self):
        logger = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        monitor = self.make()
        self.run_until(monitor, 1001.0)
        self.prober.answering.discard(B)
        self.run_until(monitor, 1002.0)
        [down] = self.posted()
        lines = [line for line in logger.output.splitlines()
                 if 'checkpoint 0 hostdown' in line]
        self.assertEqual(1, len(lines))
        self.assertIn('Host b (%s) down: event %s at %s'
                      % (B, down['id'], down['time']), lines[0])
        self.assertIn(down['details']['monitor_event_id'], lines[0])

    def test_probes_stay_on_their_grid(self):
        hosts = [('h%d' % i, '10.1.0.%d' % i) for i in range(1, 101)]
        monitor = self.make(hosts=hosts,
                            answering=[address for _, address in hosts])
        self.run_until(monitor, 1010.0 - 1e-9)
        self.assertEqual(100 * 100, len(self.prober.sent))
        for index, (_, address) in enumerate(hosts):
            times = [at for sent, _, at in self.prober.sent
                     if sent == address]
            self.assertEqual(100, len(times))
            start = 1000.0 + index * 0.001
            for k, at in enumerate(times):
                self.assertAlmostEqual(start + k * 0.1, at, places=6)
        self.assertEqual([], self.posted())

    def test_a_late_loop_does_not_drift(self):
        hosts = [('h%d' % i, '10.1.0.%d' % i) for i in range(1, 101)]
        monitor = self.make(hosts=hosts,
                            answering=[address for _, address in hosts])
        self.run_until(monitor, 1010.0 - 1e-9, late=0.03)
        for index, (_, address) in enumerate(hosts):
            times = [at for sent, _, at in self.prober.sent
                     if sent == address]
            # The last turn, 30 ms late, may reach a slot past 1010.
            self.assertIn(len(times), (100, 101))
            start = 1000.0 + index * 0.001
            for k, at in enumerate(times):
                # Never early, never later than the loop was.
                self.assertGreaterEqual(at, start + k * 0.1 - 1e-9)
                self.assertLessEqual(at, start + k * 0.1 + 0.03 + 1e-9)
        self.assertEqual([], self.posted())

    def test_after_a_stall_the_grid_resumes_without_a_burst(self):
        monitor = self.make(hosts=(('a', A),), answering=(A,))
        self.run_until(monitor, 1000.55)
        self.assertEqual(6, len(self.prober.sent))
        # The loop stalls for 0.35 s: one probe then, the next ones on
        # the grid again.
        self.clock.now = 1000.95
        monitor.run_due(self.clock.now)
        self.run_until(monitor, 1001.25)
        times = [round(at, 6) for _, _, at in self.prober.sent[6:]]
        self.assertEqual([1000.95, 1001.0, 1001.1, 1001.2], times)

    def test_a_late_probe_keeps_its_whole_timeout(self):
        monitor = self.make(hosts=(('a', A),), answering=())
        self.clock.now = 1000.0
        monitor.run_due(self.clock.now)
        self.prober._reply(A, 1)
        # The second probe goes out 50 ms late...
        self.clock.now = 1000.15
        monitor.run_due(self.clock.now)
        self.assertEqual((A, 2, 1000.15), self.prober.sent[-1])
        # ... its successor's turn comes while it waits ...
        self.clock.now = 1000.2
        monitor.run_due(self.clock.now)
        self.assertEqual(2, len(self.prober.sent))
        # ... and its reply, 70 ms after it was sent, still counts; the
        # next probe follows at once.
        self.clock.now = 1000.22
        self.prober._reply(A, 2)
        self.assertEqual({'a': 'up'}, monitor.states())
        self.assertEqual((A, 3, 1000.22), self.prober.sent[-1])
        self.run_until(monitor, 1000.5)
        self.assertEqual({'a': 'down'}, monitor.states())
        [down] = self.posted()
        self.assertEqual('down', down['details']['status'])

    def test_shorter_probe_timeout(self):
        monitor = self.make(hosts=(('a', A),), answering=(),
                            probe_timeout=0.02)
        self.clock.now = 1000.0
        monitor.run_due(self.clock.now)
        self.clock.now = 1000.019
        monitor.run_due(self.clock.now)
        self.assertEqual({'a': 'unknown'}, monitor.states())
        self.clock.now = 1000.02
        monitor.run_due(self.clock.now)
        self.assertEqual({'a': 'down'}, monitor.states())

    def test_replies_from_elsewhere_are_ignored(self):
        monitor = self.make(answering=(A,))
        self.run_until(monitor, 1000.0)
        self.prober._reply('10.9.9.9', 1)
        self.prober._reply(B, 999)
        self.run_until(monitor, 1000.5)
        self.assertEqual({'a': 'up', 'b': 'down'}, monitor.states())


class _BrokenProber(fakes.ScriptedProber):
    """Also watches a socket whose every datagram is a bad reply."""

    def attach(self, selector, on_reply):
        super().attach(selector, on_reply)
        self.bad, self.sender = socket.socketpair()
        self.bad.setblocking(False)
        selector.register(self.bad, 1, self._bad_reply)

    def _bad_reply(self, mask):
        self.bad.recv(64)
        raise ValueError('a reply nobody can parse')

    def close(self):
        super().close()
        self.bad.close()
        self.sender.close()


class MonitorLoopTest(_MonitorTestCase):
    """The monitor's own thread, on the real clock."""

    def start(self, **kwargs):
        monitor = self.make(clock=time.monotonic, started=True, **kwargs)
        monitor.start()
        self.addCleanup(monitor.stop)
        self.wait(lambda: set(monitor.states().values()) == {'up'})
        return monitor

    def wait(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('condition not met within %.1f s' % timeout)
            time.sleep(0.005)

    def test_detects_and_recovers(self):
        monitor = self.start()
        self.poster.start.assert_called_once_with()
        self.prober.answering.discard(B)
        failed = time.monotonic()
        self.wait(lambda: self.poster.post.called, timeout=1.0)
        self.assertLess(time.monotonic() - failed, 1.0)
        self.assertEqual({'a': 'up', 'b': 'down'}, monitor.states())
        self.prober.answering.add(B)
        self.wait(lambda: self.poster.post.call_count == 2)
        time.sleep(0.3)
        self.assertEqual([('b', 'down'), ('b', 'up')],
                         [(e['details']['hostname'], e['details']['status'])
                          for e in self.posted()])
        monitor.stop()
        self.assertTrue(self.prober.closed)
        self.poster.stop.assert_called_once_with(timeout=mock.ANY)

    def test_a_bad_reply_does_not_stop_the_loop(self):
        logger = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        prober = _BrokenProber((A, B), time.monotonic)
        monitor = self.start(prober=prober)
        prober.sender.send(b'?')
        self.wait(lambda: 'Handling a reply failed' in logger.output)
        self.assertIn('a reply nobody can parse', logger.output)
        prober.answering.discard(A)
        self.wait(lambda: monitor.states()['a'] == 'down', timeout=1.0)

    def test_failed_posts_do_not_hold_up_the_probes(self):
        # An API that refuses connections: the events wait, the probes go
        # on.
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        self.config.config(api_url='http://127.0.0.1:%d' % port,
                           group='monitor')
        poster = events.EventPoster(self.conf)
        monitor = self.start(poster=poster)
        self.prober.answering.discard(B)
        self.wait(lambda: monitor.states()['b'] == 'down', timeout=1.0)
        self.prober.answering.discard(A)
        self.wait(lambda: monitor.states()['a'] == 'down', timeout=1.0)
        self.wait(lambda: len(poster.pending()) == 2)
        self.assertEqual(['b', 'a'], [e['details']['hostname']
                                      for e in poster.pending()])
