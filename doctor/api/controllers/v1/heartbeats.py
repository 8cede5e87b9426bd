"""``/v1/heartbeats``: the heartbeat status of the HA guests.

Each compute agent records the guests it watches (see
:mod:`doctor.heartbeat.agent`); this resource reads those records. A
guest whose channel exists but which has not registered (or has
deregistered) is ``unregistered``; a registered one is ``ok``,
``missed`` (its threshold of heartbeats went unanswered) or
``unhealthy`` (its health check failed).
"""

import pecan

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import inspection
from doctor.common import exception
from doctor.db import api as db_api
from doctor.i18n import _
from doctor.policies import heartbeats as heartbeat_policies

LIST_PARAMETERS = ('status', 'host')
MAX_ID = 255
REFUSED = _('Policy does not allow %s to be performed.')


def heartbeat_view(record: dict) -> dict:
    """The API's JSON of a heartbeat record."""
    return {
        'instance_id': record['instance_id'],
        'project_id': record['project_id'],
        'host': record['host'],
        'interval_ms': record['interval_ms'],
        'threshold': record['threshold'],
        'status': record['status'],
        'reason': record['reason'],
        'last_seen': inspection.isotime(record['last_seen']),
        'updated_at': inspection.isotime(record['updated_at']),
    }


class HeartbeatController(base.RestController):
    """``/v1/heartbeats/{instance_id}``: one guest."""

    def __init__(self, instance_id: str) -> None:
        self._id = instance_id

    @pecan.expose('json')
    def get(self) -> dict:
        """The heartbeat status of one guest."""
        context = inspection.caller()
        if len(self._id) > MAX_ID:
            raise exception.InvalidField(
                field='instance_id',
                reason=_('longer than %d characters') % MAX_ID)
        record = pecan.request.dbapi.get_heartbeat(self._id)
        if record is None:
            raise exception.InstanceNotFound(instance_id=self._id)
        try:
            policy.authorize(heartbeat_policies.GET,
                             {'project_id': record['project_id'],
                              'user_id': None}, context)
        except exception.PolicyNotAuthorized:
            if record['project_id'] != context.project_id:
                raise exception.InstanceNotFound(instance_id=self._id)
            raise exception.PolicyNotAuthorized(
                REFUSED % heartbeat_policies.GET)
        inspection.no_query_parameters()
        return {'heartbeats': [heartbeat_view(record)]}


class HeartbeatsController(base.RestController):
    """``/v1/heartbeats``: every guest the caller may see."""

    @pecan.expose('json')
    def get_all(self) -> dict:
        """The guests of the caller's project (an admin's: all).

        Filters: ``status``, ``host``.
        """
        context = inspection.enforce(heartbeat_policies.GET_ALL, REFUSED)
        params = validation.QueryParams(pecan.request, LIST_PARAMETERS)
        status = params.string('status', choices=db_api.HEARTBEAT_STATUSES)
        host = params.string('host')
        project_id: str | None = context.project_id
        if policy.check(heartbeat_policies.GET_ALL_PROJECTS,
                        {'project_id': context.project_id,
                         'user_id': context.user_id}, context):
            project_id = None
        records = pecan.request.dbapi.get_heartbeats(
            project_id=project_id, host=host, status=status)
        return {'heartbeats': [heartbeat_view(r) for r in records]}

    @pecan.expose()
    def _lookup(self, instance_id: str, *remainder):
        if remainder:
            pecan.abort(404)
        return HeartbeatController(instance_id), remainder
