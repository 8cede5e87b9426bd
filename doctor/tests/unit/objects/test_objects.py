"""Tests of the versioned objects doctor's services exchange."""

import ast
import datetime
import inspect

from oslo_serialization import jsonutils
from oslo_versionedobjects import exception as ovo_exception
from oslo_versionedobjects import fixture as ovo_fixture

from doctor.evaluator import index
from doctor.objects import alarm as alarm_obj
from doctor.objects import base as objects_base
from doctor.objects import entity as entity_obj
from doctor.objects import firing as firing_obj
from doctor.synchronizer import entity as entity_mod
from doctor.tests import base
from doctor.tests.unit.db import factory

# When a test below fails, an object's fields changed: bump its VERSION,
# teach obj_make_compatible to translate for older services, add the
# change to the version history in its docstring, then update the hash.
OBJECT_HASHES = {
    'Alarm': '1.1-246daad0a3e1e48836c54bb6aeebc7cd',
    'AlarmFiring': '1.1-c4243aadfe51d975c54a4feb8eb6553e',
    'EntityChangeBatch': '1.0-531aba4af01bb212227a24c809171b2a',
    'GuestMessage': '1.0-f976b6ea4291164ce2ba230504e3e371',
}

# The fields of AlarmFiring 1.0, as a notifier of that release knows them.
FIRING_1_0_FIELDS = {'alarm_id', 'alarm_name', 'severity', 'previous',
                     'current', 'reason', 'reason_data', 'deliveries',
                     'request_id'}


def make_firing(**overrides):
    values = {
        'alarm_id': 'a-1', 'alarm_name': 'InstanceStatusAlarm',
        'severity': 'critical', 'previous': 'ok', 'current': 'alarm',
        'reason': 'Event hits the query.',
        'reason_data': {'type': 'event', 'event': {
            'message_id': 'm-1', 'event_type': 'compute.instance.update',
            'traits': [['state', 1, 'error']]}},
        'deliveries': {'d-1': 'http://vnfm:8000/alarm'},
        'request_id': 'req-1', 'fault_id': 'f-1',
    }
    values.update(overrides)
    return firing_obj.AlarmFiring(**values)


def doctor_objects():
    return {name: classes for name, classes
            in objects_base.DoctorObjectRegistry.obj_classes().items()
            if classes[0].OBJ_PROJECT_NAMESPACE == 'doctor'}


class TestObjectVersions(base.TestCase):

    def test_versions(self):
        checker = ovo_fixture.ObjectVersionChecker(doctor_objects())
        expected, actual = checker.test_hashes(OBJECT_HASHES)
        self.assertEqual(expected, actual,
                         'Objects changed: bump their versions and make '
                         'them compatible with the older ones.')

    def test_every_object_is_checked(self):
        self.assertEqual(set(OBJECT_HASHES), set(doctor_objects()))

    def test_type_checker_knows_every_field(self):
        # The attributes declared under TYPE_CHECKING are only read by
        # mypy, so only this test notices when they and ``fields`` part.
        for name, classes in doctor_objects().items():
            cls = classes[0]
            tree = ast.parse(inspect.getsource(cls))
            declared = {
                node.target.id for node in ast.walk(tree)
                if isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)}
            self.assertEqual(set(cls.fields), declared, name)


class TestAlarmFiring(base.TestCase):

    def test_webhook_body(self):
        self.assertEqual({
            'alarm_id': 'a-1', 'alarm_name': 'InstanceStatusAlarm',
            'severity': 'critical', 'previous': 'ok', 'current': 'alarm',
            'reason': 'Event hits the query.',
            'reason_data': make_firing().reason_data, 'fault_id': 'f-1',
        }, make_firing().webhook_body())

    def test_webhook_body_without_fault(self):
        self.assertNotIn('fault_id',
                         make_firing(fault_id=None).webhook_body())

    def test_round_trip(self):
        firing = make_firing()
        again = firing_obj.AlarmFiring.obj_from_primitive(
            firing.obj_to_primitive())
        self.assertEqual('1.1', again.VERSION)
        self.assertEqual(firing.webhook_body(), again.webhook_body())
        self.assertEqual(firing.deliveries, again.deliveries)
        self.assertEqual('req-1', again.request_id)

    def test_backport_to_1_0_drops_fault_id(self):
        primitive = make_firing().obj_to_primitive(target_version='1.0')
        self.assertEqual('1.0', primitive['doctor_object.version'])
        data = primitive['doctor_object.data']
        self.assertEqual(FIRING_1_0_FIELDS, set(data))
        self.assertNotIn('fault_id',
                         primitive.get('doctor_object.changes', []))
        received = firing_obj.AlarmFiring.obj_from_primitive(primitive)
        self.assertEqual('1.0', received.VERSION)
        self.assertFalse(received.obj_attr_is_set('fault_id'))
        body = received.webhook_body()
        self.assertNotIn('fault_id', body)
        self.assertEqual('InstanceStatusAlarm', body['alarm_name'])

    def test_newer_version_is_refused(self):
        primitive = make_firing().obj_to_primitive()
        primitive['doctor_object.version'] = '1.2'
        self.assertRaises(ovo_exception.IncompatibleObjectVersion,
                          firing_obj.AlarmFiring.obj_from_primitive,
                          primitive)

    def test_record_round_trip(self):
        firing = make_firing()
        record = firing.to_record()
        self.assertNotIn('deliveries', record)
        again = firing_obj.AlarmFiring.from_record(record)
        self.assertEqual(firing.webhook_body(), again.webhook_body())
        self.assertEqual({}, again.deliveries)
        self.assertEqual('req-1', again.request_id)

    def test_record_of_a_newer_release(self):
        record = dict(make_firing().to_record(), added_later='x')
        again = firing_obj.AlarmFiring.from_record(record)
        self.assertEqual('a-1', again.alarm_id)

    def test_reason_data_must_be_a_dict(self):
        self.assertRaises(ValueError, make_firing, reason_data='text')

    def test_serializer(self):
        serializer = objects_base.DoctorObjectSerializer()
        firing = make_firing()
        sent = serializer.serialize_entity(None, {'firing': firing})
        received = serializer.deserialize_entity(None, sent)['firing']
        self.assertIsInstance(received, firing_obj.AlarmFiring)
        self.assertEqual(firing.webhook_body(), received.webhook_body())


