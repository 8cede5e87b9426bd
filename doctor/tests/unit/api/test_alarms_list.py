"""GET /v1/alarms: projects, filters, paging and sorting."""

from doctor.tests.unit.api import base


class ListTestCase(base.APITestCase):

    def listing(self, query: str = '', **caller) -> list[dict]:
        response = self.request('GET', '/v1/alarms' + query, **caller)
        self.assertEqual(200, response.status_int, response.text)
        return response.json

    def names(self, query: str = '', **caller) -> list[str]:
        return [alarm['name'] for alarm in self.listing(query, **caller)]

    def admin_names(self, query: str = '') -> list[str]:
        response = self.as_admin('GET', '/v1/alarms' + query)
        self.assertEqual(200, response.status_int, response.text)
        return sorted(alarm['name'] for alarm in response.json)


class TestProjects(ListTestCase):

    def setUp(self):
        super().setUp()
        self.create(name='mine')
        self.create(name='theirs', project=base.OTHER_PROJECT)
        self.as_admin('POST', '/v1/alarms', base.alarm_body(name='admins'))

    def test_member_sees_only_their_project(self):
        self.assertEqual(['mine'], self.names())
        self.assertEqual(['theirs'],
                         self.names(project=base.OTHER_PROJECT))

    def test_member_may_name_their_own_project(self):
        self.assertEqual(['mine'],
                         self.names('?project_id=%s' % base.PROJECT))

    def test_member_naming_another_project_is_403(self):
        response = self.request(
            'GET', '/v1/alarms?project_id=%s' % base.OTHER_PROJECT)

        self.assert_error(response, 403, 'alarm:get_all')

    def test_member_asking_for_all_projects_is_403(self):
        response = self.request('GET', '/v1/alarms?all_projects=true')

        self.assert_error(response, 403, 'alarm:get_all:all_projects')

    def test_admin_sees_their_own_project_by_default(self):
        self.assertEqual(['admins'], self.admin_names())

    def test_admin_sees_every_project_with_all_projects(self):
        self.assertEqual(['admins', 'mine', 'theirs'],
                         self.admin_names('?all_projects=true'))
        self.assertEqual(['admins'],
                         self.admin_names('?all_projects=false'))

    def test_admin_picks_a_project(self):
        self.assertEqual(['theirs'], self.admin_names(
            '?project_id=%s' % base.OTHER_PROJECT))

    def test_request_without_a_project_is_401(self):
        response = self.request('GET', '/v1/alarms', project=None)

        self.assert_error(response, 401, 'no project')


class TestFilters(ListTestCase):

    def setUp(self):
        super().setUp()
        self.create(name='a', resource_id='vm-1', state='ok')
        self.create(name='b', resource_id='vm-2', state='alarm',
                    enabled=False)
        self.create(name='c', resource_id='vm-1')

    def test_resource_id(self):
        self.assertEqual(['a', 'c'],
                         sorted(self.names('?resource_id=vm-1')))

    def test_state(self):
        self.assertEqual(['b'], self.names('?state=alarm'))
        self.assertEqual(['c'], self.names('?state=insufficient%20data'))

    def test_name(self):
        self.assertEqual(['b'], self.names('?name=b'))

    def test_enabled(self):
        self.assertEqual(['b'], self.names('?enabled=false'))
        self.assertEqual(['a', 'c'], sorted(self.names('?enabled=true')))
        self.assertEqual(['a', 'c'], sorted(self.names('?enabled=1')))

    def test_type(self):
        self.assertEqual(3, len(self.names('?type=notification')))

    def test_filters_combine(self):
        self.assertEqual(['a'],
                         self.names('?resource_id=vm-1&state=ok'))

    def test_bad_values_name_the_parameter(self):
        for query, name in (('state=foo', 'state'),
                            ('enabled=maybe', 'enabled'),
                            ('type=threshold', 'type'),
                            ('all_projects=perhaps', 'all_projects'),
                            ('name=', 'name'),
                            ('limit=abc', 'limit'),
                            ('limit=0', 'limit'),
                            ('limit=-3', 'limit'),
                            ('limit=1001', 'limit')):
            response = self.request('GET', '/v1/alarms?' + query)
            self.assert_error(response, 400, "'%s'" % name)

    def test_unknown_parameter_is_named(self):
        response = self.request('GET', '/v1/alarms?colour=red')

        self.assert_error(response, 400, "'colour'")

    def test_repeated_parameter_is_400(self):
        response = self.request('GET', '/v1/alarms?state=ok&state=alarm')

        self.assert_error(response, 400, "'state'", 'more than once')


