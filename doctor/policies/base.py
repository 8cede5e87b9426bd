"""The rules other rules are built from: who is an admin, a reader, a member.

doctor follows OpenStack's secure role-based defaults: a project's
``reader`` reads its resources, a project's ``member`` changes them too,
and an ``admin`` does everything everywhere. Keystone makes ``member``
imply ``reader`` (and ``admin`` imply ``member``) in every token it
issues; identity headers believed without Keystone (``[api] auth_strategy
= noauth``) carry only the roles written in them, which is why the reader
rule names both roles.

Until this release, any role of the owning project could change its
alarms (``admin_or_owner``). The rules that changed keep that check as
their deprecated rule: with ``[oslo_policy] enforce_new_defaults = False``
oslo.policy grants what either the new or the old check allows, for
deployments whose users do not hold the ``member`` role yet.
"""

from oslo_policy import policy

CONTEXT_IS_ADMIN = 'context_is_admin'
ADMIN = 'rule:context_is_admin'
ADMIN_OR_OWNER = 'rule:admin_or_owner'
PROJECT_READER = 'rule:project_reader'
PROJECT_MEMBER = 'rule:project_member'
ADMIN_OR_PROJECT_READER = 'rule:admin_or_project_reader'
ADMIN_OR_PROJECT_MEMBER = 'rule:admin_or_project_member'

# When the deprecated defaults were replaced by the role-based ones.
DEPRECATED_SINCE = '2027.1'
DEPRECATED_REASON = (
    'doctor now follows the secure role-based defaults of OpenStack: a '
    'project\'s reader may read its alarms and ports, and only a project '
    'member (or an administrator) may change them. Before, any role of '
    'the owning project, or none, could change them.')

rules: list[policy.RuleDefault] = [
    policy.RuleDefault(
        name=CONTEXT_IS_ADMIN,
        check_str='role:admin',
        description='Who is an administrator of doctor: sees and changes '
                    'the resources of every project and may use the '
                    'options reserved to operators.'),
    policy.RuleDefault(
        name='project_reader',
        check_str='(role:reader or role:member) and '
                  'project_id:%(project_id)s',
        description='A reader of the project that owns the resource. '
                    'Keystone gives member the reader role too; the member '
                    'role is named here for identity headers that do not '
                    'come from Keystone.'),
    policy.RuleDefault(
        name='project_member',
        check_str='role:member and project_id:%(project_id)s',
        description='A member of the project that owns the resource.'),
    policy.RuleDefault(
        name='admin_or_project_reader',
        check_str='rule:context_is_admin or rule:project_reader',
        description='An administrator, or a reader of the project that '
                    'owns the resource.'),
    policy.RuleDefault(
        name='admin_or_project_member',
        check_str='rule:context_is_admin or rule:project_member',
        description='An administrator, or a member of the project that '
                    'owns the resource.'),
    policy.RuleDefault(
        name='admin_or_owner',
        check_str='rule:context_is_admin or project_id:%(project_id)s',
        description='An administrator, or anyone with any role (or none) '
                    'in the project that owns the resource. No default '
                    'rule uses it any more but as the deprecated rule of '
                    'those it used to be; it stays for policy files that '
                    'name it.'),
    policy.RuleDefault(
        name='default',
        check_str=ADMIN,
        description='The rule of any action that has no rule of its own.'),
]


def deprecated(name: str, check_str: str = ADMIN_OR_OWNER
               ) -> policy.DeprecatedRule:
    """The pre-RBAC default of rule ``name``, kept as its deprecated rule."""
    return policy.DeprecatedRule(name=name, check_str=check_str,
                                 deprecated_reason=DEPRECATED_REASON,
                                 deprecated_since=DEPRECATED_SINCE)


def list_rules() -> list[policy.RuleDefault]:
    """The base rules."""
    return rules
