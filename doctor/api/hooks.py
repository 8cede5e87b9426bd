"""Pecan hooks: what every request finds on ``pecan.request``.

* ``request.conf``: the service's configuration;
* ``request.action_schemes``: the URL schemes the notifier plugins serve;
* ``request.context``: the caller, a :class:`RequestContext`;
* ``request.dbapi``: the storage :class:`doctor.db.api.Connection`;
* ``request.evaluator_api``: the RPC client of the evaluators;
* ``request.inspector_api``: the RPC client of the inspectors;
* ``request.notifier``: the notifier of the API's ``alarm.*``
  notifications.
"""

from collections.abc import Iterable

from oslo_config import cfg
from pecan import hooks

from doctor.api import policy
from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.evaluator import rpcapi as evaluator_rpcapi
from doctor.inspector import rpcapi as inspector_rpcapi
from doctor.policies import base as base_policies


class ConfigHook(hooks.PecanHook):
    """Puts the configuration and the known action schemes on requests."""

    def __init__(self, conf: cfg.ConfigOpts,
                 action_schemes: Iterable[str]) -> None:
        self.conf = conf
        self.action_schemes = frozenset(action_schemes)

    def before(self, state) -> None:
        state.request.conf = self.conf
        state.request.action_schemes = self.action_schemes


class ContextHook(hooks.PecanHook):
    """Builds the caller's context from the identity headers.

    keystonemiddleware sets X-User-Id, X-Project-Id and X-Roles from the
    validated token (and drops whatever the client sent); with
    ``auth_strategy = noauth`` the client's own headers are believed. The
    request id comes from oslo.middleware's request_id middleware.
    """

    def before(self, state) -> None:
        state.request.context = doctor_context.RequestContext.from_environ(
            state.request.environ)


class PolicyHook(hooks.PecanHook):
    """Marks the context as admin when the policy says the caller is one."""

    def before(self, state) -> None:
        context = state.request.context
        context.is_admin = policy.check(base_policies.CONTEXT_IS_ADMIN, {},
                                        context)


class DBHook(hooks.PecanHook):
    """Puts the app's one storage connection on requests."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.connection = db_api.get_connection(conf)

    def before(self, state) -> None:
        state.request.dbapi = self.connection


class RPCHook(hooks.PecanHook):
    """Puts the RPC clients and the API's notifier on requests."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.evaluator_api = evaluator_rpcapi.EvaluatorAPI(conf)
        self.inspector_api = inspector_rpcapi.InspectorAPI(conf)
        self.notifier = rpc.get_notifier(conf, 'doctor.api.%s' % conf.host)

    def before(self, state) -> None:
        state.request.evaluator_api = self.evaluator_api
        state.request.inspector_api = self.inspector_api
        state.request.notifier = self.notifier
