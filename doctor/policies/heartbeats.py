"""Policies of the ``/v1/heartbeats`` resource.

A heartbeat record belongs to the project of its instance: a project's
reader reads the records of its own instances, an administrator reads
every one. The target of ``heartbeat:get`` is the record (its
``project_id``): a caller refused the record of another project gets
404, as if it did not exist; refused one of their own project, 403. The
target of ``heartbeat:get_all`` is the caller's own project; whoever
``heartbeat:get_all:all_projects`` also allows sees every project's.
"""

from oslo_policy import policy

from doctor.policies import base

PREFIX = 'heartbeat:%s'

GET_ALL = PREFIX % 'get_all'
GET_ALL_PROJECTS = PREFIX % 'get_all:all_projects'
GET = PREFIX % 'get'

rules: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        name=GET_ALL,
        check_str=base.ADMIN_OR_PROJECT_READER,
        description='List the heartbeat status of the guests of the '
                    'caller\'s project (of every project with '
                    'heartbeat:get_all:all_projects).',
        operations=[{'path': '/v1/heartbeats', 'method': 'GET'}],
        scope_types=['project']),
    policy.RuleDefault(
        name=GET_ALL_PROJECTS,
        check_str=base.ADMIN,
        description='Who lists the heartbeat status of every project\'s '
                    'guests in GET /v1/heartbeats; anyone else sees those '
                    'of their own project.',
        scope_types=['project']),
    policy.DocumentedRuleDefault(
        name=GET,
        check_str=base.ADMIN_OR_PROJECT_READER,
        description='Show the heartbeat status of one guest.',
        operations=[{'path': '/v1/heartbeats/{instance_id}',
                     'method': 'GET'}],
        scope_types=['project']),
]


def list_rules() -> list[policy.RuleDefault]:
    """The rules of the heartbeat API."""
    return rules
