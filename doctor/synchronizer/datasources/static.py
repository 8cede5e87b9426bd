"""The ``static`` datasource: hosts, instances and ports from a YAML file.

The embedded demo inventory, and clouds without OpenStack, are described
this way::

    hosts:
      - name: compute-0
        state: up                  # optional, "up" by default
        instances:
          - id: 5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01
            name: vnf-a-0
            project_id: 6f1c...
            state: active          # optional, "active" by default
            ports:
              - id: 8e2b...
                state: ACTIVE      # optional, "ACTIVE" by default

    server_groups:                 # optional
      - id: 0a1b...
        name: vnf-a-ha
        project_id: 6f1c...
        policy: anti-affinity      # optional, kept as an attribute
        members:                   # instance ids
          - 5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01

An instance may instead name its group itself with ``server_group: <id>``
(a group listed under ``server_groups`` or not: an unlisted one is made
with the instance's project). A member's instance entity has the parent
``server_group:<id>`` beside its host, as the ``nova`` datasource
reports Nova's server groups: the HA guests' server-group messages go
to the members so found.

Keys other than these are kept as the entity's attributes. The file is
read again whenever it changes; a file that cannot be read or is not valid
is logged and leaves the entity store as it was.
"""

from collections.abc import Iterable
import os
import typing

from oslo_log import log
import yaml

from doctor.common import config_files
from doctor.common import exception
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer.datasources import base

LOG = log.getLogger(__name__)

HOST_STATES = ('up', 'down')
_HOST_KEYS = ('name', 'state', 'instances')
_INSTANCE_KEYS = ('id', 'name', 'project_id', 'state', 'ports',
                  'server_group')
_GROUP_KEYS = ('id', 'name', 'project_id', 'members')
SERVER_GROUP = 'server_group'
_PORT_KEYS = ('id', 'name', 'project_id', 'state')


class InventoryError(exception.ConfigInvalid, base.SnapshotError):
    msg_fmt = 'Invalid inventory: %(reason)s'


def _string(item: dict, field: str, where: str, default: str | None = None,
            required: bool = False) -> str | None:
    value = item.get(field, default)
    if value is None:
        if required:
            raise InventoryError(reason='%s: %s is required' % (where, field))
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InventoryError(reason='%s: %s must be a string, not %r'
                             % (where, field, value))
    return str(value)


def _items(parent: dict, field: str, where: str) -> list[dict]:
    value = parent.get(field) or []
    if not isinstance(value, list):
        raise InventoryError(reason='%s: %s must be a list' % (where, field))
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InventoryError(reason='%s: %s[%d] must be a mapping'
                                 % (where, field, index))
    return value


def _attributes(item: dict, known: tuple[str, ...]) -> dict[str, typing.Any]:
    return {key: value for key, value in item.items() if key not in known}


