"""``openstack doctor alarm …``: notification alarms, their state and
history.
"""

import argparse
from collections.abc import Sequence
import json
import shlex
from typing import Any

from cliff import columns
from osc_lib import exceptions as osc_exceptions
from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting
from doctor.osc.v1 import paging

# The API's vocabulary, repeated here so that the client imports nothing
# of the server; a unit test keeps the two equal.
ALARM_TYPES = ('notification',)
SEVERITIES = ('low', 'moderate', 'critical')
STATES = ('ok', 'alarm', 'insufficient data')
OPERATORS = ('lt', 'le', 'eq', 'ne', 'ge', 'gt')
QUERY_TYPES = ('string', 'integer', 'float', 'boolean', 'datetime')
SYMBOLS = {'<': 'lt', '<=': 'le', '=': 'eq', '==': 'eq', '!=': 'ne',
           '>=': 'ge', '>': 'gt'}
ACTION_OPTIONS = (
    ('alarm_actions', '--alarm-action',
     _('URL to call when the alarm goes to alarm')),
    ('ok_actions', '--ok-action', _('URL to call when the alarm goes to ok')),
    ('insufficient_data_actions', '--insufficient-data-action',
     _('URL to call when the alarm goes to insufficient data')),
)

# The fields of an alarm as shown; those of its notification rule are
# brought to the top level.
FIELDS = ('alarm_id', 'name', 'description', 'type', 'enabled',
          'severity', 'state', 'state_reason', 'state_timestamp',
          'resource_id', 'event_type', 'query', 'timeout', 'alarm_actions',
          'ok_actions', 'insufficient_data_actions', 'repeat_actions',
          'project_id', 'user_id', 'timestamp')
RULE_FIELDS = ('event_type', 'query', 'timeout')
LIST_FIELDS = ('alarm_id', 'name', 'type', 'state', 'severity', 'enabled',
               'resource_id')
LONG_LIST_FIELDS = LIST_FIELDS + ('event_type', 'project_id',
                                  'state_timestamp')
HISTORY_FIELDS = ('event_id', 'type', 'timestamp', 'severity', 'detail')
LONG_HISTORY_FIELDS = HISTORY_FIELDS + ('on_behalf_of', 'project_id',
                                        'user_id')
# What the API sets and a replacement leaves out.
READ_ONLY = ('alarm_id', 'state', 'state_reason', 'state_timestamp',
             'timestamp', 'project_id', 'user_id')


class QueryColumn(columns.FormattableColumn[list[dict[str, Any]]]):
    """The query of a rule: ``field op value (type)`` a line in a table."""

    def human_readable(self) -> str:
        return '\n'.join(
            '%s %s %s (%s)' % (item['field'], item.get('op', 'eq'),
                               json.dumps(item['value']),
                               item.get('type', 'string'))
            for item in self._value or [])

    def machine_readable(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self._value or []]


class DetailColumn(columns.FormattableColumn[str]):
    """A history entry's detail: the API's JSON string in a table, its
    object in JSON and YAML.
    """

    def human_readable(self) -> str:
        return self._value or ''

    def machine_readable(self) -> Any:
        try:
            return json.loads(self._value)
        except (TypeError, ValueError):
            return self._value


FORMATTERS = {
    'query': QueryColumn,
    'alarm_actions': formatting.LIST,
    'ok_actions': formatting.LIST,
    'insufficient_data_actions': formatting.LIST,
}


def parse_query(text: str) -> dict[str, Any]:
    """One query item from ``FIELD OP VALUE [TYPE]``.

    ``OP`` is one of the API's operators or its symbol (``=``, ``!=``,
    ``<``, …); a value with spaces is quoted as in a shell.

    :raises CommandError: naming what is wrong with ``text``.
    """
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise osc_exceptions.CommandError(
            _('--query %(query)r: %(error)s') % {'query': text, 'error': e})
    if len(words) not in (3, 4):
        raise osc_exceptions.CommandError(
            _('--query %r must be FIELD OP VALUE [TYPE], such as '
              '"traits.state eq error" or "traits.vcpus gt 4 integer"')
            % text)
    field, op, value = words[:3]
    op = SYMBOLS.get(op, op)
    if op not in OPERATORS:
        raise osc_exceptions.CommandError(
            _('--query %(query)r: %(op)r is not an operator; operators: '
              '%(ops)s') % {'query': text, 'op': words[1],
                            'ops': ', '.join(OPERATORS + tuple(SYMBOLS))})
    item = {'field': field, 'op': op, 'value': value}
    if len(words) == 4:
        if words[3] not in QUERY_TYPES:
            raise osc_exceptions.CommandError(
                _('--query %(query)r: %(type)r is not a type; types: '
                  '%(types)s') % {'query': text, 'type': words[3],
                                  'types': ', '.join(QUERY_TYPES)})
        item['type'] = words[3]
    return item


