"""doctor: fault management for OpenStack clouds."""

from oslo_service import backend as _backend

# doctor runs on oslo.service's threading backend and never on eventlet:
# make threading the default before any oslo.service component is loaded.
_backend.register_backend_default_hook(
    lambda: _backend.BackendType.THREADING)
