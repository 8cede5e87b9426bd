"""``openstack doctor port …``: a port and its data-plane status."""

import argparse

from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting

FIELDS = ('id', 'name', 'project_id', 'host', 'device_id', 'status',
          'data_plane_status', 'dp_down')


class ShowPort(command.ShowOne):
    """Show a port, its host, device and data-plane status."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('port', metavar='<port>', help=_('Port ID'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        port = client.of(self.app).ports.get(parsed_args.port)
        return formatting.show(port, FIELDS)


class SetPort(command.ShowOne):
    """Set the data-plane status of a port (DOWN or ACTIVE)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('port', metavar='<port>', help=_('Port ID'))
        status = parser.add_mutually_exclusive_group(required=True)
        status.add_argument(
            '--dp-down', dest='dp_down', action='store_const', const=True,
            help=_('Set the data-plane status DOWN'))
        status.add_argument(
            '--no-dp-down', dest='dp_down', action='store_const',
            const=False, help=_('Set the data-plane status ACTIVE'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        port = client.of(self.app).ports.set_dp_down(
            parsed_args.port, parsed_args.dp_down)
        return formatting.show(port, FIELDS)
