"""The rules other rules are built from: who is an admin, who an owner."""

from oslo_policy import policy

CONTEXT_IS_ADMIN = 'context_is_admin'
ADMIN = 'rule:context_is_admin'
ADMIN_OR_OWNER = 'rule:admin_or_owner'

rules: list[policy.RuleDefault] = [
    policy.RuleDefault(
        name=CONTEXT_IS_ADMIN,
        check_str='role:admin',
        description='Who is an administrator of doctor: sees and changes '
                    'the resources of every project and may use the '
                    'options reserved to operators.'),
    policy.RuleDefault(
        name='admin_or_owner',
        check_str='rule:context_is_admin or project_id:%(project_id)s',
        description='An administrator, or a member of the project that '
                    'owns the resource.'),
    policy.RuleDefault(
        name='default',
        check_str=ADMIN_OR_OWNER,
        description='The rule of any action that has no rule of its own.'),
]


def list_rules() -> list[policy.RuleDefault]:
    """The base rules."""
    return rules
