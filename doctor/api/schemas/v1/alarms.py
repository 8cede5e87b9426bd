"""Request bodies of ``/v1/alarms``: POST creates, PUT replaces.

The schemas check shapes and types; what depends on the configuration or
the caller (whether ``resource_id`` may be left out, which action schemes
exist, who may name another project) is checked by the controller.
"""

import copy
from typing import Any

from doctor.api import validation
from doctor.db import api as db_api
from doctor.evaluator import rule as rule_mod

ALARM_TYPES = ('notification',)
SEVERITIES = ('low', 'moderate', 'critical')
ACTION_FIELDS = ('alarm_actions', 'ok_actions', 'insufficient_data_actions')
MAX_TIMEOUT = 365 * 24 * 3600

_identifier = {'type': 'string', 'minLength': 1, 'maxLength': 128}

_query_item = {
    'type': 'object',
    'properties': {
        'field': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'op': {'enum': list(rule_mod.OPERATORS)},
        'value': {'type': ['string', 'number', 'boolean']},
        'type': {'enum': list(rule_mod.CONVERTERS)},
    },
    'required': ['field', 'value'],
    'additionalProperties': False,
}

_notification_rule = {
    'type': 'object',
    'properties': {
        'event_type': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'query': {'type': 'array', 'items': _query_item, 'maxItems': 50},
        'timeout': {'type': 'number', 'exclusiveMinimum': 0,
                    'maximum': MAX_TIMEOUT},
    },
    'required': ['event_type'],
    'additionalProperties': False,
}

_actions = {
    'type': 'array',
    'items': {'type': 'string', 'minLength': 1, 'maxLength': 2048},
    'uniqueItems': True,
}

CREATE = {
    'type': 'object',
    'properties': {
        'name': {'type': 'string', 'minLength': 1, 'maxLength': 255},
        'description': {'type': ['string', 'null'], 'maxLength': 4096},
        'type': {'enum': list(ALARM_TYPES)},
        'enabled': {'type': 'boolean'},
        'severity': {'enum': list(SEVERITIES)},
        'state': {'enum': list(db_api.ALARM_STATES)},
        'project_id': _identifier,
        'user_id': _identifier,
        'resource_id': {
            'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255,
            'pattern': r'^[^\s\x00-\x1f\x7f]+$',
            'description': 'must be 1 to 255 characters with no '
                           'whitespace or control characters',
        },
        'notification_rule': _notification_rule,
        'alarm_actions': _actions,
        'ok_actions': _actions,
        'insufficient_data_actions': _actions,
        'repeat_actions': {'type': 'boolean'},
    },
    'required': ['name', 'notification_rule'],
    'additionalProperties': False,
}

# A replacement may carry back what GET returned; the read-only fields are
# accepted and ignored (alarm_id must be the alarm's own).
UPDATE: dict[str, Any] = copy.deepcopy(CREATE)
UPDATE['properties'].update({
    'alarm_id': {'type': 'string'},
    'state_reason': {'type': ['string', 'null']},
    'state_timestamp': {'type': ['string', 'null']},
    'timestamp': {'type': ['string', 'null']},
})

_create_validator = validation.make_validator(CREATE)
_update_validator = validation.make_validator(UPDATE)


def validate_create(body: Any) -> dict:
    """Check the body of ``POST /v1/alarms``.

    :raises Invalid: naming the first offending field.
    """
    validation.check(_create_validator, body)
    return body


def validate_update(body: Any) -> dict:
    """Check the body of ``PUT /v1/alarms/{alarm_id}``.

    :raises Invalid: naming the first offending field.
    """
    validation.check(_update_validator, body)
    return body
