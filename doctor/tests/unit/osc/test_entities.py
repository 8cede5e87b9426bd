"""``openstack doctor entity …``."""

from doctor.osc.v1 import entities
from doctor.tests.unit.osc import fakes

KEY = 'instance:153462d0-a9b8-4b5b-8175-9e4b05e9b856'


class TestEntities(fakes.CommandTestCase):

    def test_list_filters_and_one_page(self):
        self.api.add('GET', '/v1/entities', fakes.Answer(
            200, fakes.sample('entities-list-response')))

        listed = self.json_output(
            entities.ListEntity, '--type', 'instance', '--parent',
            'host:compute-0', '--state', 'active', '--datasource', 'static',
            '--project-id', 'p1', '--limit', '2', '--marker', 'instance:0')

        self.assertEqual(
            {'type': ['instance'], 'parent': ['host:compute-0'],
             'state': ['active'], 'datasource': ['static'],
             'project_id': ['p1'], 'limit': ['2'],
             'marker': ['instance:0']}, self.api.query())
        self.assertEqual(1, len(self.api.requests))
        self.assertEqual({'Key': KEY, 'Type': 'instance', 'Name': 'vnf-a-0',
                          'State': 'active',
                          'Project ID': 'b7d3c1e2a9f84c5d8e6f0a1b2c3d4e5f',
                          'Datasource': 'static'}, listed[0])

    def test_list_without_a_limit_reads_every_page(self):
        sample = fakes.sample('entities-list-response')
        self.api.add('GET', '/v1/entities', fakes.Answer(200, sample),
                     fakes.Answer(200, {'entities': [], 'links': []}))

        _columns, rows = self.take(entities.ListEntity, '--long')

        self.assertEqual(2, len(rows))
        self.assertEqual(2, len(self.api.requests))
        self.assertEqual(['instance:7c1e5a3b-2d4f-4a6b-8c0d-9e1f2a3b4c5d'],
                         self.api.query()['marker'])

    def test_show(self):
        sample = fakes.sample('entity-show-response')
        self.api.add('GET', '/v1/entities/' + KEY, fakes.Answer(200, sample))

        self.assertEqual(sample['entity'],
                         self.json_output(entities.ShowEntity, KEY))
