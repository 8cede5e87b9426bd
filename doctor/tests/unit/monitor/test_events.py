"""Tests of the monitor's events and of their posting, on a loopback API."""

import logging
import re
import socket
import time

import fixtures
from keystoneauth1 import loading as ks_loading
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.monitor import events
from doctor.tests import base
from doctor.tests.unit.monitor import fakes

_ISO = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$')


def event(host: str, status: str = 'down') -> dict:
    return events.host_event(host, status, 'm1',
                             uuidutils.generate_uuid(), time.time())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class HostEventTest(base.TestCase):

    def test_shape(self):
        made = events.host_event('compute-1', 'down', 'm1', 'me-1',
                                 1700000000.25)
        self.assertTrue(uuidutils.is_uuid_like(made['id']))
        self.assertEqual({
            'id': made['id'],
            'time': '2023-11-14T22:13:20.250000+00:00',
            'type': 'compute.host.down',
            'details': {'hostname': 'compute-1', 'status': 'down',
                        'monitor': 'm1', 'monitor_event_id': 'me-1'},
        }, made)

    def test_each_event_has_its_own_id(self):
        first = events.host_event('c', 'down', 'm', 'me', 1.0)
        second = events.host_event('c', 'down', 'm', 'me', 1.0)
        self.assertNotEqual(first['id'], second['id'])

    def test_time_always_has_microseconds(self):
        self.assertEqual('2023-11-14T22:13:20.000000+00:00',
                         events.iso_time(1700000000.0))
        self.assertRegex(events.iso_time(time.time()), _ISO)


class _PosterTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger(
            level=logging.INFO))
        self.config.config(name='m1', group='monitor')

    def api(self, **kwargs) -> fakes.StubAPI:
        api = fakes.StubAPI(**kwargs)
        self.addCleanup(api.stop)
        return api

    def poster(self, url: str) -> events.EventPoster:
        self.config.config(api_url=url, group='monitor')
        poster = events.EventPoster(self.conf)
        poster.retry_first = 0.02
        poster.retry_max = 0.1
        self.addCleanup(poster.stop)
        return poster

    def wait(self, predicate, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail('condition not met within %.1f s' % timeout)
            time.sleep(0.005)


class PostingTest(_PosterTestCase):

    def test_posts_with_noauth_headers_on_one_connection(self):
        api = self.api()
        poster = self.poster(api.url + '/')
        poster.start()
        first, second = event('c0'), event('c1', 'up')
        poster.post(first)
        api.wait_for(1)
        poster.post(second)
        requests = api.wait_for(2)
        self.assertEqual(['/v1/events'] * 2, [r.path for r in requests])
        self.assertEqual([[first], [second]], [r.body for r in requests])
        headers = requests[0].headers
        self.assertEqual('m1', headers['x-user-id'])
        self.assertEqual('service', headers['x-project-id'])
        self.assertEqual('admin', headers['x-roles'])
        self.assertEqual('application/json', headers['content-type'])
        self.assertNotIn('x-auth-token', headers)
        # Kept alive: the second POST came on the first one's connection.
        self.assertEqual(requests[0].client_port, requests[1].client_port)
        self.wait(lambda: not poster.pending())
        self.assertIn("Posted %s (c1 up): 202, faults ['f-0']"
                      % second['id'], self.logger.output)

    def test_keystone_token_instead_of_noauth_headers(self):
        api = self.api()
        # admin_token sends a fixed token: the wiring of [monitor]'s
        # keystoneauth options, without a Keystone.
        ks_loading.register_auth_conf_options(self.conf, 'monitor')
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('admin_token'),
            group='monitor')
        self.config.config(auth_type='admin_token', token='s3cret',
                           endpoint=api.url, group='monitor')
        poster = self.poster(api.url)
        poster.start()
        poster.post(event('c0'))
        [request] = api.wait_for(1)
        self.assertEqual('s3cret', request.headers['x-auth-token'])
        self.assertNotIn('x-roles', request.headers)
        self.assertNotIn('x-user-id', request.headers)

    def test_waiting_events_go_in_one_request_in_order(self):
        api = self.api()
        poster = self.poster(api.url)
        queued = [event('c0'), event('c1'), event('c0', 'up')]
        for item in queued:
            poster.post(item)
        poster.start()
        [request] = api.wait_for(1)
        self.assertEqual(queued, request.body)


