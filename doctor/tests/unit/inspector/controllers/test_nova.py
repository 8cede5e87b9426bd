"""The ``nova`` controller: the requests it makes and its failures.

Calls go through keystoneauth, as in production, to a server on loopback
(:mod:`.fake_api`) answering in Nova's shapes.
"""

import threading
import time
import uuid

from keystoneauth1 import loading as ks_loading

from doctor.common import exception
from doctor.inspector import inspector as inspector_mod
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import nova
from doctor.inspector.controllers import openstack
from doctor.tests import base
from doctor.tests.unit.inspector.controllers import fake_api

ENDPOINT = '/v2.1'
FAULT = '0b9f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4'
SERVICE_0 = '1f5d3c7a-9b2e-4d6f-8a1c-3e5b7d9f1a10'
SERVICE_NEW = '2a6e4d8b-0c3f-4e7a-9b2d-4f6c8e0a2b11'
SERVER = '3b4c9a2e-6d1f-4e8a-9b7c-0d2e4f6a8b01'
SERVICES = ENDPOINT + '/os-services'
ACTION = '%s/servers/%s/action' % (ENDPOINT, SERVER)


def service(host: str, service_id: str) -> dict:
    """One item of GET /os-services at 2.53."""
    return {'id': service_id, 'binary': 'nova-compute', 'host': host,
            'zone': 'nova', 'status': 'enabled', 'state': 'up',
            'forced_down': False, 'disabled_reason': None,
            'updated_at': '2026-11-22T03:10:00.000000'}


def token() -> dict:
    """Keystone's answer to a password authentication: a catalog."""
    return {'token': {
        'methods': ['password'], 'expires_at': '2099-01-01T00:00:00Z',
        'issued_at': '2026-11-22T03:00:00Z',
        'user': {'id': 'u1', 'name': 'doctor',
                 'domain': {'id': 'default', 'name': 'Default'}},
        'project': {'id': 'p1', 'name': 'admin',
                    'domain': {'id': 'default', 'name': 'Default'}},
        'roles': [{'id': 'r1', 'name': 'admin'}],
        'catalog': [{'type': 'compute', 'name': 'nova', 'id': 's1',
                     'endpoints': [{'id': 'e1', 'interface': 'public',
                                    'region': 'RegionOne',
                                    'region_id': 'RegionOne',
                                    'url': '{url}' + ENDPOINT}]}]}}


def fault(kind: str, code: int, message: str) -> dict:
    """Nova's error document."""
    return {kind: {'code': code, 'message': message}}


class NovaTestCase(base.TestCase):
    """A started ``nova`` controller whose Nova is a fake on loopback."""

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(fake_api.FakeAPI())
        self.api.routes.update({
            SERVICES: (200, {'services': [service('compute-0', SERVICE_0)]}),
            SERVICES + '/' + SERVICE_0: lambda call: (
                200, {'service': dict(service('compute-0', SERVICE_0),
                                      forced_down=call.body['forced_down'])}),
            ACTION: (202, None),
        })
        self.config.config(auth_type='none',
                           endpoint_override=self.api.url + ENDPOINT,
                           group='nova')
        self.controller = self.load()
        self.context = controller_base.ActionContext(fault_id=FAULT)

    def load(self, forget_start: bool = True) -> nova.NovaController:
        self.config.config(controllers=['nova'], group='inspector')
        [controller] = inspector_mod.load_controllers(self.conf)
        assert isinstance(controller, nova.NovaController)
        controller.start()
        self.addCleanup(controller.stop)
        if forget_start:
            # What the controller asks at start is not what a test looks
            # at.
            assert controller.prepared is not None
            controller.prepared.join(10)
            del self.api.calls[:]
        return controller

    def host(self, service_id: str | None = SERVICE_0
             ) -> controller_base.Host:
        attributes = {'service_id': service_id} if service_id else {}
        return controller_base.Host(name='compute-0', attributes=attributes)

    def instance(self) -> controller_base.Instance:
        return controller_base.Instance(id=SERVER, host='compute-0')

    def requests(self) -> list[tuple[str, str, object]]:
        return [(call.method, call.path, call.body)
                for call in self.api.calls]


