"""GET /v1/entities and /v1/entities/{key}: the synchronizer's store."""

import datetime
import os
from urllib import parse

from oslo_policy import opts as policy_opts

from doctor.synchronizer import entity
from doctor.tests.unit.api import base

NOW = datetime.datetime(2024, 5, 1, 10, 0, 0, 123456)
PROJECT_OWNER = '6f1c2b3a4d5e4f60a7b8c9d0e1f2a3b4'


def change(entity_type: str, entity_id: str, action: str = entity.CREATE,
           datasource: str = 'static', timestamp: datetime.datetime = NOW,
           **fields) -> dict:
    """A change record of the entity ``entity_type``:``entity_id``."""
    return entity.Change(
        action, entity.Entity(type=entity_type, id=entity_id, **fields),
        timestamp, datasource).as_record()


class EntitiesTestCase(base.APITestCase):
    """A store with two hosts, three instances and a port."""

    def setUp(self):
        super().setUp()
        self.store(
            change('host', 'compute-0', state='up', name='compute-0'),
            change('host', 'compute-1', state='down', name='compute-1',
                   datasource='nova'),
            change('instance', 'vm-1', state='active', name='vnf-a-0',
                   project_id=PROJECT_OWNER, parents=('host:compute-0',),
                   attributes={'flavor': 'm1.small'}),
            change('instance', 'vm-2', state='error', name='vnf-a-1',
                   project_id=PROJECT_OWNER, parents=('host:compute-0',)),
            change('instance', 'vm-3', state='active', name='vnf-b-0',
                   project_id=base.OTHER_PROJECT,
                   parents=('host:compute-1',), datasource='nova'),
            change('port', 'p-1', state='active', project_id=PROJECT_OWNER,
                   parents=('host:compute-0', 'instance:vm-1')),
        )

    def store(self, *changes: dict) -> None:
        self.db.apply_entity_changes(list(changes))

    def listing(self, query: str = '') -> dict:
        response = self.as_admin('GET', '/v1/entities' + query)
        self.assertEqual(200, response.status_int, response.text)
        return response.json

    def keys(self, query: str = '') -> list[str]:
        return [item['key'] for item in self.listing(query)['entities']]

    def show(self, key_path: str) -> dict:
        response = self.as_admin('GET', '/v1/entities/' + key_path)
        self.assertEqual(200, response.status_int, response.text)
        return response.json['entity']


class TestList(EntitiesTestCase):

    def test_admin_lists_every_entity_by_key(self):
        self.assertEqual(
            ['host:compute-0', 'host:compute-1', 'instance:vm-1',
             'instance:vm-2', 'instance:vm-3', 'port:p-1'], self.keys())

    def test_an_entity_as_listed(self):
        listed = {item['key']: item
                  for item in self.listing()['entities']}

        self.assertEqual(
            {'key': 'instance:vm-1', 'type': 'instance', 'id': 'vm-1',
             'name': 'vnf-a-0', 'state': 'active',
             'project_id': PROJECT_OWNER, 'datasource': 'static',
             'parents': ['host:compute-0'],
             'attributes': {'flavor': 'm1.small'},
             'updated_at': '2024-05-01T10:00:00.123456'},
            listed['instance:vm-1'])

    def test_a_short_list_has_no_next_link(self):
        self.assertEqual([], self.listing()['links'])

    def test_deleted_entities_are_not_listed(self):
        self.store(change('instance', 'vm-2', entity.DELETE,
                          timestamp=NOW + datetime.timedelta(seconds=1)))

        self.assertNotIn('instance:vm-2', self.keys())

    def test_an_empty_store_lists_nothing(self):
        self.store(*[change(*key.split(':'), action=entity.DELETE,
                            datasource=source,
                            timestamp=NOW + datetime.timedelta(seconds=1))
                     for key, source in (
                         ('host:compute-0', 'static'),
                         ('host:compute-1', 'nova'),
                         ('instance:vm-1', 'static'),
                         ('instance:vm-2', 'static'),
                         ('instance:vm-3', 'nova'),
                         ('port:p-1', 'static'))])

        self.assertEqual({'entities': [], 'links': []}, self.listing())


