"""Neutron's answers and notifications, in the shapes Neutron gives them.

A port as an administrator sees it (ML2 with the ``port_security`` and
``data_plane_status`` extensions): the document of ``GET /v2.0/ports``
and the ``port`` of ``port.*.end`` notifications are the same view.
"""

import copy
import typing

NETWORK = '4e8f2a6c-1b3d-4f5e-9a7c-2d4f6b8e0a31'
SUBNET = '7c1e5a9d-3f2b-4d6e-8b0a-4c6e8f0a2b41'


def versions() -> dict:
    """GET /: the version document."""
    return {'versions': [{'id': 'v2.0', 'status': 'CURRENT', 'links': [
        {'href': '{url}/v2.0/', 'rel': 'self'}]}]}


def port(port_id: str, project_id: str, host: str = '',
         device_id: str = '', device_owner: str = '',
         status: str = 'DOWN', data_plane_status: str | None = None,
         ip_address: str = '10.64.0.10', name: str = '',
         admin_state_up: bool = True) -> dict[str, typing.Any]:
    """One port, as an administrator sees it."""
    return {
        'id': port_id, 'name': name, 'network_id': NETWORK,
        'tenant_id': project_id, 'mac_address': 'fa:16:3e:4c:2d:1a',
        'admin_state_up': admin_state_up, 'status': status,
        'device_id': device_id, 'device_owner': device_owner,
        'fixed_ips': [{'subnet_id': SUBNET, 'ip_address': ip_address}],
        'allowed_address_pairs': [], 'extra_dhcp_opts': [],
        'security_groups': ['0c7e9a1b-5d3f-4b6e-8a2c-6e8a0c2e4d51'],
        'description': '', 'binding:vnic_type': 'normal',
        'binding:profile': {}, 'binding:host_id': host,
        'binding:vif_type': 'ovs' if host else 'unbound',
        'binding:vif_details': ({'port_filter': True, 'connectivity': 'l2'}
                                if host else {}),
        'port_security_enabled': True,
        'data_plane_status': data_plane_status, 'tags': [],
        'created_at': '2026-11-22T03:09:40Z',
        'updated_at': '2026-11-22T03:09:46Z', 'revision_number': 3,
        'project_id': project_id,
    }


def member_view(document: dict) -> dict:
    """The port as a project member sees it: no ``binding:*`` fields."""
    return {key: copy.deepcopy(value) for key, value in document.items()
            if not key.startswith('binding:')}


def metadata(timestamp: str = '2026-11-22 03:10:07.654321'
             ) -> dict[str, typing.Any]:
    """A notification's metadata as oslo.messaging hands it over."""
    return {'message_id': '2b6f8d0a-4c1e-4a3b-9d5f-7e9a1c3e5b61',
            'timestamp': timestamp}
