"""The ``neutron`` datasource: ports, from Neutron.

A snapshot lists every port through openstacksdk with the ``[neutron]``
credentials (an administrator's: binding hosts are theirs to see).
Between snapshots, Neutron's ``port.create.end``, ``port.update.end`` and
``port.delete.end`` notifications on ``[neutron] notification_topics`` of
exchange ``[neutron] notification_exchange`` keep the ports current.

``port`` entities (id: the port's id): name, project, state (the port's
``status``: ``ACTIVE``, ``DOWN``, ``BUILD``, ...), the parents
``host:<binding host>`` when the port is bound and
``instance:<device id>`` when a server uses it (``device_owner``
``compute:*``), and the attributes ``device_id``, ``device_owner``,
``binding_host_id``, ``mac_address``, ``network_id``,
``data_plane_status``, ``admin_state_up`` and ``fixed_ips``.

A notification carries the port as the API showed it to whoever made the
change: for a request of a project member, without the administrator's
``binding:*`` fields. Such a notification yields no change (the binding
host would be lost); the next snapshot reports what it changed.
"""

from collections.abc import Iterable
import typing

from oslo_log import log

from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer.datasources import base

LOG = log.getLogger(__name__)

GROUP = 'neutron'
BINDING_HOST = 'binding:host_id'
COMPUTE_OWNER_PREFIX = 'compute:'

CREATE_END = 'port.create.end'
UPDATE_END = 'port.update.end'
DELETE_END = 'port.delete.end'


def _text(value: typing.Any) -> str | None:
    return None if value in (None, '') else str(value)


def _fixed_ips(value: typing.Any) -> list[dict[str, str | None]]:
    ips = [{'subnet_id': _text(item.get('subnet_id')),
            'ip_address': _text(item.get('ip_address'))}
           for item in value or () if isinstance(item, dict)]
    return sorted(ips, key=lambda ip: (ip['subnet_id'] or '',
                                       ip['ip_address'] or ''))


def port_entity(port_id: str, name: str | None, project_id: str | None,
                status: str | None, binding_host_id: str | None,
                device_id: str | None, device_owner: str | None,
                mac_address: str | None, network_id: str | None,
                data_plane_status: str | None,
                admin_state_up: bool | None,
                fixed_ips: typing.Any) -> entity_mod.Entity:
    """The ``port`` entity of one Neutron port."""
    host = _text(binding_host_id)
    device_id = _text(device_id)
    device_owner = _text(device_owner)
    parents: list[str] = []
    if host:
        parents.append(entity_mod.make_key(entity_mod.HOST, host))
    if device_id and (device_owner or '').startswith(COMPUTE_OWNER_PREFIX):
        parents.append(entity_mod.make_key(entity_mod.INSTANCE, device_id))
    return entity_mod.Entity(
        entity_mod.PORT, port_id, state=_text(status), name=_text(name),
        project_id=_text(project_id), parents=tuple(parents),
        attributes={
            'device_id': device_id,
            'device_owner': device_owner,
            'binding_host_id': host,
            'mac_address': _text(mac_address),
            'network_id': _text(network_id),
            'data_plane_status': _text(data_plane_status),
            'admin_state_up': (None if admin_state_up is None
                               else bool(admin_state_up)),
            'fixed_ips': _fixed_ips(fixed_ips),
        })


class NeutronDatasource(base.OpenStackDatasource):
    """Ports from Neutron: snapshots and notifications."""

    types = (entity_mod.PORT,)

    group = GROUP
    service_type = 'network'
    service = 'Neutron'

    # collector

    def snapshot(self) -> Iterable[entity_mod.Entity]:
        """Every port of every project.

        :raises SnapshotError: when Neutron cannot be reached or refuses.
        """
        connection = self.client.connection()
        try:
            ports = list(connection.network.ports())
        except base.client_errors() as e:
            raise self.client.fail('list the ports', e)
        LOG.debug('Neutron snapshot: %d ports', len(ports))
        return [port_entity(
            port.id, port.name, port.project_id, port.status,
            port.binding_host_id, port.device_id, port.device_owner,
            port.mac_address, port.network_id, port.data_plane_status,
            port.is_admin_state_up, port.fixed_ips) for port in ports]

    # message bus

    def changes_from_notification(
            self, event_type: str, payload: typing.Any,
            metadata: dict[str, typing.Any]
    ) -> list[entity_mod.Change]:
        """The changes a ``port.*.end`` notification reports.

        :raises NotificationError: naming what a followed notification
            lacks.
        """
        if event_type not in (CREATE_END, UPDATE_END, DELETE_END):
            return []
        timestamp = base.notification_time(metadata)
        if event_type == DELETE_END:
            port = payload.get('port') if isinstance(payload, dict) else None
            port_id = (payload.get('port_id') if isinstance(payload, dict)
                       else None)
            if not port_id and isinstance(port, dict):
                port_id = port.get('id')
            if not port_id:
                raise base.NotificationError('%s notification without '
                                             'port_id' % event_type)
            return [self.change(entity_mod.DELETE, entity_mod.Entity(
                entity_mod.PORT, str(port_id)), timestamp)]
        if isinstance(payload, dict) and isinstance(payload.get('ports'),
                                                    list):
            ports = payload['ports']
        else:
            ports = [base.required(payload, 'port', event_type)]
        action = (entity_mod.CREATE if event_type == CREATE_END
                  else entity_mod.UPDATE)
        changes = []
        for port in ports:
            if not isinstance(port, dict):
                raise base.NotificationError('%s notification whose port '
                                             'is not an object' % event_type)
            port_id = base.required(port, 'id', event_type)
            if BINDING_HOST not in port:
                LOG.debug('%s of port %s without its binding, as a project '
                          'member sees it: left to the next snapshot',
                          event_type, port_id)
                continue
            changes.append(self.change(action, port_entity(
                str(port_id), port.get('name'),
                port.get('project_id') or port.get('tenant_id'),
                port.get('status'), port.get(BINDING_HOST),
                port.get('device_id'), port.get('device_owner'),
                port.get('mac_address'), port.get('network_id'),
                port.get('data_plane_status'), port.get('admin_state_up'),
                port.get('fixed_ips')), timestamp))
        return changes
