"""Tests of the evaluator's in-memory alarm index."""

import datetime

import fixtures

from doctor.evaluator import index
from doctor.objects import alarm as alarm_obj
from doctor.tests import base

T0 = datetime.datetime(2024, 5, 1, 10, 0, 0)
RULE = {'event_type': 'compute.instance.update',
        'query': [{'field': 'traits.state', 'op': 'eq', 'value': 'error'}]}


def make_alarm(alarm_id, resource_id='r-1', project_id='p-1', **extra):
    alarm = {'alarm_id': alarm_id, 'name': 'alarm-' + alarm_id,
             'type': 'notification', 'enabled': True,
             'severity': 'moderate', 'project_id': project_id,
             'user_id': 'u-1', 'resource_id': resource_id, 'rule': RULE,
             'alarm_actions': ['test://alarm'], 'ok_actions': [],
             'insufficient_data_actions': ['test://nodata'],
             'repeat_actions': False, 'state': 'ok', 'timestamp': T0}
    alarm.update(extra)
    return alarm


def ids(alarms):
    return sorted(alarm.alarm_id for alarm in alarms)


class TestAlarmIndex(base.TestCase):

    def setUp(self):
        super().setUp()
        self.index = index.AlarmIndex()

    def test_lookup_by_resource(self):
        self.index.put(make_alarm('a1', 'r-1'))
        self.index.put(make_alarm('a2', 'r-1'))
        self.index.put(make_alarm('a3', 'r-2'))
        self.assertEqual(['a1', 'a2'], ids(self.index.candidates('r-1',
                                                                 'p-1')))
        self.assertEqual(['a3'], ids(self.index.candidates('r-2', None)))
        self.assertEqual([], self.index.candidates('r-3', 'p-1'))
        self.assertEqual([], self.index.candidates(None, 'p-1'))
        self.assertEqual(3, len(self.index))

    def test_indexed_copy(self):
        self.index.put(make_alarm('a1', state='alarm', repeat_actions=1))
        entry = self.index.get('a1')
        self.assertEqual('alarm-a1', entry.name)
        self.assertEqual('alarm', entry.state)
        self.assertIs(True, entry.repeat_actions)
        self.assertTrue(entry.rule.watches('compute.instance.update'))
        self.assertEqual(('test://alarm',), entry.actions_for('alarm'))
        self.assertEqual((), entry.actions_for('ok'))
        self.assertEqual(('test://nodata',),
                         entry.actions_for('insufficient data'))
        self.assertIsNone(self.index.get('a2'))

    def test_put_replaces(self):
        self.index.put(make_alarm('a1', 'r-1'))
        self.index.put(make_alarm('a1', 'r-2', name='renamed',
                                  timestamp=T0 + datetime.timedelta(1)))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))
        self.assertEqual(['a1'], ids(self.index.candidates('r-2', 'p-1')))
        self.assertEqual('renamed', self.index.get('a1').name)
        self.assertEqual(1, len(self.index))

    def test_disabled_alarm_is_removed(self):
        self.index.put(make_alarm('a1'))
        self.index.put(make_alarm('a1', enabled=False))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))
        self.assertIsNone(self.index.get('a1'))
        self.index.put(make_alarm('a2', enabled=False))
        self.assertEqual(0, len(self.index))

    def test_other_alarm_types_are_not_indexed(self):
        self.index.put(make_alarm('a1', type='threshold'))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))

    def test_invalid_rule_removes_and_warns(self):
        logger = self.useFixture(fixtures.FakeLogger())
        self.index.put(make_alarm('a1'))
        self.index.put(make_alarm('a1', rule={'event_type': 'x', 'query': [
            {'field': 'traits.n', 'op': 'eq', 'value': 'x',
             'type': 'integer'}]}))
        self.assertIsNone(self.index.get('a1'))
        self.assertIn('Alarm a1 has an invalid rule', logger.output)
        self.assertIn('notification_rule.query[0].value', logger.output)

    def test_older_change_is_ignored(self):
        newer = T0 + datetime.timedelta(seconds=5)
        self.index.put(make_alarm('a1', 'r-2', timestamp=newer))
        self.index.put(make_alarm('a1', 'r-1', timestamp=T0))
        self.assertEqual(['a1'], ids(self.index.candidates('r-2', 'p-1')))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))

    def test_same_timestamp_replaces(self):
        self.index.put(make_alarm('a1', state='ok'))
        self.index.put(make_alarm('a1', state='alarm'))
        self.assertEqual('alarm', self.index.get('a1').state)

    def test_older_disable_does_not_remove_a_newer_copy(self):
        # Disabled at T0, enabled again at T0+5s; the messages cross.
        newer = T0 + datetime.timedelta(seconds=5)
        self.index.put(make_alarm('a1', timestamp=newer))
        self.index.put(make_alarm('a1', enabled=False, timestamp=T0))
        self.assertEqual(['a1'], ids(self.index.candidates('r-1', 'p-1')))

    def test_timezone_aware_change_replaces_a_stored_copy(self):
        # The index is loaded from the database (naive UTC); changes come
        # over the bus as Alarm objects, whose datetimes carry a timezone.
        self.index.put(make_alarm('a1', 'r-1', timestamp=T0))
        changed = T0.replace(tzinfo=datetime.timezone.utc) + (
            datetime.timedelta(seconds=1))
        self.index.put(make_alarm('a1', 'r-2', timestamp=changed))
        self.assertEqual(['a1'], ids(self.index.candidates('r-2', 'p-1')))
        older = datetime.datetime(2024, 5, 1, 11, 0, 0, tzinfo=(
            datetime.timezone(datetime.timedelta(hours=2))))
        self.index.put(make_alarm('a1', 'r-3', timestamp=older))
        self.assertEqual(['a1'], ids(self.index.candidates('r-2', 'p-1')))

    def test_change_from_the_bus_in_the_same_second_replaces(self):
        # The bus carries the Alarm's timestamp to the second; the index
        # loaded the alarm from the database, microseconds included.
        self.index.put(make_alarm('a1', 'r-1', timestamp=T0.replace(
            microsecond=300000)))
        sent = alarm_obj.Alarm.from_dict(make_alarm(
            'a1', 'r-2', timestamp=T0.replace(microsecond=900000)))
        received = alarm_obj.Alarm.obj_from_primitive(
            sent.obj_to_primitive())
        self.index.put(received.as_dict())
        self.assertEqual(['a1'], ids(self.index.candidates('r-2', 'p-1')))

    def test_older_enable_does_not_bring_back_a_disabled_alarm(self):
        # Enabled at T0, disabled at T0+5s; the messages cross.
        newer = T0 + datetime.timedelta(seconds=5)
        self.index.put(make_alarm('a1', timestamp=T0))
        self.index.put(make_alarm('a1', enabled=False, timestamp=newer))
        self.index.put(make_alarm('a1', timestamp=T0))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))
        self.index.put(make_alarm('a1', timestamp=newer + (
            datetime.timedelta(seconds=1))))
        self.assertEqual(['a1'], ids(self.index.candidates('r-1', 'p-1')))

    def test_deleted_alarm_never_comes_back(self):
        self.index.put(make_alarm('a1', timestamp=T0))
        self.index.remove('a1')
        self.index.put(make_alarm('a1', timestamp=T0))
        self.index.put(make_alarm('a1'))
        self.assertIsNone(self.index.get('a1'))

    def test_removal_during_a_reload_wins(self):
        # The reload read the alarm before it was deleted.
        self.index.put(make_alarm('a1', timestamp=T0))
        rows = iter([make_alarm('a1', timestamp=T0),
                     make_alarm('a2', timestamp=T0)])

        def reading():
            yield next(rows)
            self.index.remove('a1')
            yield next(rows)

        self.assertEqual(1, self.index.replace_all(reading()))
        self.assertIsNone(self.index.get('a1'))
        self.assertIsNotNone(self.index.get('a2'))

    def test_remove(self):
        self.index.put(make_alarm('a1'))
        self.index.put(make_alarm('a2'))
        self.index.remove('a1')
        self.index.remove('unknown')
        self.assertEqual(['a2'], ids(self.index.candidates('r-1', 'p-1')))

    def test_set_state(self):
        self.index.put(make_alarm('a1'))
        self.index.set_state('a1', 'alarm')
        self.index.set_state('unknown', 'alarm')
        self.assertEqual('alarm', self.index.get('a1').state)

    def test_stale_state_announcement_is_discarded(self):
        self.index.put(make_alarm('a1', state_timestamp=T0))
        later = T0 + datetime.timedelta(seconds=2)
        earlier = T0 + datetime.timedelta(seconds=1)
        self.assertTrue(self.index.set_state('a1', 'alarm', later))
        self.assertFalse(self.index.set_state('a1', 'ok', earlier))
        self.assertEqual('alarm', self.index.get('a1').state)
        self.assertEqual(later, self.index.get('a1').state_timestamp)

    def test_state_announcement_as_iso_text(self):
        self.index.put(make_alarm('a1', state_timestamp=T0))
        later = T0 + datetime.timedelta(seconds=2)
        self.index.set_state('a1', 'alarm', later.isoformat() + '+00:00')
        self.assertFalse(self.index.set_state(
            'a1', 'ok', (T0 + datetime.timedelta(seconds=1)).isoformat()))
        self.assertEqual('alarm', self.index.get('a1').state)

    def test_newer_state_announcement_is_taken(self):
        self.index.put(make_alarm('a1', state='alarm', state_timestamp=T0))
        self.assertTrue(self.index.set_state(
            'a1', 'ok', T0 + datetime.timedelta(microseconds=1)))
        self.assertEqual('ok', self.index.get('a1').state)

    def test_changed_copy_keeps_a_newer_indexed_state(self):
        # The API sends its copy of an alarm (renamed, say) read before an
        # evaluator stored a transition: the definition changes, the state
        # does not move back.
        self.index.put(make_alarm('a1', state_timestamp=T0))
        self.index.set_state('a1', 'alarm', T0 + datetime.timedelta(1))
        self.index.put(make_alarm('a1', name='renamed', state='ok',
                                  state_timestamp=T0,
                                  timestamp=T0 + datetime.timedelta(2)))
        entry = self.index.get('a1')
        self.assertEqual(('renamed', 'alarm'), (entry.name, entry.state))

    def test_changed_copy_with_a_newer_state_takes_it(self):
        self.index.put(make_alarm('a1', state_timestamp=T0))
        self.index.put(make_alarm('a1', state='alarm',
                                  state_timestamp=T0 + datetime.timedelta(1),
                                  timestamp=T0 + datetime.timedelta(1)))
        self.assertEqual('alarm', self.index.get('a1').state)

    def test_copy_read_from_the_database_decides(self):
        self.index.put(make_alarm('a1', state_timestamp=T0))
        self.index.set_state('a1', 'alarm', T0 + datetime.timedelta(1))
        self.index.put(make_alarm('a1', state='ok', state_timestamp=T0),
                       force_state=True)
        self.assertEqual('ok', self.index.get('a1').state)

    def test_replace_all(self):
        self.index.put(make_alarm('old'))
        count = self.index.replace_all([
            make_alarm('a1', 'r-1'), make_alarm('a2', 'r-2'),
            make_alarm('a3', 'r-2', enabled=False)])
        self.assertEqual(2, count)
        self.assertEqual(2, len(self.index))
        self.assertIsNone(self.index.get('old'))
        self.assertEqual(['a1'], ids(self.index.candidates('r-1', 'p-1')))
        self.assertEqual(['a2'], ids(self.index.candidates('r-2', 'p-1')))

    def test_replace_all_with_nothing_empties(self):
        self.index.put(make_alarm('a1'))
        self.assertEqual(0, self.index.replace_all(iter([])))
        self.assertEqual([], self.index.candidates('r-1', 'p-1'))

    def test_candidates_of_one_resource_among_many(self):
        self.index.replace_all(
            make_alarm('other-%05d' % i, 'res-%05d' % i,
                       project_id='p-%d' % (i % 7))
            for i in range(10000))
        self.index.put(make_alarm('mine-1', 'target'))
        self.index.put(make_alarm('mine-2', 'target'))
        self.assertEqual(10002, len(self.index))
        self.assertEqual(['mine-1', 'mine-2'],
                         ids(self.index.candidates('target', 'p-1')))
        # Projects do not widen the lookup of alarms that have resources.
        self.assertEqual(['other-00003'],
                         ids(self.index.candidates('res-00003', 'p-3')))


