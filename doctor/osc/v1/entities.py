"""``openstack doctor entity …``: the synchronizer's entity store."""

import argparse

from osc_lib.command import command

from doctor.i18n import _
from doctor.osc.v1 import client
from doctor.osc.v1 import formatting
from doctor.osc.v1 import paging

FIELDS = ('key', 'type', 'id', 'name', 'state', 'project_id', 'datasource',
          'parents', 'children', 'attributes', 'updated_at')
LIST_FIELDS = ('key', 'type', 'name', 'state', 'project_id', 'datasource')
LONG_LIST_FIELDS = LIST_FIELDS + ('parents', 'attributes', 'updated_at')
FORMATTERS = {'parents': formatting.LIST, 'children': formatting.LIST,
              'attributes': formatting.DICT}


class ListEntity(command.Lister):
    """List the entities doctor follows (hosts, instances, ports, …)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('--type', metavar='<type>',
                            help=_('Only entities of this type, such as '
                                   'host, instance or port'))
        parser.add_argument('--parent', metavar='<key>',
                            help=_('Only entities that belong to this one, '
                                   'such as host:compute-0'))
        parser.add_argument('--state', metavar='<state>',
                            help=_('Only entities in this state'))
        parser.add_argument('--datasource', metavar='<datasource>',
                            help=_('Only entities this datasource '
                                   'reported'))
        parser.add_argument('--project-id', metavar='<project-id>',
                            help=_('Only entities of this project'))
        paging.add_arguments(parser, 'entities', 'entity', '<key>')
        parser.add_argument('--long', action='store_true',
                            help=_('More columns'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        entities = client.of(self.app).entities.list(
            limit=parsed_args.limit, marker=parsed_args.marker,
            type=parsed_args.type, parent=parsed_args.parent,
            state=parsed_args.state, datasource=parsed_args.datasource,
            project_id=parsed_args.project_id)
        fields = LONG_LIST_FIELDS if parsed_args.long else LIST_FIELDS
        return formatting.listing(entities, fields, FORMATTERS)


class ShowEntity(command.ShowOne):
    """Show an entity, with its parents and children."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument('key', metavar='<key>',
                            help=_('Entity key, <type>:<id>, such as '
                                   'host:compute-0'))
        return parser

    def take_action(self, parsed_args: argparse.Namespace):
        entity = client.of(self.app).entities.get(
            parsed_args.key)
        return formatting.show(entity, FIELDS, FORMATTERS)
