"""The demo that ``doctor-all --demo`` runs on the embedded defaults.

It shows what the synchronizer holds of the demo inventory, then plays a
tenant and a compute node: creates a notification alarm on one of the
inventory's instances through the REST API, with the sample consumer as
its action, emits the instance notifications Nova would send when the
instance fails and recovers, and reports when each alarm reaches the
consumer.
"""

import sys
import threading
import time

from oslo_log import log
from oslo_service import service
import requests

from doctor.common import context as doctor_context
from doctor.common import rpc

LOG = log.getLogger(__name__)

DEMO_PROJECT = 'd0c70000-0000-4000-8000-00000000de30'
DEMO_USER = 'd0c70000-0000-4000-8000-0000000050e2'
ALARM_NAME = 'demo-instance-error'


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
        self._arrived = threading.Condition()
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

    def _received(self, alarm_id: str) -> list[dict]:
        """What the consumer received of the alarm ``alarm_id``.

        Alarms left by earlier runs on the same instance fire too: the
        demo looks at its own.
        """
        return [record for record in self._consumer.received()
                if record['alarm'].get('alarm_id') == alarm_id]

    def _wait_for_alarms(self, alarm_id: str, count: int,
                         timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self._received(alarm_id)) >= count:
                return True
            time.sleep(0.005)
        return False

    def _inventory(self, api: str, timeout: float = 10.0) -> list[dict]:
        """The demo project's instances, once the synchronizer has them."""
        admin = {'X-Project-Id': DEMO_PROJECT, 'X-User-Id': DEMO_USER,
                 'X-Roles': 'admin'}
        deadline = time.monotonic() + timeout
        while True:
            response = requests.get(
                api + '/v1/entities', headers=admin, timeout=10,
                params={'type': 'instance', 'project_id': DEMO_PROJECT})
            response.raise_for_status()
            instances = response.json()['entities']
            if instances or time.monotonic() > deadline:
                return instances
            time.sleep(0.05)

    def _forget_earlier_runs(self, api: str, headers: dict) -> None:
        """Delete the alarms an earlier demo left on the same database."""
        earlier = requests.get(api + '/v1/alarms', headers=headers,
                               params={'name': ALARM_NAME}, timeout=10)
        earlier.raise_for_status()
        for alarm in earlier.json():
            requests.delete(api + '/v1/alarms/' + alarm['alarm_id'],
                            headers=headers, timeout=10)

    def _play(self) -> bool:
        api = 'http://%s:%d' % (self.conf.api.host, self._api.port)
        consumer = 'http://%s:%d/failure' % (self.conf.consumer.host,
                                             self._consumer_service.port)
        instances = self._inventory(api)
        if not instances:
            self._say('demo: the synchronizer holds no instance of the demo '
                      'project; is [static] inventory the demo one?')
            return False
        self._say('demo: the synchronizer holds %d instances of the demo '
                  'project (GET %s/v1/entities?type=instance): %s'
                  % (len(instances), api, ', '.join(
                      '%s on %s' % (entity['name'] or entity['id'],
                                    ', '.join(entity['parents']))
                      for entity in instances)))
        instance = instances[0]
        instance_id = instance['id']
        host = (instance['parents'][0].partition(':')[2]
                if instance['parents'] else 'compute-0')
        headers = {'X-Project-Id': DEMO_PROJECT, 'X-User-Id': DEMO_USER,
                   'X-Roles': 'member'}
        self._forget_earlier_runs(api, headers)
        alarm = {
            'name': ALARM_NAME,
            'description': 'The demo VNF instance went to error',
            'type': 'notification', 'severity': 'critical',
            'resource_id': instance_id,
            'notification_rule': {
                'event_type': 'compute.instance.update',
                'query': [{'field': 'traits.state', 'op': 'eq',
                           'value': 'error', 'type': 'string'}]},
            'alarm_actions': [consumer], 'ok_actions': [consumer],
        }
        response = requests.post(api + '/v1/alarms', json=alarm,
                                 headers=headers, timeout=10)
        if response.status_code != 201:
            self._say('demo: creating the alarm failed: %d %s'
                      % (response.status_code, response.text))
            return False
        alarm_id = response.json()['alarm_id']
        self._say('demo: created alarm %s on instance %s (%s) '
                  '(POST %s/v1/alarms)'
                  % (alarm_id, instance['name'], instance_id, api))

        notifier = rpc.get_notifier(self.conf, 'compute.%s' % host)
        context = doctor_context.RequestContext(project_id=DEMO_PROJECT)
        steps = (('active', 'error', 'alarm'), ('error', 'active', 'ok'))
        for number, (old, new, expected) in enumerate(steps, start=1):
            sent = time.time()
            notifier.info(context, 'compute.instance.update', {
                'instance_id': instance_id, 'tenant_id': DEMO_PROJECT,
                'user_id': DEMO_USER, 'host': host,
                'display_name': instance['name'], 'state': new,
                'old_state': old,
            })
            self._say('demo: instance %s went %s -> %s '
                      '(compute.instance.update emitted)'
                      % (instance_id, old, new))
            if not self._wait_for_alarms(alarm_id, number):
                self._say('demo: no alarm reached the consumer within 10 s')
                return False
            record = self._received(alarm_id)[number - 1]
            body = record['alarm']
            self._say('demo: consumer received alarm %s: %s -> %s, %.1f ms '
                      'after the notification'
                      % (body['alarm_name'], body['previous'],
                         body['current'],
                         (record['received_at'] - sent) * 1000))
            if body['current'] != expected:
                return False
        history = requests.get(api + '/v1/alarms/%s/history' % alarm_id,
                               headers=headers, timeout=10).json()
        self._say('demo: alarm history has %d entries: %s'
                  % (len(history), ', '.join(entry['type']
                                             for entry in reversed(history))))
        self._say('demo: done. doctor keeps running: API %s/v1/alarms '
                  '(headers X-Project-Id, X-User-Id, X-Roles), consumer '
                  '%s; Ctrl-C stops it.' % (api, consumer))
        return True
