"""The evaluator service end to end: Nova's notification in, webhook out.

Every test runs on the embedded default (SQLite and the in-process bus)
and again, in the subclass at the end, on RabbitMQ and PostgreSQL.
"""

from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from doctor.tests.functional import base as fbase
from doctor.tests.functional import pipeline


def _traits(body: dict) -> dict:
    return {name: (kind, value)
            for name, kind, value in body['reason_data']['event']['traits']}


class EvaluatorTest(pipeline.PipelineTestCase):
    """The evaluator with inline delivery, on the embedded default."""

    def setUp(self):
        super().setUp()
        self.config.config(inline_notifier=True, group='evaluator')

    def test_alarm_created_while_running_fires_alarm_then_ok_actions(self):
        evaluator = self.start_evaluator()
        alarm = self.create_alarm()
        self.announce(alarm, evaluator)

        request_id = self.error(alarm)

        [post] = self.webhook.wait_for(1, '/alarm')
        body = post.body
        self.assertEqual(
            {'alarm_id': alarm['alarm_id'],
             'alarm_name': 'InstanceStatusAlarm', 'severity': 'moderate',
             'previous': 'ok', 'current': 'alarm'},
            {key: body[key] for key in ('alarm_id', 'alarm_name', 'severity',
                                        'previous', 'current')})
        self.assertIn('hits the query', body['reason'])
        self.assertNotIn('fault_id', body)
        event = body['reason_data']['event']
        self.assertEqual(('event', 'compute.instance.update'),
                         (body['reason_data']['type'], event['event_type']))
        self.assertTrue(event['message_id'])
        traits = _traits(body)
        self.assertEqual((1, alarm['resource_id']), traits['instance_id'])
        self.assertEqual((1, self.project_id), traits['tenant_id'])
        self.assertEqual((1, 'error'), traits['state'])
        self.assertEqual((1, 'active'), traits['old_state'])
        self.assertEqual((1, 'host1'), traits['host'])
        self.assertEqual(request_id, post.headers['x-openstack-request-id'])
        self.assertEqual('application/json', post.headers['content-type'])

        self.active(alarm)

        [post] = self.webhook.wait_for(1, '/ok')
        self.assertEqual(('alarm', 'ok'),
                         (post.body['previous'], post.body['current']))
        self.assertEqual((1, 'active'), _traits(post.body)['state'])
        self.webhook.assert_no_more(2)
        self.assertEqual('ok', self.db.get_alarm(alarm['alarm_id'])['state'])
        self.assertEqual([('ok', 'alarm'), ('alarm', 'ok')],
                         self.transitions(alarm['alarm_id']))
        # Delivered: nothing is left owing.
        self.wait_for(lambda: not self.stored_deliveries(),
                      message='deliveries forgotten')

    def test_alarm_loaded_at_start_follows_later_changes(self):
        alarm = self.create_alarm()
        evaluator = self.start_evaluator()

        self.error(alarm)
        self.webhook.wait_for(1, '/alarm')

        # The API changes the rule: from now on only 'shutoff' is a fault.
        rule = {'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'shutoff', 'type': 'string'}]}
        changed = self.db.update_alarm(
            alarm['alarm_id'], {'rule': rule,
                                'timestamp': timeutils.utcnow()},
            [])
        self.announce(changed, evaluator)
        self.error(alarm)

        [post] = self.webhook.wait_for(1, '/ok')
        self.assertIn("traits.state eq 'shutoff'", post.body['reason'])
        self.assertEqual([('ok', 'alarm'), ('alarm', 'ok')],
                         self.transitions(alarm['alarm_id']))

    def test_alarms_of_other_resources_and_disabled_alarms_stay_quiet(self):
        disabled = self.create_alarm(enabled=False)
        evaluator = self.start_evaluator()
        watched = self.create_alarm()
        other = self.create_alarm()
        for alarm in (watched, other):
            self.announce(alarm, evaluator)

        self.error(watched)
        self.error(disabled)

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual(watched['alarm_id'], post.body['alarm_id'])
        self.webhook.assert_no_more(1)
        for quiet in (other, disabled):
            self.assertEqual('ok',
                             self.db.get_alarm(quiet['alarm_id'])['state'])

    def test_alarm_without_events_goes_to_insufficient_data(self):
        self.config.config(timeout_check_interval=0.1, group='evaluator')
        evaluator = self.start_evaluator()
        rule = {'event_type': 'compute.instance.update', 'timeout': 1,
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}]}
        alarm = self.create_alarm(
            rule=rule, insufficient_data_actions=[self.webhook.url('/nodata')])
        self.announce(alarm, evaluator)

        self.active(alarm)  # all well, and the next word is due in 1 s

        [post] = self.webhook.wait_for(1, '/nodata')
        self.assertEqual(('ok', 'insufficient data'),
                         (post.body['previous'], post.body['current']))
        self.assertEqual({'type': 'timeout', 'timeout': 1.0},
                         post.body['reason_data'])
        self.error(alarm)
        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual('insufficient data', post.body['previous'])
        self.assertEqual([('ok', 'insufficient data'),
                          ('insufficient data', 'alarm')],
                         self.transitions(alarm['alarm_id']))

    def test_malformed_notifications_do_not_stop_the_evaluator(self):
        evaluator = self.start_evaluator()
        alarm = self.create_alarm()
        self.announce(alarm, evaluator)
        resource_id = alarm['resource_id']

        for payload in ('not a dict', None, [resource_id], {},
                        {'instance_id': None, 'state': 'error'},
                        {'instance_id': {'nested': resource_id}},
                        {'instance_id': resource_id},
                        {'instance_id': resource_id, 'state': ['error']}):
            self.nova.info('compute.instance.update', payload)
        self.nova.info('', {'instance_id': resource_id, 'state': 'error'})
        self.send_garbage()
        self.error(alarm)

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual((alarm['alarm_id'], 'alarm'),
                         (post.body['alarm_id'], post.body['current']))
        self.webhook.assert_no_more(1)

    def send_garbage(self) -> None:
        """Put messages on the bus that no Notifier would send."""


