"""The AlarmFiring object: a state change whose actions must be delivered."""

import typing

from oslo_utils import versionutils
from oslo_versionedobjects import fields

from doctor.objects import base
from doctor.objects import fields as doctor_fields


@base.DoctorObjectRegistry.register
class AlarmFiring(base.DoctorObject):
    """One firing of an alarm and the deliveries it owes.

    ``deliveries`` maps each stored delivery id to its action URL; the
    notifier deletes the stored delivery once it is done.

    Version history:

    * 1.0: initial version
    * 1.1: added ``fault_id``, the correlation id of the doctor fault that
      caused the event, passed on to webhooks
    """

    VERSION = '1.1'

    fields = {
        'alarm_id': fields.StringField(),
        'alarm_name': fields.StringField(),
        'severity': fields.StringField(),
        'previous': fields.StringField(),
        'current': fields.StringField(),
        'reason': fields.StringField(),
        'reason_data': doctor_fields.JsonDictField(),
        'deliveries': fields.DictOfStringsField(),
        'request_id': fields.StringField(nullable=True),
        'fault_id': fields.StringField(nullable=True),
    }

    if typing.TYPE_CHECKING:
        # The attributes oslo.versionedobjects makes of ``fields``, for the
        # type checker; keep the two in step.
        alarm_id: str
        alarm_name: str
        severity: str
        previous: str
        current: str
        reason: str
        reason_data: dict[str, typing.Any]
        deliveries: dict[str, str]
        request_id: str | None
        fault_id: str | None

    def obj_make_compatible(self, primitive, target_version):
        super().obj_make_compatible(primitive, target_version)
        target = versionutils.convert_version_to_tuple(target_version)
        if target < (1, 1):
            primitive.pop('fault_id', None)

    def to_record(self) -> dict:
        """The fields as a plain dict, for storing with a delivery.

        Cheaper than a versioned primitive; :meth:`from_record` reads it
        back, ignoring keys a newer release may have added.
        """
        return {name: getattr(self, name) for name in self.fields
                if name != 'deliveries' and self.obj_attr_is_set(name)}

    @classmethod
    def from_record(cls, record: dict) -> 'AlarmFiring':
        """The firing a stored delivery record describes.

        :raises ValueError: if the record lacks a field a delivery needs.
        """
        values = {name: value for name, value in record.items()
                  if name in cls.fields}
        values.setdefault('deliveries', {})
        for name, field in cls.fields.items():
            if name not in values:
                if not field.nullable:
                    raise ValueError('the record has no %s' % name)
                values[name] = None
        return cls(**values)

    def webhook_body(self) -> dict:
        """The JSON body of the webhook: Aodh's keys plus ``fault_id``."""
        body = {
            'alarm_id': self.alarm_id,
            'alarm_name': self.alarm_name,
            'severity': self.severity,
            'previous': self.previous,
            'current': self.current,
            'reason': self.reason,
            'reason_data': self.reason_data,
        }
        fault_id = self.fault_id if self.obj_attr_is_set('fault_id') else None
        if fault_id:
            body['fault_id'] = fault_id
        return body
