"""Policies of the ``/v1/faults`` resource.

A fault records what the inspector found and did on a host: instances
and ports of every project. Both rules are for administrators by
default; the target is the caller's own project and user.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'fault:%s'

GET_ALL = PREFIX % 'get_all'
GET = PREFIX % 'get'
ADD_CHECKPOINTS = PREFIX % 'add_checkpoints'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=GET_ALL,
        check_str=base.ADMIN,
        description='List the faults the inspector opened, newest first. '
                    'The target is the caller\'s own project; anyone the '
                    'rule refuses gets 403.',
        operations=[{'path': '/v1/faults', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN,
        description='Show a fault: the reports of it, the resources it '
                    'affected, each action taken with its result and '
                    'duration, and its checkpoints. Anyone the rule '
                    'refuses gets 403, whether the fault exists or not.',
        operations=[{'path': '/v1/faults/{fault_id}', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=ADD_CHECKPOINTS,
        check_str='rule:context_is_admin or '
                  '(role:member and project_id:%(project_id)s)',
        description='Record checkpoints of a fault that a consumer '
                    'reached (received_alarm, handled_alarm), for the '
                    'profiler. Checked first on the caller\'s own project, '
                    'then on the project of each alarm the checkpoints '
                    'name: a member of the alarm\'s project, or an '
                    'administrator. An alarm the rule refuses answers 404 '
                    'as if it did not exist.',
        operations=[{'path': '/v1/faults/{fault_id}/checkpoints',
                     'method': 'POST'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the fault API."""
    return rules