def flatten(alarm: dict[str, Any]) -> dict[str, Any]:
    """The alarm with the fields of its notification rule at the top."""
    flat = dict(alarm)
    rule = flat.pop('notification_rule', None) or {}
    for field in RULE_FIELDS:
        flat[field] = rule.get(field)
    return flat


def show_alarm(alarm: dict[str, Any]
               ) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    return formatting.show(flatten(alarm), FIELDS, FORMATTERS)


def _add_definition_options(parser: argparse.ArgumentParser,
                            create: bool) -> None:
    """The options that define an alarm, shared by create and set."""
    parser.add_argument(
        '--description', metavar='<description>',
        help=_('Description of the alarm'))
    parser.add_argument(
        '--severity', metavar='<severity>', choices=SEVERITIES,
        help=_('Severity: %s (default: low)') % ', '.join(SEVERITIES)
        if create else _('Severity: %s') % ', '.join(SEVERITIES))
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument(
        '--enable', '--enabled', dest='enabled', action='store_const',
        const=True, help=_('Evaluate the alarm (default)') if create
        else _('Evaluate the alarm'))
    enabled.add_argument(
        '--disable', '--disabled', dest='enabled', action='store_const',
        const=False, help=_('Do not evaluate the alarm'))
    parser.add_argument(
        '--resource-id', metavar='<resource-id>',
        help=_('The resource the alarm watches, such as an instance id; '
               'an event is matched when its traits name it'))
    parser.add_argument(
        '--event-type', metavar='<event-type>', required=create,
        help=_('Event type to watch, such as compute.instance.update; '
               'shell-style wildcards allowed'))
    parser.add_argument(
        '--query', metavar='<field op value [type]>', action='append',
        help=_('A condition on the event, such as "traits.state eq error"; '
               'op is one of %(ops)s (or =, !=, <, <=, >, >=), type one '
               'of %(types)s (default string). Repeat for each condition '
               '(all must hold)%(replace)s')
        % {'ops': ', '.join(OPERATORS), 'types': ', '.join(QUERY_TYPES),
           'replace': '' if create else _('; replaces the query')})
    parser.add_argument(
        '--timeout', metavar='<seconds>', type=float,
        help=_('Go to insufficient data when no matching event arrives '
               'within this many seconds'))
    for field, option, text in ACTION_OPTIONS:
        parser.add_argument(
            option, metavar='<url>', dest=field, action='append',
            help=text + _(' (repeat for more)') if create
            else text + _(' (repeat for more; replaces the list)'))
    repeat = parser.add_mutually_exclusive_group()
    repeat.add_argument(
        '--repeat-actions', dest='repeat_actions', action='store_const',
        const=True,
        help=_('Call the actions on every matching event, not only on a '
               'change of state'))
    repeat.add_argument(
        '--no-repeat-actions', dest='repeat_actions', action='store_const',
        const=False,
        help=_('Call the actions only on a change of state')
        + (_(' (default)') if create else ''))
    parser.add_argument(
        '--state', metavar='<state>', choices=STATES,
        help=_('State: %s') % ', '.join('"%s"' % s for s in STATES)
        + (_(' (default: insufficient data)') if create else ''))


def _definition(parsed_args: argparse.Namespace) -> dict[str, Any]:
    """The fields of an alarm body that the options give."""
    body: dict[str, Any] = {}
    for field in ('description', 'severity', 'enabled', 'resource_id',
                  'repeat_actions', 'state'):
        value = getattr(parsed_args, field)
        if value is not None:
            body[field] = value
    for field, _option, _text in ACTION_OPTIONS:
        value = getattr(parsed_args, field)
        if value is not None:
            body[field] = value
    return body


