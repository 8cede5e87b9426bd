"""Options of ``[inspector]``: raw failures in, corrected state out."""

from oslo_config import cfg

GROUP = cfg.OptGroup('inspector',
                     title='Inspector: from a raw failure to corrected '
                           'state')

INSTANCE_FAULT_STATES = ('error', 'stopped')

opts = [
    cfg.ListOpt('controllers', default=['local'],
                help='Controller plugins (entry points of '
                     'doctor.controllers) the inspector acts through, in '
                     'order of preference: each action (force a host '
                     'down, set an instance\'s state, set a port\'s '
                     'data-plane status) goes to the first controller '
                     'that handles it. "local" acts on doctor\'s own '
                     'entity store; production uses "nova,neutron".'),
    cfg.IntOpt('action_workers', default=32, min=1,
               help='Most controller calls under way at once, over every '
                    'fault. The actions of one fault run concurrently on '
                    'this pool, so a slow or failing call holds none of '
                    'the others. Calls toward Nova and Neutron are '
                    'bounded further by [nova] and [neutron] '
                    'max_concurrent_calls; a host forced down does not '
                    'use this pool and waits for none of it.'),
    cfg.IntOpt('action_batch_size', default=500, min=1,
               help='Most instances (or ports) of one fault handed to a '
                    'controller in one call, for a controller that takes '
                    'them in batches (the local controller stores a '
                    'batch in one transaction). A controller without '
                    'batches gets one call per item on the pool.'),
    cfg.IntOpt('action_retries', default=3, min=0,
               help='Times a controller call that failed for a transient '
                    'reason (the service unreachable, a 5xx, a timeout) '
                    'is tried again before the action is recorded as '
                    'failed.'),
    cfg.FloatOpt('action_retry_interval', default=0.2, min=0.0,
                 help='Seconds before the first retry of a controller '
                      'call; each further retry waits twice as long.'),
    cfg.StrOpt('instance_fault_state', default='error',
               choices=[(state, 'affected instances are set to %s' % state)
                        for state in INSTANCE_FAULT_STATES],
               help='State an instance on a failed host is set to. '
                    'Instances that are deleted, soft-deleted, resized or '
                    'already in error are left alone.'),
    cfg.BoolOpt('notify_early', default=True,
                help='Emit each affected instance\'s compute.instance.'
                     'update notification as soon as the inspector knows '
                     'the instance is affected, rather than waiting for '
                     'the controller\'s round trip: tenants hear of the '
                     'fault sooner.'),
    cfg.FloatOpt('duplicate_window', default=60.0, min=0.0,
                 help='Seconds after a host fault begins during which '
                      'another report of the same host down (from another '
                      'monitor, or the same one again) is the same fault '
                      'even if the host was reported recovered meanwhile, '
                      'provided the report\'s failure was detected before '
                      'the recovery (a late report). While a host stays '
                      'down every report of it joins its open fault; a '
                      'failure detected after a recovery is a new fault.'),
    cfg.FloatOpt('resync_interval', default=300.0, min=1.0,
                 help='Seconds between two rebuilds of the host cache '
                      'from the entity store. Between them the cache '
                      'follows the synchronizer\'s changes; the rebuild '
                      'repairs anything missed.'),
    cfg.FloatOpt('fault_heartbeat_interval', default=2.0, min=0.1,
                 help='Seconds between two heartbeats of an inspector on '
                      'the faults whose actions it is running (a stamp in '
                      'the database that says it is alive), and between '
                      'two looks for stuck faults to take over.'),
    cfg.FloatOpt('fault_takeover_timeout', default=15.0, min=0.5,
                 help='Seconds without a heartbeat after which a fault '
                      'whose actions have not all ended is stuck: another '
                      'inspector replica takes it over and runs the '
                      'actions not yet done, and a new report of the '
                      'host takes it over rather than joining it. Must '
                      'exceed fault_heartbeat_interval by a margin (a '
                      'few intervals): a live inspector whose heartbeat '
                      'is late has its faults run twice, harmlessly but '
                      'needlessly.'),
    cfg.FloatOpt('rpc_timeout', default=10.0, min=0.1,
                 help='Seconds the API waits for the inspector to accept '
                      'a raw failure, a host report or a port change '
                      'before it answers 503.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