class TestPlugin(NovaTestCase):

    def test_loaded_by_name_acts_on_hosts_and_instances(self):
        self.assertEqual('nova', self.controller.name)
        self.assertEqual(frozenset(('host', 'instance')),
                         self.controller.handles)


class TestHosts(NovaTestCase):

    def test_forced_down_then_up_by_the_stored_service_id(self):
        self.controller.set_host_down(self.context, self.host(), True)
        self.controller.set_host_down(self.context, self.host(), False)

        self.assertEqual(
            [('PUT', SERVICES + '/' + SERVICE_0, {'forced_down': True}),
             ('PUT', SERVICES + '/' + SERVICE_0, {'forced_down': False})],
            self.requests())
        headers = self.api.calls[0].headers
        self.assertEqual('compute 2.53', headers['OpenStack-API-Version'])
        self.assertEqual('2.53', headers['X-OpenStack-Nova-API-Version'])
        self.assertEqual('req-' + FAULT, headers['X-OpenStack-Request-ID'])

    def test_service_id_looked_up_once_when_not_stored(self):
        self.controller.set_host_down(self.context, self.host(None), True)
        self.controller.set_host_down(self.context, self.host(None), False)

        self.assertEqual(
            [('GET', SERVICES, None),
             ('PUT', SERVICES + '/' + SERVICE_0, {'forced_down': True}),
             ('PUT', SERVICES + '/' + SERVICE_0, {'forced_down': False})],
            self.requests())
        self.assertEqual({'binary': ['nova-compute'], 'host': ['compute-0']},
                         self.api.calls[0].query)
        self.assertEqual('2.53', self.api.calls[0].headers[
            'X-OpenStack-Nova-API-Version'])

    def test_stale_service_id_looked_up_again(self):
        self.api.routes[SERVICES] = (200, {'services': [
            service('compute-0', SERVICE_NEW)]})
        self.api.routes[SERVICES + '/' + SERVICE_NEW] = (200, {})
        self.api.routes[SERVICES + '/' + SERVICE_0] = (404, fault(
            'itemNotFound', 404, 'Service %s not found.' % SERVICE_0))

        self.controller.set_host_down(self.context, self.host(), True)

        self.assertEqual(
            [('PUT', SERVICES + '/' + SERVICE_0, {'forced_down': True}),
             ('GET', SERVICES, None),
             ('PUT', SERVICES + '/' + SERVICE_NEW, {'forced_down': True})],
            self.requests())

    def test_host_nova_does_not_know(self):
        self.api.routes[SERVICES] = (200, {'services': []})

        error = self.assertRaises(
            exception.HostNotFound, self.controller.set_host_down,
            self.context, self.host(None), True)

        self.assertEqual('Nova has no nova-compute service on host '
                         'compute-0; cannot force host compute-0 down',
                         str(error))
        self.assertEqual([], self.api.writes())

    def test_service_gone_between_look_up_and_force(self):
        self.api.routes[SERVICES + '/' + SERVICE_0] = (404, fault(
            'itemNotFound', 404, 'Service %s not found.' % SERVICE_0))

        error = self.assertRaises(
            exception.HostNotFound, self.controller.set_host_down,
            self.context, self.host(None), True)

        self.assertIn('PUT /os-services/%s answered 404: Service %s not '
                      'found.' % (SERVICE_0, SERVICE_0), str(error))