class TestAlarmsWithoutResource(base.TestCase):

    def test_not_evaluated_unless_allowed(self):
        idx = index.AlarmIndex(allow_without_resource=False)
        idx.put(make_alarm('a1', resource_id=None))
        self.assertEqual([], idx.candidates(None, 'p-1'))
        self.assertEqual([], idx.candidates('r-1', 'p-1'))

    def test_found_by_project_when_allowed(self):
        idx = index.AlarmIndex(allow_without_resource=True)
        idx.put(make_alarm('any', resource_id=None, project_id='p-1'))
        idx.put(make_alarm('theirs', resource_id=None, project_id='p-2'))
        idx.put(make_alarm('one', resource_id='r-1', project_id='p-1'))
        self.assertEqual(['any', 'one'], ids(idx.candidates('r-1', 'p-1')))
        self.assertEqual(['any'], ids(idx.candidates('r-9', 'p-1')))
        self.assertEqual(['any'], ids(idx.candidates(None, 'p-1')))
        self.assertEqual([], idx.candidates('r-9', None))

    def test_removed_from_the_project(self):
        idx = index.AlarmIndex(allow_without_resource=True)
        idx.put(make_alarm('any', resource_id=None))
        idx.put(make_alarm('any', resource_id=None, enabled=False))
        self.assertEqual([], idx.candidates(None, 'p-1'))

    def test_replace_all_keeps_the_setting(self):
        idx = index.AlarmIndex(allow_without_resource=True)
        idx.replace_all([make_alarm('any', resource_id=None)])
        self.assertEqual(['any'], ids(idx.candidates(None, 'p-1')))
