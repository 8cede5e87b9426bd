"""Options of the ``[database]`` group.

The options themselves are oslo.db's; doctor only sets its embedded default,
a SQLite file under ``[DEFAULT] state_path``.
"""

from oslo_config import cfg
from oslo_db import options as db_options

DEFAULT_CONNECTION = 'sqlite:///$state_path/doctor.sqlite'


def register_opts(conf: cfg.ConfigOpts) -> None:
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    return [('database', db_options.database_opts)]
