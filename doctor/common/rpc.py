"""The bus: transports, RPC clients and servers, notifiers and listeners.

The embedded default is doctor's in-process transport (``inproc:/``, see
:mod:`doctor.common.inproc`), so that ``doctor-all`` runs with no broker;
production sets ``transport_url`` to ``rabbit://...``. Every service uses
the threading executor: oslo.messaging picks it whenever eventlet has not
monkey patched the process, which doctor never does (naming it explicitly
is deprecated).
"""

from collections.abc import Callable
import importlib
import threading

from oslo_config import cfg
from oslo_log import log
import oslo_messaging as messaging
from oslo_messaging import opts as messaging_opts
from oslo_messaging.rpc import dispatcher

from doctor.common import context as doctor_context
from doctor.common import listener as listener_mod
from doctor.objects import base as objects_base

LOG = log.getLogger(__name__)

EMBEDDED_TRANSPORT_URL = 'inproc:/'
CONTROL_EXCHANGE = 'doctor'
NOTIFICATION_DRIVERS = ('messagingv2',)
TRANSIENT_QUEUES_TTL = 60
QOS_PREFETCH_COUNT = 100
# Modules whose exceptions an RPC reply may raise again in the caller (an
# inspector's HostNotFound reaches the API as HostNotFound, not as a
# RemoteError).
ALLOWED_EXMODS = ['doctor.common.exception']

_lock = threading.Lock()
_transports: dict[tuple[int, str], messaging.Transport] = {}


def set_defaults(conf: cfg.ConfigOpts) -> None:
    """Give oslo.messaging doctor's defaults: embedded bus, notifications on.

    ``transport_url`` defaults to the in-process transport and notifications
    go out through the ``messagingv2`` driver unless configured otherwise.
    """
    messaging.set_transport_defaults(CONTROL_EXCHANGE)
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    # oslo.messaging reads these groups on every RPC send and receive but
    # registers them on the global CONF only, at import time, and leaves
    # them out of list_opts(): without them a private ConfigOpts (tests, or
    # several services in one process) cannot cast. Releases that lack a
    # group do not read it either.
    for module_name, group in (
            ('oslo_messaging._metrics.client', 'oslo_messaging_metrics'),
            ('oslo_messaging._tracing.client', 'oslo_messaging_tracing')):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        opts = getattr(module, group, None)
        if opts:
            conf.register_opts(opts, group=group)
    # The fanout and reply queues of a process killed without closing its
    # connection stay behind, filling with every fanout message, until
    # they have gone unused this many seconds (oslo.messaging: 30 minutes).
    conf.set_default('rabbit_transient_queues_ttl', TRANSIENT_QUEUES_TTL,
                     group='oslo_messaging_rabbit')
    # Unacknowledged messages a consumer may hold: with notifications
    # acknowledged only once stored, an unlimited prefetch would hand a
    # whole backlog to the first replica and none to the others.
    conf.set_default('rabbit_qos_prefetch_count', QOS_PREFETCH_COUNT,
                     group='oslo_messaging_rabbit')
    conf.set_default('transport_url', EMBEDDED_TRANSPORT_URL)
    conf.set_default('driver', list(NOTIFICATION_DRIVERS),
                     group='oslo_messaging_notifications')


def _ack_duplicate_notifications() -> None:
    """Make oslo.messaging's RabbitMQ driver acknowledge what it skips.

    The driver remembers the notifications it acknowledged and skips one
    that comes again. When the acknowledgement was lost with the
    connection, the broker does redeliver it, and the driver skips it
    without acknowledging: it then stays unacknowledged on the channel
    for the life of the connection, holding a prefetch slot, and the
    queue never drains (oslo.messaging 18.3). The skipped copy was
    handled already; acknowledge it.
    """
    try:
        from oslo_messaging._drivers import amqp as driver_amqp
        from oslo_messaging._drivers import amqpdriver
    except ImportError:  # no AMQP driver in this release
        return
    listener = getattr(amqpdriver, 'NotificationAMQPListener', None)
    check = getattr(getattr(driver_amqp, '_MsgIdCache', None),
                    'check_duplicate_message', None)
    if listener is None or check is None or getattr(
            listener.__call__, 'acks_duplicates', False):
        return
    original = listener.__call__

    def __call__(self, message):
        try:
            self.msg_id_cache.check_duplicate_message(message)
        except Exception:
            try:
                message.acknowledge()
            except Exception as e:
                LOG.debug('Cannot acknowledge a redelivered notification '
                          'already handled: %s', e)
            else:
                LOG.debug('Acknowledged a redelivered notification already '
                          'handled')
            return None
        return original(self, message)

    __call__.acks_duplicates = True  # type: ignore[attr-defined]
    listener.__call__ = __call__


