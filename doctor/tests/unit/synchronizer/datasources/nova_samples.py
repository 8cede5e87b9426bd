"""Nova's answers and notifications, in the shapes Nova 34 gives them.

API documents are those of the microversions openstacksdk asks for
(services 2.69, hypervisors 2.88, servers 2.100). Notifications are as a
listener receives them with ``notification_format = both``: the legacy
payload a plain dict, the versioned one an oslo.versionedobjects
primitive.
"""

import typing

ENDPOINT = '/compute/v2.1'
PUBLISHED = '2026-11-22 03:10:05.123456'
CREATED = '2026-11-22T03:09:41.000000'
LAUNCHED = '2026-11-22T03:09:44.000000'
IMAGE = '6c2f5f59-2b0b-4f0e-9c57-5b8b3a1d2e01'
FLAVOR = 'doctor.tiny'
FLAVOR_ID = 'b9a6a3c4-1f43-4a8f-8f3d-93ad8d6f0d10'
USER = '0a1b2c3d4e5f40718293a4b5c6d7e8f9'


def version() -> dict:
    """GET /compute/v2.1: the version document."""
    return {'version': {
        'id': 'v2.1', 'status': 'CURRENT', 'version': '2.104',
        'min_version': '2.1', 'updated': '2013-07-23T11:33:21Z',
        'links': [{'rel': 'self', 'href': '{url}/compute/v2.1/'},
                  {'rel': 'describedby', 'type': 'text/html',
                   'href': 'http://docs.openstack.org/'}],
        'media-types': [{
            'base': 'application/json',
            'type': 'application/vnd.openstack.compute+json;version=2.1'}],
    }}


def service(host: str, service_id: str, state: str = 'up',
            status: str = 'enabled', forced_down: bool = False,
            disabled_reason: str | None = None, zone: str = 'nova',
            binary: str = 'nova-compute') -> dict:
    """One item of GET /os-services (2.69)."""
    return {'id': service_id, 'binary': binary,
            'disabled_reason': disabled_reason, 'host': host,
            'state': state, 'status': status,
            'updated_at': '2026-11-22T03:10:01.000000',
            'forced_down': forced_down, 'zone': zone}


def hypervisor(host: str, hypervisor_id: str, service_id: str,
               state: str = 'up') -> dict:
    """One item of GET /os-hypervisors/detail (2.88)."""
    return {'id': hypervisor_id, 'hypervisor_hostname': host,
            'state': state, 'status': 'enabled', 'host_ip': '127.0.0.1',
            'hypervisor_type': 'fake', 'hypervisor_version': 1000,
            'service': {'host': host, 'id': service_id,
                        'disabled_reason': None},
            'uptime': None}


def server(server_id: str, name: str, project_id: str,
           host: str | None, vm_state: str = 'active',
           task_state: str | None = None, power_state: int = 1,
           status: str = 'ACTIVE', zone: str | None = 'nova') -> dict:
    """One item of GET /servers/detail?all_tenants=True (2.100)."""
    return {
        'id': server_id, 'name': name, 'status': status,
        'tenant_id': project_id, 'user_id': USER, 'metadata': {},
        'hostId': 'f1a6' * 14 if host else '',
        'image': {'id': IMAGE, 'links': [
            {'rel': 'bookmark', 'href': '{url}/compute/images/' + IMAGE}]},
        'flavor': {'vcpus': 1, 'ram': 64, 'disk': 0, 'ephemeral': 0,
                   'swap': 0, 'original_name': FLAVOR, 'extra_specs': {}},
        'created': CREATED.replace('.000000', 'Z'),
        'updated': '2026-11-22T03:09:45Z',
        'addresses': {}, 'accessIPv4': '', 'accessIPv6': '',
        'links': [{'rel': 'self',
                   'href': '{url}/compute/v2.1/servers/' + server_id}],
        'OS-DCF:diskConfig': 'MANUAL',
        'OS-EXT-AZ:availability_zone': zone or '',
        'config_drive': '', 'key_name': None,
        'OS-SRV-USG:launched_at': LAUNCHED if host else None,
        'OS-SRV-USG:terminated_at': None,
        'OS-EXT-SRV-ATTR:host': host,
        'OS-EXT-SRV-ATTR:instance_name': 'instance-00000001',
        'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
        'OS-EXT-SRV-ATTR:reservation_id': 'r-3fhpjulh',
        'OS-EXT-SRV-ATTR:launch_index': 0,
        'OS-EXT-SRV-ATTR:hostname': name,
        'OS-EXT-SRV-ATTR:kernel_id': '', 'OS-EXT-SRV-ATTR:ramdisk_id': '',
        'OS-EXT-SRV-ATTR:root_device_name': '/dev/sda',
        'OS-EXT-SRV-ATTR:user_data': None,
        'OS-EXT-STS:task_state': task_state,
        'OS-EXT-STS:vm_state': vm_state,
        'OS-EXT-STS:power_state': power_state,
        'os-extended-volumes:volumes_attached': [],
        'locked': False, 'locked_reason': None, 'description': None,
        'tags': [], 'trusted_image_certificates': None,
        'host_status': 'UP' if host else '', 'server_groups': [],
        'pinned_availability_zone': None, 'scheduler_hints': {},
    }