class TestPaging(ListTestCase):

    def setUp(self):
        super().setUp()
        self.ids = [self.create(name='alarm-%d' % i)['alarm_id']
                    for i in range(5)]
        self.create(name='elsewhere', project=base.OTHER_PROJECT)

    def test_newest_first_by_default(self):
        self.assertEqual(['alarm-%d' % i for i in (4, 3, 2, 1, 0)],
                         self.names())

    def test_default_limit(self):
        self.config.config(default_limit=3, group='api')

        self.assertEqual(3, len(self.listing()))

    def test_limit_up_to_max_limit(self):
        self.config.config(max_limit=4, group='api')

        self.assertEqual(4, len(self.listing('?limit=4')))
        self.assert_error(self.request('GET', '/v1/alarms?limit=5'), 400,
                          "'limit'", 'between 1 and 4')

    def test_pages_follow_the_marker_to_an_empty_page(self):
        seen = []
        marker = None
        pages = []
        while True:
            query = '?sort=name:asc&limit=2'
            if marker is not None:
                query += '&marker=' + marker
            page = self.listing(query)
            pages.append(len(page))
            if not page:
                break
            seen.extend(alarm['name'] for alarm in page)
            marker = page[-1]['alarm_id']

        self.assertEqual([2, 2, 1, 0], pages)
        self.assertEqual(['alarm-%d' % i for i in range(5)], seen)

    def test_marker_on_a_page_boundary(self):
        first = self.listing('?sort=name:asc&limit=2')

        marker = first[-1]['alarm_id']
        second = self.listing('?sort=name:asc&limit=2&marker=' + marker)

        self.assertEqual(['alarm-2', 'alarm-3'],
                         [alarm['name'] for alarm in second])

    def test_marker_at_the_last_alarm_gives_an_empty_page(self):
        last = self.listing('?sort=name:asc')[-1]

        self.assertEqual(
            [], self.listing('?sort=name:asc&marker=' + last['alarm_id']))

    def test_unknown_marker_is_400(self):
        response = self.request('GET', '/v1/alarms?marker=nonexistent')

        self.assert_error(response, 400, "'marker'")

    def test_marker_of_another_project_is_400(self):
        theirs = self.listing(project=base.OTHER_PROJECT)[0]['alarm_id']

        response = self.request('GET', '/v1/alarms?marker=' + theirs)

        self.assert_error(response, 400, "'marker'")


class TestSorting(ListTestCase):

    def setUp(self):
        super().setUp()
        self.create(name='b', severity='critical')
        self.create(name='a', severity='low')
        self.create(name='c', severity='critical')

    def test_sort_by_name(self):
        self.assertEqual(['a', 'b', 'c'], self.names('?sort=name:asc'))
        self.assertEqual(['c', 'b', 'a'], self.names('?sort=name:desc'))
        self.assertEqual(['a', 'b', 'c'], self.names('?sort=name'))

    def test_sort_by_several_keys(self):
        self.assertEqual(['b', 'c', 'a'],
                         self.names('?sort=severity:asc,name:asc'))
        self.assertEqual(['a', 'c', 'b'],
                         self.names('?sort=severity:desc,name:desc'))

    def test_bad_sorts_are_400(self):
        for sort in ('colour:asc', 'name:up', 'name:asc,name:desc',
                     'deadline', ':asc'):
            response = self.request('GET', '/v1/alarms?sort=' + sort)
            self.assert_error(response, 400, "'sort'")
