"""Policies of the ``/v1/ports`` resource.

The target of each rule is the port: its ``project_id``. A caller whom the
policy refuses a port of another project gets 404, as if the port did not
exist; refused a port of their own project, 403. A tenant may read the
ports of their project, but setting a port's data-plane status is an
operator's act (it is what the inspector does to the ports of a failed
host), for administrators by default. Reading a port was open to any role
of its project until the reader role was required; that old default is
the deprecated rule of ``port:get``.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'port:%s'

GET = PREFIX % 'get'
UPDATE = PREFIX % 'update'

PORT_PATH = '/v1/ports/{port_id}'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN_OR_PROJECT_READER,
        deprecated_rule=base.deprecated(GET),
        description='Show a port, with its host, its device and its '
                    'data-plane status.',
        operations=[{'path': PORT_PATH, 'method': 'GET'}],
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=UPDATE,
        check_str=base.ADMIN,
        description='Set the data-plane status of a port DOWN or ACTIVE; '
                    'a change is announced as '
                    'port.data_plane_status.update. A member of the '
                    'port\'s project gets 403, anyone else 404.',
        operations=[{'path': PORT_PATH, 'method': 'PUT'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the port API."""
    return rules
