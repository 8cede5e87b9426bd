"""Options of ``[monitor]``: the sample host monitor, doctor-monitor.

Besides its own options the group holds keystoneauth's session options
(CA file, client certificate, HTTP timeout) and its authentication
options: with ``auth_type`` set, the monitor authenticates with Keystone
before it posts; without, it sends the identity headers that doctor-api
believes under ``[api] auth_strategy = noauth``.
"""

from oslo_config import cfg

from doctor.conf import api_client

GROUP = cfg.OptGroup('monitor', title='doctor-monitor: the sample host '
                                      'monitor')

# Seconds a POST to the API may take when [monitor] timeout is not set:
# keystoneauth's own default waits for ever, which would hold every event
# queued behind one that an API never answers.

opts = [
    cfg.ListOpt('hosts', default=[],
                help='Hosts to watch, each "name=address" (the name doctor '
                     'knows the host by, and the IP address to probe), or '
                     'a bare address that is also the name. Names and '
                     'addresses must each be unique; doctor-monitor '
                     'refuses to start, naming the entry, otherwise.'),
    cfg.FloatOpt('interval', default=0.1, min=0.01,
                 help='Seconds between two probes of a host. The probes of '
                      'the hosts are spread evenly over the interval.'),
    cfg.FloatOpt('probe_timeout', min=0.001,
                 help='Seconds a probe waits for its reply. A host is '
                      'reported down at the first probe left without a '
                      'reply. Unset: the interval. At most the interval.'),
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
               help='doctor API the raw failures are posted to '
                    '(POST <api_url>/v1/events).'),
    cfg.StrOpt('name', default='doctor-monitor',
               help='Name of this monitor, sent with each raw failure.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    api_client.register_opts(conf, GROUP, opts)


def list_opts():
    return api_client.list_opts(GROUP, opts)
