"""Options of the ``[coordination]`` group: replicas of one service."""

from oslo_config import cfg

GROUP = cfg.OptGroup('coordination', title='Coordination between replicas')

opts = [
    cfg.StrOpt('backend_url', secret=True,
               help='tooz coordination URL (redis://, etcd3+http://, '
                    'zookeeper://, file://, postgresql://, mysql://...). '
                    'Required when a service runs as several replicas: '
                    'evaluators use it to know of each other. Unset means '
                    'every service runs as a single replica.'),
    cfg.FloatOpt('heartbeat_interval', default=1.0, min=0.1,
                 help='Seconds between heartbeats to the coordination '
                      'backend and refreshes of the members a replica '
                      'knows of.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
