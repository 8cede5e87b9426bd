"""Options of the ``[notifier]`` group: delivery of fired alarms."""

from oslo_config import cfg

GROUP = cfg.OptGroup('notifier', title='Alarm action delivery')

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
