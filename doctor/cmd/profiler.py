"""doctor-profiler: where the time of a fault went, checkpoint by
checkpoint, for one fault or many.

``show FAULT_ID`` draws one fault's timeline and its components by time
cost; ``summary`` gives p50/p95/p99 of each segment over many faults and
the slowest ones; ``export`` writes one JSON document per fault (or posts
each to a results database). Faults are read from doctor-api (default),
from a database (``--database-url``) or from the services' log files
(``--log-file``, any number).
"""

import argparse
import datetime
import json
import sys
import typing

from keystoneauth1 import loading as ks_loading

from doctor.profiler import checkpoints
from doctor.profiler import plot
from doctor.profiler import report
from doctor.profiler import sources
from doctor.profiler import timeline

DEFAULT_ENDPOINT = 'http://127.0.0.1:12345'
# The identity doctor-api believes under [api] auth_strategy = noauth.
NOAUTH_HEADERS = {'X-User-Id': 'doctor-profiler', 'X-Project-Id': 'service',
                  'X-Roles': 'admin'}


def _since(value: str) -> datetime.datetime:
    """``--since``: an ISO 8601 time, or a duration back from now such as
    ``30m``, ``2h`` or ``7d``.
    """
    units = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(seconds=int(value[:-1])
                                     * units[value[-1]]))
    try:
        return checkpoints.parse_time(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            '%r is neither an ISO 8601 time nor a duration such as 30m, '
            '2h or 7d' % value)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='doctor-profiler',
        description='Where the time of doctor faults went, checkpoint by '
                    'checkpoint.')
    source = parser.add_argument_group(
        'source', 'Where faults are read from: doctor-api by default '
                  '(--os-auth-type none and --os-endpoint URL, or '
                  'Keystone\'s --os-* options), else a database or log '
                  'files.')
    source.add_argument('--database-url', metavar='URL',
                        help='Read doctor\'s database directly (the '
                             'SQLAlchemy URL of [database] connection).')
    source.add_argument('--log-file', metavar='FILE', action='append',
                        help='Read the checkpoints logged by the services '
                             '(doctor-checkpoint lines); repeat for each '
                             'service\'s log.')
    source.add_argument('--os-doctor-url', metavar='URL',
                        help='doctor-api\'s URL when Keystone\'s catalog '
                             'should not be asked.')
    ks_loading.register_auth_argparse_arguments(parser, argv,
                                                default='none')
    ks_loading.register_session_argparse_arguments(parser)
    commands = parser.add_subparsers(dest='command', required=True)

    show = commands.add_parser('show', help='One fault\'s timeline and '
                                            'its components by time cost.')
    show.add_argument('fault_id', metavar='FAULT_ID')
    show.add_argument('--format', choices=('table', 'json'),
                      default='table')
    show.add_argument('--plot', metavar='FILE',
                      help='Also draw the timeline into FILE.png or '
                           'FILE.svg.')

    for name, text in (('summary', 'p50/p95/p99 of each segment over '
                                   'many faults, and the slowest.'),
                       ('export', 'One JSON document per fault, for a '
                                  'test results database.')):
        command = commands.add_parser(name, help=text)
        command.add_argument('--since', type=_since, metavar='TIME',
                             help='Only faults begun since TIME (ISO 8601) '
                                  'or since a duration ago (30m, 2h, 7d).')
        command.add_argument('--host', help='Only faults of this host.')
        if name == 'summary':
            command.add_argument('--format', choices=('table', 'json'),
                                 default='table')
            command.add_argument('--slowest', type=int, default=5,
                                 metavar='N',
                                 help='How many of the slowest faults to '
                                      'name (default 5).')
        else:
            command.add_argument('--post', metavar='URL',
                                 help='POST each document to URL instead '
                                      'of printing it.')
    return parser


def make_source(args: argparse.Namespace) -> sources.Source:
    if args.database_url:
        return sources.DatabaseSource(args.database_url)
    if args.log_file:
        return sources.LogSource(args.log_file)
    auth = ks_loading.load_auth_from_argparse_arguments(args)
    session = ks_loading.load_session_from_argparse_arguments(args,
                                                              auth=auth)
    if args.os_auth_type == 'none':
        endpoint = (args.os_doctor_url or getattr(args, 'os_endpoint', None)
                    or DEFAULT_ENDPOINT)
        return sources.ApiSource(session, endpoint, NOAUTH_HEADERS)
    return sources.ApiSource(session, args.os_doctor_url)


def _show(source: sources.Source, args, out: typing.TextIO) -> int:
    fault = source.get_fault(args.fault_id)
    built = timeline.build(fault)
    if args.format == 'json':
        json.dump(report.as_json(built), out, indent=2, sort_keys=True)
        out.write('\n')
    else:
        out.write(report.render_show(built))
    if args.plot:
        plot.write(built, args.plot)
    return 0


def _summary(source: sources.Source, args, out: typing.TextIO) -> int:
    built = [timeline.build(fault)
             for fault in source.faults(args.since, args.host)]
    result = report.summary(built, slowest=args.slowest)
    if args.format == 'json':
        json.dump(result, out, indent=2, sort_keys=True)
        out.write('\n')
    else:
        out.write(report.render_summary(result))
    return 0


def _export(source: sources.Source, args, out: typing.TextIO) -> int:
    session = None
    if args.post:
        import requests
        session = requests.Session()
    failed = 0
    for fault in source.faults(args.since, args.host):
        document = report.export_document(timeline.build(fault), fault)
        if session is None:
            out.write(json.dumps(document, sort_keys=True) + '\n')
            continue
        response = session.post(args.post, json=document, timeout=30)
        if response.status_code >= 400:
            failed += 1
            sys.stderr.write('%s refused fault %s: %d %s\n'
                             % (args.post, document['fault_id'],
                                response.status_code, response.text[:200]))
    return 1 if failed else 0


COMMANDS = {'show': _show, 'summary': _summary, 'export': _export}


def main(argv: list[str] | None = None,
         out: typing.TextIO | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out = out or sys.stdout
    args = build_parser(argv).parse_args(argv)
    try:
        source = make_source(args)
        return COMMANDS[args.command](source, args, out)
    except sources.NotFound as e:
        sys.stderr.write('doctor-profiler: no fault %s\n' % e)
        return 1
    except (sources.SourceError, plot.PlotError) as e:
        sys.stderr.write('doctor-profiler: %s\n' % e)
        return 2


if __name__ == '__main__':
    sys.exit(main())
