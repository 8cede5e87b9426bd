"""The whole chain: a raw failure in, tenants' alarms out, state corrected.

Every service runs as in production (API, synchronizer with the static
datasource, inspector with the local controller, evaluator delivering
alarms to a webhook receiver), on the embedded default (SQLite, in-process
bus) and on RabbitMQ with PostgreSQL.
"""

import datetime
import os
import threading

import requests

from doctor.api import service as api_service
from doctor.evaluator import service as evaluator_service
from doctor.inspector import service as inspector_service
from doctor.monitor import monitor as monitor_mod
from doctor.synchronizer import service as synchronizer_service
from doctor.tests.functional import base
from doctor.tests.functional import netns
from doctor.tests.functional import peers

PROJECT = 'a1a1a1a1-0000-4000-8000-000000000001'
OTHER_PROJECT = 'b2b2b2b2-0000-4000-8000-000000000002'
ADMIN = {'X-Project-Id': PROJECT, 'X-User-Id': 'admin', 'X-Roles': 'admin'}
TENANT = {'X-Project-Id': PROJECT, 'X-User-Id': 'u1', 'X-Roles': 'member'}


def _instance_id(host: int, number: int) -> str:
    return '11111111-0000-4000-8000-%012d' % (host * 1000 + number)


def _port_id(host: int, number: int) -> str:
    return '22222222-0000-4000-8000-%012d' % (host * 1000 + number)


def inventory(hosts: int, per_host: int) -> str:
    """Hosts compute-N, each with ``per_host`` instances and a port each."""
    lines = ['hosts:']
    for host in range(hosts):
        lines.append('  - name: compute-%d' % host)
        lines.append('    instances:')
        for number in range(per_host):
            lines += [
                '      - id: %s' % _instance_id(host, number),
                '        name: vnf-%d-%d' % (host, number),
                '        project_id: %s' % (PROJECT if number % 4
                                            else OTHER_PROJECT),
                '        ports:',
                '          - id: %s' % _port_id(host, number),
            ]
    return '\n'.join(lines) + '\n'


