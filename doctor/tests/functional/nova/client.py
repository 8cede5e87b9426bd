"""The APIs of the functional tests' Nova, as its cloud administrator."""

import threading
import time
import typing

from openstack import connection as sdk_connection
import requests

from doctor.tests.functional import keystone
from doctor.tests.functional.nova import config

# Force down by service id needs 2.53; os-services ids are uuids from it.
MICROVERSION = '2.96'
HOSTS = ('compute-0', 'compute-1', 'compute-2')

# Bounds, in seconds.
SERVER_TIMEOUT = 120
HTTP_TIMEOUT = 30


class APIError(Exception):
    """A call to one of the cloud's APIs did not do what was asked."""


class Client:
    """Calls to a running Nova's cloud, and the servers booted there.

    ``hosts`` are the compute hosts, ``url`` the compute endpoint,
    ``placement_url`` Placement's, ``auth`` the keystoneauth password
    options of the cloud administrator (with ``region_name``), ``image_id``
    and ``flavor_id`` what :meth:`boot` uses, and ``keystone`` the
    Keystone the cloud uses: all set once the cloud runs.
    """

    def __init__(self, hosts: typing.Sequence[str] = HOSTS) -> None:
        self.hosts: tuple[str, ...] = tuple(hosts)
        self.keystone: keystone.Keystone | None = None
        self.url = ''
        self.placement_url = ''
        self.auth: dict[str, str] = {}
        self.image_id = ''
        self.flavor_id = ''
        self._tokens: dict[str, str] = {}
        self._tokens_lock = threading.Lock()

    def logs(self, *names: str) -> str:
        """The tails of the logs of ``names``, or of every process."""
        raise NotImplementedError

    def _auth_options(self, user: keystone.User) -> dict[str, str]:
        assert self.keystone is not None
        return {
            'auth_url': self.keystone.root_url,
            'username': user.name,
            'password': user.password,
            'project_name': user.project,
            'user_domain_name': keystone.DOMAIN,
            'project_domain_name': keystone.DOMAIN,
            'region_name': config.REGION,
        }

    def token(self, project: str | None = None) -> str:
        """A token of the cloud administrator, scoped to ``project``.

        ``project`` is a project name: ``admin`` (the default) or a tenant.
        """
        assert self.keystone is not None
        project = project or keystone.ADMIN
        with self._tokens_lock:
            if project not in self._tokens:
                admin = self.keystone.admin
                self._tokens[project] = self.keystone.issue_token(
                    keystone.User(admin.name, admin.password, project))
            return self._tokens[project]

    def _request(self, method: str, url: str, project: str | None,
                 headers: dict[str, str], **kwargs: typing.Any
                 ) -> requests.Response:
        for attempt in (1, 2):
            response = requests.request(
                method, url, timeout=HTTP_TIMEOUT,
                headers=dict(headers, **{'X-Auth-Token': self.token(project)}),
                **kwargs)
            if response.status_code != 401 or attempt == 2:
                return response
            with self._tokens_lock:
                self._tokens.pop(project or keystone.ADMIN, None)
        raise AssertionError('unreachable')

    def call(self, method: str, path: str, json: dict | None = None,
             expected: int = 200, project: str | None = None) -> dict:
        """One call to the compute API as the administrator.

        ``path`` is relative to ``…/v2.1``; the call uses microversion
        :data:`MICROVERSION` and a token scoped to ``project`` (a project
        name, ``admin`` by default). Returns the JSON body, if any.

        :raises APIError: if the status is not ``expected``.
        """
        response = self._request(
            method, self.url + path, project,
            {'OpenStack-API-Version': 'compute ' + MICROVERSION}, json=json)
        if response.status_code != expected:
            raise APIError('%s %s answered %d, not %d: %s'
                           % (method, path, response.status_code, expected,
                              response.text[:500]))
        return response.json() if response.content else {}

    def _placement(self, path: str) -> dict:
        response = self._request(
            'GET', self.placement_url + path, None,
            {'OpenStack-API-Version': 'placement 1.10'})
        if response.status_code != 200:
            raise APIError('GET %s answered %d: %s'
                           % (path, response.status_code,
                              response.text[:500]))
        return response.json()

    def member_auth(self, project: str) -> dict[str, str]:
        """keystoneauth password options of the member of ``project``.

        ``project`` is one of :data:`keystone.TENANTS`; the user has the
        ``member`` role there and no other.
        """
        assert self.keystone is not None
        return self._auth_options(self.keystone.members[project])

    def project_id(self, project: str) -> str:
        """The id of the project named ``project`` (admin or a tenant)."""
        assert self.keystone is not None
        if project == keystone.ADMIN:
            return self.keystone.admin.project_id
        return self.keystone.members[project].project_id

    def connection(self, project: str | None = None
                   ) -> sdk_connection.Connection:
        """An openstacksdk connection of the administrator.

        Scoped to the admin project, or to ``project`` (a tenant's name),
        where the administrator has the admin role too.
        """
        auth = dict(self.auth)
        region = auth.pop('region_name')
        if project:
            auth['project_name'] = project
        return sdk_connection.Connection(auth_type='password', auth=auth,
                                         region_name=region)

    def boot(self, name: str, host: str, project: str | None = None) -> str:
        """Boot a server without networks on ``host``; its id once ACTIVE.

        The server belongs to ``project`` (a tenant's name), or to the
        admin project.

        :raises APIError: if it went to ERROR or did not become ACTIVE.
        """
        if host not in self.hosts:
            raise ValueError('%s is not one of %s' % (host, self.hosts))
        server = self.call('POST', '/servers', {'server': {
            'name': name, 'imageRef': self.image_id,
            'flavorRef': self.flavor_id, 'networks': 'none',
            'availability_zone': 'nova:' + host}}, expected=202,
            project=project)['server']['id']
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            details = self.call('GET', '/servers/' + server)['server']
            if details['status'] == 'ACTIVE':
                return server
            if details['status'] == 'ERROR':
                raise APIError('server %s went to ERROR: %s\n%s'
                               % (server, details.get('fault'),
                                  self.logs(host, 'nova-conductor')))
            if time.monotonic() > deadline:
                raise APIError('server %s still %s after %d s\n%s'
                               % (server, details['status'], SERVER_TIMEOUT,
                                  self.logs(host)))
            time.sleep(0.2)

    def delete(self, server_id: str) -> None:
        """Delete a server and wait until it is gone.

        :raises APIError: if it is still there after a while.
        """
        self.call('DELETE', '/servers/' + server_id, expected=204)
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            response = self._request(
                'GET', self.url + '/servers/' + server_id, None,
                {'OpenStack-API-Version': 'compute ' + MICROVERSION})
            if response.status_code == 404:
                return
            if time.monotonic() > deadline:
                raise APIError('server %s still there after %d s: %s'
                               % (server_id, SERVER_TIMEOUT,
                                  response.text[:300]))
            time.sleep(0.2)

    def service_id(self, host: str) -> str:
        """The id of the nova-compute service of ``host``."""
        services = self.call(
            'GET', '/os-services?binary=nova-compute&host=' + host)[
                'services']
        if not services:
            raise APIError('no nova-compute service on %s' % host)
        return services[0]['id']