class TestFilters(EntitiesTestCase):

    def test_type(self):
        self.assertEqual(['host:compute-0', 'host:compute-1'],
                         self.keys('?type=host'))

    def test_parent(self):
        self.assertEqual(['instance:vm-1', 'instance:vm-2', 'port:p-1'],
                         self.keys('?parent=host:compute-0'))
        self.assertEqual(['port:p-1'],
                         self.keys('?parent=instance%3Avm-1'))

    def test_state(self):
        self.assertEqual(['instance:vm-2'], self.keys('?state=error'))

    def test_datasource(self):
        self.assertEqual(['host:compute-1', 'instance:vm-3'],
                         self.keys('?datasource=nova'))

    def test_project_id(self):
        self.assertEqual(['instance:vm-1', 'instance:vm-2', 'port:p-1'],
                         self.keys('?project_id=' + PROJECT_OWNER))

    def test_filters_combine(self):
        self.assertEqual(
            ['instance:vm-1'],
            self.keys('?type=instance&parent=host:compute-0&state=active'))

    def test_a_filter_nothing_matches_lists_nothing(self):
        self.assertEqual([], self.keys('?type=server_group'))
        self.assertEqual([], self.keys('?parent=host:nowhere'))


class TestPaging(EntitiesTestCase):

    def test_limit_and_next_link(self):
        page = self.listing('?limit=2')

        self.assertEqual(['host:compute-0', 'host:compute-1'],
                         [item['key'] for item in page['entities']])
        self.assertEqual(1, len(page['links']))
        self.assertEqual('next', page['links'][0]['rel'])
        url = parse.urlsplit(page['links'][0]['href'])
        self.assertEqual(('http', 'localhost', '/v1/entities'),
                         (url.scheme, url.netloc, url.path))
        self.assertEqual({'limit': ['2'], 'marker': ['host:compute-1']},
                         parse.parse_qs(url.query))

    def test_following_next_links_visits_every_entity_once(self):
        seen = []
        path = '/v1/entities?limit=4'
        pages = 0
        while path:
            response = self.as_admin('GET', path)
            self.assertEqual(200, response.status_int, response.text)
            seen += [item['key'] for item in response.json['entities']]
            links = response.json['links']
            path = links[0]['href'] if links else None
            pages += 1

        self.assertEqual(2, pages)
        self.assertEqual(self.keys(), seen)

    def test_a_page_that_ends_the_list_exactly_has_no_next_link(self):
        page = self.listing('?limit=6')

        self.assertEqual(6, len(page['entities']))
        self.assertEqual([], page['links'])

    def test_next_link_keeps_the_filters(self):
        page = self.listing('?type=instance&limit=1&state=active')
        query = parse.parse_qs(parse.urlsplit(
            page['links'][0]['href']).query)

        self.assertEqual({'type': ['instance'], 'state': ['active'],
                          'limit': ['1'], 'marker': ['instance:vm-1']},
                         query)
        self.assertEqual(['instance:vm-3'], self.keys(
            '?' + parse.urlencode({k: v[0] for k, v in query.items()})))

    def test_marker_starts_after_that_entity(self):
        self.assertEqual(['instance:vm-3', 'port:p-1'],
                         self.keys('?marker=instance:vm-2'))

    def test_default_limit_is_the_configured_one(self):
        self.config.config(default_limit=5, group='api')

        page = self.listing()

        self.assertEqual(5, len(page['entities']))
        self.assertNotIn('port:p-1',
                         [item['key'] for item in page['entities']])
        self.assertEqual(['next'], [link['rel'] for link in page['links']])

    def test_limit_above_the_maximum_is_400(self):
        self.config.config(max_limit=3, group='api')

        self.assert_error(self.as_admin('GET', '/v1/entities?limit=4'),
                          400, "'limit'", 'between 1 and 3')
        self.assertEqual(3, len(self.listing('?limit=3')['entities']))

    def test_bad_limits_are_400_naming_limit(self):
        for value in ('0', '-1', 'ten', '', '1.5'):
            response = self.as_admin('GET', '/v1/entities?limit=' + value)
            self.assert_error(response, 400, "'limit'")

    def test_unknown_marker_is_400_naming_marker(self):
        response = self.as_admin('GET', '/v1/entities?marker=host:nowhere')

        self.assert_error(response, 400, "'marker'", 'host:nowhere')

    def test_deleted_marker_is_400(self):
        self.store(change('instance', 'vm-2', entity.DELETE,
                          timestamp=NOW + datetime.timedelta(seconds=1)))

        response = self.as_admin('GET', '/v1/entities?marker=instance:vm-2')

        self.assert_error(response, 400, "'marker'")


