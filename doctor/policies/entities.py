"""Policies of the ``/v1/entities`` resource.

The entities are the synchronizer's view of the whole cloud (hosts,
instances and ports of every project), so both rules are for
administrators by default. The target of each rule is the caller's own
project and user: the store is not divided by project, and opening a rule
to anyone but administrators opens every entity.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'entity:%s'

GET_ALL = PREFIX % 'get_all'
GET = PREFIX % 'get'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=GET_ALL,
        check_str=base.ADMIN,
        description='List the entities the synchronizer keeps: the hosts, '
                    'instances, ports, ... of every project, as the '
                    'datasources last reported them. The target is the '
                    'caller\'s own project; whoever the rule lets through '
                    'sees every entity, and anyone else gets 403.',
        operations=[{'path': '/v1/entities', 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN,
        description='Show one entity the synchronizer keeps, with the keys '
                    'of its parents and children. The target is the '
                    'caller\'s own project, whatever project owns the '
                    'entity; anyone the rule refuses gets 403, whether the '
                    'entity exists or not.',
        operations=[{'path': '/v1/entities/{entity_key}', 'method': 'GET'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the entity API."""
    return rules
