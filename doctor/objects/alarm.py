"""The Alarm object, as the API announces it to evaluators."""

import datetime
import typing

from oslo_utils import versionutils
from oslo_versionedobjects import fields

from doctor.objects import base
from doctor.objects import fields as doctor_fields


@base.DoctorObjectRegistry.register
class Alarm(base.DoctorObject):
    """A notification alarm.

    Version history:

    * 1.0: initial version
    * 1.1: ``infrastructure``, whether the alarm sees the events that name
      no project
    """

    VERSION = '1.1'

    fields = {
        'alarm_id': fields.StringField(),
        'name': fields.StringField(),
        'description': fields.StringField(nullable=True),
        'type': fields.StringField(),
        'enabled': fields.BooleanField(),
        'severity': fields.StringField(),
        'project_id': fields.StringField(nullable=True),
        'user_id': fields.StringField(nullable=True),
        'resource_id': fields.StringField(nullable=True),
        'rule': doctor_fields.JsonDictField(),
        'alarm_actions': fields.ListOfStringsField(),
        'ok_actions': fields.ListOfStringsField(),
        'insufficient_data_actions': fields.ListOfStringsField(),
        'repeat_actions': fields.BooleanField(),
        'state': fields.StringField(),
        'state_reason': fields.StringField(nullable=True),
        'state_timestamp': doctor_fields.PreciseDateTimeField(nullable=True),
        'timestamp': doctor_fields.PreciseDateTimeField(nullable=True),
        'infrastructure': fields.BooleanField(default=False),
    }

    if typing.TYPE_CHECKING:
        # The attributes oslo.versionedobjects makes of ``fields``, for the
        # type checker; keep the two in step.
        alarm_id: str
        name: str
        description: str | None
        type: str
        enabled: bool
        severity: str
        project_id: str | None
        user_id: str | None
        resource_id: str | None
        rule: dict[str, typing.Any]
        alarm_actions: list[str]
        ok_actions: list[str]
        insufficient_data_actions: list[str]
        repeat_actions: bool
        state: str
        state_reason: str | None
        state_timestamp: datetime.datetime | None
        timestamp: datetime.datetime | None
        infrastructure: bool

    def obj_make_compatible(self, primitive: dict,
                            target_version: str) -> None:
        """Drop what a receiver of ``target_version`` does not know."""
        super().obj_make_compatible(primitive, target_version)
        target = versionutils.convert_version_to_tuple(target_version)
        if target < (1, 1):
            # A 1.0 evaluator then treats the alarm as it always did.
            primitive.pop('infrastructure', None)

    @classmethod
    def from_dict(cls, values: dict) -> 'Alarm':
        """Build an Alarm from a storage or API dict of the same keys."""
        return cls(**{name: values[name] for name in cls.fields
                      if name in values})
