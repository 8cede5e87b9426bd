"""Request context shared by the API and the services."""

from oslo_context import context


class RequestContext(context.RequestContext):
    """The caller's identity and roles, as the API or a service sees it.

    ``fault_id`` is the correlation id of the doctor fault the request is
    part of: it travels with RPC calls and notifications as
    ``doctor_fault_id``, where the evaluator reads it (event definitions'
    ``ctxt.doctor_fault_id``) and hands it to the alarm's webhook.
    """

    def __init__(self, fault_id: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.fault_id = fault_id

    def to_dict(self) -> dict:
        values = super().to_dict()
        if self.fault_id:
            values['doctor_fault_id'] = self.fault_id
        return values

    def redacted_copy(self, **kwargs) -> 'RequestContext':
        # oslo.messaging's notifier sends a redacted copy of the context:
        # the fault id must survive it.
        kwargs.setdefault('fault_id', self.fault_id)
        return super().redacted_copy(**kwargs)

    @classmethod
    def from_dict(cls, values: dict, **kwargs) -> 'RequestContext':
        kwargs.setdefault('fault_id', values.get('doctor_fault_id'))
        return super().from_dict(values, **kwargs)


def get_admin_context(fault_id: str | None = None) -> RequestContext:
    """A context with the admin role, for services acting on their own."""
    return RequestContext(is_admin=True, roles=['admin'], overwrite=False,
                          fault_id=fault_id)
