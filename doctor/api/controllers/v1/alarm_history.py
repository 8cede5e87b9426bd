"""How alarms and their history look in the API, and how changes are told.

Every change the API makes to an alarm is recorded as a history entry in
the same transaction, then emitted as an ``alarm.*`` notification.
"""

import datetime
from typing import Any

from oslo_log import log
import oslo_messaging as messaging
from oslo_serialization import jsonutils
from oslo_utils import uuidutils

from doctor.common import context as doctor_context
from doctor.db import api as db_api

LOG = log.getLogger(__name__)

EVENT_TYPES = {
    db_api.CHANGE_CREATION: 'alarm.creation',
    db_api.CHANGE_RULE: 'alarm.rule_change',
    db_api.CHANGE_STATE: 'alarm.state_transition',
    db_api.CHANGE_DELETION: 'alarm.deletion',
}

# The fields a user defines; a change to any of them is a 'rule change'.
DEFINITION_FIELDS = (
    'name', 'description', 'type', 'enabled', 'severity', 'project_id',
    'user_id', 'resource_id', 'notification_rule', 'alarm_actions',
    'ok_actions', 'insufficient_data_actions', 'repeat_actions')

STATE_REASON = 'State set through the API.'


def _isotime(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alarm_view(alarm: dict) -> dict:
    """The API's JSON of a stored alarm."""
    return {
        'alarm_id': alarm['alarm_id'],
        'name': alarm['name'],
        'description': alarm['description'],
        'type': alarm['type'],
        'enabled': alarm['enabled'],
        'severity': alarm['severity'],
        'project_id': alarm['project_id'],
        'user_id': alarm['user_id'],
        'resource_id': alarm['resource_id'],
        'notification_rule': alarm['rule'],
        'alarm_actions': alarm['alarm_actions'],
        'ok_actions': alarm['ok_actions'],
        'insufficient_data_actions': alarm['insufficient_data_actions'],
        'repeat_actions': alarm['repeat_actions'],
        'state': alarm['state'],
        'state_reason': alarm['state_reason'],
        'state_timestamp': _isotime(alarm['state_timestamp']),
        'timestamp': _isotime(alarm['timestamp']),
    }


def change_view(change: dict) -> dict:
    """The API's JSON of a history entry; ``detail`` stays a JSON string."""
    return {
        'event_id': change['event_id'],
        'alarm_id': change['alarm_id'],
        'type': change['type'],
        'detail': change['detail'],
        'timestamp': _isotime(change['timestamp']),
        'on_behalf_of': change['on_behalf_of'],
        'project_id': change['project_id'],
        'user_id': change['user_id'],
        'severity': change['severity'],
    }


def definition_changes(old: dict, new: dict) -> dict:
    """The definition fields whose value differs, with their new value."""
    old_view, new_view = alarm_view(old), alarm_view(new)
    return {name: new_view[name] for name in DEFINITION_FIELDS
            if old_view[name] != new_view[name]}


def new_change(context: doctor_context.RequestContext, alarm: dict,
               change_type: str, detail: dict[str, Any],
               timestamp: datetime.datetime) -> dict:
    """A history entry of ``alarm``, made by the caller of ``context``."""
    return {
        'event_id': uuidutils.generate_uuid(),
        'alarm_id': alarm['alarm_id'],
        'type': change_type,
        'detail': jsonutils.dumps(detail),
        'severity': alarm['severity'],
        'on_behalf_of': alarm['project_id'],
        'project_id': context.project_id,
        'user_id': context.user_id,
        'timestamp': timestamp,
    }


def state_change(context: doctor_context.RequestContext, alarm: dict,
                 previous: str, timestamp: datetime.datetime) -> dict:
    """The ``state transition`` entry of a state set through the API."""
    return new_change(context, alarm, db_api.CHANGE_STATE,
                      {'state': alarm['state'], 'previous': previous,
                       'transition_reason': STATE_REASON}, timestamp)


def emit(notifier: messaging.Notifier,
         context: doctor_context.RequestContext,
         changes: list[dict]) -> None:
    """Emit each history entry as an ``alarm.*`` notification at INFO.

    The changes are stored already: a failure to emit is logged and does
    not fail the request.
    """
    for change in changes:
        payload = change_view(change)
        payload['detail'] = jsonutils.loads(change['detail'])
        try:
            notifier.info(context, EVENT_TYPES[change['type']], payload)
        except Exception:
            LOG.exception('Cannot emit %s of alarm %s',
                          EVENT_TYPES[change['type']], change['alarm_id'])
