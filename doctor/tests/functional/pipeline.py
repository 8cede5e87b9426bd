"""Base of the tests that run doctor's services end to end.

Nova's notifications go in (:class:`peers.NovaNotifications`), alarm POSTs
come out at a local webhook receiver (:class:`peers.WebhookReceiver`).
"""

import threading
import uuid

from oslo_serialization import jsonutils
import sqlalchemy as sa

from doctor.common import context
from doctor.db import api as db_api
from doctor.db.sqlalchemy import models
from doctor.evaluator import rpcapi
from doctor.evaluator import rule as rule_mod
from doctor.evaluator import service as evaluator_service
from doctor.notifier import service as notifier_service
from doctor.objects import alarm as alarm_obj
from doctor.tests.functional import base
from doctor.tests.functional import peers

_delivery = models.AlarmDelivery.__table__


class PipelineTestCase(base.FunctionalTestCase):
    """Services against a webhook receiver and a Nova that publishes.

    ``use_services`` picks the database and the bus: the embedded default
    (SQLite, in-process bus) here, real ones in subclasses.
    """

    _services: list[evaluator_service.EvaluatorService
                    | notifier_service.NotifierService]

    def setUp(self):
        super().setUp()
        self.use_services()
        self.webhook = self.useFixture(peers.WebhookReceiver())
        self.nova = self.useFixture(
            peers.NovaNotifications(self.conf.transport_url))
        self.project_id = uuid.uuid4().hex
        self.admin = context.get_admin_context()
        self._services = []
        self.addCleanup(self._stop_services)

    def use_services(self) -> None:
        """Point the config at the database and bus of this class."""
        self.use_database('sqlite')

    def start_evaluator(self, conf=None) -> evaluator_service.EvaluatorService:
        """Start an evaluator, stopped again when the test ends."""
        service = evaluator_service.EvaluatorService(conf or self.conf)
        self._services.append(service)
        service.start()
        return service

    def start_notifier(self, conf=None) -> notifier_service.NotifierService:
        """Start a notifier, stopped again when the test ends."""
        service = notifier_service.NotifierService(conf or self.conf)
        self._services.append(service)
        service.start()
        return service

    def _stop_services(self) -> None:
        # Stopping a RabbitMQ listener takes up to seconds: stop every
        # service at once.
        errors: list = []

        def stop(service):
            try:
                service.stop()
            except Exception as e:  # raised in the test's thread below
                errors.append(e)
        stoppers = [threading.Thread(target=stop, args=(service,))
                    for service in self._services]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(30)
        if errors:
            raise errors[0]

    def create_alarm(self, **values) -> dict:
        """Store an alarm on a new instance; actions go to the receiver."""
        values.setdefault('alarm_actions', [self.webhook.url('/alarm')])
        values.setdefault('ok_actions', [self.webhook.url('/ok')])
        alarm, change = base.new_alarm(project_id=self.project_id, **values)
        return self.db.create_alarm(alarm, change)

    def announce(self, row: dict, *evaluators) -> None:
        """Tell the evaluators of the alarm, as the API does.

        Returns once each of ``evaluators`` has indexed this version of it.
        """
        rpcapi.EvaluatorAPI(self.conf).alarm_changed(
            self.admin, alarm_obj.Alarm.from_dict(row))
        expected = rule_mod.compile_rule(row['rule']).describe()

        def indexed():
            for evaluator in evaluators:
                entry = evaluator.engine.index.get(row['alarm_id'])
                if entry is None or entry.rule.describe() != expected:
                    return False
            return True
        self.wait_for(indexed, message='alarm %s indexed' % row['alarm_id'])

    def error(self, alarm: dict, **kwargs) -> str:
        """Nova says the alarm's instance went from active to error."""
        return self.nova.instance_update(alarm['resource_id'],
                                         self.project_id, 'error', 'active',
                                         **kwargs)

    def active(self, alarm: dict, **kwargs) -> str:
        """Nova says the alarm's instance is active again."""
        return self.nova.instance_update(alarm['resource_id'],
                                         self.project_id, 'active', 'error',
                                         **kwargs)

    def transitions(self, alarm_id: str) -> list[tuple[str, str]]:
        """The alarm's state transitions in its history, oldest first."""
        found = []
        for change in reversed(self.db.get_alarm_changes(alarm_id)):
            if change['type'] == db_api.CHANGE_STATE:
                detail = jsonutils.loads(change['detail'])
                found.append((detail['previous'], detail['state']))
        return found

    def stored_deliveries(self, alarm_id: str | None = None) -> list[dict]:
        """The deliveries still owed (of one alarm, if given)."""
        query = sa.select(_delivery)
        if alarm_id is not None:
            query = query.where(_delivery.c.alarm_id == alarm_id)
        with self.db.engine.connect() as connection:
            return [dict(row) for row in
                    connection.execute(query).mappings().all()]
