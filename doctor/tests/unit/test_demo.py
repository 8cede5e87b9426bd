"""The demo's presentation of a fault."""

from doctor import demo
from doctor.tests import base


def point(number: int, name: str, timestamp: str,
          component: str = 'inspector') -> dict:
    return {'number': number, 'name': name, 'component': component,
            'timestamp': '2024-05-01T10:00:%s+00:00' % timestamp}


class TestTimeline(base.TestCase):

    def test_checkpoints_in_time_order_with_their_numbers(self):
        # The VMs' notification (5) left before the host was marked down
        # (4 and 3 came back later): by number the clock went backwards.
        lines = demo.timeline([
            point(0, 'hostdown', '00.000000', 'monitor'),
            point(3, 'marked_host_down', '00.070000'),
            point(4, 'set_vm_error', '00.060000'),
            point(5, 'notified_vm_error', '00.020000'),
            point(8, 'fired_alarm', '00.080000', 'evaluator'),
        ])

        self.assertEqual(['0', '5', '4', '3', '8'],
                         [line.split()[0] for line in lines])
        self.assertEqual(['+0.0', '+20.0', '+60.0', '+70.0', '+80.0'],
                         [line.split()[-2] for line in lines])
        self.assertIn('notified_vm_error', lines[1])

    def test_offsets_from_the_earliest_checkpoint(self):
        # The monitor's clock may be behind the inspector's.
        lines = demo.timeline([
            point(1, 'raw_failure_received', '00.100000'),
            point(0, 'hostdown', '00.050000', 'monitor'),
        ])

        self.assertEqual(['0', '1'], [line.split()[0] for line in lines])
        self.assertEqual('+50.0', lines[1].split()[-2])

    def test_equal_timestamps_keep_pipeline_order(self):
        lines = demo.timeline([
            point(7, 'evaluated_event', '00.010000', 'evaluator'),
            point(6, 'transformed_event', '00.010000', 'evaluator'),
        ])

        self.assertEqual(['6', '7'], [line.split()[0] for line in lines])

    def test_no_checkpoints(self):
        self.assertEqual([], demo.timeline([]))
