"""Policies of the ``/v1/events`` resource.

Raw failures set the inspector acting on the whole cloud (hosts forced
down, every instance of a host set in error), so reporting them is for
administrators by default: monitors run with an administrator's
credentials. The target is the caller's own project and user.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'event:%s'

CREATE = PREFIX % 'create'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=CREATE,
        check_str=base.ADMIN,
        description='Report raw failures (a host down or up again) to the '
                    'inspector, which opens a fault for each host reported '
                    'down and acts on everything on it. The target is the '
                    'caller\'s own project; anyone the rule refuses gets '
                    '403.',
        operations=[{'path': '/v1/events', 'method': 'POST'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the event API."""
    return rules
