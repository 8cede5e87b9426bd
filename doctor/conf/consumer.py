"""Options of the ``[consumer]`` group: the sample alarm consumer.

Besides its own options the group holds keystoneauth's session and
authentication options, for reporting checkpoints to doctor-api: with
``auth_type`` set, the consumer authenticates with Keystone; without, it
sends the identity headers that doctor-api believes under ``[api]
auth_strategy = noauth``.
"""

from oslo_config import cfg

from doctor.conf import api_client

GROUP = cfg.OptGroup('consumer', title='Sample consumer options')

# Seconds a report to the API may take when [consumer] timeout is unset.

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


def register_opts(conf: cfg.ConfigOpts) -> None:
    api_client.register_opts(conf, GROUP, opts)


def list_opts():
    return api_client.list_opts(GROUP, opts)
