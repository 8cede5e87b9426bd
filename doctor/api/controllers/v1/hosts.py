"""``/v1/hosts``: compute hosts, what is on them, and reporting them down.

A host is read from the entity store (the ``host`` entity and the
instances and ports that belong to it) and from the faults: it is
``down`` while it has an open fault, or while the datasources say its
compute service is down. ``PUT`` reports a host down (the inspector opens a
fault and acts on everything on it) or recovered, as a monitor does with
``POST /v1/events``.

The list answers an object, ``{"hosts": [...], "links": [...]}``, paged by
host name like the entity list.
"""

import pecan

from doctor.api import validation
from doctor.api.controllers import base
from doctor.api.controllers.v1 import inspection
from doctor.api.schemas.v1 import hosts as host_schema
from doctor.common import exception
from doctor.db import api as db_api
from doctor.i18n import _
from doctor.policies import hosts as host_policies
from doctor.synchronizer import entity as entity_mod

REFUSED = _('Policy does not allow %s to be performed: by default only '
            'administrators may see and report hosts.')

HOST_PREFIX = entity_mod.HOST + ':'
DOWN = 'down'
UP = 'up'
DP_DOWN = 'DOWN'


def _instance_view(entity: dict) -> dict:
    return {'id': entity['id'], 'name': entity['name'],
            'state': entity['state'], 'project_id': entity['project_id']}


def port_device(entity: dict) -> str | None:
    """The device of a port entity: as reported, else its instance."""
    return (entity['attributes'].get('device_id')
            or inspection.parent_id(entity, entity_mod.INSTANCE))


def _port_view(entity: dict) -> dict:
    return {'id': entity['id'], 'device_id': port_device(entity),
            'project_id': entity['project_id'], 'status': entity['state'],
            'data_plane_status': entity['attributes'].get(
                'data_plane_status')}


def host_view(name: str, host: dict | None, members: list[dict],
              fault: dict | None) -> dict:
    """The API's JSON of a host.

    :param host: the host's entity, if the store has one.
    :param members: the entities that belong to the host.
    :param fault: the host's open fault, if it has one.
    """
    down = fault is not None or (host is not None
                                 and host['state'] == DOWN)
    return {
        'name': name,
        'state': DOWN if down else UP,
        'host_down_reported': fault is not None,
        'fault_id': fault['id'] if fault is not None else None,
        'instances': [_instance_view(member) for member in members
                      if member['type'] == entity_mod.INSTANCE],
        'ports': [_port_view(member) for member in members
                  if member['type'] == entity_mod.PORT],
    }


def _members(dbapi: db_api.Connection, name: str) -> list[dict]:
    return dbapi.get_entities(parent=HOST_PREFIX + name)


def _host(dbapi: db_api.Connection, name: str) -> dict | None:
    try:
        return dbapi.get_entity(HOST_PREFIX + name)
    except exception.EntityNotFound:
        return None


class HostController(base.RestController):
    """``/v1/hosts/{name}``: one host."""

    def __init__(self, name: str) -> None:
        self._name = name

    @pecan.expose('json')
    def get(self) -> dict:
        """The host, its state, its open fault, its instances and ports.
        """
        inspection.enforce(host_policies.GET, REFUSED)
        inspection.no_query_parameters()
        dbapi = pecan.request.dbapi
        host = _host(dbapi, self._name)
        members = _members(dbapi, self._name)
        # A host the store knows only from what belongs to it is a host
        # all the same, as the inspector sees it.
        if host is None and not members:
            raise exception.HostNotFound(host=self._name)
        fault = dbapi.get_open_faults([self._name]).get(self._name)
        return {'host': host_view(self._name, host, members, fault)}

    @pecan.expose('json')
    def put(self) -> dict:
        """Report the host down (``host_down_reported: true``) or
        recovered; answers with the host as the report left it.
        """
        context = inspection.enforce(host_policies.UPDATE, REFUSED)
        inspection.no_query_parameters()
        request = pecan.request
        body = host_schema.validate_update(validation.json_body(request))
        down = body['host']['host_down_reported']
        inspector = request.inspector_api
        name = self._name
        result = inspection.call_inspector(
            'a report of host %s' % name,
            lambda: inspector.report_host(context, name, down))
        dbapi = request.dbapi
        view = host_view(name, _host(dbapi, name), _members(dbapi, name),
                         None)
        # What the inspector did is newer than what the store says.
        fault_id = result.get('fault_id')
        view.update(fault_id=fault_id, host_down_reported=fault_id is not None,
                    state=result.get('state') or view['state'])
        return {'host': view}


class HostsController(base.RestController):
    """``/v1/hosts``: list hosts."""

    @pecan.expose('json')
    def get_all(self) -> dict:
        """A page of hosts, by name; paging: limit, marker (a host name).
        """
        inspection.enforce(host_policies.GET_ALL, REFUSED)
        request = pecan.request
        conf = request.conf
        dbapi = request.dbapi
        params = validation.QueryParams(request, inspection.PAGING)
        limit = params.integer('limit', conf.api.default_limit, 1,
                               conf.api.max_limit)
        marker = params.string('marker')
        if marker is not None and _host(dbapi, marker) is None:
            raise exception.InvalidField(
                field='marker', reason=_('%r is not a host') % marker)
        found = dbapi.get_entities(
            entity_type=entity_mod.HOST, limit=limit + 1,
            marker=HOST_PREFIX + marker if marker is not None else None)
        hosts, links = inspection.page(found, limit, 'hosts',
                                       lambda host: host['id'])
        names = [host['id'] for host in hosts]
        faults = dbapi.get_open_faults(names) if names else {}
        return {
            'hosts': [host_view(host['id'], host,
                                _members(dbapi, host['id']),
                                faults.get(host['id']))
                      for host in hosts],
            'links': links,
        }

    @pecan.expose()
    def _lookup(self, name: str, *remainder):
        return HostController(name), remainder
