"""Notifications as Nova, Neutron and doctor send them, for evaluator tests.
"""

import datetime
import os

SHIPPED = os.path.normpath(os.path.join(
    os.path.dirname(__file__), '..', '..', '..', '..', 'etc', 'doctor',
    'event_definitions.yaml'))

INSTANCE_ID = '5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01'
PROJECT_ID = '6f1c3e0d8a7b4c2e9f1a0b3c4d5e6f70'
USER_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
PORT_ID = '8e2b4f1a-3c5d-4e6f-8a9b-0c1d2e3f4a5b'
FAULT_ID = 'f7a1c0de-0000-4000-8000-000000000001'
METADATA = {'message_id': '2e6b9a51-0d5b-4ad1-b1a3-1b8c6d2f3e4a',
            'timestamp': '2024-05-01 10:00:01.123456'}
NOW = datetime.datetime(2024, 5, 1, 12, 0, 0)


def nova_legacy_update(**overrides):
    """A compute.instance.update payload as Nova's legacy notifier sends."""
    payload = {
        'tenant_id': PROJECT_ID, 'user_id': USER_ID,
        'instance_id': INSTANCE_ID, 'display_name': 'vnf-a-0',
        'reservation_id': 'r-3fhjt1l3', 'hostname': 'vnf-a-0',
        'host': 'compute-0', 'node': 'compute-0',
        'instance_type': 'm1.small', 'instance_type_id': 5,
        'instance_flavor_id': '2', 'memory_mb': 2048, 'vcpus': 1,
        'root_gb': 20, 'ephemeral_gb': 0, 'disk_gb': 20,
        'architecture': None, 'availability_zone': 'nova',
        'cell_name': '', 'created_at': '2024-05-01 09:58:12+00:00',
        'terminated_at': '', 'deleted_at': '',
        'launched_at': '2024-05-01T09:58:40.000000',
        'image_ref_url': 'http://glance:9292/images/c0ffee',
        'state': 'error', 'state_description': '', 'progress': '',
        'old_state': 'active', 'old_task_state': None,
        'new_task_state': None, 'access_ip_v4': None,
        'access_ip_v6': None, 'fixed_ips': [], 'metadata': {},
        'image_meta': {'base_image_ref': 'c0ffee'},
        'audit_period_beginning': '2024-05-01T00:00:00.000000',
        'audit_period_ending': '2024-05-01T10:00:01.000000',
        'bandwidth': {}, 'old_display_name': None,
    }
    payload.update(overrides)
    return payload


def nova_versioned(name, data):
    return {'nova_object.name': name, 'nova_object.namespace': 'nova',
            'nova_object.version': '1.0', 'nova_object.data': data}


def nova_instance_update():
    state_update = nova_versioned('InstanceStateUpdatePayload', {
        'old_state': 'active', 'state': 'error',
        'old_task_state': None, 'new_task_state': None})
    payload = nova_versioned('InstanceUpdatePayload', {
        'uuid': INSTANCE_ID, 'tenant_id': PROJECT_ID, 'user_id': USER_ID,
        'display_name': 'vnf-a-0', 'host': 'compute-0',
        'node': 'compute-0', 'state': 'error', 'task_state': None,
        'power_state': 'running', 'locked': False,
        'availability_zone': 'nova', 'state_update': state_update,
        'audit_period': None, 'bandwidth': [], 'old_display_name': None,
        'tags': [], 'updated_at': '2024-05-01T10:00:01Z'})
    payload['nova_object.version'] = '2.2'
    return payload


def nova_service_update():
    return nova_versioned('ServiceStatusPayload', {
        'host': 'compute-0', 'binary': 'nova-compute', 'topic': 'compute',
        'report_count': 1234, 'disabled': False, 'disabled_reason': None,
        'availability_zone': None, 'forced_down': True, 'version': 66,
        'last_seen_up': '2024-05-01T09:59:55Z',
        'uuid': 'c0a8d1e2-3f40-4b5c-8d6e-7f8091a2b3c4'})


def neutron_port(**overrides):
    port = {'id': PORT_ID, 'name': '', 'network_id': 'net-1',
            'tenant_id': PROJECT_ID, 'project_id': PROJECT_ID,
            'mac_address': 'fa:16:3e:00:00:01', 'admin_state_up': True,
            'status': 'ACTIVE', 'device_id': INSTANCE_ID,
            'device_owner': 'compute:nova', 'binding:host_id': 'compute-0',
            'binding:vif_type': 'ovs', 'data_plane_status': 'DOWN',
            'fixed_ips': [{'subnet_id': 'sub-1',
                           'ip_address': '10.0.0.5'}]}
    port.update(overrides)
    return port
