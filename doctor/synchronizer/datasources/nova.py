"""The ``nova`` datasource: compute hosts and servers, from Nova.

A snapshot lists, through openstacksdk with the ``[nova]`` credentials
(an administrator's: it reads every project), the ``nova-compute``
services, the hypervisors and the servers of all projects. Between
snapshots, Nova's notifications on ``[nova] notification_topics`` of
exchange ``[nova] notification_exchange`` keep the entities current:
legacy ``compute.instance.*``, versioned ``instance.*`` and versioned
``service.create``/``service.update``/``service.delete``.

``host`` entities (id: the compute service's host name):

* state: in a snapshot, Nova's own ``up``/``down``; from a notification,
  ``down`` when the service is forced down or has not reported for longer
  than Nova's default ``service_down_time`` (60 s), else ``up``;
* attributes: ``service_id``, ``status`` (``enabled``/``disabled``),
  ``disabled_reason``, ``forced_down`` and ``hypervisors``, the id and
  name of each hypervisor of the host (a notification carries the ones the
  last snapshot of this process saw).

``instance`` entities (id: the server's id): name, project, state (the
``vm_state``: ``active``, ``error``, ``stopped``, ...), the parent
``host:<compute host>`` once it has one, and the attributes ``user_id``,
``task_state``, ``node``, ``availability_zone`` and ``flavor`` (the
flavor's name).

``server_group`` entities (id: the server group's id): name, project,
and the attribute ``policy`` (``affinity``, ``anti-affinity``, ...). Each
member server's instance entity has the parent ``server_group:<id>``
beside its host: the HA guests' server-group router finds a group's
members so. Nova's versioned ``server_group.create``,
``server_group.add_member`` and ``server_group.delete`` notifications keep
them current between snapshots; this process remembers the groups of
each server from the last snapshot and those notifications, so that an
instance notification (which does not name the group) keeps the parent.
Nova removes a deleted server from its group itself, without a
notification: the next snapshot shows it.

A server whose state is ``deleted`` or ``soft-delete`` is gone: Nova
sends a last ``compute.instance.update`` (and ``instance.update``) with
state ``deleted`` after ``compute.instance.delete.end``, and it deletes
the entity as the delete did, rather than bringing it back under its old
host; a soft-deleted server (``[DEFAULT] reclaim_instance_interval``)
is no entity either, in a snapshot or from a notification, until it is
restored. No fault counts such a server among its affected instances.

An entity built from a notification says exactly what a snapshot would say
of the same state, so that the next snapshot finds it unchanged: the
attributes are those that the API, the legacy and the versioned
notifications all carry alike. Left out: a server's ``status`` and
``power_state``, which legacy notifications lack, and a compute service's
availability zone, which its notifications leave empty.
"""

from collections.abc import Iterable
import datetime
import typing

from oslo_log import log
from oslo_utils import timeutils

from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer.datasources import base

LOG = log.getLogger(__name__)

GROUP = 'nova'
COMPUTE_BINARY = 'nova-compute'
# Nova's default [DEFAULT] service_down_time: a service that has not
# reported for longer is down.
SERVICE_DOWN_TIME = datetime.timedelta(seconds=60)

LEGACY_INSTANCE = 'compute.instance.'
LEGACY_DELETE = 'compute.instance.delete.end'
VERSIONED_INSTANCE = 'instance.'
VERSIONED_DELETE = 'instance.delete.end'
SERVICE_EVENTS = ('service.create', 'service.update', 'service.delete')
SERVER_GROUP = 'server_group'
SERVER_GROUP_EVENTS = ('server_group.create', 'server_group.add_member',
                       'server_group.delete')
# A server in one of these vm states is no entity.
GONE_STATES = ('deleted', 'soft-delete')
OBJECT_DATA = 'nova_object.data'


def _text(value: typing.Any) -> str | None:
    """A string field as every channel should report it: '' is None."""
    return None if value in (None, '') else str(value)


