"""Tests of instance faults: a guest reported down by its compute agent."""

from doctor.common import exception
from doctor.tests.unit.inspector import test_inspector


def instance_event(instance_id: str, status: str = 'down',
                   reason: str = 'missed 3 heartbeats',
                   event_id: str = 'e1') -> dict:
    return {'id': event_id, 'time': '2026-11-22T10:00:00.000100+00:00',
            'type': 'compute.instance.down',
            'details': {'instance_id': instance_id, 'status': status,
                        'reason': reason, 'hostname': 'c0',
                        'monitor': 'doctor-compute-agent',
                        'monitor_event_id': 'hb-1'}}


class TestInstanceDown(test_inspector.InspectorTestCase):

    def test_only_the_instance_is_set_to_its_fault_state(self):
        inspector = self.make()
        [fault_id] = self.report(inspector, instance_event('i1'))

        self.assertEqual(['instance:i1'], self.controller.targets())
        [call] = self.controller.calls
        self.assertEqual('error', call[1])
        self.assertEqual(fault_id, call[2].fault_id)
        self.assertEqual([('instance', 'i1', 'error', fault_id)],
                         self.announcer.sent)
        fault = self.db.get_fault(fault_id)
        self.assertEqual('compute.instance.down', fault['type'])
        self.assertEqual('instance:i1', fault['host'])
        [affected] = fault['affected']
        self.assertEqual(('i1', 'missed 3 heartbeats', 'set error'),
                         (affected['id'], affected['reason'],
                          affected['action']))
        self.assertEqual('missed 3 heartbeats',
                         fault['reports'][0]['reason'])
        self.assertEqual(
            ['hostdown', 'raw_failure_received', 'found_affected',
             'marked_host_down', 'set_vm_error', 'notified_vm_error'],
            [c['name'] for c in fault['checkpoints']])

    def test_reports_of_one_guest_make_one_fault(self):
        inspector = self.make()
        first = self.report(inspector, instance_event('i1'))
        again = self.report(inspector, instance_event('i1', event_id='e2'))
        self.assertEqual(first, again)
        self.assertEqual(['instance:i1'], self.controller.targets())

    def test_faults_of_two_guests_of_one_host_are_two(self):
        inspector = self.make()
        [one] = self.report(inspector, instance_event('i1'))
        [two] = self.report(inspector, instance_event('i2'))
        self.assertNotEqual(one, two)
        self.assertEqual(['instance:i1', 'instance:i2'],
                         sorted(self.controller.targets()))

    def test_a_host_fault_is_apart_from_its_instance_faults(self):
        inspector = self.make()
        [instance_fault] = self.report(inspector, instance_event('i1'))
        [host_fault] = self.report(inspector, test_inspector.event('c0'))
        self.assertNotEqual(instance_fault, host_fault)
        self.assertIn('host:c0', self.controller.targets())

    def test_recovery_closes_the_fault(self):
        self.config.config(duplicate_window=0, group='inspector')
        inspector = self.make()
        [first] = self.report(inspector, instance_event('i1'))
        [closed] = inspector.report_failures(
            self.context, [instance_event('i1', 'up')])
        self.assertEqual(first, closed)
        self.assertEqual('closed', self.db.get_fault(first)['status'])
        [second] = self.report(inspector, instance_event('i1'))
        self.assertNotEqual(first, second)

    def test_recovery_without_fault_is_none(self):
        inspector = self.make()
        self.assertEqual([None], inspector.report_failures(
            self.context, [instance_event('i1', 'up')]))

    def test_an_instance_already_in_error_is_left_alone(self):
        inspector = self.make()
        [fault_id] = self.report(inspector, instance_event('i3'))
        self.assertEqual([], self.controller.calls)
        [affected] = self.db.get_fault(fault_id)['affected']
        self.assertEqual('none: already error', affected['action'])

    def test_unknown_instance_is_refused_before_anything_is_done(self):
        inspector = self.make()
        error = self.assertRaises(
            exception.InstanceNotFound, inspector.report_failures,
            self.context, [instance_event('i1'), instance_event('nope')])
        self.assertIn('nope', str(error))
        self.assertEqual([], self.controller.calls)

    def test_an_event_without_instance_id_names_the_field(self):
        inspector = self.make()
        bad = instance_event('i1')
        del bad['details']['instance_id']
        error = self.assertRaises(exception.InvalidField,
                                  inspector.report_failures, self.context,
                                  [bad])
        self.assertIn('details.instance_id', str(error))
