"""doctor-monitor's raw failures, and how they reach ``POST /v1/events``.

An event is posted from a thread of its own, so that a slow or failing
API never holds up the probes. Events are posted in the order they were
detected, all those waiting in one request; one that fails to reach the
API (connection refused, timeout, a 5xx) is tried again with a growing
delay and never dropped while the monitor runs. One the API refuses (a 4xx)
is logged with the API's message and not tried again: when it was part
of a batch, the events of that batch are posted one by one first, so that
one unknown host does not take the others' events down with it.
"""

import collections
from collections.abc import Iterable
import datetime
import enum
import threading

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from oslo_log import log
from oslo_utils import uuidutils

from doctor.common import exception

LOG = log.getLogger(__name__)

GROUP = 'monitor'
EVENT_TYPE = 'compute.host.down'
DOWN = 'down'
UP = 'up'

# The identity doctor-api believes under [api] auth_strategy = noauth; the
# user id is the monitor's name.
NOAUTH_PROJECT_ID = 'service'
NOAUTH_ROLES = 'admin'

MAX_BATCH = 100
RETRY_FIRST = 0.1
RETRY_MAX = 5.0
# Client errors that say "later", not "never".
_RETRIED_CLIENT_ERRORS = frozenset((408, 429))


def iso_time(wall: float) -> str:
    """``wall`` (seconds since the epoch) as ISO 8601 UTC, microseconds."""
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).isoformat(timespec='microseconds')


def host_event(hostname: str, status: str, monitor: str,
               monitor_event_id: str, detected: float) -> dict:
    """A raw failure (or recovery) of ``hostname``, as the API takes it.

    ``monitor_event_id`` names the failure as this monitor saw it: the
    ``down`` event and the ``up`` event that ends it carry the same one.
    ``detected`` is the wall-clock time of the detection.
    """
    return {
        'id': uuidutils.generate_uuid(),
        'time': iso_time(detected),
        'type': EVENT_TYPE,
        'details': {
            'hostname': hostname,
            'status': status,
            'monitor': monitor,
            'monitor_event_id': monitor_event_id,
        },
    }


def make_session(conf, group: str = GROUP) -> ks_session.Session:
    """A keep-alive HTTP session to doctor's API, from ``[group]``'s
    options: authenticated if its ``auth_type`` is set.

    :raises ConfigInvalid: if the authentication options are incomplete.
    """
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
        return ks_loading.load_session_from_conf_options(conf, group,
                                                         auth=auth)
    except ks_exceptions.ClientException as e:
        raise exception.ConfigInvalid(
            reason='[%s] authentication: %s' % (group, e)) from e


def noauth_headers(monitor: str) -> dict[str, str]:
    """What a monitor without Keystone says it is (noauth API only)."""
    return {'X-User-Id': monitor, 'X-Project-Id': NOAUTH_PROJECT_ID,
            'X-Roles': NOAUTH_ROLES}


class _Outcome(enum.Enum):
    SENT = 'sent'
    REFUSED = 'refused'
    SPLIT = 'split'
    RETRY = 'retry'


def describe(events: Iterable[dict]) -> str:
    """The events' ids, hosts and statuses, for the log."""
    return ', '.join('%s (%s %s)' % (event['id'],
                                     event['details']['hostname'],
                                     event['details']['status'])
                     for event in events)


def reason(error: BaseException) -> str:
    """The heart of ``error``: the system error under a connection error.

    keystoneauth's and urllib3's messages wrap it in long text; the
    operator needs "Connection refused".
    """
    seen = error
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return '%s (%s)' % (cause.strerror, type(error).__name__)
        seen = cause
        cause = cause.__cause__ or cause.__context__
    text = str(seen) or type(seen).__name__
    return text if len(text) <= 300 else text[:297] + '...'


def api_message(response) -> str:
    """The error message of a doctor-api answer, or the start of its body.
    """
    try:
        body = response.json()
        return str(body['error_message']['faultstring'])
    except (ValueError, KeyError, TypeError):
        return (response.text or '').strip()[:300] or response.reason or ''