class TestInstances(NovaTestCase):

    def test_error_by_reset_state(self):
        self.controller.set_instance_state(self.context, self.instance(),
                                           'error')

        self.assertEqual(
            [('POST', ACTION, {'os-resetState': {'state': 'error'}})],
            self.requests())
        self.assertEqual('2.53', self.api.calls[0].headers[
            'X-OpenStack-Nova-API-Version'])

    def test_stopped_by_a_stop(self):
        self.controller.set_instance_state(self.context, self.instance(),
                                           'stopped')

        self.assertEqual([('POST', ACTION, {'os-stop': None})],
                         self.requests())

    def test_a_stop_refused_because_stopped_already_succeeds(self):
        self.api.routes[ACTION] = (409, fault(
            'conflictingRequest', 409,
            "Cannot 'stop' instance %s while it is in vm_state stopped"
            % SERVER))
        for vm_state, task_state in (('stopped', None),
                                     ('active', 'powering-off')):
            self.api.routes[ENDPOINT + '/servers/' + SERVER] = (200, {
                'server': {'id': SERVER, 'OS-EXT-STS:vm_state': vm_state,
                           'OS-EXT-STS:task_state': task_state}})

            self.controller.set_instance_state(self.context,
                                               self.instance(), 'stopped')

        self.assertEqual(['POST', 'GET', 'POST', 'GET'],
                         [call.method for call in self.api.calls])

    def test_a_stop_refused_otherwise_fails_for_good(self):
        self.api.routes[ACTION] = (409, fault(
            'conflictingRequest', 409,
            "Cannot 'stop' instance %s while it is in task_state spawning"
            % SERVER))
        self.api.routes[ENDPOINT + '/servers/' + SERVER] = (200, {
            'server': {'id': SERVER, 'OS-EXT-STS:vm_state': 'building',
                       'OS-EXT-STS:task_state': 'spawning'}})

        error = self.assertRaises(
            openstack.Refused, self.controller.set_instance_state,
            self.context, self.instance(), 'stopped')

        self.assertEqual(
            "Nova: cannot set instance %s stopped: POST /servers/%s/action "
            "answered 409: Cannot 'stop' instance %s while it is in "
            "task_state spawning" % (SERVER, SERVER, SERVER), str(error))

    def test_server_nova_does_not_have(self):
        self.api.routes[ACTION] = (404, fault(
            'itemNotFound', 404, 'Instance %s could not be found.' % SERVER))

        error = self.assertRaises(
            exception.EntityNotFound, self.controller.set_instance_state,
            self.context, self.instance(), 'error')

        self.assertIn('POST /servers/%s/action answered 404: Instance %s '
                      'could not be found.' % (SERVER, SERVER), str(error))

    def test_only_error_or_stopped(self):
        self.assertRaises(exception.InvalidField,
                          self.controller.set_instance_state, self.context,
                          self.instance(), 'active')
        self.assertEqual([], self.api.calls)

    def test_many_threads_at_once(self):
        servers = [str(uuid.uuid4()) for _ in range(24)]
        for server in servers:
            self.api.routes['%s/servers/%s/action' % (ENDPOINT, server)] = (
                202, None)
        errors: list[BaseException] = []

        def reset(server: str) -> None:
            try:
                self.controller.set_instance_state(
                    self.context,
                    controller_base.Instance(id=server, host='compute-0'),
                    'error')
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=reset, args=(server,))
                   for server in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

        self.assertEqual([], errors)
        self.assertEqual(
            sorted('%s/servers/%s/action' % (ENDPOINT, server)
                   for server in servers),
            sorted(call.path for call in self.api.calls))


class TestRequestId(NovaTestCase):

    def sent(self, context: controller_base.ActionContext) -> str | None:
        del self.api.calls[:]
        self.controller.set_instance_state(context, self.instance(), 'error')
        return self.api.calls[0].headers.get('X-OpenStack-Request-ID')

    def test_the_callers_request_id_first(self):
        request_id = 'req-%s' % uuid.uuid4()
        self.assertEqual(request_id, self.sent(controller_base.ActionContext(
            fault_id=FAULT, request_id=request_id)))

    def test_only_ids_nova_takes(self):
        self.assertEqual('req-' + FAULT, self.sent(
            controller_base.ActionContext(fault_id=FAULT,
                                          request_id='my-request')))
        self.assertIsNone(self.sent(controller_base.ActionContext(
            request_id='my-request')))
        self.assertIsNone(self.sent(controller_base.ActionContext(
            fault_id='not-a-uuid')))


