"""Entry points for oslo-config-generator."""

from doctor.conf import api
from doctor.conf import consumer
from doctor.conf import database
from doctor.conf import default
from doctor.conf import evaluator
from doctor.conf import notifier
from doctor.conf import upgrade_levels

_MODULES = (default, api, consumer, database, evaluator, notifier,
            upgrade_levels)


def list_opts():
    """Return doctor's own options, grouped, for the sample config."""
    return [item for module in _MODULES for item in module.list_opts()]


def set_lib_defaults():
    """Set the defaults doctor gives to its libraries' options."""
    from doctor import conf
    from doctor.common import rpc
    rpc.set_defaults(conf.CONF)
