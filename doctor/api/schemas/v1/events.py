"""Request body of ``POST /v1/events``: raw failures from monitors.

The body is a JSON list of events, each naming a host that went down (or
came back), ``compute.host.down``, or an instance whose guest stopped
answering its heartbeats or failed its health check (or recovered),
``compute.instance.down``. A monitor may add details of its own beside
the documented ones: they are kept with the fault's reports. What the
schema cannot say (that ``time`` is an ISO 8601 time, how many events a
request may carry) is checked by the controller.
"""

from typing import Any

from doctor.api import validation

HOST_DOWN = 'compute.host.down'
INSTANCE_DOWN = 'compute.instance.down'
EVENT_TYPES = (HOST_DOWN, INSTANCE_DOWN)
DOWN = 'down'
UP = 'up'
STATUSES = (DOWN, UP)
MAX_EVENTS = 1000

_text = {'type': 'string', 'maxLength': 255}

EVENT = {
    'type': 'object',
    'properties': {
        'id': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'time': {'type': 'string', 'minLength': 1, 'maxLength': 64},
        'type': {'enum': list(EVENT_TYPES)},
        'details': {
            'type': 'object',
            'properties': {
                'hostname': {'type': 'string', 'minLength': 1,
                             'maxLength': 255},
                'status': {'enum': list(STATUSES)},
                'monitor': _text,
                'monitor_event_id': _text,
                'instance_id': {'type': 'string', 'minLength': 1,
                                'maxLength': 255},
                'reason': {'type': 'string', 'maxLength': 1024},
            },
        },
    },
    'required': ['time', 'type', 'details'],
    'additionalProperties': False,
    # A host fault names its host; an instance fault its instance (and
    # may name the host the reporting agent runs on).
    'allOf': [
        {'if': {'properties': {'type': {'const': HOST_DOWN}}},
         'then': {'properties': {'details': {'required': ['hostname']}}}},
        {'if': {'properties': {'type': {'const': INSTANCE_DOWN}}},
         'then': {'properties': {'details': {
             'required': ['instance_id']}}}},
    ],
}

EVENTS = {
    'type': 'array',
    'items': EVENT,
    'minItems': 1,
    'maxItems': MAX_EVENTS,
}

_validator = validation.make_validator(EVENTS)


def validate(body: Any) -> list[dict]:
    """Check the body of ``POST /v1/events``.

    :raises Invalid: naming the first offending field, such as
        ``[2].details.hostname``.
    """
    validation.check(_validator, body)
    return body
