"""An inspector killed right after it accepted a host fault.

doctor-inspector runs as a process of its own, on RabbitMQ and
PostgreSQL, beside the API, the synchronizer and the evaluator of the
test. The kill is made to land before any action: the test holds a lock
on the entity store, so that the local controller's writes wait, takes
the 202, and sends SIGKILL. Every alarm the fault fires is kept in a
ledger (the webhook receiver): each of the host's instances must fire
its alarm exactly once, and every step of the fault must end, whoever
finishes it.
"""

import os
import threading

import sqlalchemy as sa

from doctor.api import service as api_service
from doctor.common import context
from doctor.evaluator import service as evaluator_service
from doctor.inspector import cache as cache_mod
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import notifications
from doctor.inspector.controllers import local
from doctor.synchronizer import service as synchronizer_service
from doctor.tests.functional import base
from doctor.tests.functional import outage
from doctor.tests.functional import test_inspector as chain

HOST = 'compute-0'
INSTANCES = 10


def inspector_process(test: 'InspectorKillTest', name: str,
                      **inspector_options) -> outage.ServiceProcess:
    """doctor-inspector in a process of its own, on a config file."""
    conf = test.conf
    directory = test.state_path
    options = {'controllers': 'local', 'action_retry_interval': '0.05'}
    options.update(inspector_options)
    config = outage.write_config(os.path.join(directory, '%s.conf' % name), {
        'DEFAULT': {'host': test.new_host(), 'state_path': conf.state_path,
                    'transport_url': conf.transport_url,
                    'control_exchange': conf.control_exchange},
        'database': {'connection': conf.database.connection,
                     'max_pool_size': 2, 'max_overflow': 2},
        'inspector': options,
    })
    process = test.useFixture(outage.ServiceProcess(
        'doctor-inspector', config, os.path.join(directory, '%s.log' % name),
        ready='Inspector started'))
    test.addCleanup(process.attach_log, test)
    return process


