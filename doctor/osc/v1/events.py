"""``openstack doctor event create``: report raw failures, as a monitor.
"""

import argparse
import datetime
import json
import sys
from typing import Any
import uuid

from osc_lib import exceptions as osc_exceptions
from osc_lib.cli import parseractions
from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting

HOST_DOWN = 'compute.host.down'
EVENT_TYPES = (HOST_DOWN,)
STATUSES = ('down', 'up')
COLUMNS = ('Event ID', 'Hostname', 'Status', 'Fault ID')


def read_events(path: str) -> list[dict[str, Any]]:
    """The events of a JSON file (``-``: standard input): a list of
    events, or one event.

    :raises CommandError: if the file cannot be read or is not such JSON.
    """
    try:
        if path == '-':
            events = json.load(sys.stdin)
        else:
            with open(path) as stream:
                events = json.load(stream)
    except OSError as e:
        raise osc_exceptions.CommandError(
            _('Cannot read the events of %(path)s: %(error)s')
            % {'path': path, 'error': e.strerror or e})
    except ValueError as e:
        raise osc_exceptions.CommandError(
            _('%(path)s is not JSON: %(error)s') % {'path': path, 'error': e})
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(
            isinstance(event, dict) for event in events):
        raise osc_exceptions.CommandError(
            _('%s must hold a JSON list of events (objects), or one '
              'event') % path)
    return events


def now() -> str:
    """The time now, in UTC, in ISO 8601 with its offset."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='microseconds')


class CreateEvent(command.Lister):
    """Report raw failures to doctor, as a monitor does (admin only).

    One event from the options, or the list of events of a JSON file (the
    body of POST /v1/events). Prints the fault each event opened or
    joined.
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--file', metavar='<path>',
            help=_('JSON file of events, a list as the API takes it ("-": '
                   'standard input); instead of the options below'))
        parser.add_argument(
            '--type', metavar='<type>', choices=EVENT_TYPES,
            default=HOST_DOWN,
            help=_('Event type (default: %s)') % HOST_DOWN)
        parser.add_argument(
            '--hostname', metavar='<host>',
            help=_('The host the event is about (required without '
                   '--file)'))
        parser.add_argument(
            '--status', metavar='<status>', choices=STATUSES,
            default='down',
            help=_('down or up (default: down)'))
        parser.add_argument(
            '--time', metavar='<time>',
            help=_('When it happened, ISO 8601 (default: now)'))
        parser.add_argument(
            '--id', metavar='<event-id>',
            help=_('Event ID (default: a new UUID)'))
        parser.add_argument(
            '--monitor', metavar='<monitor>',
            help=_('Name of the monitor that saw it'))
        parser.add_argument(
            '--monitor-event-id', metavar='<id>',
            help=_('The monitor\'s own id of the event'))
        parser.add_argument(
            '--detail', metavar='<key=value>', dest='details',
            action=parseractions.KeyValueAction, default={},
            help=_('A further detail of the event (repeat for more)'))
        return parser

    def _from_options(self, parsed_args: argparse.Namespace
                      ) -> list[dict[str, Any]]:
        if parsed_args.hostname is None:
            raise osc_exceptions.CommandError(
                _('Give --hostname, or the events in --file'))
        details = dict(parsed_args.details)
        details.update(hostname=parsed_args.hostname,
                       status=parsed_args.status)
        for field in ('monitor', 'monitor_event_id'):
            value = getattr(parsed_args, field)
            if value is not None:
                details[field] = value
        return [{'id': parsed_args.id or str(uuid.uuid4()),
                 'time': parsed_args.time or now(),
                 'type': parsed_args.type,
                 'details': details}]

    def take_action(self, parsed_args: argparse.Namespace):
        if parsed_args.file is not None:
            given = [option for option in ('hostname', 'time', 'id',
                                           'monitor', 'monitor_event_id')
                     if getattr(parsed_args, option) is not None]
            if given or parsed_args.details:
                raise osc_exceptions.CommandError(
                    _('--file takes the whole events: give no other option '
                      'of an event with it'))
            events = read_events(parsed_args.file)
        else:
            events = self._from_options(parsed_args)
        fault_ids = client.of(self.app).events.create(events)
        rows = []
        for event, fault_id in zip(events, fault_ids):
            details = event.get('details')
            if not isinstance(details, dict):
                details = {}
            rows.append({'id': event.get('id'),
                         'hostname': details.get('hostname'),
                         'status': details.get('status', 'down'),
                         'fault_id': fault_id})
        return COLUMNS, [formatting.row(row, ('id', 'hostname', 'status',
                                              'fault_id'))
                         for row in rows]
