"""The notifier service: firings handed over RPC, and stored ones.

The evaluator hands each firing to doctor-notifier over RPC
(``[evaluator] inline_notifier = False``); the delivery is stored with the
state change first, so that a notifier that was down delivers it later.
Every test runs on the embedded default (SQLite and the in-process bus)
and again, in the subclass at the end, on RabbitMQ and PostgreSQL.
"""

import datetime
import uuid

from oslo_utils import timeutils
import sqlalchemy as sa

from doctor.notifier import service as notifier_service
from doctor.tests.functional import base
from doctor.tests.functional import pipeline

# Seconds: a stored delivery is taken over this long after it was made.
REDELIVERY_AFTER = 1


class NotifierTest(pipeline.PipelineTestCase):
    """The notifier on the embedded default."""

    def setUp(self):
        super().setUp()
        self.config.config(inline_notifier=False, group='evaluator')
        self.config.config(redelivery_after=REDELIVERY_AFTER,
                           redelivery_interval=1, group='notifier')

    def fire(self, **kwargs) -> dict:
        """Create an alarm and make its instance fail; returns the alarm.

        The evaluator must be running.
        """
        alarm = self.create_alarm()
        self.announce(alarm, self.evaluator)
        self.error(alarm, **kwargs)
        return alarm

    def wait_until_stale(self, alarm: dict) -> None:
        """Wait until a scan may take the alarm's delivery over."""
        [delivery] = self.wait_for(lambda: self.stored_deliveries(
            alarm['alarm_id']), message='a stored delivery')
        stale_at = delivery['claimed_at'] + datetime.timedelta(
            seconds=REDELIVERY_AFTER)
        self.wait_for(lambda: timeutils.utcnow() > stale_at,
                      timeout=REDELIVERY_AFTER + 5,
                      message='the delivery to age')

    def test_firing_is_delivered_over_rpc(self):
        self.start_notifier()
        self.evaluator = self.start_evaluator()
        alarm = self.fire()

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual((alarm['alarm_id'], 'ok', 'alarm'),
                         (post.body['alarm_id'], post.body['previous'],
                          post.body['current']))
        self.wait_for(lambda: not self.stored_deliveries(),
                      message='the delivery to be forgotten')
        self.webhook.assert_no_more(1)

    def test_delivery_waits_for_a_notifier_to_start(self):
        self.evaluator = self.start_evaluator()
        alarm = self.fire()
        # Stored with the transition, though nobody delivers it yet.
        self.wait_for(lambda: self.stored_deliveries(alarm['alarm_id']),
                      message='a stored delivery')
        self.assertEqual('alarm',
                         self.db.get_alarm(alarm['alarm_id'])['state'])
        self.assertEqual([], self.webhook.received())

        self.start_notifier()

        [post] = self.webhook.wait_for(1, '/alarm',
                                       timeout=REDELIVERY_AFTER + 10)
        self.assertEqual(alarm['alarm_id'], post.body['alarm_id'])
        self.wait_for(lambda: not self.stored_deliveries(),
                      message='the delivery to be forgotten')
        # Past another scan: still delivered once.
        self.webhook.assert_no_more(1, grace=1.2)

    def test_restarted_notifier_delivers_what_it_missed_once(self):
        stopped = notifier_service.NotifierService(self.conf)
        stopped.start()
        stopped.stop()
        self.evaluator = self.start_evaluator()
        alarm = self.fire()
        # The firing sent to the stopped notifier may wait on the bus, and
        # the stored delivery is due for taking over when it comes back.
        self.wait_until_stale(alarm)

        self.start_notifier()

        self.webhook.wait_for(1, '/alarm', timeout=REDELIVERY_AFTER + 10)
        self.wait_for(lambda: not self.stored_deliveries(),
                      message='the delivery to be forgotten')
        self.webhook.assert_no_more(1, grace=1.2)

    def test_fault_id_reaches_the_webhook(self):
        self.start_notifier()
        self.evaluator = self.start_evaluator()
        fault_id = str(uuid.uuid4())
        self.fire(fault_id=fault_id)

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual(fault_id, post.body['fault_id'])

    def test_notifier_of_rpc_1_0_gets_no_fault_id(self):
        # A rolling upgrade: some notifiers still speak RPC 1.0, whose
        # AlarmFiring 1.0 has no fault_id.
        self.config.config(notifier='1.0', group='upgrade_levels')
        self.start_notifier()
        self.evaluator = self.start_evaluator()
        self.fire(fault_id=str(uuid.uuid4()))

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertNotIn('fault_id', post.body)
        self.assertEqual('alarm', post.body['current'])


class RabbitPostgreSQLNotifierTest(NotifierTest):
    """The notifier on RabbitMQ and PostgreSQL."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def test_stopped_services_release_their_database_connections(self):
        notifier = self.start_notifier()
        self.evaluator = self.start_evaluator()
        self.fire()
        self.webhook.wait_for(1, '/alarm')
        self.wait_for(lambda: not self.stored_deliveries(),
                      message='the delivery to be forgotten')
        database = sa.engine.make_url(self.conf.database.connection).database
        self.db.close()

        self.evaluator.stop()
        notifier.stop()

        self.wait_for(lambda: base.connections_to(database) == 0,
                      timeout=5, message='no session on %s' % database)
