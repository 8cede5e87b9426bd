"""From a schema-checked request body to the values of a stored alarm.

What the schema cannot say is checked here: that the query values convert
to their types, that ``resource_id`` is there unless the configuration
allows alarms without one, and that every action has a notifier and one
the caller may use.
"""

from collections.abc import Collection
import datetime
from urllib import parse

from oslo_config import cfg

from doctor.api import policy
from doctor.api.schemas.v1 import alarms as alarm_schema
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.evaluator import event_scope
from doctor.evaluator import rule as rule_mod
from doctor.i18n import _
from doctor.notifier import targets
from doctor.policies import alarms as alarm_policies

# Schemes whose notifier writes into doctor itself (its log, its memory):
# for operators and tests, not for tenants.
INTERNAL_SCHEMES = frozenset(('log', 'test'))
_HOST_SCHEMES = frozenset(('http', 'https'))


def notification_rule(body: dict) -> dict:
    """The stored rule: query defaults filled in, values checked.

    :raises InvalidField: naming the part of the rule that is wrong.
    """
    submitted = body['notification_rule']
    rule: dict = {
        'event_type': submitted['event_type'],
        'query': [{'field': item['field'], 'op': item.get('op', 'eq'),
                   'value': item['value'],
                   'type': item.get('type', 'string')}
                  for item in submitted.get('query', [])],
    }
    if submitted.get('timeout') is not None:
        rule['timeout'] = submitted['timeout']
    rule_mod.compile_rule(rule)
    return rule


def deadline(rule: dict,
             now: datetime.datetime) -> datetime.datetime | None:
    """When the alarm goes to 'insufficient data' without a matching event."""
    timeout = rule.get('timeout')
    if timeout is None:
        return None
    return now + datetime.timedelta(seconds=timeout)


def resource_id(conf: cfg.ConfigOpts, body: dict) -> str | None:
    """The alarm's resource, required unless the configuration allows none.

    :raises InvalidField: when it is required and missing.
    """
    value = body.get('resource_id')
    if value is None and not conf.evaluator.allow_alarms_without_resource:
        raise exception.InvalidField(
            field='resource_id',
            reason=_('this field is required: alarms without a resource '
                     'are not allowed here'))
    return value


def _check_action(name: str, action: str, schemes: Collection[str],
                  context: doctor_context.RequestContext,
                  target: dict, target_policy: targets.TargetPolicy) -> None:
    # Answers show the action with its password masked.
    shown = targets.mask_url(action)
    try:
        parsed = parse.urlsplit(action)
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise exception.InvalidField(
            field=name, reason=_('%(action)r is not a valid URL: %(error)s')
            % {'action': shown, 'error': e})
    if parsed.scheme not in schemes:
        raise exception.InvalidField(
            field=name,
            reason=_('%(action)r has no notifier for its scheme; known '
                     'schemes: %(schemes)s')
            % {'action': shown, 'schemes': ', '.join(sorted(schemes))})
    if parsed.scheme in _HOST_SCHEMES and not parsed.hostname:
        raise exception.InvalidField(
            field=name, reason=_('%r names no host') % shown)
    if parsed.scheme in _HOST_SCHEMES:
        # A literal address is checked now; a name when it is resolved,
        # at each delivery.
        try:
            target_policy.check_literal(repr(shown),
                                        parsed.hostname or '')
        except exception.TargetDenied as e:
            raise exception.InvalidField(field=name, reason=str(e))
    if (parsed.scheme in INTERNAL_SCHEMES and not policy.check(
            alarm_policies.INTERNAL_ACTIONS, target, context)):
        raise exception.Forbidden(
            reason=_('%(field)s: only an administrator may use the '
                     '%(scheme)s: action scheme')
            % {'field': name, 'scheme': parsed.scheme})


def actions(conf: cfg.ConfigOpts, body: dict, schemes: Collection[str],
            context: doctor_context.RequestContext,
            target: dict) -> dict[str, list[str]]:
    """The three action lists of the alarm, each checked.

    :raises InvalidField: for too many actions or an unknown scheme.
    :raises Forbidden: for a scheme the caller may not use.
    """
    result = {}
    limit = conf.api.alarm_max_actions
    target_policy = targets.TargetPolicy.from_conf(conf)
    for field in alarm_schema.ACTION_FIELDS:
        values = list(body.get(field, []))
        if len(values) > limit:
            raise exception.InvalidField(
                field=field, reason=_('%(count)d actions given, at most '
                                      '%(limit)d are allowed')
                % {'count': len(values), 'limit': limit})
        for index, action in enumerate(values):
            _check_action('%s[%d]' % (field, index), action, schemes,
                          context, target, target_policy)
        result[field] = values
    return result


def definition(conf: cfg.ConfigOpts, body: dict, schemes: Collection[str],
               context: doctor_context.RequestContext, target: dict,
               now: datetime.datetime) -> dict:
    """The stored values an alarm body defines, defaults filled in.

    Ownership, state and timestamps are left to the caller, as they differ
    between creation and replacement. ``infrastructure``, whether the alarm
    may see the events that name no project, is not part of the body: it
    is the caller's right to such events, as the policy says now.

    :raises InvalidField: naming ``notification_rule.event_type`` when the
        alarm could see no event of it: every event it matches names no
        project and the caller has no right to those.
    """
    rule = notification_rule(body)
    infrastructure = policy.check(alarm_policies.INFRASTRUCTURE_EVENTS,
                                  target, context)
    if not infrastructure and event_scope.infrastructure_only(
            rule['event_type'], event_scope.definition_scopes(conf)):
        raise exception.InvalidField(
            field='notification_rule.event_type',
            reason=_('%r matches only events that name no project (compute '
                     'services, hosts): such events reach only the alarms '
                     'of callers allowed infrastructure events (policy '
                     'alarm:infrastructure_events), so this alarm could '
                     'never fire') % rule['event_type'])
    values = {
        'name': body['name'],
        'description': body.get('description') or '',
        'type': body.get('type', 'notification'),
        'enabled': body.get('enabled', True),
        'severity': body.get('severity', 'low'),
        'resource_id': resource_id(conf, body),
        'rule': rule,
        'repeat_actions': body.get('repeat_actions', False),
        'deadline': deadline(rule, now),
        'infrastructure': infrastructure,
    }
    values.update(actions(conf, body, schemes, context, target))
    return values
