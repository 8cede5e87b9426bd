"""doctor's exceptions.

Each carries the HTTP status the API answers with, so that one decorator
maps any of them to an error body; a message never includes a traceback.
"""

from http import client as http_client

from doctor.i18n import _


class DoctorException(Exception):
    """Base of doctor's exceptions; ``msg_fmt`` is filled from kwargs."""

    msg_fmt = _('An unknown error occurred.')
    code = http_client.INTERNAL_SERVER_ERROR

    def __init__(self, message: str | None = None, **kwargs) -> None:
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


class Invalid(DoctorException):
    msg_fmt = _('Invalid input: %(reason)s')
    code = http_client.BAD_REQUEST


class InvalidField(Invalid):
    msg_fmt = _("Invalid value for '%(field)s': %(reason)s")


class NotAuthorized(DoctorException):
    msg_fmt = _('Not authorized.')
    code = http_client.UNAUTHORIZED


class Forbidden(DoctorException):
    msg_fmt = _('Forbidden: %(reason)s')
    code = http_client.FORBIDDEN


class PolicyNotAuthorized(Forbidden):
    msg_fmt = _('Policy does not allow %(action)s to be performed.')


class QuotaExceeded(Forbidden):
    msg_fmt = _('Alarm quota exceeded: %(reason)s')


class NotFound(DoctorException):
    msg_fmt = _('Resource could not be found.')
    code = http_client.NOT_FOUND


class AlarmNotFound(NotFound):
    msg_fmt = _('Alarm %(alarm_id)s not found.')


class EntityNotFound(NotFound):
    msg_fmt = _('Entity %(key)s not found.')


class HostNotFound(NotFound):
    msg_fmt = _('Host %(host)s not found.')


class InstanceNotFound(NotFound):
    msg_fmt = _('Instance %(instance_id)s not found.')


class PortNotFound(NotFound):
    msg_fmt = _('Port %(port_id)s not found.')


class FaultNotFound(NotFound):
    msg_fmt = _('Fault %(fault_id)s not found.')


class ServiceUnavailable(DoctorException):
    msg_fmt = _('Service unavailable: %(reason)s')
    code = http_client.SERVICE_UNAVAILABLE


class Conflict(DoctorException):
    msg_fmt = _('Conflict: %(reason)s')
    code = http_client.CONFLICT


class ConfigInvalid(DoctorException):
    msg_fmt = _('Invalid configuration: %(reason)s')


class EventDefinitionError(ConfigInvalid):
    msg_fmt = _('Invalid event definition: %(reason)s')


class NotifierNotFound(DoctorException):
    msg_fmt = _('No notifier for action scheme %(scheme)s.')


class DeliveryFailed(DoctorException):
    msg_fmt = _('Delivery to %(action)s failed: %(reason)s')


class TargetDenied(DoctorException):
    """An address that ``[notifier] denied_networks`` refuses.

    Not a :class:`DeliveryFailed`: a refused target is never retried.
    """
    msg_fmt = _('%(target)s is in a denied network: %(reason)s')


class ChannelError(DoctorException):
    """libvirt could not add an HA guest's channel to its domain."""
    msg_fmt = _('Cannot add the HA guest channel to instance '
                '%(instance_id)s: %(reason)s')
