"""What the inspector's resources share: policy checks, calls, views.

``/v1/events``, ``/v1/hosts``, ``/v1/ports`` and ``/v1/faults`` read the
entity store and the faults from the database, and reach the inspector
through its RPC API (``pecan.request.inspector_api``). An inspector that
does not answer, cannot be reached or fails while handling a call makes
the request answer 503, which a monitor takes as "try again"; what the
inspector refuses (an unknown host or port, a bad event) keeps its own
status.
"""

from collections.abc import Callable
import datetime
from typing import Any
from typing import TypeVar
from urllib import parse

from oslo_log import log
import oslo_messaging as messaging
from oslo_utils import timeutils
import pecan

from doctor.api import policy
from doctor.api import validation
from doctor.api.controllers import base
from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.i18n import _

LOG = log.getLogger(__name__)

PAGING = ('limit', 'marker')

_T = TypeVar('_T')


def caller() -> doctor_context.RequestContext:
    return base.project_caller(
        _('doctor\'s policies take project-scoped tokens: use an '
          'administrator\'s project-scoped token'))


def enforce(rule: str, refused: str) -> doctor_context.RequestContext:
    """Check ``rule`` for the caller, on the caller's own project.

    :param refused: the message of a refusal, with ``%s`` for the rule.
    :raises NotAuthorized: if the request names no project.
    :raises PolicyNotAuthorized: if the policy refuses the caller.
    """
    context = caller()
    target = {'project_id': context.project_id, 'user_id': context.user_id}
    try:
        policy.authorize(rule, target, context)
    except exception.PolicyNotAuthorized:
        raise exception.PolicyNotAuthorized(refused % rule)
    return context


def no_query_parameters() -> None:
    """Refuse a query string where none is understood."""
    validation.QueryParams(pecan.request, ())


def call_inspector(what: str, call: Callable[[], _T]) -> _T:
    """The answer of an inspector to ``call``; ``what`` names it for logs.

    doctor's own exceptions raised by the inspector (HostNotFound, Invalid,
    ServiceUnavailable, ...) pass through as they are.

    :raises ServiceUnavailable: if no inspector can be reached, or one
        failed unexpectedly while handling the call.
    """
    try:
        return call()
    except messaging.RemoteError as e:
        LOG.error('The inspector failed to handle %s: %s: %s', what,
                  e.exc_type, e.value)
        raise exception.ServiceUnavailable(
            reason=_('the inspector could not handle the request; its log '
                     'says why'))
    except messaging.MessagingException as e:
        LOG.error('Cannot reach an inspector to handle %s: %s', what, e)
        raise exception.ServiceUnavailable(
            reason=_('no inspector can be reached'))


def isotime(value: datetime.datetime | None) -> str | None:
    """``value`` in UTC, in ISO 8601 without an offset, to the
    microsecond, as every time of the API reads.
    """
    if value is None:
        return None
    return timeutils.normalize_time(value).isoformat(
        timespec='microseconds')


def parent_id(entity: dict, entity_type: str) -> str | None:
    """The id of the first parent of ``entity`` of ``entity_type``."""
    prefix = entity_type + ':'
    for key in entity['parents']:
        if key.startswith(prefix):
            return key[len(prefix):]
    return None


def next_link(resource: str, limit: int, marker: str) -> dict:
    """The link to the page after ``marker``, with the same filters."""
    request = pecan.request
    query = [(name, value) for name, value in request.GET.items()
             if name not in PAGING]
    query += [('limit', str(limit)), ('marker', marker)]
    href = '%s/v1/%s?%s' % (request.application_url, resource,
                            parse.urlencode(query, safe=':'))
    return {'rel': 'next', 'href': href}


def page(found: list[Any], limit: int, resource: str,
         marker_of: Callable[[Any], str]) -> tuple[list[Any], list[dict]]:
    """The page of ``found`` (read with one more than ``limit``) and its
    links: a ``next`` link when more follow.
    """
    items = found[:limit]
    links = []
    if len(found) > limit:
        links.append(next_link(resource, limit, marker_of(items[-1])))
    return items, links
