"""The policy enforcer of doctor's API and the checks controllers call."""

from collections.abc import Mapping
import sys
import threading
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from doctor import conf as doctor_conf
from doctor import policies
from doctor.common import context as doctor_context
from doctor.common import exception

_lock = threading.Lock()
_enforcer: policy.Enforcer | None = None

_CONFIG_ARGS = ('--config-file', '--config-dir')


def init_enforcer(conf: cfg.ConfigOpts) -> policy.Enforcer:
    """The enforcer of ``conf`` with doctor's default rules registered.

    One enforcer serves the process; asking for another configuration
    replaces it.
    """
    global _enforcer
    with _lock:
        if _enforcer is None or _enforcer.conf is not conf:
            enforcer = policy.Enforcer(conf)
            enforcer.register_defaults(policies.list_rules())
            _enforcer = enforcer
        return _enforcer


def _config_args(argv: list[str]) -> list[str]:
    kept = []
    args = iter(argv)
    for arg in args:
        if arg.split('=', 1)[0] in _CONFIG_ARGS:
            kept.append(arg)
            if '=' not in arg:
                kept.append(next(args, ''))
    return kept


def get_enforcer() -> policy.Enforcer:
    """The enforcer of the global configuration, for oslo.policy's tools.

    The tools (``oslopolicy-policy-generator``, ``oslopolicy-checker``, …)
    run with a command line of their own: only its ``--config-file`` and
    ``--config-dir`` options are passed on to doctor's configuration, so
    that the policy file it names is the one read.
    """
    conf = doctor_conf.CONF
    conf(_config_args(sys.argv[1:]), project='doctor')
    return init_enforcer(conf)


def _current() -> policy.Enforcer:
    if _enforcer is None:
        raise exception.ConfigInvalid(
            reason='the policy enforcer is not initialised')
    return _enforcer


def authorize(rule: str, target: Mapping[str, Any],
              context: doctor_context.RequestContext) -> None:
    """Check that ``context`` may do ``rule`` to ``target``.

    :raises PolicyNotAuthorized: if the policy says no.
    """
    try:
        _current().authorize(rule, target, context, do_raise=True,
                             exc=exception.PolicyNotAuthorized, action=rule)
    except policy.InvalidScope:
        raise exception.PolicyNotAuthorized(action=rule)


def check(rule: str, target: Mapping[str, Any],
          context: doctor_context.RequestContext) -> bool:
    """Whether ``context`` may do ``rule`` to ``target``; never raises."""
    try:
        return bool(_current().authorize(rule, target, context))
    except policy.InvalidScope:
        return False
