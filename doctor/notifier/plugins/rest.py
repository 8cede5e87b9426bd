"""The ``http:`` and ``https:`` notifiers: webhooks."""

import time
from urllib import parse
from urllib import request

from oslo_config import cfg
from oslo_log import log
from oslo_serialization import jsonutils
import requests
from requests import adapters

from doctor.common import exception
from doctor.notifier.plugins import base

LOG = log.getLogger(__name__)

_RETRIED_STATUSES = frozenset((429, 500, 502, 503, 504))


class RestAlarmNotifier(base.AlarmNotifier):
    """POSTs the alarm as JSON, with retries and exponential backoff.

    Connections are pooled and kept alive per host, so a consumer that
    receives many alarms pays the TCP (and TLS) handshake once.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        opts = conf.notifier
        self._session = requests.Session()
        # With trust_env, requests reads the proxy and netrc settings from
        # the environment again on every POST, which costs more than the
        # POST itself. Read them once: only when a proxy is configured does
        # each request still consult the environment (for no_proxy).
        if not request.getproxies_environment():
            self._session.trust_env = False
        pool = adapters.HTTPAdapter(pool_connections=16,
                                    pool_maxsize=opts.workers,
                                    max_retries=0)
        self._session.mount('http://', pool)
        self._session.mount('https://', pool)
        self._timeout = (opts.http_connect_timeout, opts.http_read_timeout)
        self._retries = opts.max_retries
        self._backoff = opts.retry_backoff
        self._verify: bool | str = opts.ssl_verify
        if opts.ssl_verify and opts.ssl_ca_file:
            self._verify = opts.ssl_ca_file
        self._cert: str | tuple[str, str] | None = None
        if opts.ssl_client_cert:
            self._cert = (opts.ssl_client_cert if not opts.ssl_client_key
                          else (opts.ssl_client_cert, opts.ssl_client_key))

    def notify(self, action: parse.SplitResult, body: dict,
               request_id: str) -> None:
        url = action.geturl()
        data = jsonutils.dump_as_bytes(body)
        headers = {'Content-Type': 'application/json',
                   'X-Openstack-Request-Id': request_id}
        attempt = 0
        while True:
            try:
                response = self._session.post(
                    url, data=data, headers=headers, timeout=self._timeout,
                    verify=self._verify, cert=self._cert)
            except requests.RequestException as e:
                reason = '%s: %s' % (type(e).__name__, e)
                retry = True
            else:
                if response.status_code < 300:
                    return
                reason = 'HTTP %d' % response.status_code
                retry = response.status_code in _RETRIED_STATUSES
            if not retry or attempt >= self._retries:
                raise exception.DeliveryFailed(
                    action=base.safe_url(action),
                    reason='%s after %d attempt(s)' % (reason, attempt + 1))
            delay = self._backoff * (2 ** attempt)
            LOG.info('Delivery of alarm %s to %s failed (%s); retrying in '
                     '%.2f s', body.get('alarm_id'), base.safe_url(action),
                     reason, delay)
            attempt += 1
            time.sleep(delay)

    def close(self):
        self._session.close()
