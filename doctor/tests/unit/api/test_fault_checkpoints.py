"""POST /v1/faults/{fault_id}/checkpoints: what a consumer reached."""

import datetime
import os
from unittest import mock

from oslo_policy import opts as policy_opts

from doctor.tests.unit.api import base
from doctor.tests.unit.db import factory

T0 = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456)
RECEIVED = '2024-05-01T10:00:00.150000+00:00'
HANDLED = '2024-05-01T10:00:00.151500+00:00'


class CheckpointsTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.db.create_fault(
            {'id': 'f-0', 'host': 'compute-0', 'type': 'compute.host.down',
             'created_at': T0, 'reports': [],
             'checkpoints': [{'number': 0, 'name': 'hostdown',
                              'component': 'monitor',
                              'timestamp': '2024-05-01T10:00:00+00:00'}]},
            T0)
        # Stored directly: a test's policy file must be written before its
        # first request, which loads the policy.
        alarm = factory.alarm_values(project_id=base.PROJECT,
                                     user_id=base.USER)
        self.db.create_alarm(alarm, factory.change_values(
            alarm['alarm_id'], on_behalf_of=base.PROJECT,
            project_id=base.PROJECT, user_id=base.USER))
        self.alarm_id = alarm['alarm_id']

    def body(self, **overrides) -> dict:
        received = {'name': 'received_alarm', 'timestamp': RECEIVED,
                    'alarm_id': self.alarm_id}
        received.update(overrides)
        return {'checkpoints': [
            received,
            {'name': 'handled_alarm', 'timestamp': HANDLED,
             'alarm_id': self.alarm_id}]}

    def post(self, body, fault_id: str = 'f-0', **caller):
        return self.request('POST', '/v1/faults/%s/checkpoints' % fault_id,
                            body, **caller)


class TestRecord(CheckpointsTestCase):

    def test_a_member_of_the_alarms_project_records_them(self):
        response = self.post(self.body())

        self.assertEqual(201, response.status_int, response.text)
        self.assertEqual(
            [(9, 'received_alarm', 'consumer', RECEIVED, self.alarm_id),
             (10, 'handled_alarm', 'consumer', HANDLED, self.alarm_id)],
            [(entry['number'], entry['name'], entry['component'],
              entry['timestamp'], entry['alarm_id'])
             for entry in response.json['checkpoints']])

    def test_the_fault_shows_them_after_the_inspectors(self):
        self.post(self.body())

        fault = self.as_admin('GET', '/v1/faults/f-0').json['fault']

        self.assertEqual(['hostdown', 'received_alarm', 'handled_alarm'],
                         [entry['name'] for entry in fault['checkpoints']])
        listed = self.as_admin('GET', '/v1/faults').json['faults'][0]
        self.assertEqual(3, len(listed['checkpoints']))

    def test_an_administrator_records_them_for_any_project(self):
        response = self.as_admin('POST', '/v1/faults/f-0/checkpoints',
                                 self.body())

        self.assertEqual(201, response.status_int, response.text)

    def test_a_time_with_another_offset_is_stored_in_utc(self):
        response = self.post(self.body(
            timestamp='2024-05-01T12:00:00.150000+02:00'))

        self.assertEqual(RECEIVED,
                         response.json['checkpoints'][0]['timestamp'])


class TestRefused(CheckpointsTestCase):

    def test_a_reader_is_refused(self):
        self.assert_error(self.post(self.body(), roles='reader'), 403,
                          'fault:add_checkpoints')
        self.assertEqual({}, self.db.get_fault_checkpoints(['f-0']))

    def test_another_projects_member_does_not_learn_of_the_alarm(self):
        response = self.post(self.body(), project='other-project')

        self.assert_error(response, 404, self.alarm_id)
        self.assertEqual({}, self.db.get_fault_checkpoints(['f-0']))

    def test_one_alarm_of_another_project_refuses_the_whole_post(self):
        other = factory.alarm_values(project_id='other-project',
                                     user_id='other-user')
        self.db.create_alarm(other, factory.change_values(
            other['alarm_id'], on_behalf_of='other-project',
            project_id='other-project', user_id='other-user'))
        body = self.body()
        body['checkpoints'].append(
            {'name': 'received_alarm', 'timestamp': RECEIVED,
             'alarm_id': other['alarm_id']})

        self.assert_error(self.post(body), 404, other['alarm_id'])
        self.assertEqual({}, self.db.get_fault_checkpoints(['f-0']))

    def test_the_alarms_are_read_in_one_go(self):
        alarm_ids = [self.alarm_id]
        for _ in range(9):
            alarm = factory.alarm_values(project_id=base.PROJECT,
                                         user_id=base.USER)
            self.db.create_alarm(alarm, factory.change_values(
                alarm['alarm_id'], on_behalf_of=base.PROJECT,
                project_id=base.PROJECT, user_id=base.USER))
            alarm_ids.append(alarm['alarm_id'])
        body = {'checkpoints': [
            {'name': 'received_alarm', 'timestamp': RECEIVED,
             'alarm_id': alarm_id} for alarm_id in alarm_ids]}
        with mock.patch.object(type(self.db), 'get_alarm_owners',
                               autospec=True,
                               side_effect=type(self.db).get_alarm_owners
                               ) as owners:
            response = self.post(body)

        self.assertEqual(201, response.status_int, response.text)
        self.assertEqual(1, owners.call_count)
        self.assertEqual(10, len(self.db.get_fault_checkpoints(['f-0'])
                                 ['f-0']))

    def test_a_rule_that_denies_everybody_refuses_even_admins(self):
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"fault:add_checkpoints": "!"\n')
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy')

        response = self.as_admin('POST', '/v1/faults/f-0/checkpoints',
                                 self.body())

        self.assert_error(response, 403, 'fault:add_checkpoints')

    def test_an_unknown_fault_is_404(self):
        self.assert_error(self.post(self.body(), fault_id='f-9'), 404,
                          'Fault f-9 not found')

    def test_an_unknown_alarm_is_for_administrators_only(self):
        body = self.body(alarm_id='a-gone')

        self.assert_error(self.post(body), 404, 'a-gone')
        self.assertEqual(201, self.as_admin(
            'POST', '/v1/faults/f-0/checkpoints', body).status_int)


class TestValidation(CheckpointsTestCase):

    def assert_invalid(self, body, *fragments):
        self.assert_error(self.post(body), 400, *fragments)
        self.assertEqual({}, self.db.get_fault_checkpoints(['f-0']))

    def test_an_unknown_name(self):
        self.assert_invalid(self.body(name='lunch'), 'checkpoints[0].name')

    def test_a_time_that_is_not_one(self):
        self.assert_invalid(self.body(timestamp='yesterday'),
                            'checkpoints[0].timestamp')

    def test_no_alarm(self):
        body = self.body()
        del body['checkpoints'][1]['alarm_id']

        self.assert_invalid(body, 'checkpoints[1].alarm_id')

    def test_an_unknown_field(self):
        self.assert_invalid(self.body(colour='red'), 'checkpoints[0].colour')

    def test_no_checkpoints(self):
        self.assert_invalid({'checkpoints': []}, 'checkpoints')

    def test_not_json(self):
        self.assert_error(self.request(
            'POST', '/v1/faults/f-0/checkpoints', raw=b'{'), 400, 'JSON')
