"""Options of ``[monitor]``: the sample host monitor, doctor-monitor."""

from oslo_config import cfg

GROUP = cfg.OptGroup('monitor', title='doctor-monitor: the sample host '
                                      'monitor')

opts = [
    cfg.ListOpt('hosts', default=[],
                help='Hosts to watch, each "name=address" (the name doctor '
                     'knows the host by, and the IP address to probe), or '
                     'a bare address that is also the name.'),
    cfg.FloatOpt('interval', default=0.1, min=0.01,
                 help='Seconds between two probes of a host.'),
    cfg.StrOpt('method', default='auto',
               choices=[('auto', 'ICMP echo where a raw socket may be '
                                 'opened, TCP connect otherwise'),
                        ('icmp', 'ICMP echo (needs CAP_NET_RAW)'),
                        ('tcp', 'TCP connect to [monitor] tcp_port')],
               help='How a host is probed.'),
    cfg.PortOpt('tcp_port', default=22,
                help='Port a TCP probe connects to. A refused connection '
                     'is a reply: the host is up.'),
    cfg.StrOpt('api_url', default='http://127.0.0.1:12345',
               help='doctor API the raw failures are posted to.'),
    cfg.StrOpt('name', default='doctor-monitor',
               help='Name of this monitor, sent with each raw failure.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
