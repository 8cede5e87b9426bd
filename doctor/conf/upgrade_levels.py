"""Options of the ``[upgrade_levels]`` group: RPC version caps."""

from oslo_config import cfg

GROUP = cfg.OptGroup('upgrade_levels',
                     title='RPC version caps for rolling upgrades')

opts = [
    cfg.StrOpt('compute_agent',
               help='Highest RPC API version the server-group router sends '
                    'to doctor-compute-agent. Set it to the version of the '
                    'oldest compute agent while an upgrade is under way; '
                    'unset means the newest.'),
    cfg.StrOpt('guest_router',
               help='Highest RPC API version doctor-compute-agent sends to '
                    'the server-group router (in doctor-inspector). Set it '
                    'to the version of the oldest inspector while an '
                    'upgrade is under way; unset means the newest.'),
    cfg.StrOpt('evaluator',
               help='Highest RPC API version sent to doctor-evaluator. Set '
                    'it to the version of the oldest evaluator while an '
                    'upgrade is under way; unset means the newest.'),
    cfg.StrOpt('inspector',
               help='Highest RPC API version sent to doctor-inspector. Set '
                    'it to the version of the oldest inspector while an '
                    'upgrade is under way; unset means the newest.'),
    cfg.StrOpt('notifier',
               help='Highest RPC API version sent to doctor-notifier. Set '
                    'it to the version of the oldest notifier while an '
                    'upgrade is under way; unset means the newest.'),
    cfg.StrOpt('synchronizer',
               help='Highest RPC API version the synchronizer sends to '
                    'the services that follow entity changes (the '
                    'inspector). Set it to the version of the oldest '
                    'follower while an upgrade is under way; unset means '
                    'the newest.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
