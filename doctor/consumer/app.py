"""The sample consumer's WSGI app: records when each alarm arrives.

It accepts a JSON alarm POSTed on any path (Doctor's samples use
``/failure``), logs it with its arrival time and, when the alarm names the
fault that caused it, how long after the fault's first checkpoint it came.
``GET /alarms`` lists what was received, newest last.

Given a recorder, it records when each alarm of a fault was received and
handled (the profiler's checkpoints 9 and 10); the recorder reports them
to doctor-api in batches, off the request's path.
"""

import collections
import datetime
import json
import threading
import time

from oslo_log import log
import webob
import webob.dec

from doctor.profiler import recorder as recorder_mod

LOG = log.getLogger(__name__)

_REQUIRED = ('alarm_id', 'alarm_name', 'current')


class Consumer:
    """Keeps the last ``capacity`` alarms received."""

    def __init__(self, capacity: int = 10000, on_alarm=None,
                 recorder: recorder_mod.Recorder | None = None) -> None:
        self._received: collections.deque = collections.deque(
            maxlen=capacity)
        self._lock = threading.Lock()
        self._on_alarm = on_alarm
        self.recorder = recorder

    def received(self) -> list[dict]:
        with self._lock:
            return list(self._received)

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        if request.method == 'GET' and request.path == '/alarms':
            return webob.Response(json_body={'alarms': self.received()})
        if request.method != 'POST':
            return _error(405, 'only POST is accepted (alarms), or GET '
                               '/alarms')
        arrived = time.time()
        try:
            body = json.loads(request.body or b'null')
        except ValueError as e:
            return _error(400, 'body is not JSON: %s' % e)
        if not isinstance(body, dict):
            return _error(400, 'body must be a JSON object')
        missing = [key for key in _REQUIRED if key not in body]
        if missing:
            return _error(400, 'alarm lacks %s' % ', '.join(missing))
        record = {
            'received_at': arrived,
            'path': request.path,
            'request_id': request.headers.get('X-Openstack-Request-Id'),
            'alarm': body,
        }
        with self._lock:
            self._received.append(record)
        LOG.info('Received alarm %(name)s (%(id)s): %(previous)s -> '
                 '%(current)s, severity %(severity)s, fault %(fault)s, '
                 'at %(at).6f',
                 {'name': body['alarm_name'], 'id': body['alarm_id'],
                  'previous': body.get('previous'),
                  'current': body['current'],
                  'severity': body.get('severity'),
                  'fault': body.get('fault_id'), 'at': arrived})
        if self._on_alarm is not None:
            self._on_alarm(record)
        fault_id = body.get('fault_id')
        if self.recorder is not None and isinstance(fault_id, str):
            alarm_id = str(body['alarm_id'])
            self.recorder.record(fault_id, 'received_alarm', 'consumer',
                                 alarm_id, _utc(arrived))
            self.recorder.record(fault_id, 'handled_alarm', 'consumer',
                                 alarm_id)
        return webob.Response(status=200, json_body={'received': True})


def _utc(wall: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(wall, datetime.timezone.utc)


def _error(status: int, message: str) -> webob.Response:
    return webob.Response(status=status, json_body={'error': message})
