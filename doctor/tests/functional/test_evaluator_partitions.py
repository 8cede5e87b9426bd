"""Partitioned evaluators: four processes, one killed with ``kill -9``.

Four doctor-evaluator processes, partitioned (``[evaluator]
partitioned``), share one RabbitMQ vhost and one PostgreSQL database
through the test's proxies and know of each other through Redis. The
storm of test_no_alarm_lost flips every alarm once per round; mid-storm
the process leading the intake (the one that forwards the pool queue to
the partitions) is killed with its whole process group, and not started
again: another takes over the intake, the survivors share its
partitions. The same ledger then shows that no transition was lost or
stored twice, that each alarm's transitions alternate as its events did,
and how many webhooks came twice (at most what was in flight).
"""

import os
import re
import time

from oslo_utils import uuidutils
import sqlalchemy as sa
from testtools import content

from doctor.evaluator import partition
from doctor.tests.functional import base
from doctor.tests.functional import outage
from doctor.tests.functional import test_no_alarm_lost

PROCESSES = 4
PARTITIONS = 16
_READY = 'Listening for notifications'
_LEADING = 'Leading the evaluator intake'


class TestPartitionedEvaluators(test_no_alarm_lost.NoAlarmLostTestCase):

    def setUp(self):
        # Members and the intake's lock expire 3 s after a process stops
        # beating: the takeover the test waits for.
        self.coordination = ('redis://127.0.0.1:6379?namespace=%s&timeout=3'
                             % uuidutils.generate_uuid())
        super().setUp()
        self.require(base.REDIS)
        directory = os.path.dirname(self.evaluator.config_file)
        self.evaluators = [self.evaluator]
        for number in range(1, PROCESSES):
            evaluator = self.useFixture(outage.ServiceProcess(
                'doctor-evaluator', self.evaluator.config_file,
                '%s/evaluator-%d.log' % (directory, number), ready=_READY))
            self.addCleanup(evaluator.attach_log, self)
            evaluator.start()
            self.evaluators.append(evaluator)
        self.wait_for(self._balanced, timeout=60,
                      message='every partition consumed by one process')

    def _service_config(self, directory: str) -> dict:
        config = super()._service_config(directory)
        config['evaluator'].update(partitioned=True, partitions=PARTITIONS,
                                   executor_threads=2)
        config['coordination'] = {'backend_url': self.coordination}
        # Two connections per process: four processes stay within the
        # shared server's budget.
        config['database'].update(max_pool_size=2, max_overflow=0)
        return config

    def _depths(self) -> dict[str, tuple]:
        return {name: depth for name, depth in outage.rabbit_queue_depths(
            self.rabbit_vhost, self.rabbitmqctl).items()
            if name.startswith(partition.TOPIC)
            or name == self.conf.evaluator.notification_pool}

    def _balanced(self) -> bool:
        depths = self._depths()
        partitions = [depth for name, depth in depths.items()
                      if name.startswith(partition.TOPIC)]
        return (len(partitions) == PARTITIONS
                and all(consumers == 1 for _m, consumers in partitions)
                and depths.get(self.conf.evaluator.notification_pool,
                               (0, 0))[1] == 1)

    def wait_for_quiet(self) -> None:
        """Every evaluator queue empty and consumed, no delivery owed.

        Unlike the one-process test, a queue without consumer counts: a
        partition whose owner died holds its events until it is handed
        over.
        """
        seen = {}

        def quiet():
            depths = seen['queues'] = self._depths()
            if not self._balanced() or any(
                    messages for messages, _c in depths.values()):
                return False
            with self.db.engine.connect() as connection:
                owed = connection.execute(
                    sa.select(sa.func.count()).select_from(
                        test_no_alarm_lost._delivery)).scalar()
            return owed == 0
        try:
            self.wait_for(quiet, timeout=test_no_alarm_lost.QUIET_TIMEOUT,
                          message='the evaluators to be quiet')
        finally:
            self.addDetail('queues', content.text_content(
                '\n'.join('%s: %s messages, %s consumers' % (name, *depth)
                           for name, depth
                           in sorted(seen.get('queues', {}).items()))))

    def _leader(self) -> outage.ServiceProcess:
        leaders = [evaluator for evaluator in self.evaluators
                   if _LEADING in evaluator.log()]
        self.assertEqual(1, len(leaders), 'one intake leader')
        return leaders[0]

    def test_kill_9_the_intake_leader_mid_storm(self):
        leader = self._leader()
        survivors = [e for e in self.evaluators if e is not leader]

        def fault(publisher):
            publisher.wait_for_round(test_no_alarm_lost.ROUNDS // 4)
            leader.kill9()
            self.killed_at = time.monotonic()
        self.run_rounds(fault)
        found = self.assert_nothing_lost(
            max_duplicates=self.conf.evaluator.notification_batch_size)
        self.assertEqual(1, leader.kills)
        # Another process took the intake over, and the survivors consume
        # every partition between them.
        self.assertEqual(1, sum(_LEADING in e.log() for e in survivors))
        consumed = set()
        for evaluator in survivors:
            for line in re.findall(r'Consuming evaluator partitions (\S+)',
                                   evaluator.log()):
                consumed.update(int(n) for n in line.split(','))
        self.assertEqual(set(range(PARTITIONS)), consumed)
        self.assertEqual(0, found['transitions lost'])

    def test_broker_outage_mid_storm(self):
        # Every process loses the broker: the intake's forwards fail (it
        # sends its batches back and starts again on a new connection)
        # and the partition consumers lose their connection.
        def fault(publisher):
            publisher.wait_for_round(test_no_alarm_lost.ROUNDS // 4)
            self.bus_proxy.cut()
            time.sleep(test_no_alarm_lost.OUTAGE_SECONDS)
            self.bus_proxy.restore()
        self.run_rounds(fault)
        found = self.assert_nothing_lost(
            max_duplicates=self.conf.evaluator.notification_batch_size)
        self.assertEqual(0, found['transitions lost'])
        self.addDetail('intake restarts', content.text_content(str(sum(
            e.log().count('Starting the evaluator intake again')
            for e in self.evaluators))))


class TestSeveralNotifierProcesses(test_no_alarm_lost.NoAlarmLostTestCase):
    """doctor-notifier with ``[notifier] processes = 2`` delivers the storm.

    The evaluator hands its firings to doctor-notifier over RPC; both
    notifier processes take them from one topic and claim each delivery
    in the database, so that none is made twice.
    """

    def setUp(self):
        super().setUp()
        self.notifier = self.useFixture(outage.ServiceProcess(
            'doctor-notifier', self.evaluator.config_file,
            '%s/notifier.log' % os.path.dirname(self.evaluator.config_file),
            ready='Notifier plugins'))
        self.addCleanup(self.notifier.attach_log, self)
        self.notifier.start()
        self.wait_for(lambda: len(self._notifier_pids()) == 2, timeout=60,
                      message='both notifier processes started')

    def _service_config(self, directory: str) -> dict:
        config = super()._service_config(directory)
        config['evaluator']['inline_notifier'] = False
        config['notifier']['processes'] = 2
        config['database'].update(max_pool_size=2, max_overflow=0)
        return config

    def _notifier_pids(self) -> set[str]:
        return set(re.findall(r' (\d+) INFO doctor\.notifier\.service .*'
                              r'Notifier plugins', self.notifier.log()))

    def test_two_processes_deliver_each_transition_once(self):
        self.run_rounds(lambda publisher: None)
        self.assert_nothing_lost(max_duplicates=0)
