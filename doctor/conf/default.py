"""Options of the ``[DEFAULT]`` group."""

import os
import socket

from oslo_config import cfg

opts = [
    cfg.StrOpt('state_path',
               default=os.path.join(os.path.expanduser('~'), '.local',
                                    'share', 'doctor'),
               sample_default='~/.local/share/doctor',
               help='Directory where doctor keeps its state: the embedded '
                    'SQLite database lives here unless [database] '
                    'connection names another database.'),
    cfg.HostAddressOpt('host',
                       default=socket.gethostname(),
                       sample_default='<server-hostname.example.com>',
                       help='Name of this node, used in RPC server names '
                            'and as the publisher of the notifications '
                            'doctor emits. Must be unique among the '
                            'replicas of one service.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(opts)


def list_opts():
    return [(None, opts)]
