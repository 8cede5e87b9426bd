"""Recording checkpoints: buffered, written in bulk, logged, bounded."""

import threading
from unittest import mock

import fixtures
import testtools

from doctor.profiler import checkpoints
from doctor.profiler import recorder as recorder_mod


class Event:
    def __init__(self, traits: dict) -> None:
        self.traits = traits


class Firing:
    def __init__(self, alarm_id: str, fault_id: str | None) -> None:
        self.alarm_id = alarm_id
        self.fault_id = fault_id


class TestRecorder(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.batches: list[list[dict]] = []
        self.logger = self.useFixture(fixtures.FakeLogger(
            name='doctor.profiler.recorder'))
        # A long interval: the tests flush by hand.
        self.recorder = recorder_mod.Recorder(self.batches.append,
                                              capacity=4, interval=3600)
        self.addCleanup(self.recorder.stop)

    def test_what_the_evaluator_records_of_a_fault(self):
        fault_event = Event({'fault_id': 'f-1'})
        self.recorder.transformed(fault_event)
        self.recorder.evaluated(fault_event)
        self.recorder.fired(Firing('a-1', 'f-1'))
        # Events and firings of no fault are not recorded.
        self.recorder.transformed(Event({}))
        self.recorder.fired(Firing('a-2', None))

        self.assertEqual(3, self.recorder.flush())

        self.assertEqual(
            [[('f-1', 'transformed_event', 'evaluator', None),
              ('f-1', 'evaluated_event', 'evaluator', None),
              ('f-1', 'fired_alarm', 'evaluator', 'a-1')]],
            [[(entry['fault_id'], entry['name'], entry['component'],
               entry['alarm_id']) for entry in batch]
             for batch in self.batches])

    def test_each_written_checkpoint_is_one_parseable_log_line(self):
        self.recorder.record('f-1', 'fired_alarm', 'evaluator', 'a-1')
        self.recorder.flush()

        from doctor.profiler import sources
        parsed = sources.parse_lines(self.logger.output.splitlines())
        self.assertEqual([('f-1', 'fired_alarm', 'a-1')],
                         [(entry['fault_id'], entry['name'],
                           entry['alarm_id']) for entry in parsed])
        self.assertIn(checkpoints.LOG_MARKER, self.logger.output)

    def test_a_full_buffer_drops_and_says_so(self):
        for number in range(6):
            self.recorder.record('f-%d' % number, 'fired_alarm', 'evaluator')

        self.assertEqual(4, self.recorder.flush())

        self.assertIn('2 checkpoints dropped', self.logger.output)

    def test_a_failing_write_is_logged_not_raised(self):
        failing = recorder_mod.Recorder(
            mock.Mock(side_effect=RuntimeError('database gone')),
            interval=3600)
        failing.record('f-1', 'fired_alarm', 'evaluator')

        self.assertEqual(0, failing.flush())
        self.assertIn('database gone', self.logger.output)

    def test_the_thread_writes_without_being_asked(self):
        written = threading.Event()
        background = recorder_mod.Recorder(lambda batch: written.set(),
                                           interval=0.01)
        self.addCleanup(background.stop)

        background.record('f-1', 'fired_alarm', 'evaluator')

        self.assertTrue(written.wait(30))

    def test_one_recorder_per_connection_none_when_off(self):
        conf = mock.Mock()
        conf.profiler.record = True
        conf.profiler.buffer_size = 10
        conf.profiler.flush_interval = 3600
        connection = mock.Mock()

        first = recorder_mod.of(conf, connection)

        self.assertIs(first, recorder_mod.of(conf, connection))
        conf.profiler.record = False
        self.assertIs(recorder_mod.OFF, recorder_mod.of(conf, mock.Mock()))
