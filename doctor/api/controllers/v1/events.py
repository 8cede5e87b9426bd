"""``/v1/events``: raw failures, reported by monitors to the inspector.

A monitor posts a list of events, each saying that a host went down (or
came back). The inspector opens a fault for each host reported down, or
finds the one it already has (several monitors, or the same one again,
make one fault), and answers before it acts: the answer, 202, carries the
fault id of each event, in the order of the events.
"""

import datetime
from http import client as http_client

from oslo_utils import timeutils
from oslo_utils import uuidutils
import pecan

from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import inspection
from doctor.api.schemas.v1 import events as event_schema
from doctor.common import exception
from doctor.i18n import _
from doctor.policies import events as event_policies

REFUSED = _('Policy does not allow %s to be performed: by default only '
            'administrators (monitors) may report failures.')


def _time(value: str, index: int) -> str:
    """An event's time as ISO 8601 in UTC, with its offset.

    A time without an offset is taken as UTC.

    :raises InvalidField: if ``value`` is not an ISO 8601 time.
    """
    try:
        when = timeutils.parse_isotime(value)
        return when.astimezone(datetime.timezone.utc).isoformat(
            timespec='microseconds')
    except (ValueError, OverflowError):
        raise exception.InvalidField(
            field='[%d].time' % index,
            reason=_('%r is not an ISO 8601 time, such as '
                     '2024-05-01T10:00:00.123456+00:00') % value)


def normalise(events: list[dict]) -> list[dict]:
    """The events as the inspector takes them.

    Each has an id (a new UUID when the monitor gave none), its time in
    UTC with an offset, and its details with an explicit status.
    """
    normalised = []
    for index, event in enumerate(events):
        details = dict(event['details'])
        details.setdefault('status', event_schema.DOWN)
        normalised.append({
            'id': event.get('id') or uuidutils.generate_uuid(),
            'time': _time(event['time'], index),
            'type': event['type'],
            'details': details,
        })
    return normalised


class EventsController(base.RestController):
    """``/v1/events``: report raw failures."""

    @pecan.expose('json')
    def post(self) -> dict:
        """Hand the events to an inspector; answers 202 with the fault ids.
        """
        context = inspection.enforce(event_policies.CREATE, REFUSED)
        inspection.no_query_parameters()
        request = pecan.request
        body = validation.json_body(request)
        if isinstance(body, list) and not (
                1 <= len(body) <= event_schema.MAX_EVENTS):
            raise exception.Invalid(
                reason=_('the request body must be a list of 1 to %d '
                         'events, not %d')
                % (event_schema.MAX_EVENTS, len(body)))
        events = normalise(event_schema.validate(body))
        inspector = request.inspector_api
        fault_ids = inspection.call_inspector(
            'a report of %d event(s)' % len(events),
            lambda: inspector.report_failures(context, events))
        pecan.response.status = http_client.ACCEPTED
        return {'fault_ids': list(fault_ids)}
