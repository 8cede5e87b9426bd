"""Request context shared by the API and the services."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """The caller's identity and roles, as the API or a service sees it."""


def get_admin_context() -> RequestContext:
    """A context with the admin role, for services acting on their own."""
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False)
