"""Field types of doctor's objects beyond oslo.versionedobjects' own."""

import copy

from oslo_versionedobjects import fields


class JsonDict(fields.FieldType):
    """A dict of JSON values (strings, numbers, lists, dicts, None)."""

    @staticmethod
    def coerce(obj, attr, value):
        if not isinstance(value, dict):
            raise ValueError('%s must be a dict, not %s'
                             % (attr, type(value).__name__))
        return value

    @staticmethod
    def to_primitive(obj, attr, value):
        return copy.deepcopy(value)

    @staticmethod
    def from_primitive(obj, attr, value):
        return copy.deepcopy(value)


class JsonDictField(fields.AutoTypedField):
    AUTO_TYPE = JsonDict()
