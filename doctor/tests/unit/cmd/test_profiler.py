"""doctor-profiler: its commands on each of its sources."""

import datetime
import io
import json
import os

import fixtures

from doctor.cmd import profiler
from doctor.profiler import checkpoints
from doctor.tests import base
from doctor.tests.unit.profiler import samples
from doctor.tests.unit.profiler import test_report


class ProfilerTestCase(base.DBTestCase):

    def run_profiler(self, *argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        stderr = self.useFixture(fixtures.StringStream('stderr'))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr.stream))
        code = profiler.main(list(argv), out)
        stderr.stream.flush()
        return code, out.getvalue(), stderr.getDetails()[
            'stderr'].as_text()

    def store(self, fault: dict) -> None:
        """Store ``fault`` as the inspector and the recorders would."""
        inspector = [entry for entry in fault['checkpoints']
                     if checkpoints.BY_NAME[entry['name']].number < 6]
        later = [dict(entry, fault_id=fault['id'],
                      timestamp=checkpoints.parse_time(entry['timestamp']))
                 for entry in fault['checkpoints']
                 if checkpoints.BY_NAME[entry['name']].number >= 6]
        created = datetime.datetime.fromisoformat(
            fault['created_at']).replace(tzinfo=None)
        self.db.create_fault({'id': fault['id'], 'host': fault['host'],
                              'type': 'compute.host.down',
                              'created_at': created, 'reports': [],
                              'checkpoints': inspector}, created)
        self.db.close_fault(fault['host'], created)
        self.db.add_fault_checkpoints(later)

    def database_url(self) -> str:
        return self.conf.database.connection


class TestDatabaseSource(ProfilerTestCase):

    def test_show_draws_the_timeline_and_components(self):
        self.store(samples.fault())

        code, out, _err = self.run_profiler(
            '--database-url', self.database_url(), 'show', 'f-1')

        self.assertEqual((0, test_report.SHOW), (code, out))

    def test_show_json_and_an_svg_picture(self):
        self.store(samples.fault())
        path = os.path.join(self.state_path, 'f-1.svg')

        code, out, _err = self.run_profiler(
            '--database-url', self.database_url(), 'show', 'f-1',
            '--format', 'json', '--plot', path)

        self.assertEqual(0, code)
        self.assertEqual(35.5, json.loads(out)['total_ms'])
        with open(path) as f:
            self.assertIn('<svg', f.read())

    def test_an_unknown_fault(self):
        code, out, err = self.run_profiler(
            '--database-url', self.database_url(), 'show', 'f-9')

        self.assertEqual((1, ''), (code, out))
        self.assertIn('no fault f-9', err)

    def test_summary_of_the_faults_since_a_time(self):
        self.store(samples.fault('f-1'))
        later = samples.fault('f-2', slower=10)
        later['created_at'] = samples.at(60000)
        self.store(later)

        code, out, _err = self.run_profiler(
            '--database-url', self.database_url(), 'summary', '--format',
            'json', '--since', samples.at(1000))

        self.assertEqual(0, code)
        result = json.loads(out)
        self.assertEqual(['f-2'], [fault['fault_id']
                                   for fault in result['slowest']])

    def test_export_a_document_per_fault(self):
        self.store(samples.fault('f-1'))
        self.store(samples.fault('f-2', without=('handled_alarm',)))

        code, out, _err = self.run_profiler(
            '--database-url', self.database_url(), 'export')

        documents = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(0, code)
        self.assertEqual({'f-1': 35.5, 'f-2': None},
                         {document['fault_id']: document['total_ms']
                          for document in documents})
        self.assertEqual({'doctor-fault-profile'},
                         {document['type'] for document in documents})


class TestLogSource(ProfilerTestCase):

    def test_show_from_log_lines(self):
        fault = samples.fault()
        path = os.path.join(self.state_path, 'doctor.log')
        with open(path, 'w') as log:
            for entry in fault['checkpoints']:
                log.write('2026-12-07 12:00:00.100 1 INFO x [-] '
                          + checkpoints.log_line(
                              'f-1', entry['name'], entry['component'],
                              entry['timestamp'], entry.get('alarm_id'),
                              host='compute-0') + '\n')

        code, out, _err = self.run_profiler('--log-file', path, 'show',
                                            'f-1')

        self.assertEqual((0, test_report.SHOW), (code, out))

    def test_a_plot_of_another_kind_is_refused(self):
        path = os.path.join(self.state_path, 'doctor.log')
        with open(path, 'w') as log:
            log.write(checkpoints.log_line('f-1', 'hostdown', 'monitor',
                                           samples.at(0)) + '\n')

        code, _out, err = self.run_profiler(
            '--log-file', path, 'show', 'f-1', '--plot', 'f.gif')

        self.assertEqual(2, code)
        self.assertIn('.png or .svg', err)
