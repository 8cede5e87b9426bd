"""Tests of the notification alarm evaluator on a real database."""

import datetime
import itertools
from unittest import mock

import fixtures
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from doctor.evaluator import transformer
from doctor.objects import firing as firing_obj
from doctor.tests.unit.db import factory
from doctor.tests.unit.evaluator import fixture
from doctor.tests.unit.evaluator import samples

T0 = datetime.datetime(2024, 5, 1, 12, 0, 0)


class TestEvaluate(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.alarm = self.create_alarm(
            alarm_actions=['test://alarm', 'http://vnfm:8000/alarm'],
            ok_actions=['test://ok'], severity='critical')
        self.alarm_id = self.alarm['alarm_id']
        self.assertEqual(1, self.engine.load_index())

    def test_matching_event_fires_alarm_actions(self):
        event = self.instance_event('error')
        self.assertEqual(1, self.engine.evaluate(event))
        self.assertEqual('alarm', self.state_of(self.alarm_id))
        [firing] = self.fired
        self.assertEqual(['test://alarm', 'http://vnfm:8000/alarm'],
                         list(firing.deliveries.values()))
        body = firing.webhook_body()
        self.assertEqual({'alarm_id', 'alarm_name', 'severity', 'previous',
                          'current', 'reason', 'reason_data'}, set(body))
        self.assertEqual(self.alarm_id, body['alarm_id'])
        self.assertEqual('InstanceStatusAlarm', body['alarm_name'])
        self.assertEqual('critical', body['severity'])
        self.assertEqual('ok', body['previous'])
        self.assertEqual('alarm', body['current'])
        self.assertEqual(
            "Event <id=msg-1,event_type=compute.instance.update> hits the "
            "query <traits.state eq 'error'>.", body['reason'])
        self.assertEqual('event', body['reason_data']['type'])
        reason_event = body['reason_data']['event']
        self.assertEqual('compute.instance.update',
                         reason_event['event_type'])
        self.assertEqual('msg-1', reason_event['message_id'])
        traits = {name: value for name, _type, value
                  in reason_event['traits']}
        self.assertEqual('error', traits['state'])
        self.assertEqual(samples.INSTANCE_ID, traits['resource_id'])
        # The body crosses the wire as JSON.
        self.assertEqual(body, jsonutils.loads(jsonutils.dumps(body)))

    def test_a_deliverer_in_this_process_gets_the_stored_rows(self):
        stored = []
        engine = self.make_engine(
            fire_stored=lambda firing, rows: stored.append((firing, rows)))
        engine.load_index()

        self.assertEqual(1, engine.evaluate(self.instance_event('error')))

        self.assertEqual([], self.fired)
        [(firing, rows)] = stored
        self.assertEqual(firing.deliveries,
                         {row['delivery_id']: row['action'] for row in rows})
        in_db = {row['delivery_id']: row
                 for row in factory.stored_deliveries(self.db)}
        for row in rows:
            self.assertEqual(in_db[row['delivery_id']]['claimed_at'],
                             row['claimed_at'])
            self.assertIsNone(row['next_attempt_at'])

    def test_fault_id_reaches_the_body(self):
        self.engine.evaluate(self.instance_event(
            'error', ctxt={'doctor_fault_id': samples.FAULT_ID,
                           'request_id': 'req-7'}))
        [firing] = self.fired
        self.assertEqual(samples.FAULT_ID,
                         firing.webhook_body()['fault_id'])
        self.assertEqual('req-7', firing.request_id)

    def test_non_matching_event_returns_to_ok(self):
        self.engine.evaluate(self.instance_event('error'))
        self.assertEqual(1, self.engine.evaluate(
            self.instance_event('active', message_id='msg-2')))
        self.assertEqual('ok', self.state_of(self.alarm_id))
        firing = self.fired[-1]
        self.assertEqual(['test://ok'], list(firing.deliveries.values()))
        body = firing.webhook_body()
        self.assertEqual(('alarm', 'ok'), (body['previous'],
                                           body['current']))
        self.assertIn('does not hit the query', body['reason'])

    def test_unchanged_state_fires_nothing(self):
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('active')))
        self.engine.evaluate(self.instance_event('error'))
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error', message_id='msg-2')))
        self.assertEqual(1, len(self.fired))
        self.assertEqual(1, len(self.state_changes(self.alarm_id)))

    def test_repeat_actions_fire_again(self):
        self.db.update_alarm(self.alarm_id, {'repeat_actions': True}, [])
        self.engine.load_index()
        self.engine.evaluate(self.instance_event('error'))
        self.assertEqual(1, self.engine.evaluate(
            self.instance_event('error', message_id='msg-2')))
        self.assertEqual(2, len(self.fired))
        body = self.fired[-1].webhook_body()
        self.assertEqual(('alarm', 'alarm'), (body['previous'],
                                              body['current']))
        self.assertIn('msg-2', body['reason'])
        # A repeat is not a state transition.
        self.assertEqual(1, len(self.state_changes(self.alarm_id)))
        # Repeats are for the alarm state only.
        self.engine.evaluate(self.instance_event('active'))
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('active')))

    def test_other_projects_event_is_ignored(self):
        self.assertEqual(0, self.engine.evaluate(self.instance_event(
            'error', project_id='another-project')))
        self.assertEqual('ok', self.state_of(self.alarm_id))
        self.assertEqual([], self.fired)

    def test_other_resource_and_event_type_are_ignored(self):
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error', instance_id='another-instance')))
        event = self.transformer.transform(
            'nova-compute:compute-0', 'instance.update',
            samples.nova_instance_update(), {}, {})
        self.assertEqual(samples.INSTANCE_ID, event.resource_id)
        self.assertEqual(0, self.engine.evaluate(event))
        self.assertEqual('ok', self.state_of(self.alarm_id))

    def test_history_records_the_transition(self):
        self.engine.evaluate(self.instance_event('error'))
        [change] = self.state_changes(self.alarm_id)
        detail = jsonutils.loads(change['detail'])
        self.assertEqual('alarm', detail['state'])
        self.assertEqual('ok', detail['previous'])
        self.assertIn('hits the query', detail['transition_reason'])
        self.assertEqual(samples.PROJECT_ID, change['on_behalf_of'])
        self.assertEqual('critical', change['severity'])
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual(detail['transition_reason'],
                         alarm['state_reason'])
        self.assertEqual(change['timestamp'], alarm['state_timestamp'])

    def test_deliveries_are_stored_until_deleted(self):
        self.engine.evaluate(self.instance_event(
            'error', ctxt={'doctor_fault_id': samples.FAULT_ID}))
        [firing] = self.fired
        stored = factory.stored_deliveries(self.db)
        self.assertEqual(sorted(firing.deliveries),
                         sorted(d['delivery_id'] for d in stored))
        for delivery in stored:
            self.assertEqual(self.alarm_id, delivery['alarm_id'])
            self.assertEqual(firing.deliveries[delivery['delivery_id']],
                             delivery['action'])
            rebuilt = firing_obj.AlarmFiring.from_record(
                delivery['firing'])
            self.assertEqual(firing.webhook_body(), rebuilt.webhook_body())
        self.db.delete_deliveries(list(firing.deliveries))
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_transition_without_actions_fires_nothing(self):
        self.db.update_alarm(self.alarm_id, {'alarm_actions': []}, [])
        self.engine.load_index()
        self.assertEqual(1, self.engine.evaluate(
            self.instance_event('error')))
        self.assertEqual('alarm', self.state_of(self.alarm_id))
        self.assertEqual([], self.fired)
        self.assertEqual([], factory.stored_deliveries(self.db))

    def test_state_transition_notification(self):
        self.engine.start()
        self.engine.evaluate(self.instance_event('error'))
        self.engine.stop()
        [(message, priority)] = self.notifications()
        self.assertEqual('INFO', priority)
        self.assertEqual('alarm.state_transition', message['event_type'])
        self.assertEqual('doctor.evaluator.test', message['publisher_id'])
        payload = message['payload']
        [change] = self.state_changes(self.alarm_id)
        self.assertEqual(change['event_id'], payload['event_id'])
        self.assertEqual(self.alarm_id, payload['alarm_id'])
        self.assertEqual('state transition', payload['type'])
        self.assertEqual('alarm', payload['detail']['state'])
        self.assertEqual('ok', payload['detail']['previous'])
        self.assertEqual(samples.PROJECT_ID, payload['project_id'])
        self.assertEqual(factory.USER_ID, payload['user_id'])
        self.assertEqual(change['timestamp'].isoformat(),
                         payload['timestamp'])

    def test_no_notification_for_a_repeat(self):
        self.db.update_alarm(self.alarm_id, {'repeat_actions': True}, [])
        self.engine.load_index()
        self.engine.start()
        self.engine.evaluate(self.instance_event('error'))
        self.engine.evaluate(self.instance_event('error'))
        self.engine.stop()
        self.assertEqual(2, len(self.fired))
        self.assertEqual(1, len(self.notifications()))

    def test_peers_are_told_of_transitions(self):
        def publish_states(states, timestamps):
            pass
        told = mock.create_autospec(publish_states)
        second = self.create_alarm(ok_actions=['test://ok'])
        engine = self.make_engine(publish_states=told)
        engine.load_index()
        engine.start()
        engine.evaluate(self.instance_event('error'))
        engine.evaluate(self.instance_event('active'))
        engine.stop()
        states = {}
        for call in told.call_args_list:
            states.update(call.args[0])
        self.assertEqual({self.alarm_id: 'ok', second['alarm_id']: 'ok'},
                         states)

    def test_nothing_announced_without_transitions(self):
        def publish_states(states, timestamps):
            pass
        told = mock.create_autospec(publish_states)
        engine = self.make_engine(publish_states=told)
        engine.load_index()
        engine.start()
        engine.evaluate(self.instance_event('active'))
        engine.stop()
        told.assert_not_called()
        self.assertEqual([], self.notifications())

    def test_failing_fire_keeps_the_transition_and_deliveries(self):
        logger = self.useFixture(fixtures.FakeLogger())

        def fire(firing):
            raise RuntimeError('notifier unreachable')
        engine = self.make_engine(fire=fire)
        engine.load_index()
        self.assertEqual(1, engine.evaluate(self.instance_event('error')))
        self.assertEqual('alarm', self.state_of(self.alarm_id))
        self.assertEqual(2, len(factory.stored_deliveries(self.db)))
        self.assertIn('stored deliveries will be retried', logger.output)

    def test_lost_race_refreshes_the_index(self):
        # Another evaluator moved the alarm already.
        other = self.make_engine()
        other.load_index()
        other.evaluate(self.instance_event('error'))
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error')))
        self.assertEqual(1, len(self.fired))
        self.assertEqual('alarm', self.engine.index.get(
            self.alarm_id).state)
        # With the index current, the next event is evaluated normally.
        self.assertEqual(1, self.engine.evaluate(
            self.instance_event('active')))

    def test_with_peers_the_stored_state_decides(self):
        # A replica moved the alarm to 'alarm' and its word has not come:
        # this one's index still says 'ok', and the instance is fine again.
        engine = self.make_engine(has_peers=lambda: True)
        engine.load_index()
        self.db.transition_state(self.alarm_id, 'ok', 'alarm', 'elsewhere',
                                 timeutils.utcnow(), None, [])
        self.assertEqual(1, engine.evaluate(self.instance_event('active')))
        self.assertEqual('ok', self.state_of(self.alarm_id))
        self.assertEqual(['ok'], [f.current for f in self.fired])

    def test_alone_the_index_decides_without_reading(self):
        engine = self.make_engine(has_peers=lambda: False)
        engine.load_index()
        with mock.patch.object(self.db, 'get_alarm_states',
                               autospec=True) as read:
            self.assertEqual(0, engine.evaluate(
                self.instance_event('active')))
        read.assert_not_called()

    def test_with_peers_one_read_for_all_unchanged_alarms(self):
        for _ in range(3):
            self.create_alarm()
        engine = self.make_engine(has_peers=lambda: True)
        engine.load_index()
        with mock.patch.object(self.db, 'get_alarm_states',
                               autospec=True,
                               side_effect=self.db.get_alarm_states) as read:
            self.assertEqual(0, engine.evaluate(
                self.instance_event('active')))
        read.assert_called_once()
        self.assertEqual(4, len(read.call_args.args[0]))

    def test_alarm_disabled_elsewhere_leaves_the_index(self):
        self.db.update_alarm(self.alarm_id, {'enabled': False}, [])
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error')))
        self.assertIsNone(self.engine.index.get(self.alarm_id))
        self.assertEqual([], self.fired)

    def test_alarm_deleted_elsewhere_leaves_the_index(self):
        self.db.delete_alarm(self.alarm_id, factory.change_values(
            self.alarm_id, 'deletion'))
        self.assertEqual(0, self.engine.evaluate(
            self.instance_event('error')))
        self.assertIsNone(self.engine.index.get(self.alarm_id))

    def test_several_alarms_on_one_resource(self):
        second = self.create_alarm(rule={
            'event_type': 'compute.instance.*',
            'query': [{'field': 'traits.host', 'op': 'eq',
                       'value': 'compute-0'}]})
        self.engine.load_index()
        self.assertEqual(2, self.engine.evaluate(
            self.instance_event('error')))
        self.assertEqual({self.alarm_id, second['alarm_id']},
                         {f.alarm_id for f in self.fired})


