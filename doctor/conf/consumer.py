"""Options of the ``[consumer]`` group: the sample alarm consumer."""

from oslo_config import cfg

GROUP = cfg.OptGroup('consumer', title='Sample consumer options')

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address doctor-consumer listens on.'),
    cfg.PortOpt('port', default=12346,
                help='TCP port doctor-consumer listens on. It accepts '
                     'alarm POSTs on any path.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
