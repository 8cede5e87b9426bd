"""Options of ``[profiler]``: recording the checkpoints of each fault."""

from oslo_config import cfg

GROUP = cfg.OptGroup('profiler', title='Checkpoints of faults, for '
                                       'doctor-profiler')

opts = [
    cfg.BoolOpt('record', default=True,
                help='Record the evaluator\'s checkpoints of each fault '
                     '(transformed event, evaluated event, fired alarm) '
                     'in the database, for doctor-profiler. Recording is '
                     'buffered and written in bulk; turn it off only to '
                     'measure what it costs.'),
    cfg.FloatOpt('flush_interval', default=0.1, min=0.001,
                 help='Seconds between two bulk writes of the recorded '
                      'checkpoints.'),
    cfg.IntOpt('buffer_size', default=10000, min=1,
               help='Checkpoints kept waiting for the next write at most; '
                    'past it (a database slower than the faults) more are '
                    'dropped and the drop is logged as a warning.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return [(GROUP, opts)]
