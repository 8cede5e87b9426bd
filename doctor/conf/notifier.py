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
    cfg.IntOpt('processes', default=1, min=1,
               help='Processes doctor-notifier runs on this machine, each '
                    'with its own delivery threads (workers). Deliveries '
                    'are claimed in the database, so that each is made by '
                    'one process at a time. Ignored by doctor-all.'),
    cfg.FloatOpt('http_connect_timeout', default=2.0, min=0.01,
                 help='Seconds to wait for a webhook connection.'),
    cfg.FloatOpt('http_read_timeout', default=5.0, min=0.01,
                 help='Seconds to wait for a webhook to answer.'),
    cfg.IntOpt('max_retries', default=3, min=0,
               help='Quick retries of a webhook POST within one attempt '
                    '(connection error, timeout, 429 or 5xx answer). An '
                    'attempt that still fails is attempted again later, '
                    'with backoff, until retry_horizon.'),
    cfg.FloatOpt('retry_backoff', default=0.5, min=0.0,
                 help='Seconds before the first quick retry of a webhook '
                      'POST; each further one waits twice as long.'),
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
                    'in flight is taken over by the next scan. Keep it '
                    'above the longest attempt, the webhook\'s quick '
                    'retries (max_retries) included.'),
    cfg.IntOpt('per_target_workers', default=4, min=1,
               help='Deliveries under way at once to one consumer (one '
                    'scheme, host and port); the others to it wait their '
                    'turn, so that a slow or dead consumer holds at most '
                    'this many of the workers and never delays the '
                    'deliveries to the others.'),
    cfg.IntOpt('retry_horizon', default=3600, min=0,
               help='Seconds after the state transition during which a '
                    'delivery that keeps failing (connection error, '
                    'timeout, 429 or 5xx answer) is attempted again. '
                    'Past it the delivery is given up and an "action" '
                    'entry with result "failed" is added to the alarm '
                    'history. 0 gives up after the first attempt.'),
    cfg.FloatOpt('retry_initial_backoff', default=1.0, min=0.01,
                 help='Seconds between the first failed attempt of a '
                      'delivery and the next; each further wait doubles, '
                      'up to retry_max_backoff, and is shortened by a '
                      'random part of up to half its length (jitter), so '
                      'that a consumer coming back is not hit by every '
                      'retry at once.'),
    cfg.FloatOpt('retry_max_backoff', default=300.0, min=0.01,
                 help='Longest wait, in seconds, between two attempts of '
                      'a delivery that keeps failing.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
