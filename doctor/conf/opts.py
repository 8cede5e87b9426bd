"""Entry points for oslo-config-generator."""

from oslo_config import cfg
from oslo_messaging._drivers import impl_rabbit
from oslo_messaging import transport
from oslo_messaging.notify import notifier as messaging_notifier

from doctor.conf import api
from doctor.conf import clients
from doctor.conf import compute_agent
from doctor.conf import consumer
from doctor.conf import coordination
from doctor.conf import database
from doctor.conf import default
from doctor.conf import evaluator
from doctor.conf import inspector
from doctor.conf import monitor
from doctor.conf import notifier
from doctor.conf import profiler
from doctor.conf import synchronizer
from doctor.conf import upgrade_levels

_MODULES = (default, api, clients, compute_agent, consumer, coordination,
            database, evaluator, inspector, monitor, notifier, profiler,
            synchronizer, upgrade_levels)


def list_opts():
    """Return doctor's own options, grouped, for the sample config."""
    return [item for module in _MODULES for item in module.list_opts()]


def set_lib_defaults():
    """Set the defaults doctor gives to its libraries' options.

    oslo-config-generator calls this (the ``oslo.config.opts.defaults``
    entry point) before it lists the options, and prints the defaults of
    the libraries' option objects rather than those of a ConfigOpts.
    """
    from doctor import conf
    from doctor.common import rpc

    # oslo.messaging has a setter for control_exchange alone; rpc sets the
    # embedded bus and the notification driver on a ConfigOpts only. Set
    # them on the library's own options too, before rpc registers copies
    # of them, so that the copies and the originals stay equal.
    cfg.set_defaults(transport._transport_opts,
                     transport_url=rpc.EMBEDDED_TRANSPORT_URL)
    cfg.set_defaults(messaging_notifier._notifier_opts,
                     driver=list(rpc.NOTIFICATION_DRIVERS))
    cfg.set_defaults(impl_rabbit.rabbit_opts,
                     rabbit_transient_queues_ttl=rpc.TRANSIENT_QUEUES_TTL,
                     rabbit_qos_prefetch_count=rpc.QOS_PREFETCH_COUNT)
    rpc.set_defaults(conf.CONF)
