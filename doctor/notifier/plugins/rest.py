"""The ``http:`` and ``https:`` notifiers: webhooks."""

import socket
import ssl
import time
from urllib import parse
from urllib import request

from oslo_config import cfg
from oslo_log import log
from oslo_serialization import jsonutils
import urllib3

from doctor.common import exception
from doctor.notifier import targets
from doctor.notifier.plugins import base

LOG = log.getLogger(__name__)

_RETRIED_STATUSES = frozenset((429, 500, 502, 503, 504))


class RestAlarmNotifier(base.AlarmNotifier):
    """POSTs the alarm as JSON, with retries and exponential backoff.

    Connections are pooled and kept alive per host, so a consumer that
    receives many alarms pays the TCP (and TLS) handshake once. The POST
    goes through urllib3 itself: requests' session layers (hooks, cookies,
    settings merged from the environment on every call) cost more CPU
    than the request, and a burst of alarms is hundreds of them.

    Proxies come from the environment (``http_proxy``, ``https_proxy``,
    ``no_proxy``), read when the plugin starts; ``no_proxy`` is read again
    for each POST while a proxy is configured.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        opts = conf.notifier
        tls: dict = {}
        if opts.ssl_verify:
            tls['cert_reqs'] = ssl.CERT_REQUIRED
            if opts.ssl_ca_file:
                tls['ca_certs'] = opts.ssl_ca_file
        else:
            tls['cert_reqs'] = ssl.CERT_NONE
        if opts.ssl_client_cert:
            tls['cert_file'] = opts.ssl_client_cert
            if opts.ssl_client_key:
                tls['key_file'] = opts.ssl_client_key
        self._pool_args = dict(num_pools=16, maxsize=opts.workers,
                               retries=False, **tls)
        self._direct = urllib3.PoolManager(**self._pool_args)
        self._proxies = request.getproxies_environment()
        self._proxy_managers: dict[str, urllib3.ProxyManager] = {}
        self._timeout = urllib3.Timeout(connect=opts.http_connect_timeout,
                                        read=opts.http_read_timeout)
        self._retries = opts.max_retries
        self._backoff = opts.retry_backoff
        self._targets = targets.TargetPolicy.from_conf(conf)

    def _manager(self, action: parse.SplitResult) -> urllib3.PoolManager:
        """The pool for ``action``: direct, or through its proxy."""
        proxy = self._proxies.get(action.scheme)
        # With a proxy configured, no_proxy is read at each POST.
        if not proxy or request.proxy_bypass(action.hostname or ''):
            return self._direct
        manager = self._proxy_managers.get(proxy)
        if manager is None:
            manager = urllib3.ProxyManager(proxy, **self._pool_args)
            self._proxy_managers[proxy] = manager
        return manager

    def notify(self, action: parse.SplitResult, body: dict,
               request_id: str) -> None:
        manager = self._manager(action)
        data = jsonutils.dump_as_bytes(body)
        headers = {'Content-Type': 'application/json',
                   'X-Openstack-Request-Id': request_id}
        url = action.geturl()
        if action.username is not None:
            # Credentials in the URL are sent as HTTP basic authentication.
            credentials = '%s:%s' % (parse.unquote(action.username),
                                     parse.unquote(action.password or ''))
            headers['Authorization'] = urllib3.util.make_headers(
                basic_auth=credentials)['authorization']
            url = action._replace(
                netloc=action.netloc.rpartition('@')[2]).geturl()
        attempt = 0
        while True:
            try:
                response = self._post(manager, action, url, data, headers)
            except urllib3.exceptions.HTTPError as e:
                reason = _describe(e)
                retry = True
            else:
                if response.status < 300:
                    return
                reason = 'HTTP %d' % response.status
                retry = response.status in _RETRIED_STATUSES
            if not retry or attempt >= self._retries:
                # An answer such as 400 or 404 would come again: the
                # deliverer attempts only the others again later.
                raise exception.DeliveryFailed(
                    action=base.safe_url(action),
                    reason='%s after %d attempt(s)' % (reason, attempt + 1),
                    permanent=not retry)
            delay = self._backoff * (2 ** attempt)
            LOG.info('Delivery of alarm %s to %s failed (%s); retrying in '
                     '%.2f s', body.get('alarm_id'), base.safe_url(action),
                     reason, delay)
            attempt += 1
            time.sleep(delay)

    def _post(self, manager: urllib3.PoolManager,
              action: parse.SplitResult, url: str, data: bytes,
              headers: dict) -> urllib3.BaseHTTPResponse:
        """POST once to the address that ``[notifier]`` policy checked.

        The host is resolved here and the connection goes to the address
        that was checked, with the name kept for the Host header and for
        TLS (SNI and certificate): a name cannot resolve to an allowed
        address for the check and to a denied one for the connection.
        Through a proxy, which connects by itself, the addresses the name
        resolves to here are checked, if it resolves here (a literal
        address always does).

        :raises TargetDenied: for an address in a denied network.
        """
        host = action.hostname or ''
        port = action.port or (443 if action.scheme == 'https' else 80)
        target = base.safe_url(action)
        try:
            address: str | None = self._targets.resolve(target, host, port)
        except socket.gaierror as e:
            if manager is self._direct:
                raise urllib3.exceptions.NameResolutionError(
                    host, None, e)  # type: ignore[arg-type]
            # Perhaps only the proxy can resolve the name.
            address = None
        if manager is not self._direct:
            return manager.request('POST', url, body=data, headers=headers,
                                   timeout=self._timeout, redirect=False,
                                   preload_content=True)
        assert address is not None
        pool_kwargs = {}
        if action.scheme == 'https' and targets.literal_address(host) is None:
            pool_kwargs['server_hostname'] = host
        pool = self._direct.connection_from_host(
            address, port, action.scheme, pool_kwargs=pool_kwargs)
        path = parse.urlunsplit(('', '', action.path or '/', action.query,
                                 ''))
        headers = dict(headers, Host=action.netloc.rpartition('@')[2])
        return pool.urlopen('POST', path, body=data, headers=headers,
                            retries=False, redirect=False,
                            assert_same_host=False, timeout=self._timeout,
                            preload_content=True)

    def close(self):
        self._direct.clear()
        for manager in self._proxy_managers.values():
            manager.clear()


def _describe(error: Exception) -> str:
    """The error of a failed POST, by its cause, without the URL.

    urllib3 wraps the cause (a refused connection, a certificate refused,
    a timeout) in errors whose text repeats the URL, credentials included.
    """
    cause = error
    # NewConnectionError is a ConnectTimeoutError too: test it first.
    while True:
        reason = getattr(cause, 'reason', None)
        if not isinstance(reason, Exception):
            break
        cause = reason
    if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
        return 'ReadTimeout: no answer in time'
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        return 'ConnectionError: %s' % str(cause).rsplit(': ', 1)[-1]
    if isinstance(cause, urllib3.exceptions.ConnectTimeoutError):
        return 'ConnectTimeout: no connection in time'
    if isinstance(cause, ssl.SSLError):
        return 'SSLError: %s' % (getattr(cause, 'reason', None) or cause)
    return '%s: %s' % (type(cause).__name__, cause)
