"""Policies of the ``/v1/hosts`` resource.

A host carries the instances and ports of many projects, and reporting
one down acts on all of them, so every rule is for administrators by
default. The target of each rule is the caller's own project and user.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'host:%s'

GET_ALL = PREFIX % 'get_all'
GET = PREFIX % 'get'
UPDATE = PREFIX % 'update'

HOST_PATH = '/v1/hosts/{host_name}'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=GET_ALL,
        check_str=base.ADMIN,
        description='List the compute hosts, each with its state, its open '
                    'fault and the instances and ports of every project on '
                    'it. The target is the caller\'s own project; anyone '
                    'the rule refuses gets 403.',
        operations=[{'path': '/v1/hosts', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN,
        description='Show one compute host, with its state, its open fault '
                    'and the instances and ports of every project on it. '
                    'Anyone the rule refuses gets 403, whether the host '
                    'exists or not.',
        operations=[{'path': HOST_PATH, 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=UPDATE,
        check_str=base.ADMIN,
        description='Report a compute host down (the inspector opens a '
                    'fault and acts on everything on the host) or '
                    'recovered. Anyone the rule refuses gets 403, whether '
                    'the host exists or not.',
        operations=[{'path': HOST_PATH, 'method': 'PUT'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the host API."""
    return rules
