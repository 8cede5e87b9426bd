"""``openstack doctor fault timeline``."""

from doctor.osc.v1 import faults
from doctor.tests.unit.osc import fakes
from doctor.tests.unit.profiler import samples
from doctor.tests.unit.profiler import test_report

FAULT_ID = 'f-1'


class TestTimeline(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('GET', '/v1/faults/' + FAULT_ID,
                     fakes.Answer(200, {'fault': samples.fault()}))

    def test_the_timeline_as_doctor_profiler_shows_it(self):
        self.assertEqual(test_report.SHOW,
                         self.output(faults.TimelineFault, FAULT_ID))

    def test_json(self):
        output = self.output(faults.TimelineFault, FAULT_ID, '--json')

        self.assertIn('"total_ms": 35.5', output)
