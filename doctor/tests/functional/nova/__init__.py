"""A real Nova, with Placement and Glance, on loopback, shared by a process.

:func:`shared` starts it on first use and stops it when the process exits:

* Nova and Placement share a virtualenv, Glance has one of its own, under
  the user's cache directory (``~/.cache/doctor-tests/nova-venv`` and
  ``glance-venv``, or under ``$XDG_CACHE_HOME``), never doctor's. Each is
  made once per machine under a file lock and reused while it holds the
  pinned versions.
* Identity is the process's real Keystone
  (:func:`doctor.tests.functional.keystone.shared`). Through its REST API
  the ``nova``, ``placement`` and ``glance`` service users are made (roles
  ``admin`` and ``service`` on the ``service`` project), the ``compute``,
  ``placement`` and ``image`` services and their endpoints are put in the
  catalog, and the cloud administrator gets the admin role on the tenant
  projects, so that it can boot servers owned by a tenant on a chosen
  host. The three APIs run their stock paste pipelines with
  ``[keystone_authtoken]``.
* Each start gets new PostgreSQL databases (``nova_api``, ``nova_cell0``,
  the cell ``nova``, ``placement``, ``glance``), a new RabbitMQ virtual
  host (:attr:`Nova.transport_url`) and a temporary directory for the
  configuration, state and logs; all are removed at stop.
* Placement, glance-api and nova-api are served by gunicorn (gthread);
  nova-conductor, nova-scheduler and one nova-compute per host
  (:data:`HOSTS`) run with ``compute_driver =
  fake.FakeDriverWithoutFakeNodes``. The scheduler maps new compute hosts
  to the cell every few seconds. A tiny raw image is uploaded to Glance
  and a small flavor made.
* Notifications go out in both formats (``notification_format = both``,
  ``notify_on_state_change = vm_and_task_state``, driver
  ``messagingv2``) to exchange ``nova``, topics ``notifications`` (legacy,
  e.g. ``compute.instance.update``) and ``versioned_notifications`` (e.g.
  ``instance.update``, ``service.update``). Nobody reads the queues Nova
  declares for them: a policy of the virtual host keeps every queue to
  its newest :data:`QUEUE_LENGTH` messages. Listeners should use a pool
  of their own (a queue named after the pool) and delete it when done.

Neutron: Nova asks it even for servers booted with ``"networks":
"none"``, and finds it in the catalog. The real neutron-server of
:func:`doctor.tests.functional.neutron.shared`, which registers the
``network`` service in the same Keystone, starts alongside Nova and is
used whenever that module is there. Without the module, or when it
reports its Neutron unavailable, a **stand-in** is registered as the
``network`` service instead: an HTTP server in this process answering
every collection it is asked for with an empty list and every single
resource with 404. It is enough for Nova to boot, list and delete servers
without networks, and nothing more; :attr:`Nova.neutron_stand_in` tells
which one is in use. (keystonemiddleware remembers a validated token's
catalog for minutes: a token Nova saw before the ``network`` service was
registered finds no network endpoint; those of :meth:`Nova.token` and
:meth:`Nova.connection` are newer.)

Costs, measured on a 2-core machine busy with other tests (load 4-6):

* first start on a machine, installing the two virtualenvs (70-120 s,
  alongside Keystone's and Neutron's installs): 100-190 s to ready;
* warm start, Keystone and Neutron included: 45-50 s (schemas 12-14 s,
  from launch to every compute mapped about 20 s);
* memory: about 1.1 GB PSS for Placement, Glance, nova-api, conductor,
  scheduler and three computes (each compute about 120 MiB), besides
  Keystone and Neutron.

When a virtualenv cannot be made (no package index reachable) or
PostgreSQL, RabbitMQ or Keystone is missing, :class:`Unavailable` is
raised: a test then skips, or fails when ``CI`` or
``DOCTOR_REQUIRE_SERVICES`` is set. Any other failure to start is a
:class:`StartError`, with the tails of the logs. Every wait is bounded.
Every process Nova runs stops by itself when this process dies without
stopping it, and the next start removes the databases, virtual host and
directory left behind.

The package: :mod:`.install` pins the virtualenvs, :mod:`.config` writes
the services' configuration, :mod:`.scripts` holds the programs run in
the cloud's directory, :mod:`.stand_in` the Neutron stand-in,
:mod:`.client` the calls tests make, and :mod:`.cloud` the :class:`Nova`
that runs it all.
"""

from doctor.tests.functional.nova.client import APIError
from doctor.tests.functional.nova.client import HOSTS
from doctor.tests.functional.nova.client import MICROVERSION
from doctor.tests.functional.nova.cloud import FLAVOR
from doctor.tests.functional.nova.cloud import IMAGE
from doctor.tests.functional.nova.cloud import Nova
from doctor.tests.functional.nova.cloud import require
from doctor.tests.functional.nova.cloud import shared
from doctor.tests.functional.nova.cloud import StartError
from doctor.tests.functional.nova.cloud import Unavailable
from doctor.tests.functional.nova.install import GLANCE_VENV
from doctor.tests.functional.nova.install import NOVA
from doctor.tests.functional.nova.install import NOVA_VENV
from doctor.tests.functional.nova.install import VERSION

__all__ = [
    'APIError', 'FLAVOR', 'GLANCE_VENV', 'HOSTS', 'IMAGE', 'MICROVERSION',
    'NOVA', 'NOVA_VENV', 'Nova', 'StartError', 'Unavailable', 'VERSION',
    'require', 'shared',
]