class TestFailures(NovaTestCase):

    def test_retried_failures(self):
        for status, document in (
                (500, fault('computeFault', 500, 'Unexpected API Error.')),
                (503, fault('serviceUnavailable', 503, 'Service busy.')),
                (429, fault('overLimit', 429, 'Too many requests.'))):
            self.api.routes[ACTION] = (status, document)

            error = self.assertRaises(
                controller_base.TransientError,
                self.controller.set_instance_state, self.context,
                self.instance(), 'error')

            message = document[next(iter(document))]['message']
            self.assertEqual(
                'Nova: cannot set instance %s error: POST /servers/%s/action '
                'answered %d: %s' % (SERVER, SERVER, status, message),
                str(error))

    def test_final_failures(self):
        for status, kind, message in (
                (400, 'badRequest', "Invalid input for field/attribute "
                                    "forced_down."),
                (403, 'forbidden', "Policy doesn't allow "
                                   "os_compute_api:os-services:update to "
                                   "be performed."),
                (409, 'conflictingRequest', 'Service is being deleted.')):
            self.api.routes[SERVICES + '/' + SERVICE_0] = (
                status, fault(kind, status, message))

            error = self.assertRaises(
                openstack.Refused, self.controller.set_host_down,
                self.context, self.host(), True)

            self.assertEqual(status, error.status)
            self.assertEqual(
                'Nova: cannot force host compute-0 down: PUT /os-services/'
                '%s answered %d: %s' % (SERVICE_0, status, message),
                str(error))
            self.assertNotIsInstance(error, controller_base.TransientError)

    def test_token_refused(self):
        self.api.routes[ACTION] = (401, {'error': {
            'code': 401, 'title': 'Unauthorized',
            'message': 'The request you have made requires '
                       'authentication.'}})

        error = self.assertRaises(
            openstack.Refused, self.controller.set_instance_state,
            self.context, self.instance(), 'error')

        self.assertIn('answered 401', str(error))
        self.assertIn('the [nova] credentials were refused', str(error))

    def test_unreachable(self):
        self.config.config(endpoint_override='http://127.0.0.1:9/v2.1',
                           group='nova')
        controller = self.load()

        error = self.assertRaises(
            controller_base.TransientError, controller.set_host_down,
            self.context, self.host(), True)

        self.assertIn('Nova unreachable, cannot force host compute-0 down '
                      '(PUT /os-services/%s)' % SERVICE_0, str(error))
        self.assertIn('127.0.0.1:9', str(error))

    def test_timeout(self):
        def slow(call):
            time.sleep(1.0)
            return 202, None

        self.api.routes[ACTION] = slow
        self.config.config(timeout=0.2, group='nova')
        controller = self.load()

        error = self.assertRaises(
            controller_base.TransientError, controller.set_instance_state,
            self.context, self.instance(), 'error')

        self.assertIn('timed out', str(error))

    def test_no_credentials(self):
        self.config.config(auth_type=None, group='nova')
        controller = self.load()

        error = self.assertRaises(
            openstack.Refused, controller.set_host_down, self.context,
            self.host(), True)

        self.assertEqual('[nova] auth_type is not set: no credentials to '
                         'reach Nova', str(error))


