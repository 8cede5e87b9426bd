"""Policies of the ``/v1/alarms`` resource.

The target of each per-alarm rule is the alarm: its ``project_id`` and
``user_id``. A caller whom the policy refuses an alarm of another project
gets 404, as if the alarm did not exist; refused an alarm of their own
project, 403.

By default a reader of the owning project reads an alarm, its state and
its history; creating, replacing and deleting alarms and setting their
state is for the project's members; administrators do all of it in every
project. Each of these rules keeps the old default, any role of the
owning project, as its deprecated rule.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'alarm:%s'

CREATE = PREFIX % 'create'
GET = PREFIX % 'get'
GET_ALL = PREFIX % 'get_all'
GET_ALL_PROJECTS = PREFIX % 'get_all:all_projects'
UPDATE = PREFIX % 'update'
DELETE = PREFIX % 'delete'
GET_STATE = PREFIX % 'get_state'
SET_STATE = PREFIX % 'set_state'
HISTORY = PREFIX % 'history'
INTERNAL_ACTIONS = PREFIX % 'actions:internal'
INFRASTRUCTURE_EVENTS = PREFIX % 'infrastructure_events'

ALARM_PATH = '/v1/alarms/{alarm_id}'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=CREATE,
        check_str=base.ADMIN_OR_PROJECT_MEMBER,
        deprecated_rule=base.deprecated(CREATE),
        description='Create an alarm. The target is the project the new '
                    'alarm will belong to: the caller\'s own unless the '
                    'body names another project in project_id, which only '
                    'an administrator may do (anyone else gets 403). Only '
                    'an administrator may name another user in user_id.',
        operations=[{'path': '/v1/alarms', 'method': 'POST'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN_OR_PROJECT_READER,
        deprecated_rule=base.deprecated(GET),
        description='Show an alarm.',
        operations=[{'path': ALARM_PATH, 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET_ALL,
        check_str=base.ADMIN_OR_PROJECT_READER,
        deprecated_rule=base.deprecated(GET_ALL),
        description='List alarms. The target is the project listed: the '
                    'caller\'s own, or the one given in the project_id '
                    'query parameter.',
        operations=[{'path': '/v1/alarms', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET_ALL_PROJECTS,
        check_str=base.ADMIN,
        description='List the alarms of every project '
                    '(all_projects=true).',
        operations=[{'path': '/v1/alarms?all_projects=true',
                     'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=UPDATE,
        check_str=base.ADMIN_OR_PROJECT_MEMBER,
        deprecated_rule=base.deprecated(UPDATE),
        description='Replace an alarm. Moving it to another project or '
                    'user is for administrators only.',
        operations=[{'path': ALARM_PATH, 'method': 'PUT'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=DELETE,
        check_str=base.ADMIN_OR_PROJECT_MEMBER,
        deprecated_rule=base.deprecated(DELETE),
        description='Delete an alarm.',
        operations=[{'path': ALARM_PATH, 'method': 'DELETE'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET_STATE,
        check_str=base.ADMIN_OR_PROJECT_READER,
        deprecated_rule=base.deprecated(GET_STATE),
        description='Show the state of an alarm.',
        operations=[{'path': ALARM_PATH + '/state', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=SET_STATE,
        check_str=base.ADMIN_OR_PROJECT_MEMBER,
        deprecated_rule=base.deprecated(SET_STATE),
        description='Set the state of an alarm by hand.',
        operations=[{'path': ALARM_PATH + '/state', 'method': 'PUT'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=HISTORY,
        check_str=base.ADMIN_OR_PROJECT_READER,
        deprecated_rule=base.deprecated(HISTORY),
        description='Show the history of an alarm. The history outlives '
                    'the alarm: once it is deleted, the target is the '
                    'project and user that owned it when it was deleted.',
        operations=[{'path': ALARM_PATH + '/history', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=INTERNAL_ACTIONS,
        check_str=base.ADMIN,
        description='Give an alarm actions of the log: and test: schemes, '
                    'which write into doctor\'s own log and memory rather '
                    'than reach the tenant. Anyone else gets 403.',
        operations=[{'path': '/v1/alarms', 'method': 'POST'},
                    {'path': ALARM_PATH, 'method': 'PUT'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=INFRASTRUCTURE_EVENTS,
        check_str=base.ADMIN,
        description='Let an alarm see the events that name no project, '
                    'such as a compute service forced down or a host found '
                    'failed: infrastructure state. Checked whenever an '
                    'alarm is created or replaced, on the project and user '
                    'the alarm will belong to; the result is kept with the '
                    'alarm. Refused, the alarm sees only events of its '
                    'own project, and one whose event_type matches no '
                    'event of a project is refused with 400, as it could '
                    'never fire.',
        operations=[{'path': '/v1/alarms', 'method': 'POST'},
                    {'path': ALARM_PATH, 'method': 'PUT'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the alarm API."""
    return rules
