"""Deliveries survive the consumer being away and the notifier being killed.

On RabbitMQ and PostgreSQL. The consumer is a real HTTP server that keeps
a ledger of every POST; every alarm sends its ``alarm`` and ``ok``
actions to the same URL, so that the order of its transitions is the
order the consumer must see.

* The consumer is away while the alarms flip, then comes back: every
  stored transition reaches it exactly once, in order.
* doctor-notifier runs as a process of its own and is killed with
  ``kill -9`` while it delivers: every stored transition reaches the
  consumer at least once, and the duplicates (printed) are at most the
  deliveries that were in flight at the kill.
"""

import collections
import http.server
import json
import os
import socket
import threading
import time

import fixtures
import sqlalchemy as sa
from testtools import content

from doctor.tests.functional import base
from doctor.tests.functional import outage
from doctor.tests.functional import pipeline

ALARMS = 8
ROUNDS = 4
AWAY_SECONDS = 10
# Generous: only reached when something is lost or stuck.
TIMEOUT = 120


class LedgerConsumer:
    """A webhook consumer on a fixed loopback port that can go away.

    Every POST it receives is kept in ``ledger`` as ``(alarm_id,
    previous, current, message_id)``; ``delay`` seconds pass before it is
    answered.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.ledger: list[tuple[str, str, str, str | None]] = []
        self._lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            self.port = sock.getsockname()[1]
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = '/hook') -> str:
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def start(self) -> None:
        consumer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length))
                event = (body.get('reason_data') or {}).get('event') or {}
                with consumer._lock:
                    consumer.ledger.append(
                        (body['alarm_id'], body['previous'], body['current'],
                         event.get('message_id')))
                if consumer.delay:
                    # A slow consumer: deliveries are under way for a while.
                    time.sleep(consumer.delay)
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, format, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        server = http.server.ThreadingHTTPServer(('127.0.0.1', self.port),
                                                 Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={'poll_interval': 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Go away: connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def entries(self) -> list[tuple[str, str, str, str | None]]:
        with self._lock:
            return list(self.ledger)


class DeliveryTestCase(pipeline.PipelineTestCase):
    """Alarms whose actions all go to one ledger consumer."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def setUp(self):
        super().setUp()
        self.consumer = LedgerConsumer()
        self.addCleanup(self.consumer.stop)
        self.config.config(inline_notifier=False, group='evaluator')
        # Short waits so that the test is short; no quick retries within
        # an attempt, so each attempt is one POST.
        self.config.config(redelivery_interval=1, redelivery_after=3,
                           retry_horizon=TIMEOUT * 2,
                           retry_initial_backoff=0.5, retry_max_backoff=2.0,
                           max_retries=0, group='notifier')

    def create_alarms(self, count: int) -> list[dict]:
        url = self.consumer.url()
        alarms = [self.create_alarm(alarm_actions=[url], ok_actions=[url])
                  for _ in range(count)]
        for alarm in alarms:
            self.announce(alarm, self.evaluator)
        return alarms

    def flip(self, alarms: list[dict], rounds: int, start: int = 0) -> None:
        """Fail and heal every alarm's instance in turn, ``rounds`` times.

        Round ``start`` first (an even one fails, an odd one heals); waits
        for each round's transitions to be stored.
        """
        for number in range(start, start + rounds):
            for alarm in alarms:
                if number % 2 == 0:
                    self.error(alarm)
                else:
                    self.active(alarm)
            self.wait_for(
                lambda: all(len(self.transitions(a['alarm_id'])) > number
                            for a in alarms),
                timeout=TIMEOUT, message='round %d stored' % number)

    def wait_until_all_delivered(self, alarms: list[dict]) -> None:
        """Until nothing is owed and every transition was received.

        Once nothing is owed, no delivery can come any more.
        """
        def delivered():
            if self.stored_deliveries():
                return False
            return all(len(self.received_once(alarm['alarm_id']))
                       >= len(self.transitions(alarm['alarm_id']))
                       for alarm in alarms)
        self.wait_for(delivered, timeout=TIMEOUT,
                      message='every transition delivered')

    def received(self, alarm_id: str) -> list[tuple[str, str]]:
        """The transitions of the alarm the consumer got, as it got them."""
        return [(previous, current) for entry_alarm, previous, current, _m
                in self.consumer.entries() if entry_alarm == alarm_id]

    def received_once(self, alarm_id: str) -> list[tuple[str, str]]:
        """The same, each delivery counted at its first arrival.

        A delivery is told from another by its event's message id.
        """
        seen = set()
        found = []
        for entry in self.consumer.entries():
            if entry[0] == alarm_id and entry not in seen:
                seen.add(entry)
                found.append((entry[1], entry[2]))
        return found

    def duplicates(self) -> dict:
        counts = collections.Counter(self.consumer.entries())
        return {entry: count - 1 for entry, count in counts.items()
                if count > 1}


