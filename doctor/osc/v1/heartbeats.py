"""``openstack doctor heartbeat …``: the heartbeat status of HA guests.
"""

import argparse

from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting

STATUSES = ('ok', 'missed', 'unhealthy', 'unregistered')
FIELDS = ('instance_id', 'project_id', 'host', 'interval_ms', 'threshold',
          'status', 'reason', 'last_seen', 'updated_at')
LIST_FIELDS = ('instance_id', 'host', 'interval_ms', 'threshold', 'status',
               'last_seen')
LONG_LIST_FIELDS = FIELDS


class ListHeartbeat(command.Lister):
    """List the HA guests that compute agents watch, and their status."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', metavar='<host>',
                            help=_('Only the guests of this compute host'))
        parser.add_argument('--status', metavar='<status>',
                            choices=STATUSES,
                            help=_('Only the guests of this status: %s')
                            % ', '.join(STATUSES))
        parser.add_argument('--long', action='store_true',
                            help=_('Also the project, the reason of the '
                                   'status and when it was recorded'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        heartbeats = client.of(self.app).heartbeats.list(
            host=parsed_args.host, status=parsed_args.status)
        fields = LONG_LIST_FIELDS if parsed_args.long else LIST_FIELDS
        return formatting.listing(heartbeats, fields)


class ShowHeartbeat(command.ShowOne):
    """Show the heartbeat status of one HA guest."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('instance', metavar='<instance-id>',
                            help=_('Instance ID'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        heartbeat = client.of(self.app).heartbeats.get(parsed_args.instance)
        return formatting.show(heartbeat, FIELDS)
