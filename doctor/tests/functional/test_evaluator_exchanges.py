"""The evaluator hears doctor's own notifications whatever its exchange.

On RabbitMQ: the inspector announces an instance's fault on
``[DEFAULT] control_exchange``; an operator who renames that exchange
(several doctors on one broker) keeps every alarm firing, even with a
``[evaluator] notification_exchanges`` written for the old default.
"""

import uuid

from doctor.inspector import notifications
from doctor.inspector.controllers import base as controller_base
from doctor.tests.functional import pipeline


class ControlExchangeTest(pipeline.PipelineTestCase):
    """A renamed control exchange, on RabbitMQ and PostgreSQL."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def fire_through_the_inspectors_announcement(self) -> None:
        evaluator = self.start_evaluator()
        alarm = self.create_alarm()
        self.announce(alarm, evaluator)

        notifications.Announcer(self.conf).instance_update(
            controller_base.Instance(
                id=alarm['resource_id'], host='compute-0', state='active',
                project_id=self.project_id),
            'error', str(uuid.uuid4()))

        [post] = self.webhook.wait_for(1, '/alarm')
        self.assertEqual(alarm['alarm_id'], post.body['alarm_id'])

    def test_a_renamed_control_exchange_is_listened_on(self):
        self.config.config(control_exchange='doctor-site-b')
        self.fire_through_the_inspectors_announcement()

    def test_even_with_the_old_literal_in_notification_exchanges(self):
        self.config.config(control_exchange='doctor-site-b')
        self.config.config(notification_exchanges=['nova', 'neutron',
                                                   'doctor'],
                           group='evaluator')
        self.fire_through_the_inspectors_announcement()
