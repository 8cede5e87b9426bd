"""Options of the ``[database]`` group.

The options themselves are oslo.db's; doctor only sets its embedded default,
a SQLite file under ``[DEFAULT] state_path``.
"""

import copy

from oslo_config import cfg
from oslo_db import options as db_options

DEFAULT_CONNECTION = 'sqlite:///$state_path/doctor.sqlite'


def register_opts(conf: cfg.ConfigOpts) -> None:
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    """oslo.db's options with doctor's default connection, for the sample.

    ``register_opts`` gives ``conf`` its default only when a service runs;
    the sample generator reads the defaults of the option objects instead.
    Change copies, so that oslo.db's own objects keep oslo.db's defaults.
    """
    opts = copy.deepcopy(db_options.database_opts)
    cfg.set_defaults(opts, connection=DEFAULT_CONNECTION)
    return [('database', opts)]
