"""Request body of ``POST /v1/faults/{fault_id}/checkpoints``.

What a consumer reached of a fault's alarms: each checkpoint names one of
the profiler's checkpoints, its time (ISO 8601) and the alarm. That the
time is a time is checked by the controller.
"""

from typing import Any

from doctor.api import validation
from doctor.profiler import checkpoints

MAX_CHECKPOINTS = 1000

CHECKPOINT = {
    'type': 'object',
    'properties': {
        'name': {'enum': list(checkpoints.NAMES)},
        'timestamp': {'type': 'string', 'minLength': 1, 'maxLength': 64},
        'alarm_id': {'type': 'string', 'minLength': 1, 'maxLength': 36},
        'component': {'type': 'string', 'minLength': 1, 'maxLength': 64},
    },
    'required': ['name', 'timestamp', 'alarm_id'],
    'additionalProperties': False,
}

BODY = {
    'type': 'object',
    'properties': {
        'checkpoints': {'type': 'array', 'items': CHECKPOINT,
                        'minItems': 1, 'maxItems': MAX_CHECKPOINTS},
    },
    'required': ['checkpoints'],
    'additionalProperties': False,
}

_validator = validation.make_validator(BODY)


def validate(body: Any) -> dict:
    """Check the body.

    :raises Invalid: naming the first offending field, such as
        ``checkpoints[1].name``.
    """
    validation.check(_validator, body)
    return body