class CreateAlarm(command.ShowOne):
    """Create a notification alarm."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--name', metavar='<name>', required=True,
            help=_('Name of the alarm'))
        parser.add_argument(
            '--type', metavar='<type>', choices=ALARM_TYPES,
            default='notification',
            help=_('Type of the alarm (default: notification)'))
        _add_definition_options(parser, create=True)
        parser.add_argument(
            '--project-id', metavar='<project-id>',
            help=_('Project to own the alarm, instead of the caller\'s '
                   '(admin only)'))
        parser.add_argument(
            '--user-id', metavar='<user-id>',
            help=_('User to own the alarm, instead of the caller '
                   '(admin only)'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        rule: dict[str, Any] = {'event_type': parsed_args.event_type}
        if parsed_args.query:
            rule['query'] = [parse_query(q) for q in parsed_args.query]
        if parsed_args.timeout is not None:
            rule['timeout'] = parsed_args.timeout
        body = {'name': parsed_args.name, 'type': parsed_args.type,
                'notification_rule': rule}
        body.update(_definition(parsed_args))
        for field in ('project_id', 'user_id'):
            value = getattr(parsed_args, field)
            if value is not None:
                body[field] = value
        alarm = client.of(self.app).alarms.create(body)
        return show_alarm(alarm)


class ListAlarm(command.Lister):
    """List alarms."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--name', metavar='<name>',
                            help=_('Only alarms of this name'))
        parser.add_argument('--type', metavar='<type>', choices=ALARM_TYPES,
                            help=_('Only alarms of this type'))
        parser.add_argument('--resource-id', metavar='<resource-id>',
                            help=_('Only alarms on this resource'))
        parser.add_argument('--state', metavar='<state>', choices=STATES,
                            help=_('Only alarms in this state'))
        enabled = parser.add_mutually_exclusive_group()
        enabled.add_argument('--enabled', dest='enabled',
                             action='store_const', const=True,
                             help=_('Only enabled alarms'))
        enabled.add_argument('--disabled', dest='enabled',
                             action='store_const', const=False,
                             help=_('Only disabled alarms'))
        owner = parser.add_mutually_exclusive_group()
        owner.add_argument('--project-id', metavar='<project-id>',
                           help=_('Alarms of this project (admin only for '
                                  'another project than the caller\'s)'))
        owner.add_argument('--all-projects', action='store_true',
                           help=_('Alarms of every project (admin only)'))
        parser.add_argument('--sort', metavar='<key>[:<direction>]',
                            help=_('Sort keys, comma separated, each with '
                                   'asc or desc, such as name:asc'))
        paging.add_arguments(parser, 'alarms', 'alarm', '<alarm-id>')
        parser.add_argument('--long', action='store_true',
                            help=_('More columns'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        filters: dict[str, Any] = {
            'name': parsed_args.name, 'type': parsed_args.type,
            'resource_id': parsed_args.resource_id,
            'state': parsed_args.state, 'project_id': parsed_args.project_id,
            'sort': parsed_args.sort,
        }
        if parsed_args.enabled is not None:
            filters['enabled'] = str(parsed_args.enabled).lower()
        if parsed_args.all_projects:
            filters['all_projects'] = 'true'
        alarms = client.of(self.app).alarms.list(
            limit=parsed_args.limit, marker=parsed_args.marker, **filters)
        fields = LONG_LIST_FIELDS if parsed_args.long else LIST_FIELDS
        return formatting.listing([flatten(alarm) for alarm in alarms],
                                  fields)


class _OneAlarm(command.Command):
    """A command on one alarm, named by its id or its name."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('alarm', metavar='<alarm>',
                            help=_('Alarm (name or ID)'))
        return parser

    def find(self, name_or_id: str) -> dict[str, Any]:
        return client.of(self.app).alarms.find(name_or_id)


class ShowAlarm(_OneAlarm, command.ShowOne):
    """Show an alarm."""

    def take_action(self, parsed_args: argparse.Namespace):
        return show_alarm(self.find(parsed_args.alarm))


class SetAlarm(_OneAlarm, command.ShowOne):
    """Change an alarm (its whole definition is replaced)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--name', metavar='<name>',
                            help=_('New name of the alarm'))
        _add_definition_options(parser, create=False)
        parser.add_argument('--no-query', action='store_true',
                            help=_('Remove every condition of the query'))
        parser.add_argument('--no-timeout', action='store_true',
                            help=_('Remove the timeout'))
        for field, option, _text in ACTION_OPTIONS:
            parser.add_argument(
                '--no-' + option[2:], dest='no_' + field,
                action='store_true',
                help=_('Remove every %s') % option[2:].replace('-', ' '))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        alarms = client.of(self.app).alarms
        alarm = self.find(parsed_args.alarm)
        body = {field: value for field, value in alarm.items()
                if field not in READ_ONLY}
        rule = dict(body.get('notification_rule') or {})
        changes = _definition(parsed_args)
        if parsed_args.name is not None:
            changes['name'] = parsed_args.name
        for field, option, _text in ACTION_OPTIONS:
            if getattr(parsed_args, 'no_' + field):
                if field in changes:
                    raise osc_exceptions.CommandError(
                        _('--no-%(name)s and %(option)s contradict each '
                          'other') % {'name': option[2:], 'option': option})
                changes[field] = []
        rule_changed = False
        if parsed_args.event_type is not None:
            rule['event_type'] = parsed_args.event_type
            rule_changed = True
        if parsed_args.query and parsed_args.no_query:
            raise osc_exceptions.CommandError(
                _('--query and --no-query contradict each other'))
        if parsed_args.query or parsed_args.no_query:
            rule['query'] = [parse_query(q)
                             for q in parsed_args.query or ()]
            rule_changed = True
        if parsed_args.timeout is not None and parsed_args.no_timeout:
            raise osc_exceptions.CommandError(
                _('--timeout and --no-timeout contradict each other'))
        if parsed_args.timeout is not None:
            rule['timeout'] = parsed_args.timeout
            rule_changed = True
        elif parsed_args.no_timeout:
            rule.pop('timeout', None)
            rule_changed = True
        if not changes and not rule_changed:
            return show_alarm(alarm)
        body.update(changes)
        body['notification_rule'] = rule
        return show_alarm(alarms.update(alarm['alarm_id'], body))


class DeleteAlarm(command.Command):
    """Delete alarms."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('alarms', metavar='<alarm>', nargs='+',
                            help=_('Alarm(s) to delete (name or ID)'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        alarms = client.of(self.app).alarms
        failures = []
        for name_or_id in parsed_args.alarms:
            try:
                alarms.delete(alarms.find(name_or_id)['alarm_id'])
            except osc_exceptions.CommandError as e:
                failures.append('%s: %s' % (name_or_id, e))
        if failures:
            raise osc_exceptions.CommandError(
                _('%(failed)d of %(total)d alarms not deleted:\n%(why)s')
                % {'failed': len(failures),
                   'total': len(parsed_args.alarms),
                   'why': '\n'.join(failures)})


class GetAlarmState(_OneAlarm, command.ShowOne):
    """Show the state of an alarm."""

    def take_action(self, parsed_args: argparse.Namespace):
        alarm_id = self.find(parsed_args.alarm)['alarm_id']
        state = client.of(self.app).alarms.get_state(alarm_id)
        return formatting.show({'alarm_id': alarm_id, 'state': state},
                               ('alarm_id', 'state'))


class SetAlarmState(_OneAlarm, command.ShowOne):
    """Set the state of an alarm by hand (no action is called)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            '--state', metavar='<state>', choices=STATES, required=True,
            help=_('New state: %s') % ', '.join('"%s"' % s for s in STATES))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        alarm_id = self.find(parsed_args.alarm)['alarm_id']
        state = client.of(self.app).alarms.set_state(
            alarm_id, parsed_args.state)
        return formatting.show({'alarm_id': alarm_id, 'state': state},
                               ('alarm_id', 'state'))


class ShowAlarmHistory(command.Lister):
    """Show the history of an alarm, newest first, even once deleted."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'alarm', metavar='<alarm>',
            help=_('Alarm (ID, or the name of an alarm not deleted)'))
        paging.add_arguments(parser, 'entries', 'entry', '<event-id>')
        parser.add_argument('--long', action='store_true',
                            help=_('More columns'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        alarms = client.of(self.app).alarms
        try:
            entries = alarms.history(parsed_args.alarm,
                                     limit=parsed_args.limit,
                                     marker=parsed_args.marker)
        except osc_exceptions.CommandError as e:
            # Not an id: perhaps the name of an alarm that still exists.
            if getattr(e, 'status', None) != 404:
                raise
            alarm_id = alarms.find(parsed_args.alarm)['alarm_id']
            entries = alarms.history(alarm_id, limit=parsed_args.limit,
                                     marker=parsed_args.marker)
        fields: Sequence[str] = (LONG_HISTORY_FIELDS if parsed_args.long
                                 else HISTORY_FIELDS)
        return formatting.listing(entries, fields, {'detail': DetailColumn})
