"""The configuration files of Nova's, Placement's and Glance's processes."""

import os
import typing

from doctor.tests.functional import base
from doctor.tests.functional import keystone

# The host name of nova-api, nova-conductor and nova-scheduler.
CONTROLLER = 'controller'
REGION = keystone.REGION
# A compute that stops reporting shows ``down`` after SERVICE_DOWN_TIME.
REPORT_INTERVAL = 5
SERVICE_DOWN_TIME = 30

Sections = dict[str, dict[str, str]]

# The machine's PostgreSQL is shared by every test run (100 connections):
# each process of the peers keeps at most 3 (oslo.db's default is 55).
SMALL_POOL = {'max_pool_size': '1', 'max_overflow': '2'}


def merged(*configs: Sections) -> Sections:
    """The sections of ``configs``, later options replacing earlier ones."""
    result: Sections = {}
    for config in configs:
        for section, options in config.items():
            result.setdefault(section, {}).update(options)
    return result


def write_ini(path: str, sections: Sections) -> None:
    """Write ``sections`` to ``path`` as an INI file."""
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % item for item in options.items()]
        lines.append('')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


def write_manage_configs(path: typing.Callable[..., str], transport_url: str,
                         urls: dict[str, str]) -> None:
    """The files nova-, placement- and glance-manage read.

    :param path: the path of a name in the cloud's directory.
    :param urls: the database URLs, by database.
    """
    for name, sections in (
            ('nova-manage.conf', {
                'DEFAULT': {'transport_url': transport_url},
                'api_database': {'connection': urls['nova_api']},
                'database': {'connection': urls['nova']}}),
            ('cell0.conf', {'database': {'connection': urls['nova_cell0']}}),
            ('placement-manage.conf', {'placement_database': {
                'connection': urls['placement']}}),
            ('glance-manage.conf', {'database': {
                'connection': urls['glance']}})):
        write_ini(path(name), sections)


def write_service_configs(path: typing.Callable[..., str],
                          hosts: typing.Sequence[str], transport_url: str,
                          urls: dict[str, str],
                          auth: typing.Callable[..., dict[str, str]],
                          identity_url: str, glance_venv: str) -> None:
    """nova.conf, one per compute host, placement's and glance's.

    :param path: the path of a name in the cloud's directory.
    :param urls: the database URLs, by database.
    :param auth: ``auth(user, **options)``: the keystoneauth options of a
        service user, with ``options`` added.
    :param identity_url: Keystone's unversioned endpoint.
    :param glance_venv: the path of Glance's virtualenv.
    """
    def authtoken(user: str) -> dict[str, str]:
        return auth(user, www_authenticate_uri=identity_url)

    policy = {'enforce_scope': 'False', 'enforce_new_defaults': 'False'}
    clients = {'region_name': REGION, 'valid_interfaces': 'public'}
    common: Sections = {
        'DEFAULT': {
            'transport_url': transport_url,
            'my_ip': base.HOST,
            'report_interval': str(REPORT_INTERVAL),
            'service_down_time': str(SERVICE_DOWN_TIME),
            'graceful_shutdown_timeout': '5',
            # Periodic tasks (the scheduler's mapping of new computes to
            # the cell among them) start at once, not up to a minute later.
            'periodic_fuzzy_delay': '0',
        },
        'notifications': {
            'notification_format': 'both',
            'notify_on_state_change': 'vm_and_task_state',
        },
        'oslo_messaging_notifications': {'driver': 'messagingv2'},
        'placement': auth('nova', **clients),
        'neutron': auth('nova', **clients),
        'glance': dict(clients),
        'cinder': {'os_region_name': REGION},
        'quota': {'driver': 'nova.quota.NoopQuotaDriver'},
        'oslo_policy': policy,
    }
    controller = merged(common, {
        'DEFAULT': {'host': CONTROLLER, 'state_path': path('controller')},
        'oslo_concurrency': {'lock_path': path('controller', 'locks')},
        'api_database': dict(SMALL_POOL, connection=urls['nova_api']),
        'database': dict(SMALL_POOL, connection=urls['nova']),
        'keystone_authtoken': authtoken('nova'),
        'conductor': {'workers': '1'},
        'scheduler': {'workers': '1',
                      'discover_hosts_in_cells_interval': '2'},
    })
    os.makedirs(path('controller', 'locks'))
    write_ini(path('nova.conf'), controller)
    write_ini(path('nova-api.conf'), {
        'DEFAULT': {'log_file': path('logs', 'nova-api.log')}})
    for host in hosts:
        state = path(host)
        os.makedirs(os.path.join(state, 'instances'))
        write_ini(path(host + '.conf'), merged(common, {
            'DEFAULT': {
                'host': host, 'state_path': state,
                'instances_path': os.path.join(state, 'instances'),
                'compute_driver': 'fake.FakeDriverWithoutFakeNodes',
            },
            'oslo_concurrency': {'lock_path': os.path.join(state, 'locks')},
        }))
    os.mkdir(path('placement'))
    write_ini(path('placement', 'placement.conf'), {
        'DEFAULT': {'log_file': path('logs', 'placement.log')},
        'placement_database': dict(SMALL_POOL,
                                   connection=urls['placement']),
        'api': {'auth_strategy': 'keystone'},
        'keystone_authtoken': authtoken('placement'),
        'oslo_policy': policy,
    })
    glance = path('glance')
    os.mkdir(glance)
    store = {name: {'filesystem_store_datadir': os.path.join(glance, name)}
             for name in ('images', 'os_glance_staging_store',
                          'os_glance_tasks_store')}
    write_ini(os.path.join(glance, 'glance-api.conf'), {
        'DEFAULT': {'log_file': path('logs', 'glance-api.log'),
                    'enabled_backends': 'images:file'},
        'database': dict(SMALL_POOL, connection=urls['glance']),
        'glance_store': {'default_backend': 'images'},
        **store,
        'paste_deploy': {
            'flavor': 'keystone',
            'config_file': os.path.join(glance_venv, 'etc', 'glance',
                                        'glance-api-paste.ini')},
        'keystone_authtoken': authtoken('glance'),
        'oslo_policy': policy,
    })
