"""Webhook targets end to end: a consumer on loopback, refused or allowed.

An alarm fires through the evaluator (inline delivery, embedded default)
towards a real HTTP receiver on 127.0.0.1. With the default
``[notifier]`` policy the delivery is refused and the alarm's history
says so; with 127.0.0.0/8 in ``allowed_networks`` the receiver gets it.
"""

from oslo_serialization import jsonutils

from doctor.db import api as db_api
from doctor.tests.functional import pipeline


class WebhookTargetsTest(pipeline.PipelineTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(inline_notifier=True, group='evaluator')

    def fire(self) -> dict:
        evaluator = self.start_evaluator()
        alarm = self.create_alarm(ok_actions=[])
        self.announce(alarm, evaluator)
        self.error(alarm)
        return alarm

    def action_entries(self, alarm_id: str) -> list[dict]:
        return [jsonutils.loads(change['detail'])
                for change in self.db.get_alarm_changes(alarm_id)
                if change['type'] == db_api.CHANGE_ACTION]

    def test_a_consumer_on_loopback_is_refused_by_default(self):
        self.config.config(allowed_networks=[], group='notifier')
        alarm = self.fire()

        [entry] = self.wait_for(
            lambda: self.action_entries(alarm['alarm_id']),
            message='the refused delivery in the history')
        self.assertEqual(
            {'action': self.webhook.url('/alarm'), 'state': 'alarm',
             'result': 'refused',
             'reason': '%s is in a denied network: 127.0.0.1 is in '
                       '127.0.0.0/8' % self.webhook.url('/alarm')}, entry)
        self.wait_for(lambda: not self.stored_deliveries(alarm['alarm_id']),
                      message='the refused delivery to be forgotten')
        self.assertEqual([], self.webhook.received())

    def test_a_consumer_on_loopback_is_reached_when_allowed(self):
        self.config.config(allowed_networks=['127.0.0.0/8'],
                           group='notifier')
        alarm = self.fire()

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual(alarm['alarm_id'], post.body['alarm_id'])
        self.assertEqual([], self.action_entries(alarm['alarm_id']))
