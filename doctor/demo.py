"""The demo that ``doctor-all --demo`` runs on the embedded defaults.

It plays a tenant, a monitor and an operator against the whole chain:
shows what the synchronizer holds of the demo inventory, creates a
notification alarm through the REST API on each instance of one host,
with the sample consumer as their action, then reports that host down as
a monitor would (``POST /v1/events``). The inspector finds the host's
instances and ports in its cache, forces the host down, sets the
instances to error and their ports data-plane DOWN, all at once; the
evaluator fires the alarms and the consumer receives them. The demo shows
each alarm's arrival, the fault's timeline (``GET /v1/faults/{id}``) and
the host as the API shows it, then reports the host recovered.
"""

import datetime
import sys
import threading
import time

from oslo_log import log
from oslo_service import service
from oslo_utils import uuidutils
import requests

from doctor.notifier import targets

LOG = log.getLogger(__name__)

DEMO_PROJECT = 'd0c70000-0000-4000-8000-00000000de30'
DEMO_USER = 'd0c70000-0000-4000-8000-0000000050e2'
ALARM_NAME = 'demo-instance-error'
DEMO_HOST = 'compute-0'
ADMIN_HEADERS = {'X-Project-Id': DEMO_PROJECT, 'X-User-Id': DEMO_USER,
                 'X-Roles': 'admin'}
TENANT_HEADERS = {'X-Project-Id': DEMO_PROJECT, 'X-User-Id': DEMO_USER,
                  'X-Roles': 'member'}


def allow_consumer(conf) -> None:
    """Let the demo's alarm actions reach the sample consumer.

    The consumer listens on loopback by default, a network that
    ``[notifier] denied_networks`` refuses: as an operator would for a
    consumer on the notifier's host, the demo adds the consumer's address
    (that address alone) to ``[notifier] allowed_networks``, in this
    process's configuration only.
    """
    host = conf.consumer.host
    literal = targets.literal_address(host)
    addresses: list[targets.Address | None]
    if literal is not None:
        addresses = [literal]
    else:
        addresses = [targets.literal_address(info[4][0])
                     for info in targets.getaddrinfo(host, 0)]
    allowed = list(conf.notifier.allowed_networks)
    for address in addresses:
        if address is not None and targets.TargetPolicy.from_conf(
                conf).denying_network(address) is not None:
            allowed.append('%s/%d' % (address, address.max_prefixlen))
            LOG.info('Demo: alarm actions may reach the sample consumer at '
                     '%s ([notifier] allowed_networks)', address)
    conf.set_override('allowed_networks', allowed, group='notifier')