class TestAlarm(base.TestCase):

    def test_from_storage_dict(self):
        row = factory.alarm_values(deadline=factory.T0)
        alarm = alarm_obj.Alarm.from_dict(row)
        values = alarm.as_dict()
        self.assertNotIn('deadline', values)
        self.assertEqual(row['rule'], values['rule'])
        self.assertEqual(row['alarm_actions'], values['alarm_actions'])
        self.assertEqual(row['timestamp'],
                         values['timestamp'].replace(tzinfo=None))

    def test_as_dict_has_only_set_fields(self):
        alarm = alarm_obj.Alarm(alarm_id='a-1', name='n')
        self.assertEqual({'alarm_id': 'a-1', 'name': 'n'}, alarm.as_dict())

    def test_round_trip(self):
        alarm = alarm_obj.Alarm.from_dict(factory.alarm_values(
            timestamp=datetime.datetime(2024, 5, 1, 10, 0, 7)))
        again = alarm_obj.Alarm.obj_from_primitive(alarm.obj_to_primitive())
        self.assertEqual(alarm.as_dict(), again.as_dict())

    def test_infrastructure_crosses_the_bus(self):
        alarm = alarm_obj.Alarm.from_dict(factory.alarm_values(
            infrastructure=True))
        again = alarm_obj.Alarm.obj_from_primitive(alarm.obj_to_primitive())
        self.assertIs(True, again.infrastructure)

    def test_backport_to_1_0_drops_infrastructure(self):
        alarm = alarm_obj.Alarm.from_dict(factory.alarm_values(
            infrastructure=True))
        primitive = alarm.obj_to_primitive(target_version='1.0')
        self.assertEqual('1.0', primitive['doctor_object.version'])
        self.assertNotIn('infrastructure', primitive['doctor_object.data'])
        self.assertNotIn('infrastructure',
                         primitive.get('doctor_object.changes', []))
        received = alarm_obj.Alarm.obj_from_primitive(primitive)
        self.assertFalse(received.obj_attr_is_set('infrastructure'))
        # An evaluator indexing it does not show it events of no project.
        self.assertIs(False, index.IndexedAlarm(
            received.as_dict()).infrastructure)

    def test_timestamps_cross_the_bus_to_the_microsecond(self):
        # Two changes of one alarm within a second must keep their order
        # in the evaluators' indexes.
        alarm = alarm_obj.Alarm(timestamp=datetime.datetime(
            2024, 5, 1, 10, 0, 7, 123456))
        again = alarm_obj.Alarm.obj_from_primitive(alarm.obj_to_primitive())
        self.assertEqual(datetime.datetime(2024, 5, 1, 10, 0, 7, 123456),
                         again.timestamp.replace(tzinfo=None))


class TestEntityChangeBatch(base.TestCase):

    def test_round_trip_keeps_records_and_precise_times(self):
        when = datetime.datetime(2026, 11, 22, 10, 0, 0, 123456)
        records = [entity_mod.Change(
            entity_mod.UPDATE,
            entity_mod.Entity('instance', 'i1', state='error',
                              parents=('host:compute-0',),
                              attributes={'flavor': {'id': 'm1'}}),
            when, 'nova').as_record()]
        batch = entity_obj.EntityChangeBatch(changes=records)
        primitive = jsonutils.loads(jsonutils.dumps(
            batch.obj_to_primitive()))
        again = entity_obj.EntityChangeBatch.obj_from_primitive(primitive)
        self.assertEqual(records, again.changes)

    def test_refuses_what_is_not_a_list_of_records(self):
        self.assertRaises(ValueError, entity_obj.EntityChangeBatch,
                          changes={'key': 'x'})
        self.assertRaises(ValueError, entity_obj.EntityChangeBatch,
                          changes=['x'])
