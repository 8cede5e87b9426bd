"""The evaluator records checkpoints 6-8 of a fault: per event, per alarm.
"""

import threading
import uuid

from doctor.profiler import recorder as recorder_mod
from doctor.tests.unit.evaluator import fixture
from doctor.tests.unit.evaluator import samples

ALARMS = 50


class TestEvaluatorRecording(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        # The test writes by hand, so the flush thread never races it.
        self.config.config(flush_interval=3600, group='profiler')
        self.instances = [str(uuid.uuid4()) for _ in range(ALARMS)]
        for instance_id in self.instances:
            self.create_alarm(resource_id=instance_id,
                              alarm_actions=['log://'])
        self.engine.load_index()
        self.engine.start()

    def submit_fault(self, ctxt: dict) -> None:
        for number, instance_id in enumerate(self.instances):
            self.engine.submit(
                ctxt, 'compute.compute-0', 'compute.instance.update',
                samples.nova_legacy_update(state='error',
                                           instance_id=instance_id),
                {'message_id': 'msg-%d' % number,
                 'timestamp': '2024-05-01 10:00:01.000000'})
        done = threading.Event()
        while not done.wait(0.01):
            if self.engine.events_evaluated >= ALARMS and \
                    len(self.fired) >= ALARMS:
                done.set()

    def test_a_fault_of_50_alarms_has_50_of_each(self):
        self.submit_fault({'doctor_fault_id': samples.FAULT_ID})

        recorder_mod.of(self.conf, self.db).flush()

        recorded = self.db.get_fault_checkpoints([samples.FAULT_ID])
        names = [entry['name'] for entry in recorded[samples.FAULT_ID]]
        self.assertEqual(
            {'transformed_event': ALARMS, 'evaluated_event': ALARMS,
             'fired_alarm': ALARMS},
            {name: names.count(name) for name in set(names)})
        fired = {entry['alarm_id'] for entry in recorded[samples.FAULT_ID]
                 if entry['name'] == 'fired_alarm'}
        self.assertEqual({firing.alarm_id for firing in self.fired}, fired)

    def test_events_of_no_fault_record_nothing(self):
        self.submit_fault({})

        self.assertEqual(0, recorder_mod.of(self.conf, self.db).flush())

    def test_nothing_is_recorded_when_recording_is_off(self):
        self.config.config(record=False, group='profiler')

        self.submit_fault({'doctor_fault_id': samples.FAULT_ID})

        self.assertEqual(0, recorder_mod.of(self.conf, self.db).flush())
        self.assertEqual({}, self.db.get_fault_checkpoints(
            [samples.FAULT_ID]))
