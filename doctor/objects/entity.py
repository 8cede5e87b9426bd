"""The EntityChangeBatch object: entity changes on their way to followers."""

import typing

from oslo_utils import timeutils
from oslo_versionedobjects import fields

from doctor.objects import base


class EntityChangeList(fields.FieldType):
    """Entity change records (dicts); timestamps travel as ISO 8601 text.

    The keys of a record are those of
    :meth:`doctor.synchronizer.entity.Change.as_record`.
    """

    @staticmethod
    def coerce(obj, attr, value):
        if not isinstance(value, list) or not all(
                isinstance(item, dict) for item in value):
            raise ValueError('%s must be a list of dicts' % attr)
        return value

    @staticmethod
    def to_primitive(obj, attr, value):
        primitive = []
        for record in value:
            item = dict(record)
            item['timestamp'] = timeutils.normalize_time(
                record['timestamp']).isoformat(timespec='microseconds')
            primitive.append(item)
        return primitive

    @staticmethod
    def from_primitive(obj, attr, value):
        records = []
        for item in value:
            record = dict(item)
            record['timestamp'] = timeutils.normalize_time(
                timeutils.parse_isotime(item['timestamp']))
            records.append(record)
        return records


class EntityChangeListField(fields.AutoTypedField):
    AUTO_TYPE = EntityChangeList()


@base.DoctorObjectRegistry.register
class EntityChangeBatch(base.DoctorObject):
    """Changes the entity store took, in the order it took them.

    One object carries a whole batch: followers apply thousands of changes
    a second, one object per change would cost more than the changes.

    Version history:

    * 1.0: initial version
    """

    VERSION = '1.0'

    fields = {
        'changes': EntityChangeListField(),
    }

    if typing.TYPE_CHECKING:
        changes: list[dict[str, typing.Any]]
