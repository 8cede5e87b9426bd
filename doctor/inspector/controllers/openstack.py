"""What the ``nova`` and ``neutron`` controllers share: a service's REST API.

Each controller calls its service through a keystoneauth
:class:`~keystoneauth1.adapter.Adapter` made from its option group
(``[nova]``, ``[neutron]``: the same credentials, endpoint and TLS options
as the datasource of that name, see :mod:`doctor.conf.clients`). One
adapter serves every thread of the inspector's pool: keystoneauth fetches
and renews the token under a lock.

At most ``[<group>] max_concurrent_calls`` calls are under way toward
the service at once, whatever the size of the inspector's pool: a
stock nova-api serves 8 requests at a time, and more only queue there,
where they time out while Nova still works on them. A call made with
``priority`` (a host forced down) does not wait for that bound: it is
one call per fault, and everything else of the fault waits for it. The
HTTP connection pool holds a connection for each call allowed at once,
so that calls neither wait for a connection nor open and drop one each.
keystoneauth itself retries nothing here (no ``connect_retries``): the
inspector retries.

How a failed call is reported:

* the service or Keystone unreachable, a timeout, a 5xx or a 429:
  :class:`~doctor.inspector.controllers.base.TransientError`, retried;
* a 3xx: the endpoint is not the versioned API (Nova and Neutron answer
  300 with the versions they have on their root URL, and change
  nothing): :class:`Refused`, final, saying so;
* a 404: :class:`~doctor.common.exception.NotFound` (or the caller's more
  precise error);
* any other 4xx (400, 403, 409, ...), credentials refused, no endpoint in
  the catalog, options that make no client: :class:`Refused`, final.

Each message names the service, what the call was for, the request and
the service's own message.

A call carries ``X-OpenStack-Request-ID`` (the "global request id" Nova
and Neutron log with everything they do for it) when the context has one
of the form ``req-<uuid>``: the caller's request id if it has that form,
else ``req-<fault id>``. The services refuse any other value, and then
make up one of their own.
"""

import re
import threading
import typing
import uuid

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ksa_exc
from keystoneauth1 import loading as ks_loading
from oslo_log import log
import requests
from requests import adapters as requests_adapters

from doctor.common import exception
from doctor.inspector.controllers import base

LOG = log.getLogger(__name__)

# Seconds one HTTP call may take when [<group>] timeout is not set: well
# beyond what a forced down or a reset takes, and short enough that a hung
# service is retried while the fault is fresh.
DEFAULT_TIMEOUT = 10.0
# HTTP connections kept for calls made with priority, beyond the bound.
PRIORITY_CONNECTIONS = 2

# What a versioned endpoint looks like, for messages.
VERSIONED_EXAMPLES = {
    'nova': 'e.g. http://controller:8774/v2.1',
    'neutron': 'e.g. http://controller:9696 (the v2.0 paths are '
               'doctor\'s)',
}

