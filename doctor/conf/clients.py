"""Options of ``[nova]`` and ``[neutron]``: reaching OpenStack services.

Each group holds keystoneauth's session, authentication and adapter
options (credentials, CA file, timeouts, region, interface, endpoint
override) and, for the datasource of the same name, its snapshot interval
and timeout and the notifications it follows. openstacksdk reads the
groups by these names (``oslo_conf``).
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

NOVA_GROUP = cfg.OptGroup('nova', title='Nova: compute services and servers')
NEUTRON_GROUP = cfg.OptGroup('neutron', title='Neutron: ports')


def _datasource_opts(service: str, interval: float, topics: list[str],
                     exchange: str) -> list[cfg.Opt]:
    return [
        cfg.FloatOpt('snapshot_interval', default=interval, min=1.0,
                     help='Seconds between two full snapshots of %s taken '
                          'by the %s datasource. Notifications keep the '
                          'entity store current in between; the snapshot '
                          'is the consistency check.'
                          % (service, service.lower())),
        cfg.FloatOpt('snapshot_timeout', default=120.0, min=1.0,
                     help='Seconds a snapshot of %s may take. One that '
                          'takes longer is given up, logged and taken '
                          'again at the next interval; no entity is '
                          'deleted because of it.' % service),
        cfg.ListOpt('notification_topics', default=topics,
                    help='Topics on which %s publishes the notifications '
                         'the %s datasource follows. Empty: follow none '
                         'and rely on snapshots alone.'
                         % (service, service.lower())),
        cfg.StrOpt('notification_exchange', default=exchange,
                   help='Exchange of %s\'s notifications.' % service),
    ]


def _controller_opts(service: str, workers: str) -> list[cfg.Opt]:
    return [
        cfg.IntOpt('max_concurrent_calls', default=8, min=1,
                   help='Most calls the %s controller has under way '
                        'toward %s at once, over every fault (a host '
                        'forced down is not counted: it goes out at once). '
                        'More calls than %s serves at a time only queue '
                        'there, time out and are tried again while the '
                        'first is still being carried out. The default '
                        'suits a stock %s; raise it when %s serves more '
                        'requests at once.'
                        % (service.lower(), service, service, workers,
                           service)),
    ]


nova_opts = _datasource_opts(
    'Nova', 60.0, ['notifications', 'versioned_notifications'], 'nova'
) + _controller_opts('Nova', 'nova-api (8 threads of one worker)')
neutron_opts = _datasource_opts(
    'Neutron', 60.0, ['notifications'], 'neutron'
) + _controller_opts('Neutron', 'neutron-server')


# What endpoint_override must be, by service type.
_ENDPOINTS = {
    'compute': 'the versioned compute API, e.g. '
               'http://controller:8774/v2.1; the root URL '
               '(http://controller:8774) answers every call with 300 and '
               'changes nothing',
    'network': 'the root URL of the networking API, e.g. '
               'http://controller:9696, without /v2.0 (doctor adds it)',
}


def _adapter_opts(service_type: str) -> list[cfg.Opt]:
    """keystoneauth's adapter options, with this service's defaults."""
    opts = ks_loading.get_adapter_conf_options(include_deprecated=False)
    for opt in opts:
        if opt.dest == 'service_type':
            opt.default = service_type
        elif opt.dest == 'valid_interfaces':
            opt.default = ['internal', 'public']
        elif opt.dest == 'endpoint_override':
            # A copy: the option objects are keystoneauth's own.
            opt.help = ('The endpoint to use rather than the one the '
                        'catalog gives: %s. Unset: the catalog\'s. '
                        '"doctor-status upgrade check" tells whether it '
                        'answers as it should.' % _ENDPOINTS[service_type])
    return opts


def _keystoneauth_opts(service_type: str) -> list[cfg.Opt]:
    return (ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')
            + _adapter_opts(service_type))


_GROUPS = ((NOVA_GROUP, nova_opts, 'compute'),
           (NEUTRON_GROUP, neutron_opts, 'network'))


def register_opts(conf: cfg.ConfigOpts) -> None:
    for group, opts, service_type in _GROUPS:
        # A group of its own for each ConfigOpts: ConfigOpts copies a group
        # shallowly, and keystoneauth registers the auth plugin's options
        # (required ones among them) when it loads the plugin; on a shared
        # group they would reach every ConfigOpts made afterwards.
        conf.register_group(cfg.OptGroup(group.name, title=group.title,
                                         help=group.help))
        conf.register_opts(opts, group=group)
        ks_loading.register_session_conf_options(conf, group.name)
        ks_loading.register_auth_conf_options(conf, group.name)
        conf.register_opts(_adapter_opts(service_type), group=group)


def list_opts():
    return [(group, opts + _keystoneauth_opts(service_type))
            for group, opts, service_type in _GROUPS]