def parse(document: typing.Any, path: str) -> list[entity_mod.Entity]:
    """The entities an inventory document describes.

    :raises InventoryError: naming the file, the entry and the field.
    """
    if document is None:
        return []
    if not isinstance(document, dict):
        raise InventoryError(reason='%s: the top level must be a mapping '
                             'with a list of hosts' % path)
    unknown = set(document) - {'hosts', 'server_groups'}
    if unknown:
        raise InventoryError(reason='%s: unknown top-level key(s) %s'
                             % (path, ', '.join(sorted(map(str, unknown)))))
    entities: list[entity_mod.Entity] = []
    seen: set[str] = set()

    def add(entity: entity_mod.Entity, where: str) -> None:
        if entity.key in seen:
            raise InventoryError(reason='%s: %s is listed twice'
                                 % (where, entity.key))
        seen.add(entity.key)
        entities.append(entity)

    groups, groups_of = _server_groups(document, path)
    for h_index, host in enumerate(_items(document, 'hosts', path)):
        where = '%s: hosts[%d]' % (path, h_index)
        host_name = _string(host, 'name', where, required=True)
        assert host_name is not None
        host_state = _string(host, 'state', where, default='up')
        if host_state not in HOST_STATES:
            raise InventoryError(reason='%s: state must be one of %s'
                                 % (where, ', '.join(HOST_STATES)))
        host_key = entity_mod.make_key(entity_mod.HOST, host_name)
        add(entity_mod.Entity(entity_mod.HOST, host_name, state=host_state,
                              name=host_name,
                              attributes=_attributes(host, _HOST_KEYS)),
            where)
        for i_index, instance in enumerate(
                _items(host, 'instances', where)):
            i_where = '%s.instances[%d]' % (where, i_index)
            instance_id = _string(instance, 'id', i_where, required=True)
            assert instance_id is not None
            project_id = _string(instance, 'project_id', i_where)
            instance_key = entity_mod.make_key(entity_mod.INSTANCE,
                                               instance_id)
            member_of = set(groups_of.pop(instance_id, ()))
            own_group = _string(instance, 'server_group', i_where)
            if own_group is not None:
                member_of.add(own_group)
                if own_group not in groups:
                    groups[own_group] = entity_mod.Entity(
                        SERVER_GROUP, own_group, project_id=project_id)
            add(entity_mod.Entity(
                entity_mod.INSTANCE, instance_id,
                state=_string(instance, 'state', i_where, default='active'),
                name=_string(instance, 'name', i_where),
                project_id=project_id,
                parents=(host_key,) + tuple(
                    entity_mod.make_key(SERVER_GROUP, group)
                    for group in sorted(member_of)),
                attributes=_attributes(instance, _INSTANCE_KEYS)), i_where)
            for p_index, port in enumerate(_items(instance, 'ports',
                                                  i_where)):
                p_where = '%s.ports[%d]' % (i_where, p_index)
                port_id = _string(port, 'id', p_where, required=True)
                assert port_id is not None
                add(entity_mod.Entity(
                    entity_mod.PORT, port_id,
                    state=_string(port, 'state', p_where, default='ACTIVE'),
                    name=_string(port, 'name', p_where),
                    project_id=_string(port, 'project_id', p_where,
                                       default=project_id),
                    parents=(host_key, instance_key),
                    attributes=_attributes(port, _PORT_KEYS)), p_where)
    if groups_of:
        raise InventoryError(reason='%s: server_groups: member %s is no '
                             'instance of the inventory'
                             % (path, sorted(groups_of)[0]))
    for group_id, group in groups.items():
        add(group, '%s: server group %s' % (path, group_id))
    return entities


def _server_groups(document: dict, path: str
                   ) -> tuple[dict[str, entity_mod.Entity],
                              dict[str, list[str]]]:
    """The ``server_groups`` section: the groups by id, and the groups of
    each member.
    """
    groups: dict[str, entity_mod.Entity] = {}
    groups_of: dict[str, list[str]] = {}
    for index, group in enumerate(_items(document, 'server_groups', path)):
        where = '%s: server_groups[%d]' % (path, index)
        group_id = _string(group, 'id', where, required=True)
        assert group_id is not None
        if group_id in groups:
            raise InventoryError(reason='%s: server group %s is listed '
                                 'twice' % (where, group_id))
        groups[group_id] = entity_mod.Entity(
            SERVER_GROUP, group_id, name=_string(group, 'name', where),
            project_id=_string(group, 'project_id', where),
            attributes=_attributes(group, _GROUP_KEYS))
        members = group.get('members') or []
        if not isinstance(members, list):
            raise InventoryError(reason='%s: members must be a list of '
                                 'instance ids' % where)
        for member in members:
            member_id = _string({'member': member}, 'member', where,
                                required=True)
            assert member_id is not None
            groups_of.setdefault(member_id, []).append(group_id)
    return groups, groups_of


def find_inventory(conf) -> str:
    """Where ``[static] inventory`` is, as a full path."""
    return config_files.find(conf, conf.static.inventory, 'inventory file')


def load(path: str) -> list[entity_mod.Entity]:
    """The entities of the inventory file at ``path``.

    :raises InventoryError: if it cannot be read or is not valid.
    """
    try:
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream)
    except OSError as e:
        raise InventoryError(reason='%s: %s' % (path, e.strerror or e))
    except yaml.YAMLError as e:
        raise InventoryError(reason='%s: not valid YAML: %s' % (path, e))
    return parse(document, path)


class StaticDatasource(base.Datasource):
    """Hosts, instances and ports from ``[static] inventory``."""

    types = (entity_mod.HOST, entity_mod.INSTANCE, entity_mod.PORT,
             SERVER_GROUP)

    def __init__(self, conf, name: str) -> None:
        super().__init__(conf, name)
        self._signature: tuple | None = None

    def forget(self) -> None:
        self._signature = None

    def snapshot(self) -> Iterable[entity_mod.Entity] | None:
        path = find_inventory(self.conf)
        try:
            stat = os.stat(path)
        except OSError as e:
            raise InventoryError(reason='%s: %s' % (path, e.strerror or e))
        signature = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if signature == self._signature:
            return None
        entities = load(path)
        self._signature = signature
        LOG.info('Read %d entities from the inventory %s', len(entities),
                 path)
        return entities