def now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class ChainTestCase(base.FunctionalTestCase):
    """Every service of the chain, on the embedded default."""

    HOSTS = 3
    PER_HOST = 6

    def setUp(self):
        super().setUp()
        self.use_services()
        path = os.path.join(self.state_path, 'inventory.yaml')
        with open(path, 'w') as stream:
            stream.write(inventory(self.HOSTS, self.PER_HOST))
        self.config.config(inventory=path, snapshot_interval=0.1,
                           group='static')
        self.config.config(datasources=['static'], group='synchronizer')
        self.config.config(controllers=['local'], group='inspector')
        self.config.config(port=0, auth_strategy='noauth', group='api')
        self.webhook = self.useFixture(peers.WebhookReceiver())
        self._services: list = []
        self.addCleanup(self._stop_services)
        for service in (evaluator_service.EvaluatorService(self.conf),
                        synchronizer_service.SynchronizerService(self.conf),
                        inspector_service.InspectorService(self.conf)):
            self._services.append(service)
            service.start()
        self.inspector = self._services[-1]
        api = api_service.APIService(self.conf)
        self._services.append(api)
        api.start()
        self.api = 'http://127.0.0.1:%d/v1' % api.port
        self.wait_for(lambda: self.inspector.cache.counts()['instances']
                      == self.HOSTS * self.PER_HOST,
                      message='the inspector cache to hold the inventory')

    def use_services(self) -> None:
        self.use_database('sqlite')

    def _stop_services(self) -> None:
        stoppers = [threading.Thread(target=service.stop)
                    for service in reversed(self._services)]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(30)

    # API helpers

    def call(self, method: str, path: str, headers=None,
             expected: int = 200, **kwargs):
        response = requests.request(method, self.api + path,
                                    headers=headers or ADMIN, timeout=10,
                                    **kwargs)
        self.assertEqual(expected, response.status_code, response.text)
        return response.json() if response.content else None

    def alarm_on(self, instance_id: str, project_headers: dict) -> str:
        body = {
            'name': 'vm-error-%s' % instance_id[-4:],
            'type': 'notification', 'severity': 'critical',
            'resource_id': instance_id,
            'notification_rule': {
                'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}]},
            'alarm_actions': [self.webhook.url('/failure')],
        }
        return self.call('POST', '/alarms', headers=project_headers,
                         expected=201, json=body)['alarm_id']

    def host_down(self, host: str, monitor: str = 'm1') -> str:
        event = {'id': 'ev-%s-%s' % (host, monitor), 'time': now_iso(),
                 'type': 'compute.host.down',
                 'details': {'hostname': host, 'status': 'down',
                             'monitor': monitor,
                             'monitor_event_id': 'me-1'}}
        return self.call('POST', '/events', expected=202,
                         json=[event])['fault_ids'][0]

    def complete_fault(self, fault_id: str) -> dict:
        """The fault once its inspector checkpoints (0 to 5) are in.

        The evaluator's and the consumer's (6 to 10) may follow.
        """
        def complete(fault: dict) -> dict | None:
            numbers = {point['number'] for point in fault['checkpoints']}
            return fault if numbers >= set(range(6)) else None
        return self.wait_for(
            lambda: complete(self.call('GET', '/faults/%s' % fault_id)
                             ['fault']),
            message='fault %s to be recorded complete' % fault_id)


class EmbeddedChainTest(ChainTestCase):
    """The chain on the embedded default."""

    def test_a_failed_host_fires_its_instances_alarms_once(self):
        alarms = {}
        for number in range(self.PER_HOST):
            instance_id = _instance_id(0, number)
            headers = dict(TENANT, **{'X-Project-Id': PROJECT if number % 4
                                      else OTHER_PROJECT})
            alarms[self.alarm_on(instance_id, headers)] = instance_id
        # An alarm on another host's instance, that must not fire.
        self.alarm_on(_instance_id(1, 1), TENANT)

        fault_id = self.host_down('compute-0')
        received = self.webhook.wait_for(len(alarms), '/failure')
        # A second monitor reports the same host: the same fault, handled
        # once, and no alarm fires again.
        self.assertEqual(fault_id, self.host_down('compute-0', 'm2'))
        received = self.webhook.assert_no_more(len(alarms), '/failure')
        self.assertEqual(sorted(alarms),
                         sorted(r.body['alarm_id'] for r in received))
        for request in received:
            # A new alarm has seen nothing yet: "insufficient data".
            self.assertEqual(('insufficient data', 'alarm', fault_id),
                             (request.body['previous'],
                              request.body['current'],
                              request.body['fault_id']))

        fault = self.complete_fault(fault_id)
        self.assertEqual(('compute-0', 'open'),
                         (fault['host'], fault['status']))
        self.assertEqual(['ev-compute-0-m1', 'ev-compute-0-m2'],
                         [report['id'] for report in fault['reports']])
        # The inspector's checkpoints, in order, then the evaluator's
        # (transformed, evaluated, fired) for each instance's alarm.
        numbers = [point['number'] for point in fault['checkpoints']]
        self.assertEqual(list(range(6)), numbers[:6])
        self.assertTrue(set(numbers[6:]) <= {6, 7, 8, 9, 10}, numbers)
        self.assertEqual(
            1 + 2 * self.PER_HOST, len(fault['actions']))
        self.assertEqual({'ok'}, {a['result'] for a in fault['actions']})
        self.assertEqual(
            sorted(['host:compute-0']
                   + ['instance:%s' % _instance_id(0, n)
                      for n in range(self.PER_HOST)]
                   + ['port:%s' % _port_id(0, n)
                      for n in range(self.PER_HOST)]),
            sorted(a['target'] for a in fault['actions']))

        # The state the API shows is corrected.
        host = self.wait_for(
            lambda: (lambda h: h if all(i['state'] == 'error'
                                        for i in h['instances'])
                     and all(p['data_plane_status'] == 'DOWN'
                             for p in h['ports']) else None)(
                self.call('GET', '/hosts/compute-0')['host']),
            message='the instances in error and the ports DOWN')
        self.assertEqual(('down', True, fault_id),
                         (host['state'], host['host_down_reported'],
                          host['fault_id']))
        self.assertEqual(self.PER_HOST, len(host['instances']))
        other = self.call('GET', '/hosts/compute-1')['host']
        self.assertEqual('up', other['state'])
        self.assertEqual({'active'},
                         {i['state'] for i in other['instances']})
        port = self.call('GET', '/ports/%s' % _port_id(0, 1),
                         headers=TENANT)['port']
        self.assertEqual(('DOWN', True), (port['data_plane_status'],
                                          port['dp_down']))

        # Recovery closes the fault; instances stay in error, as Nova
        # leaves them, until someone repairs them.
        host = self.call('PUT', '/hosts/compute-0',
                         json={'host': {'host_down_reported': False}})
        self.assertEqual('up', host['host']['state'])
        self.assertEqual('closed',
                         self.call('GET', '/faults/%s'
                                   % fault_id)['fault']['status'])

    def test_a_port_set_down_through_the_api(self):
        port_id = _port_id(2, 1)
        port = self.call('PUT', '/ports/%s' % port_id,
                         json={'port': {'dp_down': True}})['port']
        self.assertEqual(('DOWN', True), (port['data_plane_status'],
                                          port['dp_down']))
        self.wait_for(lambda: self.call('GET', '/ports/%s' % port_id)[
            'port']['data_plane_status'] == 'DOWN',
            message='the store to say DOWN')
        self.call('PUT', '/ports/%s' % port_id, headers=TENANT,
                  expected=403, json={'port': {'dp_down': False}})
        self.call('PUT', '/ports/nope', expected=404,
                  json={'port': {'dp_down': False}})

    def test_unknown_host_and_bad_events(self):
        self.call('PUT', '/hosts/compute-99', expected=404,
                  json={'host': {'host_down_reported': True}})
        self.call('POST', '/events', expected=404, json=[{
            'time': now_iso(), 'type': 'compute.host.down',
            'details': {'hostname': 'compute-99', 'status': 'down'}}])
        self.call('POST', '/events', expected=400, json=[{
            'time': now_iso(), 'type': 'compute.host.down',
            'details': {'status': 'down'}}])
        self.call('POST', '/events', expected=403, headers=TENANT, json=[{
            'time': now_iso(), 'type': 'compute.host.down',
            'details': {'hostname': 'compute-0', 'status': 'down'}}])
        self.assertEqual('up', self.call('GET', '/hosts/compute-0')[
            'host']['state'])


class RabbitPostgreSQLChainTest(EmbeddedChainTest):
    """The chain on RabbitMQ and PostgreSQL."""

    def use_services(self) -> None:
        self.use_database('postgresql')
        self.use_rabbit()


class NetnsChainTest(ChainTestCase):
    """doctor-monitor watches hosts that are network namespaces.

    The hosts compute-0 to compute-2 of the inventory are real: each a
    network namespace behind a veth link, pinged by the monitor every
    100 ms. Taking compute-1's link down is the failure; nothing else
    tells doctor of it.
    """

    def setUp(self):
        netns.require(self)
        super().setUp()
        self.netns = self.useFixture(netns.NetnsHosts(self.HOSTS))
        self.config.config(
            group='monitor', method='icmp', interval=0.1,
            hosts=['%s=%s' % host for host in self.netns.hosts],
            api_url=self.api.rpartition('/v1')[0], name='netns-monitor')
        self.monitor = monitor_mod.Monitor(self.conf)
        self.monitor.start()
        self.addCleanup(self.monitor.stop)
        self.wait_for(lambda: set(self.monitor.states().values()) == {'up'},
                      timeout=5, message='every host to answer')

    def test_a_link_down_reaches_the_consumer(self):
        alarms = {self.alarm_on(_instance_id(1, number), dict(
            TENANT, **{'X-Project-Id': PROJECT if number % 4
                       else OTHER_PROJECT})): number
                  for number in range(self.PER_HOST)}
        self.netns.link_down('compute-1')
        received = self.webhook.wait_for(len(alarms), '/failure',
                                         timeout=10)
        received = self.webhook.assert_no_more(len(alarms), '/failure')
        self.assertEqual(sorted(alarms),
                         sorted(r.body['alarm_id'] for r in received))
        [fault_id] = {r.body['fault_id'] for r in received}
        fault = self.complete_fault(fault_id)
        self.assertEqual('compute-1', fault['host'])
        self.assertEqual(('hostdown', 'netns-monitor'),
                         (fault['checkpoints'][0]['name'],
                          fault['checkpoints'][0]['component']))
        self.assertEqual({'ok'}, {a['result'] for a in fault['actions']})
        self.assertEqual('down', self.call('GET', '/hosts/compute-1')[
            'host']['state'])
        self.assertEqual('up', self.call('GET', '/hosts/compute-0')[
            'host']['state'])

        # The link comes back: the monitor reports the host up.
        self.netns.link_up('compute-1')
        self.wait_for(lambda: self.call('GET', '/faults/%s' % fault_id)[
            'fault']['status'] == 'closed', message='the fault closed')
        self.assertEqual('up', self.call('GET', '/hosts/compute-1')[
            'host']['state'])
