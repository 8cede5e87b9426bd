"""doctor's default API policies, in code.

``list_rules`` is the ``oslo.policy.policies`` entry point: the enforcer
registers these defaults and ``oslopolicy-sample-generator`` documents them.
An operator overrides any of them in the policy file.
"""

import itertools

from oslo_policy import policy

from doctor.policies import alarms
from doctor.policies import base
from doctor.policies import entities


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule of doctor's API."""
    return list(itertools.chain(base.list_rules(), alarms.list_rules(),
                                entities.list_rules()))
