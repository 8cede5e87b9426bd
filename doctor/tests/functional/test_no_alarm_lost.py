"""No alarm lost: the evaluator through broker, database and process faults.

doctor-evaluator runs as a process of its own on RabbitMQ and PostgreSQL,
each reached through a TCP proxy of the test's, and delivers to a webhook
receiver in the test. A publisher sends Nova's instance notifications
that flip every alarm once per round, while the test cuts the broker or
the database, or kills the evaluator with ``kill -9``. A ledger then holds
every event published, every transition stored and every webhook
received, and the test asserts that none was lost and that every alarm
ends in the right state. Duplicates are counted and shown.
"""

import collections
import json
import os
import threading
import time
import uuid

import fixtures
from oslo_serialization import jsonutils
import sqlalchemy as sa
from testtools import content

from doctor.db import api as db_api
from doctor.db.sqlalchemy import models
from doctor.tests.functional import base
from doctor.tests.functional import outage
from doctor.tests.functional import peers

_delivery = models.AlarmDelivery.__table__
_change = models.AlarmChange.__table__

# Long enough for a backlog to build, short enough for CI. The benchmark
# (tools/bench/no_alarm_lost.py) runs the same scenarios larger, through
# DOCTOR_FAULT_SCALE ("alarms,rounds,events per second,outage seconds"),
# and collects each ledger as a JSON line in DOCTOR_FAULT_LEDGER.
ALARMS, ROUNDS, EVENTS_PER_SECOND, OUTAGE_SECONDS = (
    float(value) for value in os.environ.get(
        'DOCTOR_FAULT_SCALE', '10,20,50,4').split(','))
ALARMS, ROUNDS = int(ALARMS), int(ROUNDS)
LEDGER_FILE = os.environ.get('DOCTOR_FAULT_LEDGER')
# Generous: only reached if something is lost or stuck.
QUIET_TIMEOUT = 180 + int(2 * ALARMS * ROUNDS / EVENTS_PER_SECOND)


def flip_state(round_number: int) -> tuple[str, str]:
    """Nova's (state, old_state) of an instance in a round: error first."""
    if round_number % 2 == 0:
        return 'error', 'active'
    return 'active', 'error'


def expected_transitions(rounds: int) -> list[tuple[str, str]]:
    """What every alarm must go through, starting from ``ok``."""
    moves = []
    state = 'ok'
    for number in range(rounds):
        new = 'alarm' if flip_state(number)[0] == 'error' else 'ok'
        moves.append((state, new))
        state = new
    return moves


class Publisher(threading.Thread):
    """Sends the rounds of notifications at a steady rate, as Nova would.

    It talks to RabbitMQ directly, never through the test's proxy: the
    cloud keeps sending while doctor is cut off.
    """

    def __init__(self, nova: peers.NovaNotifications, project_id: str,
                 instances: list[str], rounds: int, rate: float) -> None:
        super().__init__(daemon=True, name='nova-publisher')
        self._nova = nova
        self._project_id = project_id
        self._instances = instances
        self._rounds = rounds
        self._interval = 1.0 / rate
        self.published: list[tuple[str, str]] = []
        self.round_done = threading.Condition()
        self.rounds_done = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        start = time.monotonic()
        sent = 0
        try:
            for number in range(self._rounds):
                state, old_state = flip_state(number)
                for instance in self._instances:
                    self._nova.instance_update(instance, self._project_id,
                                               state, old_state)
                    self.published.append((instance, state))
                    sent += 1
                    delay = start + sent * self._interval - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                with self.round_done:
                    self.rounds_done = number + 1
                    self.round_done.notify_all()
        except BaseException as e:  # reported by the test's thread
            self.error = e
            with self.round_done:
                self.rounds_done = self._rounds
                self.round_done.notify_all()

    def wait_for_round(self, number: int, timeout: float = 60) -> None:
        with self.round_done:
            self.round_done.wait_for(lambda: self.rounds_done >= number,
                                     timeout)


