"""Options of the ``[api]`` group: the REST API service."""

from oslo_config import cfg

GROUP = cfg.OptGroup('api', title='REST API options')

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address doctor-api listens on.'),
    cfg.PortOpt('port', default=12345,
                help='TCP port doctor-api listens on.'),
    cfg.IntOpt('workers', default=16, min=1,
               help='Threads serving requests in doctor-api when it runs '
                    'its own HTTP server (not under uwsgi or gunicorn). '
                    'A request gets a thread once it has arrived whole, '
                    'so slow clients do not hold them; requests beyond '
                    'them wait their turn.'),
    cfg.FloatOpt('header_timeout', default=10.0, min=0.1,
                 help='Seconds a client may take to send the request line '
                      'and headers of a request to doctor-api\'s own HTTP '
                      'server, counted from the connection (or, on a kept '
                      'connection, from the first byte of the request). '
                      'A client still sending then is answered 408 and '
                      'disconnected. Raise it only for clients on very '
                      'slow links. Under gunicorn or uwsgi, set that '
                      'server\'s own timeouts instead.'),
    cfg.FloatOpt('body_timeout', default=30.0, min=0.1,
                 help='Seconds a client may take to send a request body '
                      'to doctor-api\'s own HTTP server once its headers '
                      'have arrived; then it is answered 408 and '
                      'disconnected.'),
    cfg.IntOpt('max_connections', default=1000, min=0,
               help='Most connections doctor-api\'s own HTTP server keeps '
                    'open at once, waiting or being served; one more is '
                    'answered 503 and closed. Keep it well under the '
                    'process\'s open-file limit (ulimit -n). 0 means no '
                    'limit.'),
    cfg.IntOpt('max_connections_per_client', default=100, min=0,
               help='Most connections doctor-api\'s own HTTP server keeps '
                    'open from one client address; one more is answered '
                    '503 and closed. Behind a reverse proxy or load '
                    'balancer every connection comes from its address: '
                    'raise this to the proxy\'s connection count, or set '
                    '0 (no limit) and limit clients at the proxy.'),
    cfg.StrOpt('auth_strategy', default='noauth',
               choices=[('noauth', 'Identity is taken from the '
                                   'X-User-Id, X-Project-Id and X-Roles '
                                   'headers. For development and the '
                                   'embedded default only.'),
                        ('keystone', 'Tokens are validated by '
                                     'keystonemiddleware; configure '
                                     '[keystone_authtoken].')],
               help='How API requests are authenticated.'),
    cfg.IntOpt('default_limit', default=100, min=1,
               help='Number of items a list request returns when it '
                    'passes no limit.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='Largest limit a list request may ask for.'),
    cfg.IntOpt('project_alarm_quota', default=None, min=0,
               help='Largest number of alarms one project may own. '
                    'Unset means no limit.'),
    cfg.IntOpt('user_alarm_quota', default=None, min=0,
               help='Largest number of alarms one user may own. Unset '
                    'means no limit.'),
    cfg.IntOpt('alarm_max_actions', default=10, min=1,
               help='Largest number of URLs in each of alarm_actions, '
                    'ok_actions and insufficient_data_actions.'),
    cfg.IntOpt('max_request_body_size', default=1048576, min=1024,
               help='Largest request body, in bytes, the API accepts; a '
                    'larger one is answered 413. A POST /v1/events of '
                    'the largest allowed batch (1000 events) takes about '
                    '300 KB.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
