"""The peers doctor talks to in the functional tests, real but local.

:class:`WebhookReceiver` is an HTTP server that records the alarm POSTs it
gets; :class:`NovaNotifications` publishes instance notifications the way
Nova does.
"""

import dataclasses
import http.server
import json
import threading
import time
import uuid

import fixtures
from oslo_context import context as oslo_context
import oslo_messaging as messaging

from doctor.tests import base


@dataclasses.dataclass
class Request:
    """One POST the receiver got; ``headers`` keys are lower case."""

    path: str
    headers: dict[str, str]
    body: object


class WebhookReceiver(fixtures.Fixture):
    """An HTTP server on 127.0.0.1 answering 200 to every POST."""

    def _setUp(self) -> None:
        self.requests: list[Request] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                headers = {key.lower(): value
                           for key, value in self.headers.items()}
                receiver._record(Request(self.path, headers, body))
                self.send_response(200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, format, *args):
                pass

        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={'poll_interval': 0.05},
                                  name='webhook-receiver', daemon=True)
        thread.start()
        self.port = server.server_address[1]

        def stop():
            server.shutdown()
            server.server_close()
            thread.join(5)
        self.addCleanup(stop)

    def _record(self, request: Request) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def url(self, path: str = '/alarm') -> str:
        return 'http://127.0.0.1:%d%s' % (self.port, path)

    def received(self, path: str | None = None) -> list[Request]:
        """The POSTs so far (to ``path`` only, if given)."""
        with self._changed:
            return [r for r in self.requests
                    if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None,
                 timeout: float = 10.0) -> list[Request]:
        """Wait until at least ``count`` POSTs (to ``path``) arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.requests
                         if path is None or r.path == path]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(found) < count:
            raise AssertionError(
                'Expected %d POST(s) to %s within %.1f s, got %d: %s'
                % (count, path or 'any path', timeout, len(found),
                   _summary(found)))
        return found

    def assert_no_more(self, count: int, path: str | None = None,
                       grace: float = 0.5) -> list[Request]:
        """Wait ``grace`` seconds, then check only ``count`` POSTs came."""
        time.sleep(grace)
        found = self.received(path)
        if len(found) != count:
            raise AssertionError('Expected exactly %d POST(s) to %s, got '
                                 '%d: %s' % (count, path or 'any path',
                                             len(found), _summary(found)))
        return found


def _summary(requests: list[Request]) -> str:
    return ', '.join(
        '%s %s->%s of %s' % (r.path, r.body.get('previous'),
                             r.body.get('current'), r.body.get('alarm_id'))
        if isinstance(r.body, dict) else '%s %r' % (r.path, r.body)
        for r in requests) or 'none'


class NovaNotifications(fixtures.Fixture):
    """Publishes Nova's legacy instance notifications on the bus.

    As Nova does: the ``messagingv2`` driver on topic ``notifications`` of
    the ``nova`` control exchange, published by ``compute.<host>``.
    """

    def __init__(self, transport_url: str, host: str = 'host1') -> None:
        super().__init__()
        self.transport_url = transport_url
        self.host = host

    def _setUp(self) -> None:
        # A config of its own: the control exchange is Nova's, not doctor's.
        self.conf = base.new_conf()
        self.conf.set_override('transport_url', self.transport_url)
        self.conf.set_override('control_exchange', 'nova')
        self.transport = messaging.get_notification_transport(self.conf)
        self.addCleanup(self.transport.cleanup)
        self.notifier = messaging.Notifier(
            self.transport, publisher_id='compute.%s' % self.host,
            driver='messagingv2', topics=['notifications'],
            serializer=_ContextSerializer())

    def instance_update(self, instance_id: str, tenant_id: str, state: str,
                        old_state: str, fault_id: str | None = None,
                        request_id: str | None = None) -> str:
        """Publish ``compute.instance.update``; returns its request id."""
        request_id = request_id or 'req-' + str(uuid.uuid4())
        payload = {
            'instance_id': instance_id, 'tenant_id': tenant_id,
            'user_id': 'nova-user', 'display_name': 'vnf-' + instance_id[:8],
            'state': state, 'old_state': old_state,
            'state_description': '', 'host': self.host,
            'instance_type': 'm1.small',
        }
        if fault_id is not None:
            payload['doctor_fault_id'] = fault_id
        self.info('compute.instance.update', payload, request_id=request_id)
        return request_id

    def info(self, event_type: str, payload, request_id: str | None = None
             ) -> None:
        """Publish any notification at INFO priority."""
        context = oslo_context.RequestContext(
            request_id=request_id or 'req-' + str(uuid.uuid4()),
            user_id='nova-user', project_id='service', is_admin=True)
        self.notifier.info(context, event_type, payload)


class _ContextSerializer(messaging.NoOpSerializer):
    """Puts the request context on the bus as a dict, as Nova's does."""

    def serialize_context(self, ctxt):
        return ctxt.to_dict()
