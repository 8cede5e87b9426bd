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
                    'its own HTTP server (not under uwsgi or gunicorn); '
                    'connections beyond them wait their turn.'),
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
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
