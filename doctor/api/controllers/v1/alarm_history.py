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

from doctor.api.schemas.v1 import alarms as alarm_schema
from doctor.common import context as doctor_context
from doctor.db import api as db_api
from doctor.notifier import targets

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


def alarm_view(alarm: dict, mask: bool = True) -> dict:
    """The API's JSON of a stored alarm.

    The actions keep their credentials in the database, for delivery; the
    view masks their passwords unless ``mask`` is false.
    """
    show = targets.mask_url if mask else str
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
        'alarm_actions': [show(a) for a in alarm['alarm_actions']],
        'ok_actions': [show(a) for a in alarm['ok_actions']],
        'insufficient_data_actions': [
            show(a) for a in alarm['insufficient_data_actions']],
        'repeat_actions': alarm['repeat_actions'],
        'state': alarm['state'],
        'state_reason': alarm['state_reason'],
        'state_timestamp': _isotime(alarm['state_timestamp']),
        'timestamp': _isotime(alarm['timestamp']),
    }


def _masked_detail(detail: str) -> str:
    """A history entry's detail with the actions' passwords masked.

    Entries are stored masked; those stored before that was the case are
    masked when read.
    """
    if '@' not in detail:
        return detail
    try:
        values = jsonutils.loads(detail)
    except ValueError:
        return detail
    if not isinstance(values, dict):
        return detail
    for field in alarm_schema.ACTION_FIELDS:
        if isinstance(values.get(field), list):
            values[field] = [targets.mask_url(action)
                             if isinstance(action, str) else action
                             for action in values[field]]
    return jsonutils.dumps(values)


def change_view(change: dict) -> dict:
    """The API's JSON of a history entry; ``detail`` stays a JSON string."""
    return {
        'event_id': change['event_id'],
        'alarm_id': change['alarm_id'],
        'type': change['type'],
        'detail': _masked_detail(change['detail']),
        'timestamp': _isotime(change['timestamp']),
        'on_behalf_of': change['on_behalf_of'],
        'project_id': change['project_id'],
        'user_id': change['user_id'],
        'severity': change['severity'],
    }


def definition_changes(old: dict, new: dict) -> dict:
    """The definition fields whose value differs, with their new value.

    A changed password is a change, shown masked.
    """
    old_view, new_view = (alarm_view(old, mask=False),
                          alarm_view(new, mask=False))
    shown = alarm_view(new)
    return {name: shown[name] for name in DEFINITION_FIELDS
            if old_view[name] != new_view[name]}


def keep_masked_credentials(body: dict, stored: dict) -> None:
    """Put back in ``body`` the stored actions it carries masked.

    A client that sends back what GET returned sends the actions with
    their passwords masked: each such action stands for the stored one,
    whose password is kept.
    """
    for field in alarm_schema.ACTION_FIELDS:
        if field not in body:
            continue
        stored_by_view = {targets.mask_url(action): action
                          for action in stored[field]}
        body[field] = [stored_by_view.get(action, action)
                       for action in body[field]]


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
