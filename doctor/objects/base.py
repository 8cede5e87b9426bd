"""Base class, registry and serializer of doctor's versioned objects."""

from oslo_versionedobjects import base as ovo_base


class DoctorObjectRegistry(ovo_base.VersionedObjectRegistry):
    """Registry of doctor's objects, kept apart from other projects'."""


class DoctorObject(ovo_base.VersionedObject):
    """Base of every object doctor sends between its services.

    Bump ``VERSION`` whenever ``fields`` change and teach
    ``obj_make_compatible`` to drop or translate what an older service does
    not know, so that release N and N+1 services run side by side.
    """

    OBJ_SERIAL_NAMESPACE = 'doctor_object'
    OBJ_PROJECT_NAMESPACE = 'doctor'

    def as_dict(self) -> dict:
        """The set fields of this object as a plain dict."""
        return {name: getattr(self, name) for name in self.fields
                if self.obj_attr_is_set(name)}


class DoctorObjectSerializer(ovo_base.VersionedObjectSerializer):
    """Serializes doctor objects (and lists and dicts of them) for the bus."""

    OBJ_BASE_CLASS = DoctorObject
