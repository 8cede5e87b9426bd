"""Options of ``[synchronizer]`` and of the ``[static]`` datasource."""

from oslo_config import cfg

GROUP = cfg.OptGroup('synchronizer', title='Synchronizer: the entity store')
STATIC_GROUP = cfg.OptGroup('static', title='The static datasource')

opts = [
    cfg.ListOpt('datasources', default=['static'],
                help='Datasource plugins (entry points of '
                     'doctor.datasources) the synchronizer runs: static, '
                     'nova, neutron. Each takes its own options from the '
                     'group of its name.'),
    cfg.IntOpt('batch_size', default=1000, min=1,
               help='Most changes written to the entity store in one '
                    'transaction. Changes that arrive while a batch is '
                    'written are queued for the next one.'),
    cfg.IntOpt('consumer_backlog_warning', default=10000, min=1,
               help='Log a warning when a consumer of entity changes has '
                    'this many changes waiting: it is slower than the '
                    'changes arrive. Changes are never dropped.'),
    cfg.IntOpt('tombstone_lifetime', default=3600, min=1,
               help='Seconds a deleted entity is remembered, so that a '
                    'late and older report of it (a notification racing '
                    'a snapshot) does not bring it back.'),
    cfg.StrOpt('notification_pool', default='doctor-synchronizer',
               help='Listener pool shared by all synchronizer replicas: '
                    'each datasource notification is handled by one of '
                    'them. The datasource name is appended, so that each '
                    'datasource has a queue of its own on RabbitMQ.'),
    cfg.IntOpt('notification_batch_size', default=100, min=1,
               help='Most notifications a datasource takes from the bus '
                    'at once. Taking them in batches more than doubles '
                    'the changes a synchronizer stores a second.'),
    cfg.FloatOpt('notification_batch_timeout', default=0.05, min=0.001,
                 help='Seconds a datasource waits for a batch of '
                      'notifications to fill before it handles what it '
                      'has: a notification that arrives alone reaches the '
                      'entity store this much later at most. Lower it for '
                      'latency, raise it for throughput.'),
]

static_opts = [
    cfg.StrOpt('inventory', default='inventory.yaml',
               help='YAML file of hosts, their instances and their ports. '
                    'A relative name is looked up beside the '
                    'configuration files, then in the packaged demo '
                    'inventory.'),
    cfg.FloatOpt('snapshot_interval', default=2.0, min=0.1,
                 help='Seconds between two checks of the inventory file. '
                      'The file is read again only when it has changed.'),
    cfg.FloatOpt('snapshot_timeout', default=30.0, min=0.1,
                 help='Seconds a reading of the inventory may take before '
                      'it is given up and tried again at the next '
                      'interval.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)
    conf.register_group(STATIC_GROUP)
    conf.register_opts(static_opts, group=STATIC_GROUP)


def list_opts():
    return [(GROUP, opts), (STATIC_GROUP, static_opts)]