class TestKeystone(NovaTestCase):
    """Credentials checked by a fake Keystone, Nova found in its catalog."""

    TOKENS = '/identity/v3/auth/tokens'

    def setUp(self):
        super().setUp()
        self.api.routes[('POST', self.TOKENS)] = (
            201, token(), {'X-Subject-Token': 'token-1'})
        self.conf.register_opts(
            ks_loading.get_auth_plugin_conf_options('v3password'),
            group='nova')
        self.config.config(
            auth_type='v3password', endpoint_override=None,
            auth_url=self.api.url + '/identity/v3', username='doctor',
            password='secret', project_name='admin',
            user_domain_name='Default', project_domain_name='Default',
            group='nova')

    def token_requests(self) -> list[fake_api.Call]:
        return [call for call in self.api.calls if call.path == self.TOKENS]

    def test_authenticated_at_start_not_at_the_first_fault(self):
        controller = self.load(forget_start=False)
        self.wait_for_token()

        controller.set_instance_state(self.context, self.instance(), 'error')

        [authentication] = self.token_requests()
        self.assertEqual(
            {'methods': ['password'], 'password': {'user': {
                'name': 'doctor', 'password': 'secret',
                'domain': {'name': 'Default'}}}},
            authentication.body['auth']['identity'])
        [action] = [call for call in self.api.calls if call.path == ACTION]
        self.assertEqual('token-1', action.headers['X-Auth-Token'])

    def wait_for_token(self) -> None:
        deadline = time.monotonic() + 10
        while not self.token_requests():
            self.assertLess(time.monotonic(), deadline,
                            'no token asked for at start')
            time.sleep(0.01)

    def test_password_refused(self):
        self.api.routes[('POST', self.TOKENS)] = (401, {'error': {
            'code': 401, 'title': 'Unauthorized',
            'message': 'The request you have made requires '
                       'authentication.'}})
        controller = self.load()

        error = self.assertRaises(
            openstack.Refused, controller.set_host_down, self.context,
            self.host(), True)

        self.assertIn('Nova: the [nova] credentials were refused (Keystone '
                      'answered 401), cannot force host compute-0 down',
                      str(error))
        self.assertEqual([], [call for call in self.api.calls
                              if call.path.startswith(SERVICES)])

    def test_keystone_unavailable_is_retried(self):
        self.api.routes[('POST', self.TOKENS)] = (503, {'error': {
            'code': 503, 'title': 'Service Unavailable',
            'message': 'Try again later.'}})
        controller = self.load()

        error = self.assertRaises(
            controller_base.TransientError, controller.set_host_down,
            self.context, self.host(), True)

        self.assertIn('Keystone answered 503', str(error))


class TestStart(NovaTestCase):

    def test_nova_sees_the_token_at_start(self):
        # keystonemiddleware's first validation of a token takes up to a
        # second: not at the first force-down.
        controller = self.load(forget_start=False)
        assert controller.prepared is not None
        controller.prepared.join(10)

        self.assertEqual([('GET', SERVICES)],
                         [(method, path) for method, path, _
                          in self.requests()])


class TestNotVersioned(NovaTestCase):

    def test_a_redirect_or_choice_is_a_final_failure(self):
        # Nova's root URL answers every call with its versions, and 300.
        for status in (300, 302):
            self.api.routes[SERVICES + '/' + SERVICE_0] = (status, {
                'choices': [{'id': 'v2.1', 'status': 'CURRENT'}]})

            error = self.assertRaises(
                openstack.Refused, self.controller.set_host_down,
                self.context, self.host(), True)

            self.assertEqual(status, error.status)
            self.assertNotIsInstance(error, controller_base.TransientError)
            self.assertIn('PUT /os-services/%s answered %d' % (SERVICE_0,
                                                               status),
                          str(error))
            self.assertIn('not the versioned API: set [nova] '
                          'endpoint_override to the versioned endpoint',
                          str(error))


class TestBoundedCalls(NovaTestCase):
    """Calls toward Nova are bounded; a host forced down is not held."""

    def setUp(self):
        super().setUp()
        self.config.config(max_concurrent_calls=2, group='nova')
        self.controller = self.load()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.servers = [str(uuid.uuid4()) for _ in range(6)]
        for server in self.servers:
            self.api.routes['%s/servers/%s/action' % (ENDPOINT, server)] = (
                self.held)

    def held(self, call):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        self.release.wait(30)
        with self.lock:
            self.in_flight -= 1
        return 202, None

    def reset_all(self) -> list[threading.Thread]:
        threads = [threading.Thread(
            target=self.controller.set_instance_state,
            args=(self.context, controller_base.Instance(
                id=server, host='compute-0'), 'error'))
            for server in self.servers]
        for thread in threads:
            thread.start()
        self.addCleanup(self.release.set)
        return threads

    def test_at_most_max_concurrent_calls_and_the_host_goes_first(self):
        threads = self.reset_all()
        deadline = time.monotonic() + 30
        while self.in_flight < 2:
            self.assertLess(time.monotonic(), deadline,
                            'two resets not under way')
            time.sleep(0.01)

        # Nova holds two resets and four more wait: the force-down does
        # not wait behind them.
        self.controller.set_host_down(self.context, self.host(), True)

        self.assertIn(('PUT', SERVICES + '/' + SERVICE_0,
                       {'forced_down': True}), self.requests())
        self.release.set()
        for thread in threads:
            thread.join(30)
        self.assertEqual(2, self.most)
        self.assertEqual(6, len([call for call in self.api.calls
                                 if call.method == 'POST']))


