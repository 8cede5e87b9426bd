"""doctor's configuration options, one module per group.

Importing this package registers every option on ``CONF``; nothing reads an
option at import time.
"""

from oslo_config import cfg

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

CONF = cfg.CONF


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every doctor option group on ``conf``."""
    default.register_opts(conf)
    api.register_opts(conf)
    clients.register_opts(conf)
    compute_agent.register_opts(conf)
    consumer.register_opts(conf)
    coordination.register_opts(conf)
    database.register_opts(conf)
    evaluator.register_opts(conf)
    inspector.register_opts(conf)
    monitor.register_opts(conf)
    notifier.register_opts(conf)
    profiler.register_opts(conf)
    synchronizer.register_opts(conf)
    upgrade_levels.register_opts(conf)


register_opts(CONF)
