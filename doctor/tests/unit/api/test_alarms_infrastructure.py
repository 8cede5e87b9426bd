"""Alarms on events that name no project: refused when they could never
fire.
"""

from doctor.tests.unit.api import base

HOST_RULE = {'event_type': 'doctor.host.down', 'query': []}


def rule(event_type: str) -> dict:
    return {'event_type': event_type, 'query': []}


class TestCreate(base.APITestCase):

    def test_member_alarm_on_host_events_is_refused(self):
        for event_type in ('doctor.host.down', 'doctor.host.*', 'doctor.*',
                           'service.update', 'service.*'):
            response = self.request('POST', '/v1/alarms', base.alarm_body(
                resource_id='compute-0',
                notification_rule=rule(event_type)))

            self.assert_error(response, 400, 'notification_rule.event_type',
                              repr(event_type), 'never fire',
                              'alarm:infrastructure_events')
        self.assertEqual([], self.db.get_alarms())
        self.alarm_changed.assert_not_called()

    def test_a_wildcard_that_also_matches_project_events_is_accepted(self):
        for event_type in ('*', '*.update', 'compute.*'):
            alarm = self.create(resource_id='compute-0',
                                notification_rule=rule(event_type))

            self.assertEqual(event_type,
                             alarm['notification_rule']['event_type'])
            self.assertFalse(self.db.get_alarm(alarm['alarm_id'])
                             ['infrastructure'])

    def test_administrator_alarm_on_host_events_is_accepted(self):
        response = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            resource_id='compute-0', notification_rule=HOST_RULE))

        self.assertEqual(201, response.status_int, response.text)
        self.assertTrue(self.db.get_alarm(response.json['alarm_id'])
                        ['infrastructure'])


class TestReplace(base.APITestCase):

    def test_member_may_not_turn_an_alarm_to_host_events(self):
        alarm = self.create()

        response = self.request(
            'PUT', '/v1/alarms/' + alarm['alarm_id'],
            base.alarm_body(notification_rule=rule('service.*')))

        self.assert_error(response, 400, 'notification_rule.event_type')
        self.assertEqual('compute.instance.update',
                         self.db.get_alarm(alarm['alarm_id'])
                         ['rule']['event_type'])

    def test_member_replacing_an_administrator_s_host_alarm_is_told(self):
        created = self.as_admin('POST', '/v1/alarms', base.alarm_body(
            resource_id='compute-0', notification_rule=HOST_RULE,
            project_id=base.PROJECT, user_id=base.USER))
        self.assertEqual(201, created.status_int, created.text)

        response = self.request(
            'PUT', '/v1/alarms/' + created.json['alarm_id'],
            base.alarm_body(resource_id='compute-0',
                            notification_rule=HOST_RULE))

        self.assert_error(response, 400, 'notification_rule.event_type')
        self.assertTrue(self.db.get_alarm(created.json['alarm_id'])
                        ['infrastructure'])