class TestTimeouts(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.freeze_time(T0)
        rule = dict(fixture.RULE, timeout=10)
        self.alarm = self.create_alarm(
            rule=rule, insufficient_data_actions=['test://nodata'],
            deadline=T0 + datetime.timedelta(seconds=10))
        self.alarm_id = self.alarm['alarm_id']
        self.engine.load_index()

    def test_deadline_passed_goes_to_insufficient_data(self):
        self.advance(5)
        self.assertEqual(0, self.engine.check_timeouts())
        self.advance(6)
        self.assertEqual(1, self.engine.check_timeouts())
        self.assertEqual('insufficient data', self.state_of(self.alarm_id))
        [firing] = self.fired
        self.assertEqual(['test://nodata'],
                         list(firing.deliveries.values()))
        body = firing.webhook_body()
        self.assertEqual(('ok', 'insufficient data'),
                         (body['previous'], body['current']))
        self.assertEqual(
            'No compute.instance.update event for resource %s within '
            '10.0 seconds.' % samples.INSTANCE_ID, body['reason'])
        self.assertEqual({'type': 'timeout', 'timeout': 10.0},
                         body['reason_data'])
        self.assertIsNone(self.db.get_alarm(self.alarm_id)['deadline'])
        self.assertEqual(0, self.engine.check_timeouts())
        self.assertEqual(1, len(self.state_changes(self.alarm_id)))

    def test_event_pushes_the_deadline(self):
        self.advance(8)
        self.engine.evaluate(self.instance_event('active'))
        self.assertEqual(T0 + datetime.timedelta(seconds=18),
                         self.db.get_alarm(self.alarm_id)['deadline'])
        self.advance(5)
        self.assertEqual(0, self.engine.check_timeouts())
        self.assertEqual('ok', self.state_of(self.alarm_id))
        self.advance(6)
        self.assertEqual(1, self.engine.check_timeouts())

    def test_event_after_timeout_moves_on_and_sets_a_deadline(self):
        self.advance(11)
        self.engine.check_timeouts()
        self.engine.evaluate(self.instance_event('error'))
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual('alarm', alarm['state'])
        self.assertEqual(T0 + datetime.timedelta(seconds=21),
                         alarm['deadline'])
        self.assertEqual(('insufficient data', 'alarm'),
                         (self.fired[-1].previous, self.fired[-1].current))

    def test_alarm_missing_from_the_index_still_times_out(self):
        engine = self.make_engine()
        self.advance(11)
        self.assertEqual(1, engine.check_timeouts())
        self.assertEqual('insufficient data', engine.index.get(
            self.alarm_id).state)

    def test_two_checkers_move_it_once(self):
        other = self.make_engine()
        other.load_index()
        self.advance(11)
        self.assertEqual(1, self.engine.check_timeouts()
                         + other.check_timeouts())
        self.assertEqual(1, len(self.fired))

    def _watchers(self, count: int) -> list[str]:
        """Alarms with a timeout on instances of their own."""
        rule = dict(fixture.RULE, timeout=10)
        return [self.create_alarm(rule=rule,
                                  resource_id='instance-%d' % n)['alarm_id']
                for n in range(count)]

    def test_events_of_a_batch_push_their_deadlines_together(self):
        instances = self._watchers(4)
        self.engine.load_index()
        set_deadlines = self.useFixture(fixtures.MockPatchObject(
            self.db, 'set_deadlines', autospec=True,
            side_effect=self.db.set_deadlines)).mock
        set_deadline = self.useFixture(fixtures.MockPatchObject(
            self.db, 'set_deadline', autospec=True)).mock
        self.advance(3)
        events = [self.instance_event('active', instance_id='instance-%d' % n)
                  for n in range(4)]
        events.append(self.instance_event('active'))
        self.assertEqual(0, self.engine.evaluate_batch(events))
        set_deadlines.assert_called_once_with(mock.ANY)
        set_deadline.assert_not_called()
        pushed = T0 + datetime.timedelta(seconds=13)
        self.assertEqual([pushed] * 5, [
            self.db.get_alarm(alarm_id)['deadline']
            for alarm_id in instances + [self.alarm_id]])

    def test_deadline_pushed_then_moved_in_one_batch(self):
        # An event leaves the alarm as it is, the next one moves it: the
        # move's deadline, the later one, is the one kept.
        ticks = itertools.count()

        def ticking(with_timezone=False):
            return T0 + datetime.timedelta(seconds=next(ticks))
        # The clock setUp froze moves a second at each reading.
        timeutils.utcnow.side_effect = ticking
        set_deadlines = self.useFixture(fixtures.MockPatchObject(
            self.db, 'set_deadlines', autospec=True,
            side_effect=self.db.set_deadlines)).mock
        transition_states = self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True,
            side_effect=self.db.transition_states)).mock
        events = [self.instance_event('active', message_id='msg-1'),
                  self.instance_event('error', message_id='msg-2')]
        self.assertEqual(1, self.engine.evaluate_batch(events))
        [pushed] = set_deadlines.call_args.args[0].values()
        [move] = transition_states.call_args.args[0]
        self.assertLess(pushed, move.deadline)
        alarm = self.db.get_alarm(self.alarm_id)
        self.assertEqual(('alarm', move.deadline),
                         (alarm['state'], alarm['deadline']))

    def test_a_refused_deadline_costs_no_transition(self):
        [other] = self._watchers(1)
        self.engine.load_index()
        logger = self.useFixture(fixtures.FakeLogger())
        self.useFixture(fixtures.MockPatchObject(
            self.db, 'set_deadlines', autospec=True,
            side_effect=ValueError('refused')))
        events = [self.instance_event('active'),
                  self.instance_event('error', instance_id='instance-0')]
        self.assertEqual(1, self.engine.evaluate_batch(events))
        self.assertEqual('alarm', self.state_of(other))
        self.assertEqual(T0 + datetime.timedelta(seconds=10),
                         self.db.get_alarm(self.alarm_id)['deadline'])
        self.assertIn('Cannot move the deadlines of 1 alarms',
                      logger.output)

    def test_timeouts_are_stored_together(self):
        others = self._watchers(3)
        for alarm_id in others:
            self.db.set_deadline(alarm_id, self.now)
        self.engine.load_index()
        transition_states = self.useFixture(fixtures.MockPatchObject(
            self.db, 'transition_states', autospec=True,
            side_effect=self.db.transition_states)).mock
        self.advance(11)
        expired = self.db.get_expired_alarms(self.now)
        # An event moved one deadline after the check read them.
        self.db.set_deadline(others[0],
                             self.now + datetime.timedelta(seconds=10))
        with mock.patch.object(self.db, 'get_expired_alarms',
                               autospec=True, return_value=expired):
            self.assertEqual(3, self.engine.check_timeouts())
        transition_states.assert_called_once_with(mock.ANY)
        self.assertEqual(
            ['ok', 'insufficient data', 'insufficient data',
             'insufficient data'],
            [self.state_of(alarm_id)
             for alarm_id in others + [self.alarm_id]])
        self.assertEqual(3, len(self.fired))

    def test_deadline_moved_by_an_event_meanwhile_wins(self):
        # The checker read the old deadline; an event moved it first.
        self.advance(11)
        expired = self.db.get_expired_alarms(self.now)
        self.db.set_deadline(self.alarm_id,
                             self.now + datetime.timedelta(seconds=10))
        with mock.patch.object(self.db, 'get_expired_alarms',
                               autospec=True, return_value=expired):
            self.assertEqual(0, self.engine.check_timeouts())
        self.assertEqual('ok', self.state_of(self.alarm_id))
        self.assertEqual([], self.fired)


