"""Options of the ``[evaluator]`` group: the notification alarm evaluator."""

from oslo_config import cfg

GROUP = cfg.OptGroup('evaluator', title='Notification alarm evaluator')

opts = [
    cfg.ListOpt('notification_topics',
                default=['notifications', 'versioned_notifications'],
                help='Topics the evaluator listens on for the '
                     'notifications that alarms are evaluated against.'),
    cfg.ListOpt('notification_exchanges',
                default=['nova', 'neutron'],
                help='Exchanges, besides doctor\'s own, whose notification '
                     'topics the evaluator listens on: those of Nova and '
                     'Neutron by default. doctor\'s own exchange, '
                     '[DEFAULT] control_exchange, where the inspector '
                     'announces faults, is always listened on, whatever '
                     'its name: there is no need to list it.'),
    cfg.StrOpt('notification_pool', default='doctor-evaluator-notifications',
               help='Listener pool shared by all evaluator replicas: each '
                    'notification is evaluated by exactly one of them. On '
                    'RabbitMQ it names the queue, so it must differ from '
                    'every RPC topic (doctor-evaluator, doctor-notifier).'),
    cfg.StrOpt('event_definitions_file',
               default='event_definitions.yaml',
               help='YAML file of event definitions: which notification '
                    'types become events and which traits they carry. A '
                    'relative name is looked up beside the configuration '
                    'files, then in the packaged default.'),
    cfg.BoolOpt('allow_alarms_without_resource', default=False,
                help='Allow notification alarms without a resource_id. '
                     'Such an alarm is evaluated against every event of '
                     'its project, so each one adds cost to every event '
                     'of that project.'),
    cfg.IntOpt('resync_interval', default=300, min=0,
               help='Seconds between full reloads of the alarm index from '
                    'the database, a safety net behind the alarm change '
                    'messages that keep it current. 0 disables it.'),
    cfg.FloatOpt('timeout_check_interval', default=1.0, min=0.1,
                 help='Seconds between checks for alarms whose '
                      'notification_rule timeout has passed with no '
                      'matching event.'),
    cfg.BoolOpt('inline_notifier', default=True,
                help='Deliver fired alarms from the evaluator process '
                     'itself instead of handing them to doctor-notifier '
                     'over RPC. Inline delivery saves a hop; either way a '
                     'delivery is stored first and survives a restart.'),
    cfg.IntOpt('notification_batch_size', default=100, min=1,
               help='Notifications the evaluator takes from the bus at '
                    'once. A batch is acknowledged when the transitions '
                    'of all its notifications are stored; on RabbitMQ it '
                    'is at most [oslo_messaging_rabbit] '
                    'rabbit_qos_prefetch_count.'),
    cfg.FloatOpt('notification_batch_timeout', default=0.005, min=0.001,
                 help='Seconds the evaluator waits for a batch of '
                      'notifications to fill before evaluating what it '
                      'has: at most this much latency is added to an '
                      'event that arrives alone.'),
    cfg.IntOpt('executor_threads', default=4, min=1,
               help='Threads evaluating notifications concurrently. Each '
                    'stores the transitions of whatever events are waiting '
                    'in one transaction, holding one database connection '
                    'while it does: more threads than [database] '
                    'max_pool_size + max_overflow only wait for '
                    'connections.'),
    cfg.IntOpt('processes', default=1, min=1,
               help='Processes doctor-evaluator runs on this machine, each '
                    'with its own executor_threads: one per core to use. '
                    'With more than one, the evaluators partition their '
                    'work (see partitioned) and [coordination] '
                    'backend_url is required. Ignored by doctor-all.'),
    cfg.BoolOpt('partitioned', default=False,
                help='Partition the work among evaluator processes: one '
                     'of them, elected through [coordination] '
                     'backend_url, takes the notifications from the '
                     'notification_pool queue in order and forwards each '
                     'to one of `partitions` queues by its resource; each '
                     'of these queues is consumed by one process at a '
                     'time, so that the events of one resource are '
                     'evaluated in order. Implied when processes is more '
                     'than 1. Set it on every evaluator of a deployment '
                     'whose evaluators run on several machines: all of '
                     'them must agree.'),
    cfg.IntOpt('partitions', default=32, min=1, max=1024,
               help='Partition queues (doctor-evaluator-partition.<n>.info '
                    'on the control exchange) the work is split into when '
                    'partitioned. The unit of balance between processes: '
                    'several times the number of processes of the '
                    'deployment. Every evaluator must have the same '
                    'value; changing it needs every evaluator stopped '
                    'and the partition queues drained.'),
]


def is_partitioned(conf: cfg.ConfigOpts) -> bool:
    """Whether the evaluators partition their work (see partitioned)."""
    return conf.evaluator.partitioned or conf.evaluator.processes > 1


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