def host_entity(name: str, state: str, service_id: str | None,
                disabled: bool, disabled_reason: str | None,
                forced_down: bool,
                hypervisors: list[dict[str, str | None]]
                ) -> entity_mod.Entity:
    """The ``host`` entity of one ``nova-compute`` service."""
    return entity_mod.Entity(
        entity_mod.HOST, name, state=state, name=name,
        attributes={
            'service_id': _text(service_id),
            'status': 'disabled' if disabled else 'enabled',
            'disabled_reason': _text(disabled_reason),
            'forced_down': bool(forced_down),
            'hypervisors': sorted(hypervisors,
                                  key=lambda h: (h['hostname'] or '',
                                                 h['id'] or '')),
        })


def instance_entity(instance_id: str, name: str | None,
                    project_id: str | None, vm_state: str | None,
                    host: str | None, user_id: str | None,
                    task_state: str | None, node: str | None,
                    availability_zone: str | None, flavor: str | None,
                    groups: Iterable[str] = ()) -> entity_mod.Entity:
    """The ``instance`` entity of one server.

    :param groups: the ids of the server groups it is a member of.
    """
    host = _text(host)
    parents: tuple[str, ...] = (
        (entity_mod.make_key(entity_mod.HOST, host),) if host else ())
    parents += tuple(entity_mod.make_key(SERVER_GROUP, group)
                     for group in sorted(groups))
    return entity_mod.Entity(
        entity_mod.INSTANCE, instance_id, state=_text(vm_state),
        name=_text(name), project_id=_text(project_id), parents=parents,
        attributes={
            'user_id': _text(user_id),
            'task_state': _text(task_state),
            'node': _text(node),
            'availability_zone': _text(availability_zone),
            'flavor': _text(flavor),
        })


def server_group_entity(group_id: str, name: str | None,
                        project_id: str | None, policy: str | None
                        ) -> entity_mod.Entity:
    """The ``server_group`` entity of one Nova server group."""
    return entity_mod.Entity(SERVER_GROUP, group_id, name=_text(name),
                             project_id=_text(project_id),
                             attributes={'policy': _text(policy)})


def _group_policy(policy: typing.Any, policies: typing.Any) -> str | None:
    """The policy of a group, whichever of Nova's fields says it."""
    if policy:
        return str(policy)
    if isinstance(policies, list) and policies:
        return str(policies[0])
    return None


def _server_flavor(server: typing.Any) -> str | None:
    flavor = server.flavor
    if flavor is None:
        return None
    if isinstance(flavor, dict):
        return flavor.get('original_name') or flavor.get('name')
    return flavor.original_name or flavor.name


def _object_data(payload: typing.Any, event_type: str) -> dict:
    data = base.required(payload, OBJECT_DATA, event_type)
    if not isinstance(data, dict):
        raise base.NotificationError('%s notification whose %s is not an '
                                     'object' % (event_type, OBJECT_DATA))
    return data


