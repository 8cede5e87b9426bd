"""doctor: fault management for OpenStack clouds."""

import warnings

# oslo.service installs eventlet, and futurist imports it when it is there,
# which prints eventlet's nine-line deprecation notice at every start of
# every service and command. doctor never runs on eventlet (below): the
# notice is not for its operators.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
# dnspython (through oslo.messaging's and eventlet's dependencies) names
# cryptography's DSA classes when its DNSSEC module is imported, and
# cryptography answers with one deprecation warning a name: eight lines at
# every start. doctor does no DNSSEC; only dnspython's own use is muted.
warnings.filterwarnings('ignore', message='DSA is deprecated',
                        module=r'dns\.')

from oslo_service import backend as _backend  # noqa: E402

# doctor runs on oslo.service's threading backend and never on eventlet:
# make threading the default before any oslo.service component is loaded.
_backend.register_backend_default_hook(
    lambda: _backend.BackendType.THREADING)
