"""``openstack doctor event create``."""

import datetime
import json
import os

import fixtures
from osc_lib import exceptions as osc_exceptions

from doctor.osc.v1 import events
from doctor.tests.unit.osc import fakes

FAULT_ID = 'f7a1c0de-2b3c-4d5e-8f90-a1b2c3d4e5f6'


class TestCreateEvent(fakes.CommandTestCase):

    def setUp(self):
        super().setUp()
        self.api.add('POST', '/v1/events', fakes.Answer(
            202, fakes.sample('events-create-response')))

    def test_from_options(self):
        self.api.add('POST', '/v1/events',
                     fakes.Answer(202, {'fault_ids': [FAULT_ID]}))

        listed = self.json_output(
            events.CreateEvent, '--hostname', 'compute-0', '--id', 'ev-1',
            '--time', '2024-05-01T10:00:00.1+00:00', '--monitor', 'rack',
            '--monitor-event-id', 'r-7', '--detail', 'rack=r12',
            '--detail', 'switch=sw3')

        self.assertEqual([{
            'id': 'ev-1', 'time': '2024-05-01T10:00:00.1+00:00',
            'type': 'compute.host.down',
            'details': {'hostname': 'compute-0', 'status': 'down',
                        'monitor': 'rack', 'monitor_event_id': 'r-7',
                        'rack': 'r12', 'switch': 'sw3'}}],
            self.api.last_body())
        self.assertEqual([{'Event ID': 'ev-1', 'Hostname': 'compute-0',
                           'Status': 'down', 'Fault ID': FAULT_ID}], listed)

    def test_defaults_are_now_down_and_a_new_id(self):
        self.api.add('POST', '/v1/events',
                     fakes.Answer(202, {'fault_ids': [FAULT_ID]}))
        before = datetime.datetime.now(datetime.timezone.utc)

        self.take(events.CreateEvent, '--hostname', 'compute-0', '--status',
                  'up')

        [event] = self.api.last_body()
        when = datetime.datetime.fromisoformat(event['time'])
        self.assertLessEqual(before, when)
        self.assertEqual(datetime.timedelta(0), when.utcoffset())
        self.assertEqual(36, len(event['id']))
        self.assertEqual({'hostname': 'compute-0', 'status': 'up'},
                         event['details'])

    def test_from_a_file(self):
        sample = fakes.sample('events-create-request')
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'events.json')
        with open(path, 'w') as stream:
            json.dump(sample, stream)

        _columns, rows = self.take(events.CreateEvent, '--file', path)

        self.assertEqual(sample, self.api.last_body())
        self.assertEqual(
            [('0c7d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f', 'compute-0', 'down',
              FAULT_ID),
             ('5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c', 'compute-0', 'down',
              FAULT_ID)], rows)

    def test_one_event_of_a_file_need_not_be_a_list(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'e')
        event = fakes.sample('events-create-request')[0]
        with open(path, 'w') as stream:
            json.dump(event, stream)

        self.take(events.CreateEvent, '--file', path)

        self.assertEqual([event], self.api.last_body())

    def test_bad_files_are_named(self):
        directory = self.useFixture(fixtures.TempDir()).path
        for content, fragment in (('[{"id": ', 'is not JSON'),
                                  ('["compute-0"]', 'must hold a JSON list'),
                                  ('42', 'must hold a JSON list')):
            path = os.path.join(directory, 'events.json')
            with open(path, 'w') as stream:
                stream.write(content)
            e = self.assertRaises(osc_exceptions.CommandError, self.take,
                                  events.CreateEvent, '--file', path)
            self.assertIn(path, str(e))
            self.assertIn(fragment, str(e))
        missing = os.path.join(directory, 'missing.json')
        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              events.CreateEvent, '--file', missing)
        self.assertEqual('Cannot read the events of %s: No such file or '
                         'directory' % missing, str(e))
        self.assertEqual([], self.api.requests)

    def test_hostname_or_file_is_needed_and_not_both(self):
        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              events.CreateEvent)
        self.assertIn('--hostname', str(e))
        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              events.CreateEvent, '--file', 'x.json',
                              '--hostname', 'compute-0')
        self.assertIn('--file takes the whole events', str(e))
        self.assertEqual([], self.api.requests)

    def test_api_refusal_names_the_field(self):
        self.api.add('POST', '/v1/events', fakes.error(
            400, "Invalid value for '[0].time': 'yesterday' is not an ISO "
                 "8601 time"))

        e = self.assertRaises(osc_exceptions.CommandError, self.take,
                              events.CreateEvent, '--hostname', 'compute-0',
                              '--time', 'yesterday')
        self.assertIn("'[0].time'", str(e))
        self.assertTrue(str(e).startswith('400 Bad Request: '))