def _get_transport(conf: cfg.ConfigOpts, kind: str) -> messaging.Transport:
    key = (id(conf), kind)
    with _lock:
        transport = _transports.get(key)
        if transport is None:
            _ack_duplicate_notifications()
            if kind == 'rpc':
                transport = messaging.get_rpc_transport(
                    conf, allowed_remote_exmods=ALLOWED_EXMODS)
            else:
                transport = messaging.get_notification_transport(conf)
            _transports[key] = transport
        return transport


def is_in_process(conf: cfg.ConfigOpts) -> bool:
    """Whether notifications go over the in-process bus."""
    urls = (conf.oslo_messaging_notifications.transport_url,
            conf.transport_url)
    url = next((url for url in urls if url), '')
    return url.startswith(EMBEDDED_TRANSPORT_URL)


def get_rpc_transport(conf: cfg.ConfigOpts) -> messaging.Transport:
    """The process-wide RPC transport for ``conf``."""
    return _get_transport(conf, 'rpc')


def get_notification_transport(conf: cfg.ConfigOpts) -> messaging.Transport:
    """The process-wide notification transport for ``conf``."""
    return _get_transport(conf, 'notification')


def cleanup() -> None:
    """Close every transport opened by this process."""
    with _lock:
        for transport in _transports.values():
            transport.cleanup()
        _transports.clear()


class RequestContextSerializer(messaging.Serializer):
    """Carries doctor's request context and versioned objects on the bus."""

    def __init__(self, base: messaging.Serializer | None = None) -> None:
        self._base = base or objects_base.DoctorObjectSerializer()

    def serialize_entity(self, ctxt, entity):
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity):
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return doctor_context.RequestContext.from_dict(ctxt)


def get_client(conf: cfg.ConfigOpts, topic: str,
               version_cap: str | None = None) -> messaging.RPCClient:
    """An RPC client for ``topic`` that sends at most ``version_cap``."""
    target = messaging.Target(topic=topic)
    return messaging.get_rpc_client(
        get_rpc_transport(conf), target, version_cap=version_cap,
        serializer=RequestContextSerializer())


def get_server(conf: cfg.ConfigOpts, target: messaging.Target,
               endpoints: list) -> messaging.MessageHandlingServer:
    """An RPC server on ``target`` using the threading executor."""
    return messaging.get_rpc_server(
        get_rpc_transport(conf), target, endpoints,
        serializer=RequestContextSerializer(),
        access_policy=dispatcher.DefaultRPCAccessPolicy)


def get_notifier(conf: cfg.ConfigOpts,
                 publisher_id: str) -> messaging.Notifier:
    """A notifier that publishes doctor's own notifications."""
    return messaging.Notifier(get_notification_transport(conf),
                              publisher_id=publisher_id,
                              serializer=RequestContextSerializer())


def get_pipelined_notification_listener(
        conf: cfg.ConfigOpts, targets: list[messaging.Target],
        submit: Callable[[list[dict]], listener_mod.Waiter],
        pool: str | None = None, batch_size: int = 1,
        batch_timeout: float | None = None,
        priorities: list[str] | None = None
) -> listener_mod.PipelinedBatchListener:
    """A batch listener that takes the next batch while one is handled.

    See :class:`doctor.common.listener.PipelinedBatchListener`: ``submit``
    gets each batch in bus order and returns what to wait on before the
    batch is acknowledged.
    """
    return listener_mod.PipelinedBatchListener(
        get_notification_transport(conf), targets, submit, pool=pool,
        batch_size=batch_size, batch_timeout=batch_timeout,
        priorities=priorities)


def get_notification_listener(conf: cfg.ConfigOpts,
                              targets: list[messaging.Target],
                              endpoints: list, pool: str | None = None,
                              allow_requeue: bool = False
                              ) -> messaging.MessageHandlingServer:
    """A notification listener on ``targets`` with the threading executor.

    Listeners sharing ``pool`` share the work: each notification reaches one
    of them. A notification is acknowledged when its endpoint returns;
    with ``allow_requeue`` an endpoint returning ``REQUEUE`` (or raising)
    sends it back to the bus instead.
    """
    return messaging.get_notification_listener(
        get_notification_transport(conf), targets, endpoints,
        pool=pool, allow_requeue=allow_requeue)