class NoAlarmLostTestCase(base.FunctionalTestCase):
    """doctor-evaluator as a process, its peers behind proxies."""

    def setUp(self):
        super().setUp()
        # An outage, a restart and the catch-up take more than the
        # 60 s every test gets.
        self.useFixture(fixtures.Timeout(QUIET_TIMEOUT + 60, gentle=True))
        self.use_database('postgresql')
        self.use_rabbit()
        self.require_rabbitmqctl()
        self.webhook = self.useFixture(peers.WebhookReceiver())
        self.nova = self.useFixture(
            peers.NovaNotifications(self.conf.transport_url))
        self.db_proxy = self.useFixture(outage.TcpProxy(5432))
        self.bus_proxy = self.useFixture(outage.TcpProxy(5672))
        self.project_id = uuid.uuid4().hex
        self.alarms = []
        for _ in range(ALARMS):
            alarm, change = base.new_alarm(
                project_id=self.project_id,
                alarm_actions=[self.webhook.url('/alarm')],
                ok_actions=[self.webhook.url('/ok')])
            self.alarms.append(self.db.create_alarm(alarm, change))
        self.by_resource = {alarm['resource_id']: alarm
                            for alarm in self.alarms}
        directory = self.useFixture(fixtures.TempDir()).path
        config = outage.write_config(
            '%s/doctor.conf' % directory, self._service_config(directory))
        self.evaluator = self.useFixture(outage.ServiceProcess(
            'doctor-evaluator', config, '%s/evaluator.log' % directory,
            ready='Listening for notifications'))
        self.addCleanup(self.evaluator.attach_log, self)
        self.evaluator.start()

    def require_rabbitmqctl(self) -> None:
        self.rabbitmqctl = base._rabbitmqctl()
        if self.rabbitmqctl is None:
            self.require('rabbitmqctl')

    def _service_config(self, directory: str) -> dict:
        database = sa.engine.make_url(self.conf.database.connection).set(
            port=self.db_proxy.port)
        bus = self.conf.transport_url.replace(
            '127.0.0.1:5672', '127.0.0.1:%d' % self.bus_proxy.port)
        return {
            'DEFAULT': {'transport_url': bus, 'host': self.conf.host,
                        'state_path': directory},
            'database': {'connection': database.render_as_string(
                hide_password=False), 'max_pool_size': 2,
                'max_overflow': 2},
            'evaluator': {
                'notification_pool': self.conf.evaluator.notification_pool},
            # The receiver is on this host: let the webhooks reach it.
            'notifier': {'allowed_networks': '127.0.0.0/8'},
        }

    # the run

    def run_rounds(self, fault) -> Publisher:
        """Publish every round while ``fault(publisher)`` runs meanwhile."""
        publisher = Publisher(self.nova, self.project_id,
                              list(self.by_resource), ROUNDS,
                              EVENTS_PER_SECOND)
        started = time.monotonic()
        publisher.start()
        try:
            fault(publisher)
            self.fault_over = time.monotonic()
        finally:
            publisher.join(QUIET_TIMEOUT)
        if publisher.error is not None:
            raise publisher.error
        self.assertEqual(ALARMS * ROUNDS, len(publisher.published))
        self.published_in = time.monotonic() - started
        self.wait_for_quiet()
        self.quiet_after = time.monotonic() - self.fault_over
        return publisher

    def wait_for_quiet(self) -> None:
        """Wait until nothing is left to evaluate or deliver.

        Quiet means: every queue that the evaluator consumes is empty,
        counting the messages it holds unacknowledged, and no delivery is
        stored. A notification is acknowledged only once what it causes is
        stored, deliveries included, so after that no further webhook can
        come.
        """
        seen = {}

        def quiet():
            depths = outage.rabbit_queue_depths(self.rabbit_vhost,
                                                self.rabbitmqctl)
            seen['queues'] = depths
            consumed = [messages for messages, consumers in depths.values()
                        if consumers]
            if not consumed or any(consumed):
                return False
            with self.db.engine.connect() as connection:
                owed = connection.execute(
                    sa.select(sa.func.count()).select_from(_delivery)
                ).scalar()
            return owed == 0
        try:
            self.wait_for(quiet, timeout=QUIET_TIMEOUT,
                          message='the evaluator to be quiet')
        finally:
            self.addDetail('queues', content.text_content(
                '\n'.join('%s: %s messages, %s consumers' % (name, *depth)
                           for name, depth in seen.get('queues', {}).items())))

    # the ledger

    def ledger(self) -> dict:
        """What was stored and received, by alarm, and what is wrong."""
        expected = expected_transitions(ROUNDS)
        final = expected[-1][1]
        with self.db.engine.connect() as connection:
            rows = connection.execute(
                sa.select(_change.c.alarm_id, _change.c.detail)
                .where(_change.c.type == db_api.CHANGE_STATE)
                .order_by(_change.c.timestamp)).all()
            states = dict(connection.execute(
                sa.select(models.Alarm.__table__.c.alarm_id,
                          models.Alarm.__table__.c.state)).all())
        stored = collections.defaultdict(list)
        for alarm_id, detail in rows:
            detail = jsonutils.loads(detail)
            stored[alarm_id].append((detail['previous'], detail['state']))
        received = collections.defaultdict(list)
        for request in self.webhook.received():
            body = request.body
            received[body['alarm_id']].append(
                (body['previous'], body['current'],
                 body['reason_data']['event']['message_id']))
        lost_transitions = 0
        lost_webhooks = 0
        duplicates = 0
        wrong_state = []
        for alarm in self.alarms:
            alarm_id = alarm['alarm_id']
            lost_transitions += len(expected) - len(stored[alarm_id])
            unique = set(received[alarm_id])
            duplicates += len(received[alarm_id]) - len(unique)
            lost_webhooks += len(expected) - len(unique)
            if stored[alarm_id] != expected or states[alarm_id] != final:
                wrong_state.append(alarm_id)
        found = {
            'events published': ALARMS * ROUNDS,
            'transitions expected': ALARMS * len(expected),
            'transitions stored': sum(len(v) for v in stored.values()),
            'transitions lost': lost_transitions,
            'webhooks received': len(self.webhook.received()),
            'webhooks lost': lost_webhooks,
            'webhooks duplicated': duplicates,
            'alarms in a wrong state': len(wrong_state),
        }
        text = '\n'.join('%s: %s' % item for item in found.items())
        self.addDetail('ledger', content.text_content(text))
        print('\n%s ledger:\n%s' % (self.id(), text))
        if LEDGER_FILE:
            record = dict(
                found, scenario=self.id().rsplit('.', 1)[-1],
                alarms=ALARMS, rounds=ROUNDS,
                events_per_second=EVENTS_PER_SECOND,
                outage_seconds=OUTAGE_SECONDS,
                publishing_seconds=round(self.published_in, 2),
                quiet_after_fault_seconds=round(self.quiet_after, 2))
            with open(LEDGER_FILE, 'a') as f:
                f.write(json.dumps(record) + '\n')
        return found

    def assert_nothing_lost(self, max_duplicates: int = 0) -> dict:
        found = self.ledger()
        self.assertEqual(
            (0, 0, 0), (found['transitions lost'], found['webhooks lost'],
                        found['alarms in a wrong state']), found)
        self.assertLessEqual(found['webhooks duplicated'], max_duplicates,
                             found)
        return found


