"""How a consumer reports checkpoints 9 and 10 to doctor-api.

The sample consumer uses it; a VNF manager can do the same in a few lines
(see the user guide): POST ``{"checkpoints": [...]}`` to
``/v1/faults/{fault_id}/checkpoints``.
"""

import typing

from oslo_log import log

from doctor.monitor import events as monitor_events
from doctor.profiler import checkpoints
from doctor.profiler import recorder as recorder_mod

LOG = log.getLogger(__name__)

GROUP = 'consumer'

# The identity doctor-api believes under [api] auth_strategy = noauth.
NOAUTH_HEADERS = {'X-User-Id': 'doctor-consumer', 'X-Project-Id': 'service',
                  'X-Roles': 'admin'}


def http_writer(session: typing.Any,
                api_url: str | typing.Callable[[], str],
                headers: dict[str, str]) -> recorder_mod.Writer:
    """A recorder's writer that posts each fault's checkpoints at once.

    :param api_url: the API's root URL, or what gives it when the first
        batch is written (an API on a port picked at start).
    """
    def write(batch: list[dict]) -> None:
        base = (api_url() if callable(api_url) else api_url).rstrip('/')
        by_fault: dict[str, list[dict]] = {}
        for entry in batch:
            by_fault.setdefault(entry['fault_id'], []).append({
                'name': entry['name'],
                'timestamp': checkpoints.iso(entry['timestamp']),
                'alarm_id': entry['alarm_id']})
        for fault_id, entries in by_fault.items():
            response = session.post(
                '%s/v1/faults/%s/checkpoints' % (base, fault_id),
                json={'checkpoints': entries}, headers=headers,
                raise_exc=False)
            if response.status_code >= 400:
                LOG.warning('doctor-api refused %d checkpoints of fault '
                            '%s: %d %s', len(entries), fault_id,
                            response.status_code,
                            (response.text or '')[:300])
    return write


def consumer_recorder(conf, api_url: typing.Callable[[], str] | None = None
                      ) -> recorder_mod.Recorder | None:
    """The sample consumer's recorder, or None if it does not report.

    :param api_url: gives the API's URL; by default ``[consumer] api_url``.

    :raises ConfigInvalid: if the authentication options are incomplete.
    """
    if not conf.consumer.report_checkpoints:
        return None
    session = monitor_events.make_session(conf, GROUP)
    headers = {} if session.auth is not None else dict(NOAUTH_HEADERS)
    return recorder_mod.Recorder(
        http_writer(session, api_url or conf.consumer.api_url, headers),
        capacity=conf.profiler.buffer_size,
        interval=conf.profiler.flush_interval,
        max_delay=conf.profiler.flush_max_delay)