class EventPoster:
    """Posts events to ``[monitor] api_url`` from a thread of its own.

    :param session: the HTTP session to post with (tests); by default one
        made from ``[monitor]``'s keystoneauth options.
    """

    def __init__(self, conf, session: ks_session.Session | None = None
                 ) -> None:
        self.conf = conf
        self.url = conf.monitor.api_url.rstrip('/') + '/v1/events'
        self.retry_first = RETRY_FIRST
        self.retry_max = RETRY_MAX
        self._session = session
        self._headers: dict[str, str] = {}
        self._queue: collections.deque[dict] = collections.deque()
        self._changed = threading.Condition()
        self._stopping = False
        # Events at the head of the queue to post one at a time.
        self._solo = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._session is None:
            self._session = make_session(self.conf)
        if self._session.auth is None:
            self._headers = noauth_headers(self.conf.monitor.name)
        self._stopping = False
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-monitor-poster',
                                        daemon=True)
        self._thread.start()

    def post(self, event: dict) -> None:
        """Queue ``event``; it is posted as soon as those before it are."""
        with self._changed:
            self._queue.append(event)
            self._changed.notify_all()

    def pending(self) -> list[dict]:
        """Events not posted yet, oldest first."""
        with self._changed:
            return list(self._queue)

    def stop(self, timeout: float | None = None) -> None:
        """Post what can be posted at once, then stop.

        Events the API cannot take right now are logged, not kept: the
        monitor's state goes with its process.
        """
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        left = self.pending()
        if left:
            LOG.warning('Stopped with %d event(s) not posted: %s',
                        len(left), describe(left))

    def _run(self) -> None:
        delay = self.retry_first
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._queue or self._stopping)
                if not self._queue:
                    return
                size = 1 if self._solo else MAX_BATCH
                batch = [self._queue[i]
                         for i in range(min(size, len(self._queue)))]
            try:
                outcome = self._send(batch)
            except Exception:
                LOG.exception('Posting %s failed', describe(batch))
                outcome = _Outcome.RETRY
            if outcome is _Outcome.SPLIT:
                self._solo = len(batch)
                continue
            if outcome is _Outcome.RETRY:
                with self._changed:
                    if self._stopping:
                        return
                    self._changed.wait_for(lambda: self._stopping, delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_first
            with self._changed:
                for _ in batch:
                    self._queue.popleft()
                self._solo = max(0, self._solo - len(batch))

    def _send(self, batch: list[dict]) -> _Outcome:
        assert self._session is not None
        failure = None
        try:
            response = self._session.post(
                self.url, json=batch, headers=self._headers,
                raise_exc=False, connect_retries=0)
        except ks_exceptions.ClientException as e:
            failure = reason(e)
        if failure is not None:
            # Connection refused or reset, a timeout, Keystone unreachable:
            # the API may take the events later. (Logged out of the except
            # block, where oslo.log would repeat the whole exception.)
            LOG.warning('Posting %s to %s failed, will retry: %s',
                        describe(batch), self.url, failure)
            return _Outcome.RETRY
        status = response.status_code
        if 200 <= status < 300:
            try:
                faults = response.json().get('fault_ids')
            except (ValueError, AttributeError):
                faults = None
            LOG.info('Posted %s: %d, faults %s', describe(batch), status,
                     faults)
            return _Outcome.SENT
        message = api_message(response)
        if status >= 500 or status in _RETRIED_CLIENT_ERRORS:
            LOG.warning('Posting %s: the API answered %d (%s), will retry',
                        describe(batch), status, message)
            return _Outcome.RETRY
        if len(batch) > 1:
            LOG.warning('The API refused %d events at once with %d (%s); '
                        'posting them one by one', len(batch), status,
                        message)
            return _Outcome.SPLIT
        LOG.error('The API refused event %s with %d: %s; not retried',
                  describe(batch), status, message)
        return _Outcome.REFUSED
