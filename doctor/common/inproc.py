"""The embedded bus: an oslo.messaging driver for one process.

``transport_url = inproc:/`` connects every service of a ``doctor-all``
process without a broker. It behaves like a broker where doctor relies on
it: notifications reach one listener of each pool, RPC casts reach one
server of the topic (or every server, fanout), calls get their reply, and
each message is serialized to JSON and back so no object is shared between
sender and receiver. Unlike oslo.messaging's ``fake`` driver, which is
meant for unit tests, a listener wakes up as soon as a message arrives
(the fake driver polls every 50 ms) and a message nobody listens for is
dropped rather than kept forever.

The URL's virtual host names a separate bus (``inproc:/test-1``), so tests
in one process can keep theirs apart.
"""

import collections
import queue
import threading

from oslo_log import log
import oslo_messaging
from oslo_messaging._drivers import base
from oslo_serialization import jsonutils
from oslo_utils import uuidutils

LOG = log.getLogger(__name__)

# Queues that grow past this are trimmed from the oldest message: a
# listener that stopped reading must not take the process's memory.
MAX_QUEUE_LENGTH = 1_000_000


class _Message(base.RpcIncomingMessage):
    def __init__(self, ctxt, message, reply_q):
        super().__init__(ctxt, message)
        self._reply_q = reply_q

    def acknowledge(self):
        pass

    def requeue(self):
        pass

    def reply(self, reply=None, failure=None):
        if self._reply_q is not None:
            self._reply_q.put((reply, failure[1] if failure else None))

    def heartbeat(self):
        pass


class _Bus:
    """Named queues and the condition their listeners wait on."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        # (exchange, topic, kind, name) -> deque. kind 'topic': shared by
        # the listeners of a pool (name; None without pool); 'server': one
        # RPC server's own queue; 'fanout': one listener's fanout queue.
        self.queues: dict[tuple, collections.deque] = {}
        self.references: collections.Counter = collections.Counter()

    def open(self, keys) -> None:
        with self.lock:
            for key in keys:
                self.queues.setdefault(key, collections.deque())
                self.references[key] += 1

    def close(self, keys) -> None:
        with self.lock:
            for key in keys:
                self.references[key] -= 1
                if self.references[key] <= 0:
                    del self.references[key]
                    self.queues.pop(key, None)
            self.lock.notify_all()

    def deliver(self, exchange: str, topic: str, item, server=None,
                fanout: bool = False) -> None:
        with self.lock:
            if fanout:
                kind = 'fanout'
            elif server is not None:
                kind = 'server'
            else:
                # One copy per pool (the unpooled queue is a pool too).
                kind = 'topic'
            keys = [key for key in self.queues
                    if key[0] == exchange and key[1] == topic
                    and key[2] == kind
                    and (kind != 'server' or key[3] == server)]
            for key in keys:
                pending = self.queues.get(key)
                if pending is None:
                    continue
                if len(pending) >= MAX_QUEUE_LENGTH:
                    pending.popleft()
                    LOG.warning('In-process queue %s is full; dropped its '
                                'oldest message', key)
                pending.append(item)
            if keys:
                self.lock.notify_all()


_buses: dict[str, _Bus] = {}
_buses_lock = threading.Lock()


def _bus_for(name: str) -> _Bus:
    with _buses_lock:
        bus = _buses.get(name)
        if bus is None:
            bus = _buses[name] = _Bus()
        return bus


class _Listener(base.PollStyleListener):
    def __init__(self, bus: _Bus, keys: list) -> None:
        super().__init__()
        self._bus = bus
        self._keys = keys
        self._stopped = False
        bus.open(keys)

    @base.batch_poll_helper
    def poll(self, timeout=None):
        bus = self._bus
        with bus.lock:
            while not self._stopped:
                for key in self._keys:
                    pending = bus.queues.get(key)
                    if pending:
                        ctxt, message, reply_q = pending.popleft()
                        return _Message(ctxt, message, reply_q)
                if not bus.lock.wait(timeout):
                    return None
        return None

    def stop(self):
        with self._bus.lock:
            self._stopped = True
            self._bus.lock.notify_all()

    def cleanup(self):
        self._bus.close(self._keys)


class InProcessDriver(base.BaseDriver):
    """oslo.messaging driver of the in-process bus (``inproc:/``)."""

    def __init__(self, conf, url, default_exchange=None,
                 allowed_remote_exmods=None):
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._bus = _bus_for(url.virtual_host or '')
        self._default_exchange = default_exchange or 'openstack'

    def require_features(self, requeue=True):
        pass

    def _send(self, target, ctxt, message, wait_for_reply=False,
              timeout=None):
        # A JSON round trip, as any broker makes, so that sender and
        # receiver never share an object.
        if hasattr(ctxt, 'to_dict'):
            ctxt = ctxt.to_dict()
        item_ctxt = jsonutils.loads(jsonutils.dumps(ctxt))
        item_message = jsonutils.loads(jsonutils.dumps(message))
        reply_q = queue.Queue() if wait_for_reply else None
        self._bus.deliver(target.exchange or self._default_exchange,
                          target.topic, (item_ctxt, item_message, reply_q),
                          server=target.server, fanout=target.fanout)
        if reply_q is None:
            return None
        try:
            reply, failure = reply_q.get(timeout=timeout)
        except queue.Empty:
            raise oslo_messaging.MessagingTimeout(
                'No reply on topic %s' % target.topic)
        if failure:
            raise failure
        return reply

    def send(self, target, ctxt, message, wait_for_reply=None, timeout=None,
             call_monitor_timeout=None, retry=None, transport_options=None):
        return self._send(target, ctxt, message, wait_for_reply, timeout)

    def send_notification(self, target, ctxt, message, version, retry=None):
        self._send(target, ctxt, message)

    def listen(self, target, batch_size, batch_timeout):
        exchange = target.exchange or self._default_exchange
        keys = [(exchange, target.topic, 'topic', None)]
        if target.server:
            keys[:0] = [(exchange, target.topic, 'server', target.server),
                        (exchange, target.topic, 'fanout',
                         uuidutils.generate_uuid())]
        return base.PollStyleListenerAdapter(
            _Listener(self._bus, keys), batch_size, batch_timeout)

    def listen_for_notifications(self, targets_and_priorities, pool,
                                 batch_size, batch_timeout):
        keys = [(target.exchange or self._default_exchange,
                 '%s.%s' % (target.topic, priority), 'topic', pool)
                for target, priority in targets_and_priorities]
        return base.PollStyleListenerAdapter(
            _Listener(self._bus, keys), batch_size, batch_timeout)

    def cleanup(self):
        pass
