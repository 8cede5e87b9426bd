"""The base of the API's REST controllers."""

import pecan
from pecan import rest

from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.i18n import _


def project_caller(scope_hint: str) -> doctor_context.RequestContext:
    """The caller, who must act for a project, as every doctor rule wants.

    A valid token of the system or of a domain answers 403 with
    ``scope_hint`` (asking for a project-scoped token would help); a
    request of no project, 401.
    """
    context = pecan.request.context
    if not context.project_id and (context.system_scope
                                   or context.domain_id):
        raise exception.Forbidden(reason=scope_hint)
    if not context.project_id:
        raise exception.NotAuthorized(
            _('Authentication required: the request names no project.'))
    return context


class RestController(rest.RestController):
    """A pecan RestController that routes no path segment to a private
    attribute: ``/v1/alarms/__class__`` is an alarm id like any other.
    """

    def _lookup_child(self, remainder: str):
        if remainder.startswith('_'):
            return None
        return super()._lookup_child(remainder)
