"""``/v1/entities``: the synchronizer's entity store, read only.

An entity is a host, an instance, a port, ... as the datasources last
reported it; its key is ``<type>:<id>``. The store spans every project,
so both methods are for administrators by default. The first line of each
method is its policy check.

Unlike the alarm list, which answers a bare JSON list as Aodh's does, the
entity list answers an object: ``{"entities": [...], "links": [...]}``,
where ``links`` holds a ``next`` link while more entities follow.
"""

import datetime
from urllib import parse

from oslo_utils import timeutils
import pecan

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.i18n import _
from doctor.policies import entities as entity_policies

FILTERS = ('type', 'parent', 'state', 'datasource', 'project_id')
PAGING = ('limit', 'marker')
LIST_PARAMETERS = FILTERS + PAGING

REFUSED = _('Policy does not allow %s to be performed: by default only '
            'administrators may read the entity store.')


def _caller() -> doctor_context.RequestContext:
    return base.project_caller(
        _('doctor\'s policies take project-scoped tokens: use an '
          'administrator\'s project-scoped token'))


def _enforce(rule: str) -> doctor_context.RequestContext:
    """Check ``rule`` for the caller, on the caller's own project.

    :raises NotAuthorized: if the request names no project.
    :raises Forbidden: if the policy refuses the caller, naming the rule.
    """
    context = _caller()
    target = {'project_id': context.project_id, 'user_id': context.user_id}
    try:
        policy.authorize(rule, target, context)
    except exception.PolicyNotAuthorized:
        raise exception.PolicyNotAuthorized(REFUSED % rule)
    return context


def _no_query_parameters() -> None:
    """Refuse a query string where none is understood."""
    names = list(pecan.request.GET)
    if names:
        raise exception.Invalid(
            reason=_('unknown query parameter %r: this request takes '
                     'none') % names[0])


def _isotime(value: datetime.datetime) -> str:
    """``value`` in UTC, in ISO 8601 without an offset, to the
    microsecond even when it has none, so that every time reads alike.
    """
    return timeutils.normalize_time(value).isoformat(
        timespec='microseconds')


def entity_view(entity: dict, children: bool = False) -> dict:
    """The API's JSON of a stored entity; with its children's keys if
    ``children``.
    """
    view = {
        'key': entity['key'],
        'type': entity['type'],
        'id': entity['id'],
        'name': entity['name'],
        'state': entity['state'],
        'project_id': entity['project_id'],
        'datasource': entity['datasource'],
        'parents': list(entity['parents']),
    }
    if children:
        view['children'] = list(entity['children'])
    view.update(attributes=entity['attributes'],
                updated_at=_isotime(entity['updated_at']))
    return view


def _next_link(limit: int, marker: str) -> dict:
    """The link to the page after the entity ``marker``, same filters."""
    request = pecan.request
    query = [(name, value) for name, value in request.GET.items()
             if name not in PAGING]
    query += [('limit', str(limit)), ('marker', marker)]
    href = '%s/v1/entities?%s' % (request.application_url,
                                  parse.urlencode(query, safe=':'))
    return {'rel': 'next', 'href': href}


class EntityController(base.RestController):
    """``/v1/entities/{key}``: one entity."""

    def __init__(self, key: str) -> None:
        self._key = key

    @pecan.expose('json')
    def get(self) -> dict:
        """The entity, with the keys of its parents and its children."""
        _enforce(entity_policies.GET)
        _no_query_parameters()
        entity = pecan.request.dbapi.get_entity(self._key)
        return {'entity': entity_view(entity, children=True)}


class EntitiesController(base.RestController):
    """``/v1/entities``: list entities."""

    @pecan.expose('json')
    def get_all(self) -> dict:
        """A page of entities, by key; filters: type, parent, state,
        datasource, project_id; paging: limit, marker.
        """
        _enforce(entity_policies.GET_ALL)
        request = pecan.request
        conf = request.conf
        params = validation.QueryParams(request, LIST_PARAMETERS)
        filters = {
            'entity_type': params.string('type'),
            'parent': params.string('parent'),
            'state': params.string('state'),
            'datasource': params.string('datasource'),
            'project_id': params.string('project_id'),
        }
        limit = params.integer('limit', conf.api.default_limit, 1,
                               conf.api.max_limit)
        marker = params.string('marker')
        if marker is not None:
            self._check_marker(marker)
        # One more than the page, to tell whether a next page exists.
        found = request.dbapi.get_entities(limit=limit + 1, marker=marker,
                                           **filters)
        page = found[:limit]
        links = []
        if len(found) > limit:
            links.append(_next_link(limit, page[-1]['key']))
        return {'entities': [entity_view(entity) for entity in page],
                'links': links}

    @staticmethod
    def _check_marker(marker: str) -> None:
        try:
            pecan.request.dbapi.get_entity(marker)
        except exception.EntityNotFound:
            raise exception.InvalidField(
                field='marker', reason=_('%r is not the key of an entity')
                % marker)

    @pecan.expose()
    def _lookup(self, *segments: str):
        # The whole rest of the path is the key: the server has decoded a
        # '/' sent as %2F before routing, and entity ids may contain one.
        return EntityController('/'.join(segments)), ()
