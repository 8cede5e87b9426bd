"""An evaluator engine on the test's database, recording what it fires."""

import datetime

import fixtures
import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test
from oslo_utils import timeutils

from doctor.common import rpc
from doctor.db import api as db_api
from doctor.evaluator import announcer
from doctor.evaluator import evaluator
from doctor.evaluator import index
from doctor.evaluator import transformer
from doctor.tests import base
from doctor.tests.unit.db import factory
from doctor.tests.unit.evaluator import samples

RULE = {'event_type': 'compute.instance.update',
        'query': [{'field': 'traits.state', 'op': 'eq', 'value': 'error',
                   'type': 'string'}]}


class EngineTestCase(base.DBTestCase):
    """A DB test with ``make_engine()`` and helpers to feed it events."""

    def setUp(self):
        super().setUp()
        self.transformer = transformer.Transformer.from_file(
            samples.SHIPPED)
        _impl_test.reset()
        self.notifier = messaging.Notifier(
            rpc.get_notification_transport(self.conf),
            publisher_id='doctor.evaluator.test', driver='test')
        self.fired = []
        self.engine = self.make_engine()

    def make_engine(self, fire=None, publish_states=None, has_peers=None,
                    fire_stored=None):
        """An engine with its own index over the test's database.

        Its announcer emits through the ``test`` notification driver once
        the engine is started.
        """
        conf = self.conf
        engine = evaluator.NotificationEvaluator(
            conf, self.db,
            index.AlarmIndex(conf.evaluator.allow_alarms_without_resource),
            self.transformer, fire or self.fired.append,
            announcer.Announcer(self.notifier, publish_states),
            has_peers=has_peers, fire_stored=fire_stored)
        self.addCleanup(engine.stop)
        return engine

    def create_alarm(self, **overrides):
        """Store a notification alarm on the sample instance."""
        overrides.setdefault('rule', RULE)
        overrides.setdefault('resource_id', samples.INSTANCE_ID)
        overrides.setdefault('project_id', samples.PROJECT_ID)
        return factory.create_alarm(self.db, **overrides)

    def instance_event(self, state, instance_id=samples.INSTANCE_ID,
                       project_id=samples.PROJECT_ID, ctxt=None,
                       message_id='msg-1', **payload):
        """Nova's legacy compute.instance.update, transformed."""
        payload = samples.nova_legacy_update(
            state=state, instance_id=instance_id, tenant_id=project_id,
            **payload)
        return self.transformer.transform(
            'compute.compute-0', 'compute.instance.update', payload,
            {'message_id': message_id,
             'timestamp': '2024-05-01 10:00:01.000000'}, ctxt)

    def state_of(self, alarm_id):
        return self.db.get_alarm(alarm_id)['state']

    def state_changes(self, alarm_id):
        return [change for change in self.db.get_alarm_changes(alarm_id)
                if change['type'] == db_api.CHANGE_STATE]

    def freeze_time(self, now):
        """Make timeutils.utcnow() return ``self.now``, set to ``now``."""
        self.now = now
        self.useFixture(fixtures.MockPatchObject(
            timeutils, 'utcnow', autospec=True,
            side_effect=lambda with_timezone=False: self.now))

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)

    @staticmethod
    def notifications():
        """The notifications emitted through the ``test`` driver."""
        return [(message, priority) for _ctxt, message, priority, _retry
                in _impl_test.NOTIFICATIONS]