class DemoService(service.Service):
    """Runs the demo once every other service has started."""

    def __init__(self, conf, api, consumer_service, consumer,
                 out=None) -> None:
        super().__init__()
        self.conf = conf
        self._api = api
        self._consumer_service = consumer_service
        self._consumer = consumer
        self._out = out or sys.stdout
        self._api_url = ''
        self.succeeded: bool | None = None

    def start(self) -> None:
        super().start()
        threading.Thread(target=self._run, name='doctor-demo',
                         daemon=True).start()

    def _say(self, text: str) -> None:
        self._out.write(text + '\n')
        self._out.flush()

    def _run(self) -> None:
        try:
            self.succeeded = self._play()
        except Exception:
            LOG.exception('The demo failed')
            self.succeeded = False
        if not self.succeeded:
            self._say('demo: FAILED, see the log above')

    def _received(self, alarm_ids: set[str]) -> list[dict]:
        """What the consumer received of ``alarm_ids``.

        Alarms left by other users on the same instances fire too: the
        demo looks at its own.
        """
        return [record for record in self._consumer.received()
                if record['alarm'].get('alarm_id') in alarm_ids]

    def _wait(self, check, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.005)
        return False

    def _get(self, path: str, **params) -> dict:
        response = requests.get(self._api_url + path, headers=ADMIN_HEADERS,
                                params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def _host(self) -> dict:
        return self._get('/v1/hosts/%s' % DEMO_HOST)['host']

    def _ready(self, timeout: float = 15.0) -> dict | None:
        """The demo host, once it is up with its instances active.

        A demo that ran before on the same database left the host's
        instances in error: the synchronizer restores the inventory's word
        when it starts, and a host still down is reported recovered.
        """
        def ready() -> bool:
            try:
                host = self._host()
            except requests.HTTPError:
                return False
            if host['host_down_reported']:
                self._put_host(False)
                return False
            return bool(host['instances']) and all(
                instance['state'] == 'active'
                for instance in host['instances'])

        if not self._wait(ready, timeout):
            return None
        return self._host()

    def _put_host(self, down: bool) -> dict:
        response = requests.put(
            self._api_url + '/v1/hosts/%s' % DEMO_HOST,
            json={'host': {'host_down_reported': down}},
            headers=ADMIN_HEADERS, timeout=10)
        response.raise_for_status()
        return response.json()['host']

    def _forget_earlier_runs(self) -> None:
        """Delete the alarms an earlier demo left on the same database."""
        earlier = requests.get(self._api_url + '/v1/alarms',
                               headers=TENANT_HEADERS,
                               params={'name': ALARM_NAME}, timeout=10)
        earlier.raise_for_status()
        for alarm in earlier.json():
            requests.delete(self._api_url + '/v1/alarms/'
                            + alarm['alarm_id'], headers=TENANT_HEADERS,
                            timeout=10)

    def _create_alarm(self, instance: dict, consumer: str) -> str | None:
        alarm = {
            'name': ALARM_NAME,
            'description': 'A demo VNF instance went to error',
            'type': 'notification', 'severity': 'critical',
            'resource_id': instance['id'],
            'notification_rule': {
                'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}]},
            'alarm_actions': [consumer], 'ok_actions': [],
        }
        response = requests.post(self._api_url + '/v1/alarms', json=alarm,
                                 headers=TENANT_HEADERS, timeout=10)
        if response.status_code != 201:
            self._say('demo: creating an alarm failed: %d %s'
                      % (response.status_code, response.text))
            return None
        return response.json()['alarm_id']

    def _play(self) -> bool:
        api = self._api_url = 'http://%s:%d' % (self.conf.api.host,
                                                self._api.port)
        consumer = 'http://%s:%d/failure' % (self.conf.consumer.host,
                                             self._consumer_service.port)
        if not self._wait(lambda: bool(self._get(
                '/v1/entities', type='instance',
                project_id=DEMO_PROJECT)['entities']), 15):
            self._say('demo: the synchronizer holds no instance of the demo '
                      'project; is [static] inventory the demo one?')
            return False
        instances = self._get('/v1/entities', type='instance',
                              project_id=DEMO_PROJECT)['entities']
        self._say('demo: the synchronizer holds %d instances of the demo '
                  'project (GET %s/v1/entities?type=instance): %s'
                  % (len(instances), api, ', '.join(
                      '%s on %s' % (entity['name'] or entity['id'],
                                    ', '.join(entity['parents']))
                      for entity in instances)))
        host = self._ready()
        if host is None:
            self._say('demo: host %s did not come up with active instances'
                      % DEMO_HOST)
            return False
        self._forget_earlier_runs()
        alarm_ids: set[str] = set()
        names: dict[str, str] = {}
        for instance in host['instances']:
            alarm_id = self._create_alarm(instance, consumer)
            if alarm_id is None:
                return False
            alarm_ids.add(alarm_id)
            names[alarm_id] = instance['name'] or instance['id']
            self._say('demo: tenant created alarm %s on instance %s (%s) '
                      '(POST %s/v1/alarms)'
                      % (alarm_id, instance['name'], instance['id'], api))

        failed_at = time.time()
        event_id = uuidutils.generate_uuid()
        response = requests.post(api + '/v1/events', headers=ADMIN_HEADERS,
                                 timeout=10, json=[{
                                     'id': event_id,
                                     'time': _iso(failed_at),
                                     'type': 'compute.host.down',
                                     'details': {
                                         'hostname': DEMO_HOST,
                                         'status': 'down',
                                         'monitor': 'demo',
                                         'monitor_event_id': event_id}}])
        if response.status_code != 202:
            self._say('demo: reporting the host down failed: %d %s'
                      % (response.status_code, response.text))
            return False
        fault_id = response.json()['fault_ids'][0]
        self._say('demo: monitor reported host %s down (POST %s/v1/events):'
                  ' fault %s' % (DEMO_HOST, api, fault_id))
        if not self._wait(lambda: len(self._received(alarm_ids))
                          >= len(alarm_ids)):
            self._say('demo: %d of %d alarms reached the consumer within '
                      '10 s' % (len(self._received(alarm_ids)),
                                len(alarm_ids)))
            return False
        for record in self._received(alarm_ids):
            body = record['alarm']
            self._say('demo: consumer received alarm %s of %s: %s -> %s, '
                      'fault %s, %.1f ms after the host failed'
                      % (body['alarm_id'], names.get(body['alarm_id']),
                         body['previous'], body['current'],
                         body.get('fault_id'),
                         (record['received_at'] - failed_at) * 1000))
        # Each service records its checkpoints once it pauses: wait for
        # the inspector's last ones and the evaluator's firings, whichever
        # service writes first.
        if not self._wait(lambda: _recorded(self._fault(fault_id),
                                            len(alarm_ids))):
            self._say('demo: the fault record was not completed')
            return False
        fault = self._fault(fault_id)
        self._say('demo: fault %s timeline in time order, each checkpoint '
                  'with its number in the pipeline (GET %s/v1/faults/%s):'
                  % (fault_id, api, fault_id))
        for line in timeline(fault['checkpoints']):
            self._say('demo:   ' + line)
        failed = [action for action in fault['actions']
                  if action['result'] != 'ok']
        self._say('demo: %d actions, %d failed: %s'
                  % (len(fault['actions']), len(failed), ', '.join(
                      '%s %s %.1f ms' % (action['name'], action['target'],
                                         action['duration_ms'])
                      for action in fault['actions'])))
        host = self._host()
        self._say('demo: host %s is %s; its instances: %s; its ports: %s'
                  % (DEMO_HOST, host['state'], ', '.join(
                      '%s %s' % (i['name'], i['state'])
                      for i in host['instances']), ', '.join(
                      '%s %s' % (p['id'], p['data_plane_status'])
                      for p in host['ports'])))
        if host['state'] != 'down' or any(
                i['state'] != 'error' for i in host['instances']):
            return False
        host = self._put_host(False)
        self._say('demo: operator reported host %s recovered (PUT '
                  '%s/v1/hosts/%s): fault closed, host %s'
                  % (DEMO_HOST, api, DEMO_HOST, host['state']))
        self._say('demo: done. doctor keeps running: API %s/v1 (headers '
                  'X-Project-Id, X-User-Id, X-Roles), consumer %s; Ctrl-C '
                  'stops it.' % (api, consumer))
        return True

    def _fault(self, fault_id: str) -> dict:
        return self._get('/v1/faults/%s' % fault_id)['fault']


def _recorded(fault: dict, alarms: int) -> bool:
    """Whether the fault's record holds what the demo shows of it."""
    names = [checkpoint['name'] for checkpoint in fault['checkpoints']]
    return (all(name in names for name in (
        'hostdown', 'raw_failure_received', 'found_affected',
        'marked_host_down', 'set_vm_error', 'notified_vm_error'))
        and names.count('fired_alarm') >= alarms)


def timeline(checkpoints: list[dict]) -> list[str]:
    """One line per checkpoint, in the order of their timestamps.

    Checkpoints are numbered by their place in the pipeline, but some of
    its steps run at once (the instances' notification may leave before
    the host is marked down): listed by number, the offsets would seem to
    go back in time. Each line keeps the number and gives the offset from
    the earliest checkpoint; equal timestamps keep the pipeline's order.
    """
    if not checkpoints:
        return []
    ordered = sorted(checkpoints,
                     key=lambda point: (_seconds(point['timestamp']),
                                        point['number']))
    first = _seconds(ordered[0]['timestamp'])
    return ['%2d %-22s %-10s +%.1f ms'
            % (point['number'], point['name'], point['component'],
               (_seconds(point['timestamp']) - first) * 1000)
            for point in ordered]


def _iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).isoformat()


def _seconds(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp).timestamp()