class RetryTest(_PosterTestCase):

    def test_retries_until_the_api_listens(self):
        port = free_port()
        poster = self.poster('http://127.0.0.1:%d' % port)
        poster.start()
        down = event('c0')
        poster.post(down)
        self.wait(lambda: self.logger.output.count('will retry') >= 3)
        self.assertEqual([down], poster.pending())
        self.assertIn('to http://127.0.0.1:%d/v1/events failed, will '
                      'retry: Connection refused' % port,
                      self.logger.output)
        api = self.api(port=port)
        [request] = api.wait_for(1)
        self.assertEqual([down], request.body)
        self.wait(lambda: not poster.pending())

    def test_retries_server_errors_with_growing_delays(self):
        answers = [(503, {'error_message': {'faultstring': 'busy'}})] * 3

        def answer(request):
            return answers.pop(0) if answers else (202, {'fault_ids': []})
        api = self.api(answer=answer)
        poster = self.poster(api.url)
        poster.start()
        down = event('c0')
        poster.post(down)
        requests = api.wait_for(4)
        self.assertEqual([[down]] * 4, [r.body for r in requests])
        gaps = [later.at - earlier.at
                for earlier, later in zip(requests, requests[1:])]
        self.assertGreaterEqual(gaps[0], 0.02)
        self.assertGreater(gaps[2], gaps[0])
        self.wait(lambda: not poster.pending())
        self.assertIn('the API answered 503 (busy), will retry',
                      self.logger.output)
        time.sleep(0.2)
        self.assertEqual(4, len(api.requests))

    def test_client_error_is_logged_not_retried(self):
        def answer(request):
            if request.body[0]['details']['hostname'] == 'bad':
                return 400, {'error_message': {
                    'faultstring': 'Invalid input for field event 0 '
                                   'details.status'}}
            return 202, {'fault_ids': ['f']}
        api = self.api(answer=answer)
        poster = self.poster(api.url)
        poster.start()
        refused = event('bad')
        poster.post(refused)
        api.wait_for(1)
        accepted = event('good')
        poster.post(accepted)
        requests = api.wait_for(2)
        time.sleep(0.2)
        self.assertEqual([[refused], [accepted]],
                         [r.body for r in api.requests])
        self.assertEqual([], poster.pending())
        self.assertIn('The API refused event %s (bad down) with 400: '
                      'Invalid input for field event 0 details.status; '
                      'not retried' % refused['id'], self.logger.output)
        self.assertEqual(2, len(requests))

    def test_refused_batch_is_posted_one_by_one(self):
        def answer(request):
            hosts = [e['details']['hostname'] for e in request.body]
            if 'ghost' in hosts:
                return 404, {'error_message': {
                    'faultstring': 'Host ghost could not be found.'}}
            return 202, {'fault_ids': ['f'] * len(hosts)}
        api = self.api(answer=answer)
        poster = self.poster(api.url)
        queued = [event('c0'), event('ghost'), event('c1')]
        for item in queued:
            poster.post(item)
        poster.start()
        api.wait_for(4)
        self.wait(lambda: not poster.pending())
        time.sleep(0.2)
        self.assertEqual([queued, queued[:1], queued[1:2], queued[2:]],
                         [r.body for r in api.requests])
        self.assertIn('refused event %s (ghost down) with 404: Host ghost '
                      'could not be found.' % queued[1]['id'],
                      self.logger.output)

    def test_stop_reports_what_was_not_posted(self):
        poster = self.poster('http://127.0.0.1:%d' % free_port())
        poster.start()
        down = event('c0')
        poster.post(down)
        self.wait(lambda: 'will retry' in self.logger.output)
        started = time.monotonic()
        poster.stop(timeout=5)
        self.assertLess(time.monotonic() - started, 1.0)
        self.assertIn('Stopped with 1 event(s) not posted: %s (c0 down)'
                      % down['id'], self.logger.output)


class SessionTest(base.TestCase):

    def test_noauth_by_default(self):
        session = events.make_session(self.conf)
        self.assertIsNone(session.auth)
        self.assertEqual(10, session.timeout)

    def test_incomplete_password_options(self):
        self.config.config(auth_type='password', group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  events.make_session, self.conf)
        self.assertIn('auth_url', str(error))

    def test_unknown_auth_type(self):
        self.config.config(auth_type='nonesuch', group='monitor')
        error = self.assertRaises(exception.ConfigInvalid,
                                  events.make_session, self.conf)
        self.assertIn('nonesuch', str(error))
