"""``openstack doctor fault …``: what doctor found and did, fault by
fault.
"""

import argparse
import json

from osc_lib import exceptions as osc_exceptions
from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting
from doctor.osc.v1 import paging
from doctor.profiler import plot
from doctor.profiler import report
from doctor.profiler import timeline

STATUSES = ('open', 'closed')
FIELDS = ('id', 'host', 'type', 'status', 'created_at', 'closed_at',
          'affected', 'actions', 'checkpoints', 'reports', 'owner',
          'handled_at', 'progress', 'resumes')
LIST_FIELDS = ('id', 'host', 'type', 'status', 'created_at', 'closed_at')
LONG_LIST_FIELDS = FIELDS
FORMATTERS = {field: formatting.RECORDS
              for field in ('affected', 'actions', 'checkpoints', 'reports',
                            'resumes')}
FORMATTERS['progress'] = formatting.DICT


class ListFault(command.Lister):
    """List faults, newest first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>',
                            help=_('Only faults of this host'))
        parser.add_argument('--status', metavar='<status>',
                            choices=STATUSES,
                            help=_('Only open or only closed faults'))
        paging.add_arguments(parser, 'faults', 'fault', '<fault-id>')
        parser.add_argument('--long', action='store_true',
                            help=_('Also what each fault affected, the '
                                   'actions taken, its checkpoints and '
                                   'reports'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        faults = client.of(self.app).faults.list(
            limit=parsed_args.limit, marker=parsed_args.marker,
            host=parsed_args.host, status=parsed_args.status)
        fields = LONG_LIST_FIELDS if parsed_args.long else LIST_FIELDS
        return formatting.listing(faults, fields, FORMATTERS)


class ShowFault(command.ShowOne):
    """Show a fault: what it affected, the actions and its timeline."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('fault', metavar='<fault-id>',
                            help=_('Fault ID'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        fault = client.of(self.app).faults.get(parsed_args.fault)
        return formatting.show(fault, FIELDS, FORMATTERS)


class TimelineFault(command.Command):
    """Show where a fault's time went: its checkpoints on a time axis and
    the components by time cost (as doctor-profiler show does).
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('fault', metavar='<fault-id>',
                            help=_('Fault ID'))
        parser.add_argument('--json', action='store_true',
                            help=_('The timeline as JSON'))
        parser.add_argument('--plot', metavar='<file>',
                            help=_('Also draw the timeline into a .png or '
                                   '.svg file'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        fault = client.of(self.app).faults.get(parsed_args.fault)
        built = timeline.build(fault)
        if parsed_args.json:
            self.app.stdout.write(json.dumps(report.as_json(built),
                                             indent=2, sort_keys=True)
                                  + '\n')
        else:
            self.app.stdout.write(report.render_show(built))
        if parsed_args.plot:
            try:
                plot.write(built, parsed_args.plot)
            except plot.PlotError as e:
                raise osc_exceptions.CommandError(str(e))
