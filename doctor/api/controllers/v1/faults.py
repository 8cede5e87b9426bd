"""``/v1/faults``: what the inspector found and did, fault by fault.

A fault is opened by the first report of a host down and closed when the
host is reported up. It records the reports of it, the instances and
ports it affected, each action taken (with its controller, result and
duration) and the checkpoints of the fault's timeline, from the failure
to the notification of the affected instances.

The list answers an object, ``{"faults": [...], "links": [...]}``, newest
first.

``POST /v1/faults/{fault_id}/checkpoints`` records the checkpoints a
consumer reached (received and handled an alarm of the fault), for the
profiler; a fault's checkpoints are the inspector's and every one
recorded since, in time order.
"""

from http import client as http_client

import pecan

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import inspection
from doctor.api.schemas.v1 import checkpoints as checkpoint_schema
from doctor.common import exception
from doctor.db import api as db_api
from doctor.i18n import _
from doctor.policies import faults as fault_policies
from doctor.profiler import checkpoints as profiler_checkpoints

REFUSED = _('Policy does not allow %s to be performed: by default only '
            'administrators may read faults.')

CHECKPOINTS_REFUSED = _(
    'Policy does not allow %s to be performed: by default a member of the '
    'project of the alarms, or an administrator, records checkpoints.')

FILTERS = ('host', 'status')
LIST_PARAMETERS = FILTERS + inspection.PAGING


def with_recorded(dbapi: db_api.Connection, faults: list[dict]
                  ) -> list[dict]:
    """``faults`` with the checkpoints recorded after the inspector's
    added to theirs, in time order.
    """
    recorded = dbapi.get_fault_checkpoints([fault['id'] for fault in faults])
    for fault in faults:
        more = recorded.get(fault['id'])
        if more:
            fault['checkpoints'] = list(fault['checkpoints']) + more
    return faults


def fault_view(fault: dict) -> dict:
    """The API's JSON of a stored fault."""
    return {
        'id': fault['id'],
        'host': fault['host'],
        'type': fault['type'],
        'status': fault['status'],
        'created_at': inspection.isotime(fault['created_at']),
        'closed_at': inspection.isotime(fault['closed_at']),
        'affected': fault['affected'],
        'actions': fault['actions'],
        'checkpoints': fault['checkpoints'],
        'reports': fault['reports'],
        # Since the inspector stores a fault's steps before it acts: which
        # run of which inspector owns it, whether every step has ended,
        # and each time an inspector resumed it.
        'owner': fault.get('owner'),
        'handled_at': inspection.isotime(fault.get('handled_at')),
        'progress': {'steps': len(fault.get('steps') or ()),
                     'done': len(set(fault.get('done') or ()))},
        'resumes': fault.get('resumes') or [],
    }


class FaultController(base.RestController):
    """``/v1/faults/{fault_id}``: one fault."""

    def __init__(self, fault_id: str) -> None:
        self._id = fault_id

    @pecan.expose('json')
    def get(self) -> dict:
        """The fault, with everything recorded of it."""
        inspection.enforce(fault_policies.GET, REFUSED)
        inspection.no_query_parameters()
        dbapi = pecan.request.dbapi
        fault = with_recorded(dbapi, [dbapi.get_fault(self._id)])[0]
        return {'fault': fault_view(fault)}

    @pecan.expose()
    def _lookup(self, name: str, *remainder):
        if name == 'checkpoints' and not remainder:
            return CheckpointsController(self._id), remainder
        pecan.abort(404)


def _checkpoint_targets(dbapi: db_api.Connection, alarm_ids: list[str]
                        ) -> dict[tuple, list[str]]:
    """The policy targets of checkpoints, ``(project_id, user_id)`` of
    their alarms, each with the alarms it is the target of, read in one
    go. An alarm gone since it fired is for administrators only.
    """
    owners = dbapi.get_alarm_owners(alarm_ids)
    targets: dict[tuple, list[str]] = {}
    for alarm_id in alarm_ids:
        targets.setdefault(owners.get(alarm_id, (None, None)),
                           []).append(alarm_id)
    return targets


class CheckpointsController(base.RestController):
    """``/v1/faults/{fault_id}/checkpoints``: what consumers reached."""

    def __init__(self, fault_id: str) -> None:
        self._id = fault_id

    @pecan.expose('json')
    def post(self) -> dict:
        """Record checkpoints of the fault, each about one alarm.

        Answers 201 with the checkpoints as recorded; 400 naming the
        field of bad input, 404 for an unknown fault or an alarm the
        policy refuses, 403 if the caller may record none.
        """
        context = inspection.enforce(fault_policies.ADD_CHECKPOINTS,
                                     CHECKPOINTS_REFUSED)
        request = pecan.request
        inspection.no_query_parameters()
        body = checkpoint_schema.validate(validation.json_body(request))
        entries = []
        for position, entry in enumerate(body['checkpoints']):
            try:
                timestamp = profiler_checkpoints.parse_time(
                    entry['timestamp'])
            except ValueError:
                raise exception.InvalidField(
                    field='checkpoints[%d].timestamp' % position,
                    reason=_('%r is not an ISO 8601 time')
                    % entry['timestamp'])
            point = profiler_checkpoints.BY_NAME[entry['name']]
            entries.append({
                'fault_id': self._id, 'name': point.name,
                'component': entry.get('component') or point.component,
                'timestamp': timestamp, 'alarm_id': entry['alarm_id']})
        dbapi = request.dbapi
        dbapi.get_fault(self._id)
        targets = _checkpoint_targets(
            dbapi, sorted({entry['alarm_id'] for entry in entries}))
        refused = []
        for (project_id, user_id), alarm_ids in targets.items():
            try:
                policy.authorize(fault_policies.ADD_CHECKPOINTS,
                                 {'project_id': project_id,
                                  'user_id': user_id}, context)
            except exception.PolicyNotAuthorized:
                refused.extend(alarm_ids)
        if refused:
            raise exception.AlarmNotFound(alarm_id=min(refused))
        dbapi.add_fault_checkpoints(entries)
        pecan.response.status = http_client.CREATED
        return {'checkpoints': [
            {'number': profiler_checkpoints.number(entry['name']),
             'name': entry['name'], 'component': entry['component'],
             'timestamp': profiler_checkpoints.iso(entry['timestamp']),
             'alarm_id': entry['alarm_id']}
            for entry in entries]}


class FaultsController(base.RestController):
    """``/v1/faults``: list faults."""

    @pecan.expose('json')
    def get_all(self) -> dict:
        """A page of faults, newest first; filters: host, status; paging:
        limit, marker (a fault id).
        """
        inspection.enforce(fault_policies.GET_ALL, REFUSED)
        request = pecan.request
        conf = request.conf
        params = validation.QueryParams(request, LIST_PARAMETERS)
        host = params.string('host')
        status = params.string('status', choices=db_api.FAULT_STATUSES)
        limit = params.integer('limit', conf.api.default_limit, 1,
                               conf.api.max_limit)
        marker = params.string('marker')
        try:
            found = request.dbapi.get_faults(host=host, status=status,
                                             limit=limit + 1, marker=marker)
        except exception.FaultNotFound:
            raise exception.InvalidField(
                field='marker', reason=_('%r is not a fault') % marker)
        faults, links = inspection.page(found, limit, 'faults',
                                        lambda fault: fault['id'])
        faults = with_recorded(request.dbapi, faults)
        return {'faults': [fault_view(fault) for fault in faults],
                'links': links}

    @pecan.expose()
    def _lookup(self, fault_id: str, *remainder):
        return FaultController(fault_id), remainder
