"""A host fault handled by doctor against a real Nova, as an operator runs it.

Nova 34 with fake-driver computes, a real Keystone and Nova's
notifications on its RabbitMQ virtual host (see
:mod:`doctor.tests.functional.nova`); doctor's ``nova`` datasource fills
the entity store (SQLite) and the inspector acts through the ``nova``
controller. What Nova did for a fault is read from nova-api's own log:
each request it served, with the fault's global request id
(``req-<fault id>``), its status and how long it took.
"""

from concurrent import futures
import dataclasses
import datetime
import os
import re
import types
import typing
import uuid

import fixtures

from doctor.common import context as doctor_context
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import notifications
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import openstack
from doctor.synchronizer import service as service_mod
from doctor.tests.functional import nova
from doctor.tests.functional.openstack import base as os_base

TENANT = 'tenant-a'
NOTIFIED_WITHIN = 30.0
HANDLED_WITHIN = 120.0
# Servers on the failed host: more than a stock nova-api serves at once.
SERVERS = 20
BOOTING = 4
TEST_TIMEOUT = 240
SNAPSHOT_WITHIN = 120.0
# A timeout that Nova meets when it is not sent more than it serves, and
# misses for calls queued behind others.
CALL_TIMEOUT = 2.0

# nova-api's request log: '... "POST /v2.1/servers/x/action" status: 202
# len: 0 microversion: 2.53 time: 0.341'.
_REQUEST = re.compile(
    r'^(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) .*'
    r'"(?P<method>[A-Z]+) (?P<path>\S+)" status: (?P<status>\d+) '
    r'.*time: (?P<took>[\d.]+)')


@dataclasses.dataclass(frozen=True)
class Served:
    """One request nova-api served, as its log says."""

    method: str
    path: str
    status: int
    started: datetime.datetime
    ended: datetime.datetime


def served(log_file: str, marker: str) -> list[Served]:
    """The requests of nova-api's log whose line carries ``marker``."""
    requests = []
    with open(log_file, encoding='utf-8', errors='replace') as f:
        for line in f:
            if marker not in line:
                continue
            match = _REQUEST.match(line)
            if match is None:
                continue
            ended = datetime.datetime.fromisoformat(match['when'])
            took = datetime.timedelta(seconds=float(match['took']))
            requests.append(Served(match['method'], match['path'],
                                   int(match['status']), ended - took,
                                   ended))
    return requests


