"""Options of the ``[database]`` group.

The options themselves are oslo.db's; doctor sets its embedded default, a
SQLite file under ``[DEFAULT] state_path``, and pools small enough that
every service with two replicas fits a 100-connection database.
"""

import copy

from oslo_config import cfg
from oslo_db import options as db_options

DEFAULT_CONNECTION = 'sqlite:///$state_path/doctor.sqlite'
# Each doctor process holds at most MAX_POOL_SIZE + MAX_OVERFLOW database
# connections (oslo.db's defaults allow 55): every service with two
# replicas stays within 80, so a 100-connection PostgreSQL keeps room for
# its other clients. Threads beyond that wait for a connection (up to
# [database] pool_timeout, SQLAlchemy's 30 s when unset); the evaluator
# and the notifier keep their work and try again when that runs out, so
# waiting costs time, never an event. See the deployment guide's
# connection budget.
MAX_POOL_SIZE = 4
MAX_OVERFLOW = 4
DEFAULTS = {'connection': DEFAULT_CONNECTION,
            'max_pool_size': MAX_POOL_SIZE,
            'max_overflow': MAX_OVERFLOW}


def register_opts(conf: cfg.ConfigOpts) -> None:
    db_options.set_defaults(conf, **DEFAULTS)


def list_opts():
    """oslo.db's options with doctor's default connection, for the sample.

    ``register_opts`` gives ``conf`` its default only when a service runs;
    the sample generator reads the defaults of the option objects instead.
    Change copies, so that oslo.db's own objects keep oslo.db's defaults.
    """
    opts = copy.deepcopy(db_options.database_opts)
    cfg.set_defaults(opts, **DEFAULTS)
    return [('database', opts)]
