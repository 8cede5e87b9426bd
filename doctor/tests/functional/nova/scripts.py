"""The program that makes the schemas and cells of Nova and Placement.

:data:`MANAGE` runs the schema and cell commands of nova-manage and
placement-manage, in the stages :func:`manage_stages` makes.
"""

import typing

# Runs stages of management commands, ``[[label, module, argv], ...]``
# each, in processes forked from one that imported them once: each
# nova-manage costs seconds of CPU to start. The commands of a stage run
# together; a stage starts once the previous one succeeded.
MANAGE = '''\
import importlib
import json
import os
import sys
import time
import traceback

with open(sys.argv[1]) as f:
    stages = json.load(f)
logs = sys.argv[2]
modules = {module: importlib.import_module(module)
           for stage in stages for _, module, _ in stage}


def run(module, argv, log):
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.argv = argv
    try:
        code = modules[module].main() or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


for stage in stages:
    children = {}
    for label, module, argv in stage:
        log = os.open(os.path.join(logs, 'manage-%s.log' % label),
                      os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        pid = os.fork()
        if pid == 0:
            run(module, argv, log)
        os.close(log)
        children[pid] = label, time.monotonic()
    failed = []
    while children:
        pid, status = os.waitpid(-1, 0)
        label, started = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        print('%s exited %d after %.1f s'
              % (label, code, time.monotonic() - started), flush=True)
        if code:
            failed.append(label)
    if failed:
        sys.exit('failed: ' + ', '.join(failed))
'''

Stage = list[tuple[str, str, list[str]]]


def manage_stages(path: typing.Callable[..., str],
                  cell0_url: str) -> list[Stage]:
    """The stages of :data:`MANAGE`: the schemas, then the cells.

    :param path: the path of a name in the cloud's directory, where
        :func:`.config.write_manage_configs` wrote the configuration.
    """
    def nova(conf: str, *args: str) -> list[str]:
        return ['nova-manage', '--config-file', path(conf), *args]
    return [
        [('api_db', 'nova.cmd.manage',
          nova('nova-manage.conf', 'api_db', 'sync')),
         ('cell1', 'nova.cmd.manage',
          nova('nova-manage.conf', 'db', 'sync', '--local_cell')),
         ('cell0', 'nova.cmd.manage',
          nova('cell0.conf', 'db', 'sync', '--local_cell')),
         ('placement', 'placement.cmd.manage',
          ['placement-manage', '--config-file',
           path('placement-manage.conf'), 'db', 'sync'])],
        [('map_cell0', 'nova.cmd.manage',
          nova('nova-manage.conf', 'cell_v2', 'map_cell0',
               '--database_connection', cell0_url)),
         ('create_cell', 'nova.cmd.manage',
          nova('nova-manage.conf', 'cell_v2', 'create_cell', '--name',
               'cell1'))],
    ]
