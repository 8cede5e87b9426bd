"""``/v1/faults``: what the inspector found and did, fault by fault.

A fault is opened by the first report of a host down and closed when the
host is reported up. It records the reports of it, the instances and
ports it affected, each action taken (with its controller, result and
duration) and the checkpoints of the fault's timeline, from the failure
to the notification of the affected instances.

The list answers an object, ``{"faults": [...], "links": [...]}``, newest
first.
"""

import pecan

from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import inspection
from doctor.common import exception
from doctor.db import api as db_api
from doctor.i18n import _
from doctor.policies import faults as fault_policies

REFUSED = _('Policy does not allow %s to be performed: by default only '
            'administrators may read faults.')

FILTERS = ('host', 'status')
LIST_PARAMETERS = FILTERS + inspection.PAGING


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
        return {'fault': fault_view(pecan.request.dbapi.get_fault(self._id))}


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
        return {'faults': [fault_view(fault) for fault in faults],
                'links': links}

    @pecan.expose()
    def _lookup(self, fault_id: str, *remainder):
        return FaultController(fault_id), remainder
