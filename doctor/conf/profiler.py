"""Options of ``[profiler]``: recording the checkpoints of each fault."""

from oslo_config import cfg

GROUP = cfg.OptGroup('profiler', title='Checkpoints of faults, for '
                                       'doctor-profiler')

opts = [
    cfg.BoolOpt('record', default=True, mutable=True,
                help='Record the evaluator\'s checkpoints of each fault '
                     '(transformed event, evaluated event, fired alarm) '
                     'in the database, for doctor-profiler. Recording is '
                     'buffered and written in bulk; turn it off only to '
                     'measure what it costs. A reload of the '
                     'configuration (SIGHUP) applies a change.'),
    cfg.FloatOpt('flush_interval', default=0.1, min=0.001,
                 help='Seconds without a new checkpoint after which the '
                      'buffered ones are written in bulk: the write comes '
                      'after a fault\'s burst, not in the middle of it.'),
    cfg.FloatOpt('flush_max_delay', default=1.0, min=0.001,
                 help='Seconds a recorded checkpoint waits for its write '
                      'at most, however steady the stream of checkpoints '
                      '(never less than flush_interval). Half a full '
                      'buffer is written at once too.'),
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