class TestBadQueries(EntitiesTestCase):

    def test_unknown_parameter_is_400_naming_it(self):
        response = self.as_admin('GET', '/v1/entities?host=compute-0')

        self.assert_error(response, 400, "'host'", 'datasource', 'parent')

    def test_repeated_parameter_is_400(self):
        response = self.as_admin('GET', '/v1/entities?type=host&type=port')

        self.assert_error(response, 400, "'type'", 'more than once')

    def test_empty_filter_is_400(self):
        for name in ('type', 'parent', 'state', 'datasource', 'project_id',
                     'marker'):
            response = self.as_admin('GET', '/v1/entities?%s=' % name)
            self.assert_error(response, 400, "'%s'" % name, 'empty')

    def test_show_takes_no_query_parameter(self):
        response = self.as_admin('GET',
                                 '/v1/entities/host:compute-0?verbose=1')

        self.assert_error(response, 400, "'verbose'")


class TestShow(EntitiesTestCase):

    def test_admin_shows_an_entity_with_its_children(self):
        self.assertEqual(
            {'key': 'host:compute-0', 'type': 'host', 'id': 'compute-0',
             'name': 'compute-0', 'state': 'up', 'project_id': None,
             'datasource': 'static', 'parents': [], 'attributes': {},
             'children': ['instance:vm-1', 'instance:vm-2', 'port:p-1'],
             'updated_at': '2024-05-01T10:00:00.123456'},
            self.show('host:compute-0'))

    def test_times_are_written_to_the_microsecond(self):
        self.store(change('host', 'whole',
                          timestamp=NOW.replace(microsecond=0)))

        self.assertEqual('2024-05-01T10:00:00.000000',
                         self.show('host:whole')['updated_at'])

    def test_parents_and_children(self):
        instance = self.show('instance:vm-1')

        self.assertEqual(['host:compute-0'], instance['parents'])
        self.assertEqual(['port:p-1'], instance['children'])
        self.assertEqual([], self.show('port:p-1')['children'])

    def test_children_of_a_deleted_parent_are_gone_from_it(self):
        self.store(change('port', 'p-1', entity.DELETE,
                          timestamp=NOW + datetime.timedelta(seconds=1)))

        self.assertEqual([], self.show('instance:vm-1')['children'])

    def test_unknown_key_is_404(self):
        for path in ('host:nowhere', 'nowhere', 'get_all', '_lookup',
                     '__class__'):
            response = self.as_admin('GET', '/v1/entities/' + path)
            self.assert_error(response, 404, 'Entity %s not found' % path)

    def test_deleted_entity_is_404(self):
        self.store(change('instance', 'vm-2', entity.DELETE,
                          timestamp=NOW + datetime.timedelta(seconds=1)))

        response = self.as_admin('GET', '/v1/entities/instance:vm-2')

        self.assert_error(response, 404, 'instance:vm-2')

    def test_the_colon_may_be_percent_encoded(self):
        self.assertEqual('host:compute-0',
                         self.show('host%3Acompute-0')['key'])

    def test_a_trailing_slash_is_ignored(self):
        self.assertEqual('host:compute-0',
                         self.show('host:compute-0/')['key'])


