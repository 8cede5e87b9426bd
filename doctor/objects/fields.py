"""Field types of doctor's objects beyond oslo.versionedobjects' own."""

from oslo_utils import timeutils
from oslo_versionedobjects import fields


class JsonDict(fields.FieldType):
    """A dict of JSON values (strings, numbers, lists, dicts, None)."""

    @staticmethod
    def coerce(obj, attr, value):
        if not isinstance(value, dict):
            raise ValueError('%s must be a dict, not %s'
                             % (attr, type(value).__name__))
        return value

    # The value is shared, not copied, on its way to and from primitives:
    # a firing's reason data is built once and never changed afterwards,
    # and copying it would cost more than the rest of a state transition.
    @staticmethod
    def to_primitive(obj, attr, value):
        return value

    @staticmethod
    def from_primitive(obj, attr, value):
        return value


class JsonDictField(fields.AutoTypedField):
    AUTO_TYPE = JsonDict()


class PreciseDateTime(fields.DateTime):
    """A UTC datetime that keeps its microseconds on the bus.

    oslo.versionedobjects' own DateTime sends whole seconds, too coarse to
    order two changes of one alarm made within the same second.
    """

    @staticmethod
    def to_primitive(obj, attr, value):
        value = timeutils.normalize_time(value)
        return value.isoformat(timespec='microseconds') + 'Z'

    @staticmethod
    def from_primitive(obj, attr, value):
        return timeutils.parse_isotime(value)


class PreciseDateTimeField(fields.AutoTypedField):
    AUTO_TYPE = PreciseDateTime()
