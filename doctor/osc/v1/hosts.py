"""``openstack doctor host …``: compute hosts, and reporting them down."""

import argparse

from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting
from doctor.osc.v1 import paging

FIELDS = ('name', 'state', 'host_down_reported', 'fault_id', 'instances',
          'ports')
LIST_FIELDS = ('name', 'state', 'host_down_reported', 'fault_id')
LONG_LIST_FIELDS = FIELDS
FORMATTERS = {'instances': formatting.RECORDS, 'ports': formatting.RECORDS}


class ListHost(command.Lister):
    """List compute hosts, their state and their open fault."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        paging.add_arguments(parser, 'hosts', 'host', '<host>')
        parser.add_argument('--long', action='store_true',
                            help=_('Also the instances and ports of each '
                                   'host'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        hosts = client.of(self.app).hosts.list(
            limit=parsed_args.limit, marker=parsed_args.marker)
        fields = LONG_LIST_FIELDS if parsed_args.long else LIST_FIELDS
        return formatting.listing(hosts, fields, FORMATTERS)


class ShowHost(command.ShowOne):
    """Show a host, its open fault, its instances and ports."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help=_('Host name'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        host = client.of(self.app).hosts.get(parsed_args.host)
        return formatting.show(host, FIELDS, FORMATTERS)


class SetHost(command.ShowOne):
    """Report a host down (doctor acts on everything on it) or up."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('host', metavar='<host>',
                            help=_('Host name'))
        state = parser.add_mutually_exclusive_group(required=True)
        state.add_argument(
            '--down', dest='down', action='store_const', const=True,
            help=_('Report the host down: its instances are set to error '
                   'and their ports\' data plane down'))
        state.add_argument(
            '--up', dest='down', action='store_const', const=False,
            help=_('Report the host recovered: its fault is closed'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        host = client.of(self.app).hosts.report(
            parsed_args.host, parsed_args.down)
        return formatting.show(host, FIELDS, FORMATTERS)
