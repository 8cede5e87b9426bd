"""The console, JSON and summary views of faults' timelines."""

import testtools

from doctor.profiler import report
from doctor.profiler import timeline
from doctor.tests.unit.profiler import samples

SHOW = '''\
fault f-1, host compute-0, 3 alarms
#  checkpoint            count     first    median      last  0 ms                                36 ms
0  hostdown                  1       0.0       0.0       0.0  |
1  raw_failure_received      1       1.5       1.5       1.5    |
2  found_affected            1       1.8       1.8       1.8    |
3  marked_host_down          1      12.0      12.0      12.0                |
4  set_vm_error              1      20.0      20.0      20.0                         |
5  notified_vm_error         1      21.0      21.0      21.0                          |
6  transformed_event         3      22.0      23.0      24.0                           [*]
7  evaluated_event           3      23.0      24.0      25.0                            [*]
8  fired_alarm               3      30.0      31.0      32.0                                    [*]
9  received_alarm            3      33.0      34.0      35.0                                       [*]
10 handled_alarm             3      33.5      34.5      35.5                                        [*]

component           ms       %  segments
controller        19.2    54.1  2>3 3>4 4>5
evaluator          8.0    22.5  6>7 7>8
bus                3.0     8.5  5>6
notifier           3.0     8.5  8>9
monitor            1.5     4.2  0>1
consumer           0.5     1.4  9>10
inspector          0.3     0.8  1>2

total 35.5 ms from hostdown to the last handled alarm
'''  # noqa: E501


class TestShow(testtools.TestCase):

    def test_every_checkpoint_on_the_axis_and_components_by_cost(self):
        self.assertEqual(SHOW, report.render_show(
            timeline.build(samples.fault())))

    def test_a_missing_checkpoint_is_named_and_no_total_spans_it(self):
        text = report.render_show(timeline.build(
            samples.fault(without=('fired_alarm',))))

        self.assertIn('8  fired_alarm               - MISSING\n', text)
        self.assertIn('total unknown: missing fired_alarm; 25.5 ms '
                      'measured over 8 of 10 segments\n', text)
        self.assertNotIn('notifier', text)

    def test_json_has_no_total_across_a_gap(self):
        document = report.as_json(timeline.build(
            samples.fault(without=('hostdown',))))

        self.assertIsNone(document['total_ms'])
        self.assertEqual(['hostdown'], document['missing'])
        self.assertIsNone(document['segments'][0]['ms'])
        self.assertEqual(0.3, round(document['segments'][1]['ms'], 3))

    def test_a_checkpoint_reached_after_a_later_one_is_parallel(self):
        fault = samples.fault()
        for entry in fault['checkpoints']:
            if entry['name'] == 'marked_host_down':
                entry['timestamp'] = samples.at(25)

        built = timeline.build(fault)

        self.assertFalse(built.points[3].on_path)
        self.assertEqual([0.0, 18.2, 1.0],
                         [round(segment.ms, 3)
                          for segment in built.segments[2:5]])
        self.assertEqual(35.5, built.total_ms)
        [row] = [line for line in report.render_show(built).splitlines()
                 if line.startswith('3  marked_host_down')]
        self.assertTrue(row.endswith('|  (parallel)'), row)

    def test_events_after_the_last_firing_do_not_lengthen_the_fault(self):
        fault = samples.fault()
        # The host's recovery: an event of the fault that fires nothing.
        for name in ('transformed_event', 'evaluated_event'):
            fault['checkpoints'].append({'name': name,
                                         'timestamp': samples.at(300)})

        built = timeline.build(fault)

        self.assertEqual((4, 300.0), (built.points[6].count,
                                      built.points[6].last))
        self.assertEqual(35.5, built.total_ms)
        self.assertEqual(3, built.alarms)

    def test_unknown_names_are_ignored_and_said(self):
        fault = samples.fault()
        fault['checkpoints'].append({'name': 'lunch',
                                     'timestamp': samples.at(1)})

        text = report.render_show(timeline.build(fault))

        self.assertIn('ignored: lunch', text)


class TestSummary(testtools.TestCase):

    def test_percentile_by_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual((50, 95, 99, 100),
                         tuple(report.percentile(values, rank)
                               for rank in (50, 95, 99, 100)))
        self.assertEqual(7, report.percentile([7], 99))
        self.assertIsNone(report.percentile([], 50))

    def test_a_slow_notifier_stands_out_in_its_segment(self):
        timelines = [timeline.build(samples.fault('f-%d' % number,
                                                  slower=number))
                     for number in range(100)]

        result = report.summary(timelines)

        notifier = result['segments'][8]
        self.assertEqual(('fired_alarm', 'received_alarm', 100),
                         (notifier['from'], notifier['to'],
                          notifier['faults']))
        self.assertEqual((52.0, 97.0, 101.0),
                         tuple(round(notifier[key], 3) for key in
                               ('p50_ms', 'p95_ms', 'p99_ms')))
        self.assertEqual(1.0, round(result['segments'][6]['p99_ms'], 3))
        self.assertEqual(['f-99', 'f-98', 'f-97', 'f-96', 'f-95'],
                         [fault['fault_id'] for fault in result['slowest']])

    def test_an_incomplete_fault_counts_only_where_it_is_known(self):
        timelines = [timeline.build(samples.fault('f-1')),
                     timeline.build(samples.fault(
                         'f-2', without=('received_alarm',)))]

        result = report.summary(timelines)

        self.assertEqual((2, 1), (result['faults'], result['complete']))
        self.assertEqual([2, 1, 1], [segment['faults'] for segment
                                     in result['segments'][7:10]])
        self.assertEqual([{'fault_id': 'f-2',
                           'missing': ['received_alarm']}],
                         result['incomplete'])
        text = report.render_summary(result)
        self.assertIn('f-2  missing received_alarm', text)
