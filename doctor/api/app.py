"""The API's WSGI application, wired in code: no paste file.

Requests pass oslo.middleware's request id and proxy header handling, a
safety net that turns any escaping exception into a JSON 500, then
keystonemiddleware (with ``[api] auth_strategy = keystone``; the version
list at ``/`` stays public), then the checks of the raw request (path,
query string, identity headers, body: :mod:`doctor.api.request_checks`),
then the pecan app and its hooks.
"""

from collections.abc import Callable
from collections.abc import Iterable

from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_log import log
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
import pecan

from doctor import objects
from doctor.api import errors
from doctor.api import hooks
from doctor.api import policy
from doctor.api import request_checks
from doctor.api.controllers import root
from doctor.notifier import deliverer

LOG = log.getLogger(__name__)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]

# Paths answered without a token, so that clients can discover versions.
PUBLIC_PATHS = frozenset(('', '/'))


class _PublicPaths:
    """Sends the public paths around the authentication middleware."""

    def __init__(self, authenticated: WSGIApp, public: WSGIApp) -> None:
        self._authenticated = authenticated
        self._public = public

    def __call__(self, environ: dict, start_response: Callable
                 ) -> Iterable[bytes]:
        if environ.get('PATH_INFO', '') in PUBLIC_PATHS:
            return self._public(environ, start_response)
        return self._authenticated(environ, start_response)


def _action_schemes(conf: cfg.ConfigOpts) -> list[str]:
    notifiers = deliverer.load_notifiers(conf)
    schemes = notifiers.names()
    for extension in notifiers:
        if extension.obj is not None:
            extension.obj.close()
    return schemes


def setup_app(conf: cfg.ConfigOpts) -> WSGIApp:
    """The API's WSGI app for ``conf``.

    With ``[api] auth_strategy = keystone`` keystonemiddleware validates
    tokens; it registers its own options (``[keystone_authtoken]``) on
    ``conf``. With ``noauth`` the caller's identity is read from the
    X-User-Id, X-Project-Id and X-Roles headers.
    """
    objects.register_all()
    errors.quiet_pecan_client_errors()
    enforcer = policy.init_enforcer(conf)
    app_hooks = [
        errors.ErrorHook(),
        hooks.ConfigHook(conf, _action_schemes(conf)),
        hooks.ContextHook(),
        hooks.PolicyHook(),
        hooks.DBHook(conf),
        hooks.RPCHook(conf),
    ]
    app: WSGIApp = pecan.make_app(
        root.RootController(), hooks=app_hooks, debug=False,
        force_canonical=False, guess_content_type_from_ext=False)
    app = request_checks.RequestChecks(app, conf.api.max_request_body_size)
    if conf.api.auth_strategy == 'keystone':
        authenticated = auth_token.AuthProtocol(
            app, {'oslo_config_config': conf, 'oslo_config_project':
                  'doctor'})
        app = _PublicPaths(authenticated, app)
    app = errors.ErrorMiddleware(app)
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    app = request_id.RequestId(app)
    LOG.debug('API app ready: auth strategy %s, policy file %s',
              conf.api.auth_strategy, enforcer.policy_file)
    return app