class RabbitPostgreSQLEvaluatorTest(EvaluatorTest):
    """The evaluator on RabbitMQ and PostgreSQL."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def send_garbage(self) -> None:
        for body in (b'\x00not json', b'"a string"', b'{"no": "payload"}',
                     b'{"oslo.version": "2.0", "oslo.message": "{"}'):
            self.rabbit_publish('nova', 'notifications.info', body)

    def test_an_unstorable_alarm_of_one_project_silences_no_other(self):
        # An alarm whose query field holds a NUL and a lone surrogate, as
        # the API accepted before it checked strings: the reason of each of
        # its transitions quotes the field, which PostgreSQL cannot store.
        # It is stored here directly, as an older release stored it.
        attacker = uuidutils.generate_uuid(dashed=False)
        rule = {'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state\x00\ud800', 'op': 'ne',
                           'value': 'never', 'type': 'string'}]}
        alarm, change = fbase.new_alarm(
            project_id=attacker, rule=rule, state='insufficient data',
            ok_actions=[self.webhook.url('/attacker')])
        poisoned = self.db.create_alarm(alarm, change)
        victim = self.create_alarm()
        warm_up = self.create_alarm(alarm_actions=[self.webhook.url('/warm')])
        # One worker, and a listener that waits 2 s for a batch to fill:
        # the three events arrive in one batch. The first one's transition
        # waits on a row lock of the test's, so the other two are queued
        # behind it, evaluated together, and their transitions stored in
        # one transaction.
        self.config.config(executor_threads=1, notification_batch_timeout=2,
                           group='evaluator')
        self.start_evaluator()
        with self.db.engine.connect() as lock:
            lock.execute(sa.text('SELECT 1 FROM alarm WHERE alarm_id = :a '
                                 'FOR UPDATE'),
                         {'a': warm_up['alarm_id']})
            self.error(warm_up)
            self.nova.instance_update(poisoned['resource_id'], attacker,
                                      'error', 'active')
            self.error(victim)
            self.wait_for(lambda: fbase.waiting_on_a_lock(self.db),
                          message='the first transition to wait')
            lock.rollback()
        self.webhook.wait_for(1, '/warm')
        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual(victim['alarm_id'], post.body['alarm_id'])
        self.assertEqual('alarm', self.db.get_alarm(
            victim['alarm_id'])['state'])
        # Its own transition, to ok, is the one dropped.
        self.assertEqual('insufficient data', self.db.get_alarm(
            poisoned['alarm_id'])['state'])
        self.assertEqual([], self.webhook.received('/attacker'))

    def test_default_pool_keeps_casts_and_notifications_apart(self):
        # RabbitMQ names a pool's queue after the pool; the default must
        # not share the RPC topic's queue, or the RPC server receives the
        # notifications and the listener the alarm changes.
        self.conf.clear_override('notification_pool', group='evaluator')
        evaluator = self.start_evaluator()
        alarm = self.create_alarm()
        self.announce(alarm, evaluator)
        self.error(alarm)
        self.webhook.wait_for(1, '/alarm')
        self.active(alarm)
        self.webhook.wait_for(1, '/ok')
        self.webhook.assert_no_more(2)

    def test_two_evaluators_fire_every_transition_once(self):
        self._fire_through_two_evaluators()

    def test_two_evaluators_in_a_rolling_upgrade(self):
        # Evaluators of RPC 1.0 do not tell each other of transitions.
        self.config.config(evaluator='1.0', group='upgrade_levels')
        self._fire_through_two_evaluators()

    def _fire_through_two_evaluators(self):
        # Replicas know of each other through coordination, and check an
        # alarm's stored state before deciding a transition is not news.
        self.require(fbase.REDIS)
        self.config.config(
            backend_url='redis://127.0.0.1:6379?namespace=%s'
            % uuidutils.generate_uuid(), group='coordination')
        evaluators = [self.start_evaluator(),
                      self.start_evaluator(self.replica_conf())]
        # A replica learns that another joined at its next refresh of the
        # group (within [coordination] heartbeat_interval); until then it
        # takes itself for alone and trusts its own view of the states.
        self.wait_for(lambda: all(
            e._membership is not None and e._membership.members == 2
            for e in evaluators), message='both evaluators know the other')
        alarms = [self.create_alarm() for _ in range(20)]
        for alarm in alarms:
            self.announce(alarm, *evaluators)
        before = [e.engine.events_evaluated for e in evaluators]
        ids = {alarm['alarm_id'] for alarm in alarms}

        for alarm in alarms:
            self.error(alarm)
        fired = self.webhook.wait_for(len(alarms), '/alarm')
        # Every evaluator takes its share of the pool's notifications.
        self.wait_for(lambda: all(
            e.engine.events_evaluated > count
            for e, count in zip(evaluators, before)),
            message='both evaluators at work')

        for alarm in alarms:
            self.active(alarm)
        cleared = self.webhook.wait_for(len(alarms), '/ok')

        self.webhook.assert_no_more(2 * len(alarms))
        self.assertEqual(sorted(ids),
                         sorted(post.body['alarm_id'] for post in fired))
        self.assertEqual(sorted(ids),
                         sorted(post.body['alarm_id'] for post in cleared))
        for alarm_id in ids:
            self.assertEqual([('ok', 'alarm'), ('alarm', 'ok')],
                             self.transitions(alarm_id))
            self.assertEqual('ok', self.db.get_alarm(alarm_id)['state'])