_REQUEST_ID = re.compile(r'^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                         r'[0-9a-f]{4}-[0-9a-f]{12}$')


class Refused(exception.DoctorException):
    """A service refused a call for a reason that trying again won't change.

    ``status`` is the HTTP status, when there was an answer.
    """

    msg_fmt = '%(reason)s'

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def global_request_id(context: base.ActionContext) -> str | None:
    """The ``X-OpenStack-Request-ID`` for a call, or None to send none."""
    if context.request_id and _REQUEST_ID.match(context.request_id):
        return context.request_id
    if context.fault_id:
        try:
            return 'req-%s' % uuid.UUID(context.fault_id)
        except ValueError:
            return None
    return None


def error_message(response: requests.Response) -> str:
    """The service's own message in an error answer, on one line."""
    try:
        document = response.json()
    except ValueError:
        document = None
    message: typing.Any = None
    if isinstance(document, dict):
        # Nova: {"itemNotFound": {"code": 404, "message": ...}}; Neutron:
        # {"NeutronError": {"type": ..., "message": ..., "detail": ...}}.
        message = document.get('message')
        for value in document.values():
            if message is None and isinstance(value, dict):
                message = value.get('message')
    if not message:
        message = response.text or response.reason or ''
    text = ' '.join(str(message).split())
    return text[:500] or 'no message'


def _describe(error: Exception) -> str:
    text = ' '.join(str(error).split())
    name = type(error).__name__
    if not text:
        return name
    return text if text.startswith(name) else '%s: %s' % (name, text)


class ServiceAPI:
    """The REST API of one OpenStack service, as ``[<group>]`` reaches it.

    :param service: how messages name the service, e.g. ``Nova``.
    :param max_concurrent: calls under way at once, besides those made
        with ``priority``.
    """

    def __init__(self, conf, group: str, service: str,
                 max_concurrent: int = 8) -> None:
        self.conf = conf
        self.group = group
        self.service = service
        self.max_concurrent = max_concurrent
        # Room for the priority calls too.
        self.pool_size = max_concurrent + PRIORITY_CONNECTIONS
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._adapter: ks_adapter.Adapter | None = None
        self._lock = threading.Lock()

    def adapter(self) -> ks_adapter.Adapter:
        """The adapter, made on first use.

        :raises Refused: if ``[<group>]`` cannot make one.
        """
        with self._lock:
            if self._adapter is None:
                self._adapter = self._make()
            return self._adapter

    def _make(self) -> ks_adapter.Adapter:
        options = self.conf[self.group]
        try:
            auth = ks_loading.load_auth_from_conf_options(self.conf,
                                                          self.group)
            if auth is None:
                raise Refused('[%s] auth_type is not set: no credentials to '
                              'reach %s' % (self.group, self.service))
            http = requests.Session()
            pool = requests_adapters.HTTPAdapter(
                pool_connections=self.pool_size, pool_maxsize=self.pool_size)
            http.mount('https://', pool)
            http.mount('http://', pool)
            session = ks_loading.load_session_from_conf_options(
                self.conf, self.group, auth=auth, session=http,
                timeout=(options.timeout if options.timeout is not None
                         else DEFAULT_TIMEOUT))
            return ks_loading.load_adapter_from_conf_options(
                self.conf, self.group, session=session, auth=auth)
        except (ksa_exc.ClientException, ValueError) as e:
            raise Refused('%s: invalid [%s] options: %s'
                          % (self.service, self.group, _describe(e)))

    def prepare(self, probe: str | None = None,
                microversion: str | None = None) -> threading.Thread:
        """Authenticate and find the endpoint now, on a thread of its own.

        The first fault then does not wait for a token (half a second from
        a busy Keystone). With ``probe``, a path to GET, the service sees
        the token once too: keystonemiddleware takes up to a second to
        validate a token the first time, which would otherwise fall on
        the first fault's first call, the force-down. A failure is logged
        and left to the first call, which tries again and reports it.
        """
        def run() -> None:
            try:
                adapter = self.adapter()
                adapter.get_token()
                adapter.get_endpoint()
                if probe is not None:
                    self.call('GET', probe, 'check that it answers',
                              microversion=microversion, priority=True)
            except Exception as e:
                LOG.warning('%s: cannot authenticate yet, the first call '
                            'tries again: %s', self.service, _describe(e))

        thread = threading.Thread(target=run, daemon=True,
                                  name='doctor-%s-auth' % self.group)
        thread.start()
        return thread

    def close(self) -> None:
        """Close the HTTP connections; the next call opens new ones."""
        with self._lock:
            adapter, self._adapter = self._adapter, None
        if adapter is not None:
            adapter.session.session.close()

    def call(self, method: str, path: str, what: str,
             body: dict | None = None, *, microversion: str | None = None,
             context: base.ActionContext | None = None,
             priority: bool = False) -> requests.Response:
        """One call; the answer if its status is 2xx.

        :param what: what the call is for, for messages (``force host
            compute-1 down``).
        :param priority: make the call at once, not counted in
            ``max_concurrent``.
        :raises TransientError: for a failure worth trying again.
        :raises NotFound: for a 404.
        :raises Refused: for any other failure.
        """
        if priority:
            return self._call(method, path, what, body, microversion,
                              context)
        with self._slots:
            return self._call(method, path, what, body, microversion,
                              context)

    def _call(self, method: str, path: str, what: str, body: dict | None,
              microversion: str | None,
              context: base.ActionContext | None) -> requests.Response:
        request = '%s %s' % (method, path)
        try:
            response = self.adapter().request(
                path, method, json=body, microversion=microversion,
                global_request_id=(global_request_id(context)
                                   if context is not None else None),
                raise_exc=False)
        except ksa_exc.ConnectionError as e:
            raise base.TransientError('%s unreachable, cannot %s (%s): %s'
                                      % (self.service, what, request,
                                         _describe(e)))
        except ksa_exc.HttpError as e:
            # Raised by the authentication itself: Keystone's answer.
            status = e.http_status or 0
            if status >= 500 or status == 429:
                raise base.TransientError(
                    'Keystone answered %d; cannot %s: %s'
                    % (status, what, _describe(e)))
            raise Refused('%s: the [%s] credentials were refused (Keystone '
                          'answered %d), cannot %s: %s'
                          % (self.service, self.group, status, what,
                             _describe(e)), status)
        except ksa_exc.ClientException as e:
            raise Refused('%s: cannot %s (%s): %s'
                          % (self.service, what, request, _describe(e)))
        status = response.status_code
        if status < 300:
            return response
        if status < 400:
            # Nova and Neutron answer 300 on their root URL, listing their
            # versions, and do nothing.
            raise Refused(
                '%s: cannot %s: %s answered %d from %s, not the versioned '
                'API: set [%s] endpoint_override to the versioned endpoint '
                '(%s), or leave it unset to use the catalog\'s'
                % (self.service, what, request, status,
                   self.adapter().get_endpoint() or 'the endpoint',
                   self.group, VERSIONED_EXAMPLES.get(
                       self.group, 'its URL with the version')), status)
        message = '%s: cannot %s: %s answered %d: %s' % (
            self.service, what, request, status, error_message(response))
        if status >= 500 or status == 429:
            raise base.TransientError(message)
        if status == 404:
            raise exception.NotFound(message)
        if status == 401:
            message = '%s (the [%s] credentials were refused)' % (
                message, self.group)
        raise Refused(message, status)