class TestSpecialKeys(EntitiesTestCase):
    """Keys whose id holds characters that must be URL-encoded."""

    IDS = ('compute-0.example.com', 'a b', '100%', 'what?', 'no#1',
           'x;y', 'caf\u00e9', 'rack-1/slot-2', 'a+b', 'k=v&w')

    def setUp(self):
        super().setUp()
        self.store(*[change('host', host_id) for host_id in self.IDS])

    def test_percent_encoded_keys_are_shown(self):
        for host_id in self.IDS:
            key = 'host:' + host_id
            shown = self.show(parse.quote(key, safe=':'))
            self.assertEqual((key, host_id), (shown['key'], shown['id']))

    def test_a_slash_may_be_sent_as_is(self):
        self.assertEqual('host:rack-1/slot-2',
                         self.show('host:rack-1/slot-2')['key'])

    def test_special_keys_filter_and_page(self):
        self.store(change('port', 'p-9', parents=('host:a b',)))

        self.assertEqual(['port:p-9'],
                         self.keys('?parent=' + parse.quote('host:a b')))
        page = self.listing('?type=host&marker=' +
                            parse.quote('host:100%', safe=':'))
        self.assertEqual('host:a b', page['entities'][0]['key'])

    def test_next_links_encode_the_marker(self):
        seen = []
        path = '/v1/entities?type=host&limit=1'
        while path:
            response = self.as_admin('GET', path)
            self.assertEqual(200, response.status_int, response.text)
            seen += [item['key'] for item in response.json['entities']]
            links = response.json['links']
            path = links[0]['href'] if links else None

        self.assertEqual(self.keys('?type=host'), seen)
        self.assertEqual(len(self.IDS) + 2, len(seen))


class TestPolicy(EntitiesTestCase):

    def test_member_is_403_on_the_list(self):
        response = self.request('GET', '/v1/entities')

        self.assert_error(response, 403, 'entity:get_all',
                          'only administrators')

    def test_member_is_403_on_an_entity(self):
        response = self.request('GET', '/v1/entities/host:compute-0')

        self.assert_error(response, 403, 'entity:get', 'only administrators')

    def test_member_is_403_before_any_lookup(self):
        for path in ('/v1/entities/host:nowhere',
                     '/v1/entities?marker=host:nowhere',
                     '/v1/entities?bogus=1'):
            self.assert_error(self.request('GET', path), 403)

    def test_owner_of_an_instance_is_still_403(self):
        response = self.request('GET', '/v1/entities/instance:vm-1',
                                project=PROJECT_OWNER)

        self.assert_error(response, 403, 'entity:get')

    def test_request_without_a_project_is_401(self):
        for path in ('/v1/entities', '/v1/entities/host:compute-0'):
            response = self.request('GET', path, project=None,
                                    roles='admin')
            self.assert_error(response, 401, 'no project')

    def test_system_scoped_admin_is_403(self):
        response = self.request('GET', '/v1/entities', project=None,
                                roles='admin',
                                headers={'OpenStack-System-Scope': 'all'})

        self.assert_error(response, 403, 'project-scoped')

    def test_wrong_methods_are_405_with_allow(self):
        for method, path in (('POST', '/v1/entities'),
                             ('DELETE', '/v1/entities'),
                             ('PUT', '/v1/entities/host:compute-0'),
                             ('DELETE', '/v1/entities/host:compute-0'),
                             ('POST', '/v1/entities/host:compute-0')):
            response = self.as_admin(method, path, {})
            self.assert_error(response, 405, method)
            self.assertEqual('GET', response.headers.get('Allow'), path)


class TestPolicyFile(EntitiesTestCase):
    """An operator may open the entities to others."""

    def setUp(self):
        super().setUp()
        path = os.path.join(self.state_path, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"entity:get": "role:reader"\n')
        policy_opts.set_defaults(self.conf)
        self.config.config(policy_file=path, group='oslo_policy')

    def test_opened_rule_lets_readers_show(self):
        response = self.request('GET', '/v1/entities/host:compute-0',
                                roles='reader')

        self.assertEqual(200, response.status_int, response.text)

    def test_the_list_stays_closed(self):
        response = self.request('GET', '/v1/entities', roles='reader')

        self.assert_error(response, 403, 'entity:get_all')
