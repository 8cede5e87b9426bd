"""The ``openstack doctor …`` commands: the OpenStack client's plugin.

python-openstackclient finds this module through the
``openstack.cli.extension`` entry point, adds the options of
:func:`build_option_parser` to its own and loads the commands of the
``openstack.doctor.v<version>`` entry point group.

The API's endpoint is, in order of precedence: ``--os-doctor-url``
(``OS_DOCTOR_URL``), the ``fault_management_endpoint_override`` of a
cloud in ``clouds.yaml``, the endpoint of the ``none`` auth type
(``--os-auth-type none --os-endpoint URL``), or the catalog's endpoint
of service type ``fault-management``.

With ``--os-auth-type none`` against an API in doctor's ``noauth`` mode,
``--os-doctor-user-id``, ``--os-doctor-project-id`` and
``--os-doctor-roles`` give the identity the API believes (its
``X-User-Id``, ``X-Project-Id`` and ``X-Roles`` headers); with a token,
the identity is the token's and these options are refused.
"""

import argparse
from typing import Any

from osc_lib import exceptions as osc_exceptions
from osc_lib import utils
from oslo_utils import importutils

from doctor.i18n import _
from doctor.osc.v1 import client as client_v1

API_NAME = 'doctor'
API_VERSION_OPTION = 'os_doctor_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {'1': 'doctor.osc.v1.client.Client'}
SERVICE_TYPE = client_v1.SERVICE_TYPE

# Option (without its os_ prefix, as the client's configuration has it)
# → header of the noauth mode.
IDENTITY_HEADERS = {
    'doctor_user_id': 'X-User-Id',
    'doctor_project_id': 'X-Project-Id',
    'doctor_roles': 'X-Roles',
}


def _headers(config: dict[str, Any]) -> dict[str, str]:
    """The identity headers of the noauth mode the options ask for.

    :raises CommandError: if they are given with an auth type other than
        ``none``: the API would ignore them for the token's identity.
    """
    headers = {header: str(config[option])
               for option, header in IDENTITY_HEADERS.items()
               if config.get(option)}
    if headers and config.get('auth_type') != 'none':
        raise osc_exceptions.CommandError(_(
            '--os-doctor-user-id, --os-doctor-project-id and '
            '--os-doctor-roles are for an API in noauth mode, with '
            '--os-auth-type none; with a token, the identity is the '
            'token\'s'))
    return headers


def make_client(instance: Any) -> client_v1.Client:
    """The client of the API version the shell was asked for."""
    version = instance._api_version[API_NAME]
    if version not in API_VERSIONS:
        raise osc_exceptions.CommandError(
            _('doctor API version %(version)s is not supported; supported: '
              '%(supported)s')
            % {'version': version, 'supported': ', '.join(API_VERSIONS)})
    client_class = importutils.import_class(API_VERSIONS[version])
    config = instance.get_configuration()
    headers = _headers(config)
    instance.setup_auth()
    endpoint = (config.get('doctor_url')
                or config.get(SERVICE_TYPE.replace('-', '_')
                              + '_endpoint_override'))
    return client_class(instance.session, endpoint=endpoint,
                        interface=instance.interface,
                        region_name=instance.region_name,
                        headers=headers)


def build_option_parser(
        parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The shell's options for doctor."""
    parser.add_argument(
        '--os-doctor-api-version',
        metavar='<doctor-api-version>',
        default=utils.env('OS_DOCTOR_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help=_('doctor API version, default=%(default)s '
               '(Env: OS_DOCTOR_API_VERSION)') % {
            'default': DEFAULT_API_VERSION})
    parser.add_argument(
        '--os-doctor-url',
        metavar='<doctor-url>',
        default=utils.env('OS_DOCTOR_URL'),
        help=_('doctor API endpoint, instead of the catalog\'s '
               '(service type %s) (Env: OS_DOCTOR_URL)') % SERVICE_TYPE)
    for option, header in IDENTITY_HEADERS.items():
        env = 'OS_' + option.upper()
        parser.add_argument(
            '--os-' + option.replace('_', '-'),
            metavar='<%s>' % option.split('_', 1)[1].replace('_', '-'),
            default=utils.env(env),
            help=_('With --os-auth-type none, against doctor\'s noauth '
                   'mode: the %(header)s header to send (Env: %(env)s)')
            % {'header': header, 'env': env})
    return parser
