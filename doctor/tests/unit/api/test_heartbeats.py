"""GET /v1/heartbeats: the heartbeat status of the HA guests."""

import datetime
import os

from oslo_policy import opts as policy_opts

from doctor.tests.unit.api import base

SEEN = datetime.datetime(2026, 12, 7, 10, 0, 0, 250000)


def record(instance_id: str, project_id: str | None = base.PROJECT,
           status: str = 'ok', host: str = 'compute-0', **fields) -> dict:
    values = {'instance_id': instance_id, 'host': host,
              'project_id': project_id, 'interval_ms': 1000, 'threshold': 3,
              'status': status, 'reason': None, 'last_seen': SEEN,
              'updated_at': SEEN}
    values.update(fields)
    return values


class TestHeartbeats(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.db.put_heartbeats([
            record('vm-1'),
            record('vm-2', status='missed', reason='missed 3 heartbeats'),
            record('vm-9', project_id=base.OTHER_PROJECT, host='compute-1'),
            record('vm-0', project_id=None, status='unregistered',
                   interval_ms=None, threshold=None, last_seen=None),
        ])

    def ids(self, response) -> list[str]:
        self.assertEqual(200, response.status_int, response.text)
        return [h['instance_id'] for h in response.json['heartbeats']]

    def use_policy(self, rules: str) -> None:
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write(rules)
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy')

    def test_a_project_lists_its_own_guests(self):
        response = self.request('GET', '/v1/heartbeats', roles='reader')
        self.assertEqual(['vm-1', 'vm-2'], self.ids(response))
        self.assertEqual({
            'instance_id': 'vm-2', 'project_id': base.PROJECT,
            'host': 'compute-0', 'interval_ms': 1000, 'threshold': 3,
            'status': 'missed', 'reason': 'missed 3 heartbeats',
            'last_seen': '2026-12-07T10:00:00.250000',
            'updated_at': '2026-12-07T10:00:00.250000'},
            response.json['heartbeats'][1])

    def test_an_admin_lists_every_guest(self):
        self.assertEqual(['vm-0', 'vm-1', 'vm-2', 'vm-9'],
                         self.ids(self.as_admin('GET', '/v1/heartbeats')))

    def test_filters(self):
        self.assertEqual(['vm-2'], self.ids(self.as_admin(
            'GET', '/v1/heartbeats?status=missed')))
        self.assertEqual(['vm-9'], self.ids(self.as_admin(
            'GET', '/v1/heartbeats?host=compute-1')))

    def test_a_bad_filter_names_the_parameter(self):
        self.assert_error(self.as_admin('GET', '/v1/heartbeats?status=dead'),
                          400, "'status'", 'dead')
        self.assert_error(self.as_admin('GET', '/v1/heartbeats?host='),
                          400, "'host'")
        self.assert_error(self.as_admin('GET', '/v1/heartbeats?sort=x'),
                          400, 'sort')

    def test_show_one_guest(self):
        response = self.request('GET', '/v1/heartbeats/vm-2',
                                roles='reader')
        self.assertEqual(['vm-2'], self.ids(response))
        self.assertEqual(['vm-9'], self.ids(self.as_admin(
            'GET', '/v1/heartbeats/vm-9')))

    def test_unknown_and_other_project_s_guests_are_404(self):
        self.assert_error(self.request('GET', '/v1/heartbeats/nope',
                                       roles='reader'), 404, 'nope')
        self.assert_error(self.request('GET', '/v1/heartbeats/vm-9',
                                       roles='reader'), 404, 'vm-9')

    def test_an_overlong_instance_id_names_the_field(self):
        self.assert_error(self.request('GET', '/v1/heartbeats/' + 'x' * 300,
                                       roles='reader'), 400, 'instance_id')

    def test_no_role_is_refused(self):
        self.assert_error(self.request('GET', '/v1/heartbeats', roles=''),
                          403, 'heartbeat:get_all')
        self.assert_error(self.request('GET', '/v1/heartbeats/vm-1',
                                       roles=''), 403, 'heartbeat:get')

    def test_a_restrictive_policy_refuses(self):
        self.use_policy('"heartbeat:get_all": "role:admin"\n'
                        '"heartbeat:get": "role:admin"\n')
        self.assert_error(self.request('GET', '/v1/heartbeats',
                                       roles='reader,member'),
                          403, 'heartbeat:get_all')
        self.assert_error(self.request('GET', '/v1/heartbeats/vm-1',
                                       roles='reader,member'),
                          403, 'heartbeat:get')
        self.assertEqual(4, len(self.ids(self.as_admin('GET',
                                                       '/v1/heartbeats'))))

    def test_an_operator_may_let_a_role_see_every_project(self):
        self.use_policy('"heartbeat:get_all:all_projects": "role:auditor"\n')
        response = self.request('GET', '/v1/heartbeats',
                                roles='reader,auditor')
        self.assertEqual(['vm-0', 'vm-1', 'vm-2', 'vm-9'], self.ids(response))

    def test_only_get(self):
        response = self.as_admin('DELETE', '/v1/heartbeats/vm-1')
        self.assertEqual(405, response.status_int, response.text)
