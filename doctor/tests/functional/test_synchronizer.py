"""doctor-synchronizer end to end: inventory in, entities API out.

On the embedded default (SQLite, in-process bus) and on RabbitMQ with
PostgreSQL; with two replicas, on Redis for leader election.
"""

import os
import threading

from oslo_utils import uuidutils
import requests

from doctor.api import service as api_service
from doctor.synchronizer import follower as follower_mod
from doctor.synchronizer import service as synchronizer_service
from doctor.tests.functional import base

INVENTORY = """\
hosts:
  - name: compute-0
    instances:
      - id: 11111111-0000-4000-8000-000000000001
        name: vnf-0
        project_id: p1
        ports:
          - id: 22222222-0000-4000-8000-000000000001
      - id: 11111111-0000-4000-8000-000000000002
        name: vnf-1
        project_id: p1
  - name: compute-1
    instances:
      - id: 11111111-0000-4000-8000-000000000003
        name: vnf-2
        project_id: p2
"""
ADMIN = {'X-Project-Id': 'admin-project', 'X-User-Id': 'admin',
         'X-Roles': 'admin'}


class EmbeddedSynchronizerTest(base.FunctionalTestCase):
    """The static datasource through the API on the embedded default."""

    def setUp(self):
        super().setUp()
        self.use_services()
        self.inventory = os.path.join(self.state_path, 'inventory.yaml')
        self.write(INVENTORY)
        self.config.config(inventory=self.inventory, snapshot_interval=0.1,
                           group='static')
        self.config.config(datasources=['static'], group='synchronizer')
        self.config.config(port=0, auth_strategy='noauth', group='api')
        self.followed: list[dict] = []
        self._followed_lock = threading.Lock()
        follower = follower_mod.Follower(self.conf, self._follow)
        follower.start()
        self.addCleanup(follower.stop)
        api = api_service.APIService(self.conf)
        api.start()
        self.addCleanup(api.stop)
        self.api = 'http://127.0.0.1:%d/v1' % api.port

    def use_services(self) -> None:
        """Point the config at the database and bus of this class."""
        self.use_database('sqlite')

    def _follow(self, changes: list[dict]) -> None:
        with self._followed_lock:
            self.followed.extend(changes)

    def write(self, text: str) -> None:
        with open(self.inventory, 'w') as stream:
            stream.write(text)
        self._mtime = getattr(self, '_mtime', 0) + 1
        stat = os.stat(self.inventory)
        os.utime(self.inventory, ns=(stat.st_atime_ns,
                                     stat.st_mtime_ns + self._mtime * 10**9))

    def start_synchronizer(self, conf=None
                           ) -> synchronizer_service.SynchronizerService:
        synchronizer = synchronizer_service.SynchronizerService(
            conf or self.conf)
        synchronizer.start()
        self.addCleanup(synchronizer.stop)
        return synchronizer

    def get(self, path: str, **params) -> dict:
        response = requests.get(self.api + path, headers=ADMIN,
                                params=params, timeout=10)
        self.assertEqual(200, response.status_code, response.text)
        return response.json()

    def keys(self, **params) -> list[str]:
        return [entity['key']
                for entity in self.get('/entities', **params)['entities']]

    def test_inventory_through_the_api(self):
        self.start_synchronizer()
        self.wait_for(lambda: len(self.keys()) == 6, message='6 entities')
        self.assertEqual(
            ['instance:11111111-0000-4000-8000-000000000001',
             'instance:11111111-0000-4000-8000-000000000002',
             'port:22222222-0000-4000-8000-000000000001'],
            self.keys(parent='host:compute-0'))
        self.assertEqual(['instance:11111111-0000-4000-8000-000000000003'],
                         self.keys(type='instance', project_id='p2'))
        port = self.get('/entities/port:22222222-0000-4000-8000-'
                        '000000000001')['entity']
        self.assertEqual(
            ('static', 'ACTIVE', 'p1',
             ['host:compute-0',
              'instance:11111111-0000-4000-8000-000000000001']),
            (port['datasource'], port['state'], port['project_id'],
             port['parents']))
        host = self.get('/entities/host:compute-1')['entity']
        self.assertEqual(['instance:11111111-0000-4000-8000-000000000003'],
                         host['children'])
        self.wait_for(lambda: len(self.followed) == 6,
                      message='6 changes followed')

        # An instance moves, another one goes, a host is added.
        self.write(INVENTORY.replace(
            '  - name: compute-1\n', '  - name: compute-2\n  - name: '
            'compute-1\n').replace(
            '      - id: 11111111-0000-4000-8000-000000000002\n'
            '        name: vnf-1\n        project_id: p1\n', ''))
        self.wait_for(lambda: len(self.followed) == 8,
                      message='2 more changes followed')
        self.assertEqual(
            {('create', 'host:compute-2'),
             ('delete', 'instance:11111111-0000-4000-8000-000000000002')},
            {(c['action'], c['key']) for c in self.followed[6:]})
        self.assertEqual(6, len(self.keys()))
        response = requests.get(
            self.api + '/entities/instance:11111111-0000-4000-8000-'
            '000000000002', headers=ADMIN, timeout=10)
        self.assertEqual(404, response.status_code)

    def test_broken_inventory_keeps_the_store(self):
        self.start_synchronizer()
        self.wait_for(lambda: len(self.keys()) == 6, message='6 entities')
        logger = self.useFixture(base.fixtures.FakeLogger())
        self.write('hosts:\n  - name: [compute-0\n')
        self.wait_for(lambda: 'not valid YAML' in logger.output,
                      message='the broken file logged')
        self.assertEqual(6, len(self.keys()))
        self.write('hosts:\n  - name: compute-0\n')
        self.wait_for(lambda: self.keys() == ['host:compute-0'],
                      message='the fixed file read')

    def test_non_admin_is_refused(self):
        response = requests.get(
            self.api + '/entities', timeout=10,
            headers={'X-Project-Id': 'p1', 'X-User-Id': 'u1',
                     'X-Roles': 'member'})
        self.assertEqual(403, response.status_code)


class RabbitPostgreSQLSynchronizerTest(EmbeddedSynchronizerTest):
    """The same on RabbitMQ and PostgreSQL, and replicas on Redis."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def test_one_replica_collects_and_another_takes_over(self):
        self.require(base.REDIS)
        self.config.config(
            backend_url='redis://127.0.0.1:6379?namespace=%s&timeout=5'
            % uuidutils.generate_uuid(), group='coordination')
        first = self.start_synchronizer()
        second = self.start_synchronizer(self.replica_conf())
        self.wait_for(lambda: len(self.keys()) == 6, message='6 entities')
        self.wait_for(lambda: len(self.followed) == 6,
                      message='6 changes followed')
        runners = [first.runners['static'], second.runners['static']]
        leaders = [runner for runner in runners if runner._leading]
        self.assertEqual(1, len(leaders))
        leader = leaders[0]
        other = runners[1 - runners.index(leader)]
        (first if leader is runners[0] else second).stop()

        self.write('hosts:\n  - name: compute-0\n')
        self.wait_for(lambda: other._leading, message='the other leads')
        self.wait_for(lambda: len(self.keys()) == 1,
                      message='the change stored by the new leader')
        # The new leader started from the store: the change is told once,
        # not the whole inventory again.
        self.wait_for(lambda: len(self.followed) == 11,
                      message='5 deletes followed')
        self.assertEqual({'delete'},
                         {c['action'] for c in self.followed[6:]})
