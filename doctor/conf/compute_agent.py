"""Options of ``[compute_agent]``: doctor-compute-agent, one per compute
host, the host's end of the HA guest channels.

Besides its own options the group holds keystoneauth's session and
authentication options, like ``[monitor]``: with ``auth_type`` set, the
agent authenticates with Keystone before it posts instance faults;
without, it sends the identity headers that doctor-api believes under
``[api] auth_strategy = noauth``. The agent records each guest's
heartbeat status in doctor's database (``[database] connection``).
"""

from oslo_config import cfg

from doctor.conf import api_client

GROUP = cfg.OptGroup('compute_agent',
                     title='doctor-compute-agent: the host end of the HA '
                           'guest channels')


opts = [
    cfg.StrOpt('channel_dir', default='/var/lib/doctor/guest-channels',
               help='Directory of the guests\' channel sockets: QEMU binds '
                    'one UNIX socket per guest here, named '
                    '<instance_id>.sock (the libvirt domain\'s <channel '
                    'type="unix"> with mode="bind" and target name '
                    'org.opendev.doctor.0). The agent connects to each.'),
    cfg.FloatOpt('rescan_interval', default=1.0, min=0.01,
                 help='Seconds between two scans of channel_dir for new '
                      'sockets, and between two attempts to connect to a '
                      'socket that refused.'),
    cfg.IntOpt('min_interval_ms', default=100, min=1,
               help='Shortest heartbeat interval a guest may ask for, in '
                    'milliseconds; a guest asking for less is heartbeaten '
                    'at this interval.'),
    cfg.IntOpt('max_interval_ms', default=60000, min=1,
               help='Longest heartbeat interval a guest may ask for, in '
                    'milliseconds; a guest asking for more is heartbeaten '
                    'at this interval.'),
    cfg.IntOpt('max_messages_per_second', default=100, min=1,
               help='Messages a guest may send per second (averaged over '
                    'one second); those past it are dropped and answered '
                    'with a rate_limited error, so that a flooding guest '
                    'costs no other guest anything.'),
    cfg.FloatOpt('status_interval', default=10.0, min=0.1,
                 help='Seconds between two records of a guest\'s last '
                      'heartbeat while its status stays the same. A change '
                      'of status is recorded at once.'),
    cfg.StrOpt('api_url', default='http://127.0.0.1:12345',
               help='doctor API that instance faults are posted to '
                    '(POST <api_url>/v1/events).'),
    cfg.StrOpt('libvirt_uri', default='qemu:///system',
               help='libvirt connection the agent adds a guest\'s channel '
                    'through when asked to (a running domain booted '
                    'without it); needs libvirt-python.'),
    cfg.StrOpt('name', default='doctor-compute-agent',
               help='Name of this agent, sent as the monitor of each '
                    'instance fault.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    api_client.register_opts(conf, GROUP, opts)


def list_opts():
    return api_client.list_opts(GROUP, opts)
