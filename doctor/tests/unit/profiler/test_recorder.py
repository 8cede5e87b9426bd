"""Recording checkpoints: buffered, written in bulk, logged, bounded."""

import logging
import threading
import time
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
        # No thread: the tests flush by hand.
        self.recorder = recorder_mod.Recorder(self.batches.append,
                                              capacity=4, interval=3600)
        self.recorder._start = lambda: None
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
        self.recorder.record('f-1', 'fired_alarm', 'evaluator', 'a-2')
        self.recorder.flush()

        from doctor.profiler import sources
        lines = self.logger.output.splitlines()
        parsed = sources.parse_lines(lines)
        self.assertEqual([('f-1', 'fired_alarm', 'a-1'),
                          ('f-1', 'fired_alarm', 'a-2')],
                         [(entry['fault_id'], entry['name'],
                           entry['alarm_id']) for entry in parsed])
        self.assertEqual(2, len(lines))
        self.assertTrue(all(line.startswith(checkpoints.LOG_MARKER)
                            for line in lines))

    def test_one_log_record_per_write(self):
        records = []
        handler = logging.Handler()
        handler.emit = records.append
        logger = logging.getLogger('doctor.profiler.recorder')
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        for number in range(3):
            self.recorder.record('f-1', 'fired_alarm', 'evaluator',
                                 'a-%d' % number)

        self.recorder.flush()

        self.assertEqual(1, len(records))
        self.assertEqual(3, len(records[0].getMessage().splitlines()))

    def test_checkpoints_are_logged_when_the_write_fails(self):
        failing = recorder_mod.Recorder(
            mock.Mock(side_effect=RuntimeError('database gone')),
            interval=3600)
        failing._start = lambda: None
        failing.record('f-1', 'fired_alarm', 'evaluator', 'a-1')

        failing.flush()

        from doctor.profiler import sources
        self.assertEqual(['a-1'], [
            entry['alarm_id'] for entry in
            sources.parse_lines(self.logger.output.splitlines())])

    def test_a_full_buffer_drops_and_says_so(self):
        for number in range(6):
            self.recorder.record('f-%d' % number, 'fired_alarm', 'evaluator')

        self.assertEqual(4, self.recorder.flush())

        self.assertIn('2 checkpoints dropped', self.logger.output)

    def test_a_failing_write_is_logged_not_raised(self):
        failing = recorder_mod.Recorder(
            mock.Mock(side_effect=RuntimeError('database gone')),
            interval=3600)
        failing._start = lambda: None
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

    def test_nothing_is_due_while_checkpoints_keep_coming(self):
        recorder = recorder_mod.Recorder(self.batches.append, capacity=10,
                                         interval=0.1, max_delay=1.0)
        recorder._start = lambda: None
        self.assertEqual(0.0, recorder.due_in(0.0))
        with mock.patch.object(recorder_mod.time, 'monotonic', autospec=True,
                               return_value=100.0):
            recorder.record('f-1', 'fired_alarm', 'evaluator')
        # Due an interval after the last one...
        self.assertAlmostEqual(0.1, recorder.due_in(100.0))
        self.assertAlmostEqual(0.05, recorder.due_in(100.05))
        # ... the last one: another one moves it...
        with mock.patch.object(recorder_mod.time, 'monotonic', autospec=True,
                               return_value=100.5):
            recorder.record('f-1', 'fired_alarm', 'evaluator')
        self.assertAlmostEqual(0.1, recorder.due_in(100.5))
        with mock.patch.object(recorder_mod.time, 'monotonic', autospec=True,
                               return_value=100.95):
            recorder.record('f-1', 'fired_alarm', 'evaluator')
        # ... but the first never waits longer than the longest delay.
        self.assertAlmostEqual(0.05, recorder.due_in(100.95))
        self.assertLessEqual(recorder.due_in(101.0), 0.0)

    def test_half_a_buffer_is_due_at_once(self):
        recorder = recorder_mod.Recorder(self.batches.append, capacity=4,
                                         interval=3600, max_delay=3600)
        recorder._start = lambda: None
        recorder.record('f-1', 'fired_alarm', 'evaluator')
        self.assertGreater(recorder.due_in(time.monotonic()), 0)

        recorder.record('f-1', 'fired_alarm', 'evaluator')

        self.assertEqual(0.0, recorder.due_in(time.monotonic()))

    def test_the_thread_waits_for_a_pause_then_writes_once(self):
        written = threading.Event()
        background = recorder_mod.Recorder(
            lambda batch: (self.batches.append(batch), written.set()),
            interval=0.05, max_delay=3600)
        self.addCleanup(background.stop)
        due = []
        real_due_in = background.due_in

        def due_in(now):
            value = real_due_in(now)
            due.append(value)
            if len(due) == 1:
                # A second checkpoint while the first waits: the write
                # waits for the pause after it.
                background.record('f-1', 'fired_alarm', 'evaluator', 'a-2')
            return value

        background.due_in = due_in
        background.record('f-1', 'fired_alarm', 'evaluator', 'a-1')

        self.assertTrue(written.wait(30))
        # It wrote once nothing more was due, not before.
        self.assertGreater(due[0], 0)
        self.assertLessEqual(due[-1], 0)
        self.assertEqual([['a-1', 'a-2']],
                         [[entry['alarm_id'] for entry in batch]
                          for batch in self.batches])

    def test_stop_writes_what_is_left(self):
        self.recorder.record('f-1', 'fired_alarm', 'evaluator', 'a-1')

        self.recorder.stop()

        self.assertEqual([['a-1']], [[entry['alarm_id'] for entry in batch]
                                     for batch in self.batches])

    def test_one_recorder_per_connection_recording_while_on(self):
        conf = mock.Mock()
        conf.profiler.record = True
        conf.profiler.buffer_size = 10
        conf.profiler.flush_interval = 3600
        conf.profiler.flush_max_delay = 3600
        connection = mock.Mock()

        first = recorder_mod.of(conf, connection)
        first._start = lambda: None

        self.assertIs(first, recorder_mod.of(conf, connection))
        first.record('f-1', 'fired_alarm', 'evaluator', 'a-1')
        # Turned off by a reload of the configuration: nothing recorded
        # until it is on again.
        conf.profiler.record = False
        first.record('f-1', 'fired_alarm', 'evaluator', 'a-2')
        conf.profiler.record = True
        first.record('f-1', 'fired_alarm', 'evaluator', 'a-3')

        self.assertEqual(2, first.flush())
        self.assertEqual(
            ['a-1', 'a-3'],
            [entry['alarm_id'] for entry in
             connection.add_fault_checkpoints.call_args.args[0]])