class TestAlarmsWithoutResource(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(allow_alarms_without_resource=True,
                           group='evaluator')
        # An event that names its project but no resource.
        self.transformer = transformer.Transformer([
            transformer.EventDefinition({
                'event_type': 'compute.instance.update',
                'traits': {'project_id': 'payload.tenant_id',
                           'state': 'payload.state'}})])
        self.engine = self.make_engine()
        self.alarm = self.create_alarm(resource_id=None)
        self.engine.load_index()

    def _submit(self, project_id):
        self.engine.submit({}, 'compute.compute-0',
                           'compute.instance.update',
                           {'tenant_id': project_id, 'state': 'error'},
                           {'message_id': 'msg-1'})

    def test_event_of_the_project_fires(self):
        self.engine.start()
        self._submit(samples.PROJECT_ID)
        self.engine.stop()
        [firing] = self.fired
        traits = dict((name, value) for name, _type, value
                      in firing.reason_data['event']['traits'])
        self.assertEqual({'project_id': samples.PROJECT_ID,
                          'state': 'error'}, traits)
        self.assertEqual('alarm', self.state_of(self.alarm['alarm_id']))

    def test_event_of_another_project_does_not(self):
        self.engine.start()
        self._submit('another-project')
        self.engine.stop()
        self.assertEqual([], self.fired)


class TestEventsWithoutProject(fixture.EngineTestCase):
    """Compute service and host events name no project."""

    SERVICE_RULE = {'event_type': 'service.update',
                    'query': [{'field': 'traits.forced_down', 'op': 'eq',
                               'value': 'True', 'type': 'string'}]}

    def setUp(self):
        super().setUp()
        self.tenants = self.create_alarm(resource_id='compute-0',
                                         rule=self.SERVICE_RULE)
        self.admins = self.create_alarm(resource_id='compute-0',
                                        rule=self.SERVICE_RULE,
                                        project_id='admin-project',
                                        infrastructure=True)
        self.engine.load_index()

    def _service_forced_down(self):
        event = self.transformer.transform(
            'nova-compute:compute-0', 'service.update',
            samples.nova_service_update(), {'message_id': 'msg-s'}, {})
        self.assertIsNone(event.project_id)
        self.assertEqual('compute-0', event.resource_id)
        return event

    def test_only_alarms_allowed_infrastructure_events_see_them(self):
        self.assertEqual(1, self.engine.evaluate(
            self._service_forced_down()))
        self.assertEqual('alarm', self.state_of(self.admins['alarm_id']))
        self.assertEqual('ok', self.state_of(self.tenants['alarm_id']))
        self.assertEqual([self.admins['alarm_id']],
                         [firing.alarm_id for firing in self.fired])
        self.assertEqual([], self.state_changes(self.tenants['alarm_id']))

    def test_doctor_host_events_too(self):
        rule = {'event_type': 'doctor.host.*', 'query': []}
        tenants = self.create_alarm(resource_id='compute-0', rule=rule)
        admins = self.create_alarm(resource_id='compute-0', rule=rule,
                                   project_id='admin-project',
                                   infrastructure=True)
        self.engine.load_index()
        event = self.transformer.transform(
            'doctor.inspector.controller-0', 'doctor.host.down',
            {'host': 'compute-0', 'state': 'down'}, {}, {})
        self.assertIsNone(event.project_id)
        self.engine.evaluate(event)
        self.assertEqual('alarm', self.state_of(admins['alarm_id']))
        self.assertEqual('ok', self.state_of(tenants['alarm_id']))

    def test_flag_does_not_open_other_projects_events(self):
        # An event that names a project keeps the same-project rule.
        tenants = self.create_alarm()
        admins = self.create_alarm(project_id='admin-project',
                                   infrastructure=True)
        self.engine.load_index()
        self.engine.evaluate(self.instance_event('error'))
        self.assertEqual('alarm', self.state_of(tenants['alarm_id']))
        self.assertEqual('ok', self.state_of(admins['alarm_id']))
