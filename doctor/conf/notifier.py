"""Options of the ``[notifier]`` group: delivery of fired alarms."""

from oslo_config import cfg

GROUP = cfg.OptGroup('notifier', title='Alarm action delivery')

# Loopback, link-local, the metadata addresses of the clouds (EC2's IPv6
# one is outside fe80::/10) and the unspecified addresses, which Linux
# connects to the local host.
DEFAULT_DENIED_NETWORKS = [
    '127.0.0.0/8', '::1/128',
    '169.254.0.0/16', 'fe80::/10',
    '169.254.169.254/32', 'fd00:ec2::254/128',
    '0.0.0.0/8', '::/128',
]

opts = [
    cfg.IntOpt('workers', default=32, min=1,
               help='Threads delivering alarm actions; the actions of one '
                    'alarm are delivered concurrently.'),
    cfg.FloatOpt('http_connect_timeout', default=2.0, min=0.01,
                 help='Seconds to wait for a webhook connection.'),
    cfg.FloatOpt('http_read_timeout', default=5.0, min=0.01,
                 help='Seconds to wait for a webhook to answer.'),
    cfg.IntOpt('max_retries', default=3, min=0,
               help='Retries of a failed delivery (connection error, '
                    'timeout or 5xx answer) before it is given up and '
                    'recorded in the alarm history.'),
    cfg.FloatOpt('retry_backoff', default=0.5, min=0.0,
                 help='Seconds before the first retry; each further '
                      'retry waits twice as long.'),
    cfg.BoolOpt('ssl_verify', default=True,
                help='Verify the certificate of https webhooks.'),
    cfg.StrOpt('ssl_ca_file',
               help='CA bundle used to verify https webhooks instead of '
                    'the system one.'),
    cfg.StrOpt('ssl_client_cert',
               help='Client certificate (PEM) presented to https '
                    'webhooks.'),
    cfg.StrOpt('ssl_client_key',
               help='Private key of ssl_client_cert, if not in the same '
                    'file.'),
    cfg.ListOpt('denied_networks', default=DEFAULT_DENIED_NETWORKS,
                help='Networks (CIDR, IPv4 or IPv6) that alarm actions may '
                     'not send webhooks to. An http or https action whose '
                     'host is, or resolves to, an address in one of them '
                     'is refused: at alarm creation when the host is a '
                     'literal address (however it is spelled: '
                     '2130706433, 0x7f.1 and ::ffff:127.0.0.1 are all '
                     '127.0.0.1), and at each delivery after the host '
                     'name is resolved. The default covers loopback, '
                     'link-local, the cloud metadata addresses and the '
                     'unspecified addresses. Add the networks of your '
                     'control plane (doctor\'s own API, the database, the '
                     'message bus) and private ranges that tenants must '
                     'not reach. An empty list allows every address.'),
    cfg.ListOpt('allowed_networks', default=[],
                help='Networks (CIDR) allowed even inside a denied '
                     'network, for consumers that live there: for '
                     'example 127.0.0.0/8 for a consumer on the same host '
                     'as the notifier, or the private range of your '
                     'consumers when denied_networks includes it.'),
    cfg.IntOpt('redelivery_interval', default=10, min=1,
               help='Seconds between scans for stored deliveries that no '
                    'notifier finished, for example because it was '
                    'restarted.'),
    cfg.IntOpt('redelivery_after', default=30, min=1,
               help='Seconds after which a stored delivery that is still '
                    'pending is taken over by the next scan. Keep it '
                    'above the longest delivery with all its retries.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