class TestNoRetryStorm(NovaTestCase):
    """A call that timed out may have been carried out: checked first."""

    SERVER_PATH = ENDPOINT + '/servers/' + SERVER

    def setUp(self):
        super().setUp()
        # Long enough for a loaded machine to answer the calls that are
        # not meant to time out; the slow ones wait for the test's word.
        self.config.config(timeout=1.0, group='nova')
        self.controller = self.load()
        self.answered = threading.Event()
        self.release = threading.Event()
        self.addCleanup(self.release.set)

    def late(self) -> None:
        """Answer only once the client has given up and the test says so."""
        self.release.wait(30)

    def slow_then_done(self, call):
        # Nova carries the reset out, but answers after the timeout.
        self.api.routes[self.SERVER_PATH] = (200, {'server': {
            'id': SERVER, 'OS-EXT-STS:vm_state': 'error',
            'OS-EXT-STS:task_state': None}})
        self.late()
        self.answered.set()
        return 202, None

    def test_a_reset_that_timed_out_is_not_sent_again_when_done(self):
        self.api.routes[ACTION] = self.slow_then_done
        self.assertRaises(controller_base.TransientError,
                          self.controller.set_instance_state, self.context,
                          self.instance(), 'error')

        # The inspector's retry.
        self.controller.set_instance_state(self.context, self.instance(),
                                           'error')

        self.assertEqual(
            [('POST', ACTION), ('GET', self.SERVER_PATH)],
            [(method, path) for method, path, _ in self.requests()])
        self.release.set()
        self.answered.wait(10)

    def test_a_reset_that_timed_out_is_sent_again_when_not_done(self):
        def slow(call):
            self.late()
            return 202, None

        self.api.routes[ACTION] = slow
        self.api.routes[self.SERVER_PATH] = (200, {'server': {
            'id': SERVER, 'OS-EXT-STS:vm_state': 'active',
            'OS-EXT-STS:task_state': None}})
        self.assertRaises(controller_base.TransientError,
                          self.controller.set_instance_state, self.context,
                          self.instance(), 'error')
        self.api.routes[ACTION] = (202, None)

        self.controller.set_instance_state(self.context, self.instance(),
                                           'error')
        # A later fault of the same server asks Nova nothing first.
        self.controller.set_instance_state(self.context, self.instance(),
                                           'error')

        self.assertEqual(
            [('POST', ACTION), ('GET', self.SERVER_PATH), ('POST', ACTION),
             ('POST', ACTION)],
            [(method, path) for method, path, _ in self.requests()])

    def test_a_force_down_that_timed_out_is_not_sent_again_when_done(self):
        def slow(call):
            self.api.routes[SERVICES] = (200, {'services': [dict(
                service('compute-0', SERVICE_0), forced_down=True)]})
            self.late()
            self.answered.set()
            return 200, {}

        self.api.routes[SERVICES + '/' + SERVICE_0] = slow
        self.assertRaises(controller_base.TransientError,
                          self.controller.set_host_down, self.context,
                          self.host(), True)

        self.controller.set_host_down(self.context, self.host(), True)

        self.assertEqual(
            [('PUT', SERVICES + '/' + SERVICE_0), ('GET', SERVICES)],
            [(method, path) for method, path, _ in self.requests()])
        self.release.set()
        self.answered.wait(10)
