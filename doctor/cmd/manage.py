"""doctor-manage: operator tasks (database schema for now)."""

import sys

from oslo_config import cfg

from doctor import conf as doctor_conf
from doctor.common import service as doctor_service
from doctor.db import api as db_api
from doctor.db.sqlalchemy import migration


def _db_sync(conf: cfg.ConfigOpts) -> int:
    db_api.get_connection(conf).upgrade()
    print('Database schema is at revision %s.' % migration.head())
    return 0


def _db_version(conf: cfg.ConfigOpts) -> int:
    current = db_api.get_connection(conf).schema_version()
    print(current or 'None (empty database: run "doctor-manage db sync")')
    return 0 if current == migration.head() else 1


def _add_parsers(subparsers) -> None:
    db = subparsers.add_parser('db', help='Database schema tasks.')
    actions = db.add_subparsers(dest='action', metavar='ACTION')
    actions.required = True
    actions.add_parser('sync', help='Create or upgrade the schema to the '
                                    'newest revision.').set_defaults(
        func=_db_sync)
    actions.add_parser('version', help='Print the schema revision; exit '
                                       'status 1 if it is not the '
                                       'newest.').set_defaults(
        func=_db_version)


COMMAND = cfg.SubCommandOpt('command', title='Commands',
                            handler=_add_parsers)


def main(argv: list[str] | None = None) -> int:
    conf = doctor_conf.CONF
    conf.register_cli_opt(COMMAND)
    doctor_service.prepare_service(argv, conf=conf)
    return conf.command.func(conf)


if __name__ == '__main__':
    sys.exit(main())