class TestNoAlarmLost(NoAlarmLostTestCase):

    def test_no_fault(self):
        self.run_rounds(lambda publisher: None)
        self.assert_nothing_lost()

    def test_broker_outage(self):
        def fault(publisher):
            publisher.wait_for_round(ROUNDS // 4)
            self.bus_proxy.cut()
            time.sleep(OUTAGE_SECONDS)
            self.bus_proxy.restore()
        self.run_rounds(fault)
        self.assert_nothing_lost()
        self.assertIn('AMQP server', self.evaluator.log())

    def test_database_outage(self):
        def fault(publisher):
            publisher.wait_for_round(ROUNDS // 4)
            self.db_proxy.cut()
            time.sleep(OUTAGE_SECONDS)
            self.db_proxy.restore()
        self.run_rounds(fault)
        self.assert_nothing_lost()
        self.assertIn('The database cannot be reached',
                      self.evaluator.log())

    def test_evaluator_kill_9_with_a_backlog(self):
        def fault(publisher):
            publisher.wait_for_round(ROUNDS // 4)
            self.evaluator.kill9()
            # The backlog builds while it is away.
            publisher.wait_for_round(ROUNDS // 2)
            self.evaluator.start()
        self.run_rounds(fault)
        # At most what it held unacknowledged at the kill comes again.
        self.assert_nothing_lost(
            max_duplicates=self.conf.evaluator.notification_batch_size)
        self.assertEqual(1, self.evaluator.kills)
