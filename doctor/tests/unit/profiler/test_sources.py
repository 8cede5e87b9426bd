"""Reading checkpoints back from the services' log lines."""

import io
import logging
import os

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_log import formatters
from oslo_log import log as oslo_log
import testtools

from doctor.profiler import checkpoints
from doctor.profiler import recorder as recorder_mod
from doctor.profiler import report
from doctor.profiler import sources
from doctor.profiler import timeline
from doctor.tests.unit.profiler import samples

# What oslo.log writes before the message, as two services would.
PREFIX = ('2026-12-07 12:00:00.031 4242 INFO doctor.profiler.recorder '
          '[-] ')


class TestLogSource(testtools.TestCase):

    def write_logs(self, fault: dict) -> list[str]:
        directory = self.useFixture(fixtures.TempDir()).path
        inspector = os.path.join(directory, 'inspector.log')
        evaluator = os.path.join(directory, 'evaluator.log')
        with open(inspector, 'w') as one, open(evaluator, 'w') as other:
            one.write(PREFIX + 'Host compute-0 reported down\n')
            for entry in fault['checkpoints']:
                out = (one if checkpoints.BY_NAME[entry['name']].number < 6
                       else other)
                out.write(PREFIX + checkpoints.log_line(
                    fault['id'], entry['name'], entry['component'],
                    entry['timestamp'], entry.get('alarm_id'),
                    host='compute-0') + '\n')
            other.write(PREFIX + 'doctor-checkpoint {not json\n')
        return [inspector, evaluator]

    def test_a_fault_from_the_lines_of_two_services(self):
        fault = samples.fault()
        source = sources.LogSource(self.write_logs(fault))

        read = source.get_fault('f-1')

        self.assertEqual(
            ('f-1', 'compute-0', '2026-12-07T12:00:00.000000+00:00'),
            (read['id'], read['host'], read['created_at']))
        self.assertEqual(
            report.as_json(timeline.build(fault)),
            report.as_json(timeline.build(read)))
        self.assertEqual(['f-1'], [found['id'] for found
                                   in source.faults(host='compute-0')])
        self.assertEqual([], list(source.faults(host='compute-9')))

    def test_an_unknown_fault(self):
        source = sources.LogSource(self.write_logs(samples.fault()))

        self.assertRaises(sources.NotFound, source.get_fault, 'f-9')

    def test_an_unreadable_file_is_named(self):
        error = self.assertRaises(sources.SourceError, sources.LogSource,
                                  ['/nonexistent/doctor.log'])

        self.assertIn('/nonexistent/doctor.log', str(error))

    def test_lines_without_a_checkpoint_are_skipped(self):
        self.assertEqual([], sources.parse_lines([
            'doctor-checkpoint', 'doctor-checkpoint {"name": "hostdown"}',
            'doctor-checkpoint []', 'nothing']))


class TestLoggedByTheRecorder(testtools.TestCase):
    """What a recorder logs, through oslo.log's own formatters, reads back.
    """

    def logged(self, formatter: logging.Formatter) -> list[str]:
        # Kept from the test run's output.
        self.useFixture(fixtures.FakeLogger(name='doctor.profiler.recorder'))
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger = logging.getLogger('doctor.profiler.recorder')
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.addCleanup(logger.setLevel, logger.level)
        logger.setLevel(logging.INFO)
        recorder = recorder_mod.Recorder(lambda batch: None, interval=3600)
        recorder._start = lambda: None
        for number in range(3):
            recorder.record('f-1', 'fired_alarm', 'evaluator',
                            'a-%d' % number)
        recorder.flush()
        return stream.getvalue().splitlines()

    def assert_read_back(self, lines: list[str]) -> None:
        self.assertEqual(['a-0', 'a-1', 'a-2'],
                         [entry['alarm_id'] for entry
                          in sources.parse_lines(lines)])

    def test_plain_text(self):
        conf = self.useFixture(config_fixture.Config(cfg.ConfigOpts())).conf
        oslo_log.register_options(conf)
        lines = self.logged(formatters.ContextFormatter(config=conf))

        self.assertEqual(3, len(lines))
        self.assert_read_back(lines)

    def test_json(self):
        lines = self.logged(formatters.JSONFormatter())

        self.assertEqual(1, len(lines))
        self.assert_read_back(lines)
