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
from doctor.policies import events
from doctor.policies import faults
from doctor.policies import heartbeats
from doctor.policies import hosts
from doctor.policies import ports


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule of doctor's API."""
    return list(itertools.chain(base.list_rules(), alarms.list_rules(),
                                entities.list_rules(), events.list_rules(),
                                hosts.list_rules(), ports.list_rules(),
                                faults.list_rules(),
                                heartbeats.list_rules()))