class TestConsumerAway(DeliveryTestCase):

    def test_every_transition_reaches_a_consumer_that_was_away(self):
        self.start_notifier()
        self.evaluator = self.start_evaluator()
        alarms = self.create_alarms(ALARMS)
        away_since = time.monotonic()

        self.flip(alarms, ROUNDS)
        # Attempted and failed while away: waiting, not given up.
        self.wait_for(lambda: any(row['attempts'] >= 2
                                  for row in self.stored_deliveries()),
                      timeout=TIMEOUT, message='attempts while away')
        self.wait_for(lambda: time.monotonic() - away_since > AWAY_SECONDS,
                      timeout=AWAY_SECONDS + 5, message='the absence')
        self.assertEqual([], self.consumer.entries())
        self.assertEqual(ALARMS * ROUNDS, len(self.stored_deliveries()))

        self.consumer.start()

        self.wait_until_all_delivered(alarms)
        self.addDetail('duplicates', content.json_content(
            [list(entry) for entry in self.duplicates()]))
        self.assertEqual({}, self.duplicates())
        for alarm in alarms:
            # Exactly once each, in the order of the transitions.
            self.assertEqual(self.transitions(alarm['alarm_id']),
                             self.received(alarm['alarm_id']))
        # Nothing given up.
        self.assertEqual([], [
            change for alarm in alarms
            for change in self.db.get_alarm_changes(alarm['alarm_id'])
            if change['type'] == 'action'])


APPLICATION_NAME = 'doctor-notifier-under-test'


def _named(url: str) -> str:
    """The PostgreSQL URL, its sessions named APPLICATION_NAME."""
    return '%s%sapplication_name=%s' % (url, '&' if '?' in url else '?',
                                        APPLICATION_NAME)


def _sessions_of(application_name: str) -> int:
    engine = sa.create_engine(base.SERVERS['postgresql'].admin_url,
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sa.text('SELECT count(*) FROM pg_stat_activity '
                        'WHERE application_name = :name'),
                {'name': application_name}).scalar_one()
    finally:
        engine.dispose()


def notifier_process(test: DeliveryTestCase,
                     directory: str) -> outage.ServiceProcess:
    """doctor-notifier in a process of its own, on the test's config."""
    conf = test.conf
    config = outage.write_config(os.path.join(directory, 'notifier.conf'), {
        'DEFAULT': {'transport_url': conf.transport_url,
                    'control_exchange': conf.control_exchange,
                    'host': conf.host, 'debug': 'false'},
        'database': {'connection': _named(conf.database.connection),
                     'max_pool_size': 2, 'max_overflow': 2},
        'notifier': dict(
            {name: conf.notifier[name] for name in (
                'redelivery_interval', 'redelivery_after', 'retry_horizon',
                'retry_initial_backoff', 'retry_max_backoff', 'max_retries',
                'workers', 'per_target_workers')},
            allowed_networks='127.0.0.0/8'),
    })
    process = test.useFixture(outage.ServiceProcess(
        'doctor-notifier', config, os.path.join(directory, 'notifier.log'),
        ready='Notifier plugins'))
    test.addCleanup(process.attach_log, test)
    return process


class TestNotifierKilled(DeliveryTestCase):

    def test_every_transition_delivered_through_a_kill_9(self):
        self.consumer.delay = 0.2
        self.consumer.start()
        directory = self.useFixture(fixtures.TempDir()).path
        notifier = notifier_process(self, directory)
        notifier.start()
        self.evaluator = self.start_evaluator()
        alarms = self.create_alarms(ALARMS * 2)
        # The notifier serves: a first round gets through.
        self.flip(alarms, 1)
        self.wait_for(lambda: len(self.consumer.entries()) >= len(alarms),
                      timeout=60, message='doctor-notifier delivering')

        flipper = threading.Thread(target=self.flip, args=(alarms, 3, 1))
        flipper.start()
        self.wait_for(lambda: len(self.consumer.entries())
                      >= len(alarms) + 5, timeout=TIMEOUT,
                      message='deliveries of the second round')
        notifier.kill9()
        # A COMMIT the notifier sent just before it died is still carried
        # out: wait until its sessions are gone.
        self.wait_for(lambda: _sessions_of(APPLICATION_NAME) == 0,
                      timeout=30, message='the killed sessions to end')
        # In flight at the kill: received by the consumer but still owed,
        # that is not written down by the notifier.
        received = set(self.consumer.entries())
        owed = {(row['alarm_id'], row['firing'].get('previous'),
                 row['firing'].get('current'),
                 ((row['firing'].get('reason_data') or {}).get('event')
                  or {}).get('message_id'))
                for row in self.stored_deliveries()}
        in_flight = len(received & owed)
        self.addDetail('in-flight', content.json_content(
            [list(entry) for entry in received & owed]))
        flipper.join(TIMEOUT)

        notifier.start()
        self.wait_until_all_delivered(alarms)

        duplicates = self.duplicates()
        report = {'in_flight_at_kill': in_flight,
                  'duplicates': sum(duplicates.values()),
                  'delivered': len(self.consumer.entries()),
                  'duplicated': [list(entry) for entry in duplicates]}
        self.addDetail('kill-9', content.json_content(report))
        print('notifier kill -9: %(delivered)d delivered, %(duplicates)d '
              'duplicates, %(in_flight_at_kill)d in flight at the kill'
              % report)
        self.assertLessEqual(sum(duplicates.values()), in_flight)
        for alarm in alarms:
            # Every transition at least once, in order once repeats are
            # set aside.
            self.assertEqual(self.transitions(alarm['alarm_id']),
                             self.received_once(alarm['alarm_id']))