class NovaFaultTest(os_base.DatasourceTestCase):
    """A host fault against a real Nova: the host first, no retry storm."""

    peer_module: typing.ClassVar[types.ModuleType] = nova
    datasource = 'nova'

    def setUp(self):
        super().setUp()
        # Booting and deleting a few dozen servers takes a while.
        self.useFixture(fixtures.Timeout(TEST_TIMEOUT, gentle=True))
        self.nova = self.peer
        self.config.config(controllers=['nova', 'local'],
                           group='inspector')

    # helpers

    def boot(self, host: str, count: int = 1) -> list[str]:
        """``count`` servers on ``host``, booted a few at a time."""
        with futures.ThreadPoolExecutor(BOOTING) as pool:
            booting = [pool.submit(self.nova.boot,
                                   'doctor-%s' % uuid.uuid4().hex[:8], host,
                                   project=TENANT) for _ in range(count)]
            servers = [future.result() for future in booting]
        self.addCleanup(self._delete_if_there, servers)
        return servers

    def _delete_if_there(self, servers: list[str]) -> None:
        def delete(server: str) -> None:
            try:
                self.nova.delete(server)
            except nova.APIError as e:
                if ' 404' not in str(e):
                    raise
        with futures.ThreadPoolExecutor(BOOTING) as pool:
            for future in [pool.submit(delete, server)
                           for server in servers]:
                future.result()

    def up_again_at_cleanup(self, host: str) -> None:
        self.addCleanup(self.nova.call, 'PUT',
                        '/os-services/' + self.nova.service_id(host),
                        {'forced_down': False})

    def inspector(self) -> inspector_mod.Inspector:
        """An inspector acting through Nova, its cache from a snapshot."""
        snapshot, _ = self.snapshots()
        # A busy Keystone may time out a snapshot: take another.
        self.wait_for(
            lambda: (snapshot() is not None
                     and self.entity('host:' + self.nova.hosts[0])),
            timeout=SNAPSHOT_WITHIN, message='a snapshot of Nova stored')
        controllers = inspector_mod.load_controllers(self.conf)
        for controller in controllers:
            controller.start()
            self.addCleanup(controller.stop)
        cache = cache_mod.HostCache()
        cache.reload(lambda: cache_mod.read_store(self.db))
        inspector = inspector_mod.Inspector(
            self.conf, self.db, cache, inspector_mod.Router(controllers),
            notifications.Announcer(self.conf))
        self.addCleanup(inspector.stop)
        return inspector

    def start_synchronizer(self) -> service_mod.SynchronizerService:
        service = service_mod.SynchronizerService(self.conf)
        service.start()
        self.addCleanup(service.stop)
        return service

    @staticmethod
    def admin_context():
        return doctor_context.get_admin_context()

    def nova_api_log(self) -> str:
        return os.path.join(self.nova.workdir, 'logs', 'nova-api.log')

    # tests

    def test_host_down_first_then_one_reset_per_server(self):
        self.config.config(timeout=CALL_TIMEOUT, group='nova')
        host, other = self.nova.hosts[0], self.nova.hosts[1]
        servers = self.boot(host, SERVERS)
        [elsewhere] = self.boot(other)
        self.up_again_at_cleanup(host)
        inspector = self.inspector()

        [fault_id] = inspector.report_failures(self.admin_context(), [{
            'id': str(uuid.uuid4()), 'type': 'compute.host.down',
            'details': {'hostname': host, 'status': 'down'}}])
        self.assertTrue(inspector.wait(fault_id, HANDLED_WITHIN),
                        'the fault not handled')

        service = self.nova.call(
            'GET', '/os-services?binary=nova-compute&host=' + host)[
                'services'][0]
        self.assertTrue(service['forced_down'])
        details = {server['id']: server for server in self.nova.call(
            'GET', '/servers/detail?all_tenants=1')['servers']}
        self.assertEqual({server: 'ERROR' for server in servers},
                         {server: details[server]['status']
                          for server in servers})
        self.assertEqual('ACTIVE', details[elsewhere]['status'])
        fault = self.db.get_fault(fault_id)
        self.assertEqual([], [action for action in fault['actions']
                              if action['result'] != 'ok'])

        requests = served(self.nova_api_log(), 'req-' + fault_id)
        forced = [r for r in requests if r.method == 'PUT'
                  and r.path.startswith('/v2.1/os-services/')]
        resets = [r for r in requests if r.method == 'POST'
                  and r.path.endswith('/action')]
        self.assertEqual(1, len(forced), requests)
        # Exactly one reset per server: none timed out and was sent again.
        self.assertEqual(sorted('/v2.1/servers/%s/action' % server
                                for server in servers),
                         sorted(r.path for r in resets))
        # Nova had forced the host down before it took the first reset.
        # (The log's times are to the millisecond.)
        first_reset = min(r.started for r in resets)
        self.assertLessEqual(
            forced[0].ended - datetime.timedelta(milliseconds=2),
            first_reset,
            'a reset began %.3f s before the force-down ended'
            % (forced[0].ended - first_reset).total_seconds())

    def test_an_unversioned_endpoint_fails_and_changes_nothing(self):
        root = self.nova.url.rsplit('/v2.1', 1)[0]
        self.config.config(endpoint_override=root, group='nova')
        host = self.nova.hosts[2]
        self.up_again_at_cleanup(host)
        controller = inspector_mod.load_controllers(self.conf)[0]
        controller.start()
        self.addCleanup(controller.stop)

        error = self.assertRaises(
            openstack.Refused, controller.set_host_down,
            controller_base.ActionContext(fault_id=str(uuid.uuid4())),
            controller_base.Host(name=host), True)

        self.assertEqual(300, error.status)
        self.assertIn('not the versioned API', str(error))
        service = self.nova.call(
            'GET', '/os-services?binary=nova-compute&host=' + host)[
                'services'][0]
        self.assertFalse(service['forced_down'])

    def test_a_deleted_server_stays_deleted(self):
        host = self.nova.hosts[1]
        [server] = self.boot(host)
        recorder = self.listen('nova', ['notifications',
                                        'versioned_notifications'])
        service = self.start_synchronizer()
        self.wait_entity('instance:' + server, 'the booted server',
                         timeout=60)

        self.nova.delete(server)
        # Nova's last words on the server, after its delete.end.
        recorder.wait('compute.instance.update',
                      lambda p: (p['instance_id'] == server
                                 and p['state'] == 'deleted'),
                      NOTIFIED_WITHIN)
        recorder.wait('instance.update',
                      lambda p: (p['nova_object.data']['uuid'] == server
                                 and p['nova_object.data']['state']
                                 == 'deleted'),
                      NOTIFIED_WITHIN)
        # A server booted afterwards is notified after them, on the same
        # queues: once it is stored, they have been taken.
        [later] = self.boot(host)
        self.wait_entity(
            'instance:' + later, 'the server booted afterwards',
            lambda e: (e['state'] == 'active'
                       and e['attributes']['task_state'] is None))
        assert service.synchronizer is not None
        service.synchronizer.wait_idle()

        self.assertIsNone(self.entity('instance:' + server))
        self.assertNotIn('instance:' + server,
                         self.entity('host:' + host)['children'])
