"""Options of the ``[consumer]`` group: the sample alarm consumer.

Besides its own options the group holds keystoneauth's session and
authentication options, for reporting checkpoints to doctor-api: with
``auth_type`` set, the consumer authenticates with Keystone; without, it
sends the identity headers that doctor-api believes under ``[api]
auth_strategy = noauth``.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup('consumer', title='Sample consumer options')

# Seconds a report to the API may take when [consumer] timeout is unset.
HTTP_TIMEOUT = 10

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address doctor-consumer listens on.'),
    cfg.PortOpt('port', default=12346,
                help='TCP port doctor-consumer listens on. It accepts '
                     'alarm POSTs on any path.'),
    cfg.BoolOpt('report_checkpoints', default=True,
                help='Report when each alarm of a doctor fault was '
                     'received and handled (the profiler\'s checkpoints 9 '
                     'and 10) to POST <api_url>/v1/faults/{fault_id}/'
                     'checkpoints, in batches, from a thread of its own.'),
    cfg.StrOpt('api_url', default='http://127.0.0.1:12345',
               help='doctor API the checkpoints are reported to.'),
]


def _session_opts() -> list[cfg.Opt]:
    session_opts = ks_loading.get_session_conf_options()
    for opt in session_opts:
        if opt.dest == 'timeout':
            opt.default = HTTP_TIMEOUT
    return session_opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    # A group of its own for each ConfigOpts: keystoneauth registers the
    # auth plugin's options on the group when it loads the plugin.
    group = cfg.OptGroup(GROUP.name, title=GROUP.title, help=GROUP.help)
    conf.register_group(group)
    conf.register_opts(opts, group=group)
    conf.register_opts(_session_opts(), group=group)
    ks_loading.register_auth_conf_options(conf, group.name)


def list_opts():
    return [(GROUP, opts + _session_opts()
             + ks_loading.get_auth_common_conf_options()
             + ks_loading.get_auth_plugin_conf_options('password'))]