class NovaDatasource(base.OpenStackDatasource):
    """Compute hosts and servers from Nova: snapshots and notifications."""

    types = (entity_mod.HOST, entity_mod.INSTANCE, SERVER_GROUP)

    group = GROUP
    service_type = 'compute'
    service = 'Nova'

    def __init__(self, conf, name: str) -> None:
        super().__init__(conf, name)
        # host -> its hypervisors, as the last snapshot saw them.
        self._hypervisors: dict[str, list[dict[str, str | None]]] = {}
        # server id -> the ids of its server groups, as the last snapshot
        # and the server group notifications since said.
        self._groups: dict[str, set[str]] = {}

    # collector

    def snapshot(self) -> Iterable[entity_mod.Entity]:
        """Every compute host and every server of every project.

        :raises SnapshotError: when Nova cannot be reached or refuses.
        """
        connection = self.client.connection()
        try:
            compute = connection.compute
            services = list(compute.services(binary=COMPUTE_BINARY))
        except base.client_errors() as e:
            raise self.client.fail('list the compute services', e)
        try:
            hypervisors = list(compute.hypervisors(details=True))
        except base.client_errors() as e:
            raise self.client.fail('list the hypervisors', e)
        try:
            servers = list(compute.servers(details=True, all_projects=True))
        except base.client_errors() as e:
            raise self.client.fail('list the servers', e)
        try:
            groups = list(compute.server_groups(all_projects=True))
        except base.client_errors() as e:
            raise self.client.fail('list the server groups', e)
        by_host: dict[str, list[dict[str, str | None]]] = {}
        for hypervisor in hypervisors:
            details = hypervisor.service_details or {}
            host = details.get('host')
            if host:
                by_host.setdefault(host, []).append(
                    {'id': _text(hypervisor.id),
                     'hostname': _text(hypervisor.name)})
        self._hypervisors = by_host
        entities: list[entity_mod.Entity] = []
        for service in services:
            if service.binary != COMPUTE_BINARY or not service.host:
                continue
            entities.append(host_entity(
                service.host, 'down' if service.state == 'down' else 'up',
                service_id=service.id,
                disabled=service.status == 'disabled',
                disabled_reason=service.disabled_reason,
                forced_down=bool(service.is_forced_down),
                hypervisors=by_host.get(service.host, [])))
        groups_of: dict[str, set[str]] = {}
        for group in groups:
            entities.append(server_group_entity(
                group.id, group.name, group.project_id,
                _group_policy(group.policy, group.policies)))
            for member in group.member_ids or ():
                groups_of.setdefault(member, set()).add(group.id)
        self._groups = groups_of
        for server in servers:
            if server.vm_state in GONE_STATES:
                continue
            entities.append(instance_entity(
                server.id, server.name, server.project_id, server.vm_state,
                server.compute_host, user_id=server.user_id,
                task_state=server.task_state,
                node=server.hypervisor_hostname,
                availability_zone=server.availability_zone,
                flavor=_server_flavor(server),
                groups=groups_of.get(server.id, ())))
        LOG.debug('Nova snapshot: %d compute hosts, %d servers, %d server '
                  'groups', len(services), len(servers), len(groups))
        return entities

    # message bus

    def changes_from_notification(
            self, event_type: str, payload: typing.Any,
            metadata: dict[str, typing.Any]
    ) -> list[entity_mod.Change]:
        """The change an instance or compute service notification reports.

        :raises NotificationError: naming what a followed notification
            lacks.
        """
        if event_type.startswith(LEGACY_INSTANCE):
            return [self._legacy_instance(event_type, payload, metadata)]
        if event_type.startswith(VERSIONED_INSTANCE):
            return [self._versioned_instance(event_type, payload, metadata)]
        if event_type in SERVICE_EVENTS:
            return self._service(event_type, payload, metadata)
        if event_type in SERVER_GROUP_EVENTS:
            return self._server_group(event_type, payload, metadata)
        return []

    def _server_group(self, event_type: str, payload: typing.Any,
                      metadata: dict[str, typing.Any]
                      ) -> list[entity_mod.Change]:
        timestamp = base.notification_time(metadata)
        data = _object_data(payload, event_type)
        group_id = str(base.required(data, 'uuid', event_type))
        group = server_group_entity(
            group_id, data.get('name'), data.get('project_id'),
            _group_policy(data.get('policy'), data.get('policies')))
        if event_type == 'server_group.delete':
            for groups in self._groups.values():
                groups.discard(group_id)
            return [self.change(entity_mod.DELETE, entity_mod.Entity(
                SERVER_GROUP, group_id), timestamp)]
        members = data.get('members') or []
        if not isinstance(members, list):
            raise base.NotificationError('%s notification whose members is '
                                         'not a list' % event_type)
        for member in members:
            self._groups.setdefault(str(member), set()).add(group_id)
        action = (entity_mod.CREATE if event_type == 'server_group.create'
                  else entity_mod.UPDATE)
        # The members' instance entities get their new parent with their
        # next notification or snapshot.
        return [self.change(action, group, timestamp)]

    def _legacy_instance(self, event_type: str, payload: typing.Any,
                         metadata: dict[str, typing.Any]
                         ) -> entity_mod.Change:
        timestamp = base.notification_time(metadata)
        instance_id = base.required(payload, 'instance_id', event_type)
        if event_type == LEGACY_DELETE:
            return self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.INSTANCE, str(instance_id)), timestamp)
        state = base.required(payload, 'state', event_type)
        if state in GONE_STATES:
            return self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.INSTANCE, str(instance_id)), timestamp)
        entity = instance_entity(
            str(instance_id), payload.get('display_name'),
            payload.get('tenant_id'), state, payload.get('host'),
            user_id=payload.get('user_id'),
            task_state=payload.get('state_description'),
            node=payload.get('node'),
            availability_zone=payload.get('availability_zone'),
            flavor=payload.get('instance_type'),
            groups=self._groups.get(str(instance_id), ()))
        return self.change(self._action(event_type), entity, timestamp)

    def _versioned_instance(self, event_type: str, payload: typing.Any,
                            metadata: dict[str, typing.Any]
                            ) -> entity_mod.Change:
        timestamp = base.notification_time(metadata)
        data = _object_data(payload, event_type)
        instance_id = base.required(data, 'uuid', event_type)
        if event_type == VERSIONED_DELETE:
            return self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.INSTANCE, str(instance_id)), timestamp)
        state = base.required(data, 'state', event_type)
        if state in GONE_STATES:
            return self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.INSTANCE, str(instance_id)), timestamp)
        flavor = data.get('flavor')
        flavor_data = (flavor.get(OBJECT_DATA)
                       if isinstance(flavor, dict) else None)
        entity = instance_entity(
            str(instance_id), data.get('display_name'),
            data.get('tenant_id'), state, data.get('host'),
            user_id=data.get('user_id'), task_state=data.get('task_state'),
            node=data.get('node'),
            availability_zone=data.get('availability_zone'),
            flavor=(flavor_data.get('name')
                    if isinstance(flavor_data, dict) else None),
            groups=self._groups.get(str(instance_id), ()))
        return self.change(self._action(event_type), entity, timestamp)

    def _service(self, event_type: str, payload: typing.Any,
                 metadata: dict[str, typing.Any]) -> list[entity_mod.Change]:
        timestamp = base.notification_time(metadata)
        data = _object_data(payload, event_type)
        binary = base.required(data, 'binary', event_type)
        if binary != COMPUTE_BINARY:
            return []
        host = str(base.required(data, 'host', event_type))
        if event_type == 'service.delete':
            return [self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.HOST, host), timestamp)]
        forced_down = bool(data.get('forced_down'))
        state = 'down' if forced_down or self._silent(
            data.get('last_seen_up'), timestamp) else 'up'
        entity = host_entity(
            host, state, service_id=data.get('uuid'),
            disabled=bool(data.get('disabled')),
            disabled_reason=data.get('disabled_reason'),
            forced_down=forced_down,
            hypervisors=list(self._hypervisors.get(host, [])))
        return [self.change(self._action(event_type), entity, timestamp)]

    @staticmethod
    def _silent(last_seen_up: typing.Any,
                timestamp: datetime.datetime) -> bool:
        """Whether a service last seen up then is down at ``timestamp``."""
        if not last_seen_up:
            return False
        try:
            seen = timeutils.normalize_time(
                timeutils.parse_isotime(str(last_seen_up)))
        except ValueError:
            return False
        return timestamp - seen > SERVICE_DOWN_TIME

    @staticmethod
    def _action(event_type: str) -> str:
        if event_type.endswith('create.end') or event_type == (
                'service.create'):
            return entity_mod.CREATE
        return entity_mod.UPDATE
