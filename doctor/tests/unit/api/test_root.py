"""Version discovery, unknown paths and wrong methods."""

from doctor.tests.unit.api import base


class TestVersions(base.APITestCase):

    def test_root_lists_v1_as_current_with_a_link(self):
        response = self.request('GET', '/', project=None, user=None)

        self.assertEqual(200, response.status_int)
        self.assertEqual(
            {'versions': [{'id': 'v1', 'status': 'CURRENT',
                           'links': [{'rel': 'self',
                                      'href': 'http://localhost/v1/'}]}]},
            response.json)

    def test_v1_describes_itself_and_links_its_resources(self):
        response = self.request('GET', '/v1')

        self.assertEqual(200, response.status_int)
        self.assertEqual('CURRENT', response.json['status'])
        self.assertEqual(
            [{'name': name,
              'links': [{'rel': 'self',
                         'href': 'http://localhost/v1/' + name}]}
             for name in ('alarms', 'entities', 'events', 'hosts',
                          'faults', 'heartbeats')],
            response.json['resources'])

    def test_links_follow_the_proxy_when_proxy_headers_are_enabled(self):
        self.assertIsNotNone(self.app)  # registers [oslo_middleware]
        self.config.config(enable_proxy_headers_parsing=True,
                           group='oslo_middleware')

        response = self.request('GET', '/', headers={
            'X-Forwarded-Proto': 'https',
            'X-Forwarded-Host': 'api.example.com'})

        self.assertEqual('https://api.example.com/v1/',
                         response.json['versions'][0]['links'][0]['href'])

    def test_every_answer_carries_a_request_id(self):
        response = self.request('GET', '/')

        self.assertTrue(response.headers['X-OpenStack-Request-ID']
                        .startswith('req-'))

    def test_post_to_the_root_is_405_with_allow(self):
        response = self.request('POST', '/', {})

        self.assert_error(response, 405, 'POST')
        self.assertEqual('GET', response.headers['Allow'])

    def test_delete_of_v1_is_405(self):
        self.assert_error(self.request('DELETE', '/v1'), 405)


class TestUnknownPaths(base.APITestCase):

    def test_unknown_top_level_path_is_404_json(self):
        self.assert_error(self.request('GET', '/v2'), 404, '/v2')

    def test_unknown_v1_resource_is_404_json(self):
        self.assert_error(self.request('GET', '/v1/nothing'), 404,
                          '/v1/nothing')

    def test_unknown_alarm_subresource_is_404_json(self):
        alarm = self.create()

        for suffix in ('bogus', 'state/extra', 'history/extra', 'get',
                       '_id', '__init__'):
            response = self.request(
                'GET', '/v1/alarms/%s/%s' % (alarm['alarm_id'], suffix))
            self.assert_error(response, 404)

    def test_private_names_are_alarm_ids_not_routes(self):
        response = self.request('GET', '/v1/alarms/__class__')

        self.assert_error(response, 404, 'Alarm __class__ not found')

    def test_json_only_clients_get_406_when_asking_for_html(self):
        response = self.request('GET', '/v1/alarms',
                                headers={'Accept': 'text/html'})

        self.assert_error(response, 406, 'application/json')


class TestWrongMethods(base.APITestCase):

    def test_wrong_methods_on_each_path_are_405_with_allow(self):
        alarm_id = self.create()['alarm_id']
        cases = [
            ('DELETE', '/v1/alarms', 'GET, POST'),
            ('PUT', '/v1/alarms', 'GET, POST'),
            ('PATCH', '/v1/alarms', 'GET, POST'),
            ('POST', '/v1/alarms/%s' % alarm_id, 'DELETE, GET, PUT'),
            ('PATCH', '/v1/alarms/%s' % alarm_id, 'DELETE, GET, PUT'),
            ('POST', '/v1/alarms/%s/state' % alarm_id, 'GET, PUT'),
            ('DELETE', '/v1/alarms/%s/state' % alarm_id, 'GET, PUT'),
            ('PUT', '/v1/alarms/%s/history' % alarm_id, 'GET'),
            ('POST', '/v1/alarms/%s/history' % alarm_id, 'GET'),
        ]
        for method, path, allowed in cases:
            response = self.request(method, path, {})
            self.assert_error(response, 405, method)
            self.assertEqual(allowed, response.headers.get('Allow'),
                             '%s %s' % (method, path))
