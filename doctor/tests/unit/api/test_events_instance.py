"""POST /v1/events with instance faults (compute.instance.down)."""

from doctor.common import exception
from doctor.tests.unit.api import test_events

INSTANCE = '5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01'


def instance_event(**details) -> dict:
    body = test_events.event(type='compute.instance.down', details={
        'instance_id': INSTANCE, 'reason': 'missed 3 heartbeats',
        'status': 'down', 'hostname': 'compute-0',
        'monitor': 'doctor-compute-agent'})
    body['details'].update(details)
    return body


class TestInstanceEvents(test_events.EventsTestCase):

    def test_an_instance_fault_is_handed_to_the_inspector(self):
        response = self.post([instance_event()])
        self.assertEqual(202, response.status_int, response.text)
        [sent] = self.sent()
        self.assertEqual('compute.instance.down', sent['type'])
        self.assertEqual(INSTANCE, sent['details']['instance_id'])
        self.assertEqual('missed 3 heartbeats', sent['details']['reason'])

    def test_the_hostname_is_optional(self):
        body = instance_event()
        del body['details']['hostname']
        response = self.post([body])
        self.assertEqual(202, response.status_int, response.text)

    def test_the_instance_id_is_required(self):
        body = instance_event()
        del body['details']['instance_id']
        self.assert_error(self.post([body]), 400,
                          "'[0].details.instance_id'", 'required')
        self.report_failures.assert_not_called()

    def test_a_host_fault_still_needs_its_hostname(self):
        body = test_events.event()
        del body['details']['hostname']
        self.assert_error(self.post([body]), 400,
                          "'[0].details.hostname'", 'required')

    def test_a_reason_that_is_not_a_string(self):
        self.assert_error(self.post([instance_event(reason=3)]), 400,
                          "'[0].details.reason'")

    def test_an_unknown_instance_is_404(self):
        self.report_failures.side_effect = exception.InstanceNotFound(
            instance_id=INSTANCE)
        self.assert_error(self.post([instance_event()]), 404, INSTANCE)
