"""The virtualenvs of Nova, Placement and Glance, and their versions.

Nova and Placement share one, Glance has its own; both are made by
:func:`doctor.tests.functional.peer_install.ensure_venv`.
"""

from doctor.tests.functional import peer_install

VERSION = '34.0.0'
PLACEMENT_VERSION = '16.0.0'
GLANCE_VERSION = '33.0.0'
NOVA = 'Nova ' + VERSION

# gunicorn >= 25 for --no-control-socket.
_SERVING = ('gunicorn==27.0.1', 'psycopg2-binary==2.9.13')
NOVA_VENV = peer_install.Venv(
    'nova-venv', 'nova', VERSION,
    ('nova==' + VERSION,
     'openstack-placement==' + PLACEMENT_VERSION) + _SERVING)
GLANCE_VENV = peer_install.Venv(
    'glance-venv', 'glance', GLANCE_VERSION,
    ('glance==' + GLANCE_VERSION,) + _SERVING)
VENVS = (NOVA_VENV, GLANCE_VENV)