def legacy_instance(server_id: str, name: str, project_id: str,
                    host: str | None, state: str = 'active',
                    task_state: str | None = None,
                    old_state: str = 'building',
                    zone: str | None = 'nova') -> dict:
    """The payload of a legacy ``compute.instance.*`` notification.

    ``compute.instance.update``'s: the instance, then its old and new
    states.
    """
    return {
        'tenant_id': project_id, 'user_id': USER,
        'instance_id': server_id, 'display_name': name,
        'reservation_id': 'r-3fhpjulh', 'hostname': name,
        'instance_type': FLAVOR, 'instance_type_id': 1,
        'instance_flavor_id': FLAVOR_ID, 'architecture': None,
        'memory_mb': 64, 'disk_gb': 0, 'vcpus': 1, 'root_gb': 0,
        'ephemeral_gb': 0, 'host': host, 'node': host,
        'availability_zone': zone, 'cell_name': '',
        'created_at': '2026-11-22 03:09:41+00:00', 'terminated_at': '',
        'deleted_at': '', 'launched_at': '2026-11-22T03:09:44.000000',
        'image_ref_url': 'http://127.0.0.1:9292/images/' + IMAGE,
        'os_type': None, 'kernel_id': '', 'ramdisk_id': '',
        'state': state, 'state_description': task_state or '',
        'progress': '', 'access_ip_v4': None, 'access_ip_v6': None,
        'image_meta': {'container_format': 'bare', 'disk_format': 'raw',
                       'min_disk': '0', 'min_ram': '0',
                       'base_image_ref': IMAGE},
        'metadata': {},
        'old_state': old_state, 'old_task_state': None,
        'new_task_state': task_state,
        'audit_period_beginning': '2026-11-22T03:00:00.000000',
        'audit_period_ending': '2026-11-22T03:10:05.000000',
        'bandwidth': {}, 'old_display_name': None,
    }


def _object(name: str, version: str, data: dict) -> dict:
    return {'nova_object.name': name, 'nova_object.namespace': 'nova',
            'nova_object.version': version, 'nova_object.data': data}


def versioned_instance(server_id: str, name: str, project_id: str,
                       host: str | None, state: str = 'active',
                       task_state: str | None = None,
                       power_state: str = 'running',
                       old_state: str = 'building',
                       zone: str | None = 'nova') -> dict:
    """The payload of ``instance.update`` (InstanceUpdatePayload 2.1)."""
    flavor = _object('FlavorPayload', '1.4', {
        'flavorid': FLAVOR_ID, 'memory_mb': 64, 'vcpus': 1, 'root_gb': 0,
        'ephemeral_gb': 0, 'name': FLAVOR, 'swap': 0, 'rxtx_factor': 1.0,
        'vcpu_weight': 0, 'disabled': False, 'is_public': True,
        'extra_specs': {}, 'description': None, 'projects': None})
    return _object('InstanceUpdatePayload', '2.1', {
        'uuid': server_id, 'user_id': USER, 'tenant_id': project_id,
        'reservation_id': 'r-3fhpjulh', 'display_name': name,
        'display_description': None, 'host_name': name, 'host': host,
        'node': host, 'os_type': None, 'architecture': None,
        'availability_zone': zone, 'flavor': flavor,
        'image_uuid': IMAGE, 'key_name': None, 'kernel_id': '',
        'ramdisk_id': '', 'created_at': '2026-11-22T03:09:41Z',
        'launched_at': '2026-11-22T03:09:44Z', 'terminated_at': None,
        'deleted_at': None, 'updated_at': '2026-11-22T03:09:45Z',
        'state': state, 'power_state': power_state,
        'task_state': task_state, 'progress': 0, 'ip_addresses': [],
        'block_devices': [], 'metadata': {}, 'locked': False,
        'auto_disk_config': 'MANUAL', 'request_id': 'req-5b1c',
        'action_initiator_user': USER,
        'action_initiator_project': project_id, 'locked_reason': None,
        'shares': [],
        'state_update': _object('InstanceStateUpdatePayload', '1.0', {
            'old_state': old_state, 'state': state,
            'old_task_state': None, 'new_task_state': task_state}),
        'audit_period': _object('AuditPeriodPayload', '1.0', {
            'audit_period_beginning': '2026-11-22T03:00:00Z',
            'audit_period_ending': '2026-11-22T03:10:05Z'}),
        'old_display_name': None, 'tags': [],
    })


def service_status(host: str, service_id: str, forced_down: bool = False,
                   disabled: bool = False,
                   disabled_reason: str | None = None,
                   last_seen_up: str | None = '2026-11-22T03:10:01Z',
                   binary: str = 'nova-compute') -> dict:
    """The payload of ``service.update`` (ServiceStatusPayload 1.1).

    Nova leaves ``availability_zone`` empty.
    """
    return _object('ServiceStatusPayload', '1.1', {
        'host': host, 'binary': binary, 'topic': 'compute',
        'report_count': 12, 'disabled': disabled,
        'disabled_reason': disabled_reason, 'availability_zone': None,
        'last_seen_up': last_seen_up, 'forced_down': forced_down,
        'version': 70, 'uuid': service_id})


def metadata(timestamp: str = PUBLISHED) -> dict[str, typing.Any]:
    """A notification's metadata as oslo.messaging hands it over."""
    return {'message_id': 'd5a4f0a8-0f3c-4c6f-8f2e-3b9a57f0c2a1',
            'timestamp': timestamp}