class InspectorKillTest(chain.ChainTestCase):
    """The chain, with doctor-inspector in a process it can kill."""

    HOSTS = 2
    PER_HOST = INSTANCES

    def setUp(self):
        # ChainTestCase starts every service in this process; this test
        # starts the inspector in a process of its own instead.
        base.FunctionalTestCase.setUp(self)
        self.use_services()
        path = os.path.join(self.state_path, 'inventory.yaml')
        with open(path, 'w') as stream:
            stream.write(chain.inventory(self.HOSTS, self.PER_HOST))
        self.config.config(inventory=path, snapshot_interval=0.1,
                           group='static')
        self.config.config(datasources=['static'], group='synchronizer')
        self.config.config(controllers=['local'], group='inspector')
        self.config.config(port=0, auth_strategy='noauth', group='api')
        self.webhook = self.useFixture(chain.peers.WebhookReceiver())
        self._services: list = []
        self.addCleanup(self._stop_services)
        for service in (evaluator_service.EvaluatorService(self.conf),
                        synchronizer_service.SynchronizerService(self.conf)):
            self._services.append(service)
            service.start()
        api = api_service.APIService(self.conf)
        self._services.append(api)
        api.start()
        self.api = 'http://127.0.0.1:%d/v1' % api.port
        self.wait_for(
            lambda: len(self.db.get_entities(entity_type='instance'))
            == self.HOSTS * self.PER_HOST,
            message='the synchronizer to store the inventory')
        self.alarms = {}
        for number in range(self.PER_HOST):
            instance_id = chain._instance_id(0, number)
            headers = dict(chain.TENANT, **{
                'X-Project-Id': chain.PROJECT if number % 4
                else chain.OTHER_PROJECT})
            self.alarms[self.alarm_on(instance_id, headers)] = instance_id

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()

    def hold_entity_store(self):
        """Make every write to the entity store wait until released."""
        engine = sa.create_engine(self.conf.database.connection,
                                  poolclass=sa.pool.NullPool)
        connection = engine.connect()
        transaction = connection.begin()
        connection.execute(sa.text('LOCK TABLE entity IN EXCLUSIVE MODE'))
        released = threading.Event()

        def release() -> None:
            if not released.is_set():
                released.set()
                transaction.rollback()
                connection.close()
                engine.dispose()
        self.addCleanup(release)
        return release

    def handled(self, fault_id: str) -> dict:
        return self.wait_for(
            lambda: (lambda f: f if f['handled_at'] else None)(
                self.call('GET', '/faults/%s' % fault_id)['fault']),
            timeout=30, message='fault %s to be handled' % fault_id)

    def assert_every_alarm_fired_once(self, fault_id: str) -> None:
        self.webhook.wait_for(len(self.alarms), '/failure', timeout=30)
        ledger = self.webhook.assert_no_more(len(self.alarms), '/failure')
        fired = [request.body['alarm_id'] for request in ledger]
        self.assertEqual(sorted(self.alarms), sorted(fired))
        self.assertEqual({fault_id},
                         {request.body['fault_id'] for request in ledger})

    def assert_every_step_ended(self, fault: dict) -> None:
        self.assertEqual(list(range(6)),
                         [point['number'] for point in fault['checkpoints']
                          if point['number'] <= 5])
        self.assertEqual(fault['progress']['steps'],
                         fault['progress']['done'])
        self.assertEqual(
            sorted(['host:%s' % HOST]
                   + ['instance:%s' % chain._instance_id(0, n)
                      for n in range(self.PER_HOST)]
                   + ['port:%s' % chain._port_id(0, n)
                      for n in range(self.PER_HOST)]),
            sorted(action['target'] for action in fault['actions']))
        self.assertEqual({'ok'}, {a['result'] for a in fault['actions']})
        host = self.call('GET', '/hosts/%s' % HOST)['host']
        self.assertEqual('down', host['state'])
        self.assertEqual({'error'},
                         {i['state'] for i in host['instances']})

    def test_a_restarted_inspector_finishes_the_fault(self):
        inspector = inspector_process(self, 'inspector', notify_early=False)
        inspector.start()
        release = self.hold_entity_store()

        fault_id = self.host_down(HOST)
        inspector.kill9()
        release()

        # Killed before any action: nothing was done, nothing fired.
        fault = self.db.get_fault(fault_id)
        self.assertEqual(([], None, 1 + 2 * self.PER_HOST),
                         (fault['done'], fault['handled_at'],
                          len(fault['steps'])))
        self.assertEqual([], self.webhook.received('/failure'))
        self.assertEqual({'active'}, {i['state'] for i in self.call(
            'GET', '/hosts/%s' % HOST)['host']['instances']})

        inspector.start()

        fault = self.handled(fault_id)
        self.assert_every_step_ended(fault)
        self.assertEqual(['restart'],
                         [resume['reason'] for resume in fault['resumes']])
        self.assert_every_alarm_fired_once(fault_id)
        # The host recovers: its fault closes.
        self.call('PUT', '/hosts/%s' % HOST,
                  json={'host': {'host_down_reported': False}})
        self.assertEqual('closed', self.call(
            'GET', '/faults/%s' % fault_id)['fault']['status'])

    def test_a_new_report_takes_the_stuck_fault_over(self):
        self.config.config(fault_heartbeat_interval=0.2,
                           fault_takeover_timeout=1.0, group='inspector')
        inspector = inspector_process(self, 'inspector',
                                      fault_heartbeat_interval=0.2,
                                      fault_takeover_timeout=1.0)
        inspector.start()
        release = self.hold_entity_store()
        fault_id = self.host_down(HOST)
        inspector.kill9()
        release()
        stuck = self.db.get_fault(fault_id)
        self.assertIsNone(stuck['handled_at'])

        # Another replica, which hears of the host again once the fault's
        # owner has missed its heartbeats. It does not look for stuck
        # faults on its own here: the report is what takes the fault over.
        self.wait_for(
            lambda: (inspector_mod.timeutils.utcnow()
                     - self.db.get_fault(fault_id)['heartbeat_at']
                     ).total_seconds() > 1.0,
            message='the dead owner\'s heartbeat to be stale')
        other = self.replica()
        self.assertEqual([fault_id], other.report_failures(
            context.get_admin_context(), [{
                'id': 'ev-again', 'time': chain.now_iso(),
                'type': 'compute.host.down',
                'details': {'hostname': HOST, 'status': 'down',
                            'monitor': 'm2'}}]))

        fault = self.handled(fault_id)
        self.assert_every_step_ended(fault)
        self.assertEqual([('report', other.owner, stuck['owner'])],
                         [(r['reason'], r['by'], r['previous_owner'])
                          for r in fault['resumes']])
        self.assertEqual(['ev-%s-m1' % HOST, 'ev-again'],
                         [report['id'] for report in fault['reports']])
        self.assert_every_alarm_fired_once(fault_id)

    def replica(self) -> inspector_mod.Inspector:
        """An inspector replica in this process, without its periodic
        tasks.
        """
        conf = self.conf
        controller = local.LocalController(conf, 'local')
        controller.start()
        self.addCleanup(controller.stop)
        cache = cache_mod.HostCache()
        cache.reload(lambda: cache_mod.read_store(self.db))
        inspector = inspector_mod.Inspector(
            conf, self.db, cache, inspector_mod.Router([controller]),
            notifications.Announcer(conf))
        self.addCleanup(inspector.stop)
        return inspector
