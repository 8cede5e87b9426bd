"""A small client of doctor's REST API v1, on a keystoneauth session.

Every request goes through a keystoneauth :class:`~keystoneauth1.adapter.
Adapter`, which adds the token and finds doctor's endpoint in the
catalog (service type :data:`SERVICE_TYPE`) unless an endpoint is given.
An answer of 400 or more becomes an :class:`APIError` carrying the API's
own message, which the commands let the shell print as it is.
"""

from collections.abc import Iterator
from typing import Any
from urllib import parse

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from osc_lib import exceptions as osc_exceptions
import requests

from doctor.i18n import _

# The catalog's type of doctor's API; an endpoint of this type is where the
# client sends its requests.
SERVICE_TYPE = 'fault-management'
API_PREFIX = '/v1'
CLIENT_NAME = 'doctor-osc'

# The JSON objects of a list answer. (Named here because the managers'
# ``list`` methods hide the builtin in their class bodies.)
Records = list[dict[str, Any]]


class APIError(osc_exceptions.CommandError):
    """The API refused or failed a request; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_message(response: requests.Response) -> str:
    """The message of an error answer, as the API or its middleware put it.

    doctor answers ``{"error_message": {"faultstring": …}}``;
    keystonemiddleware ``{"error": {"message": …}}``. Anything else is
    named by its status and the start of its body.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        fault = body.get('error_message')
        error = body.get('error')
        if isinstance(fault, dict):
            message = fault.get('faultstring')
        elif isinstance(error, dict):
            message = error.get('message')
    if not message:
        text = (response.text or '').strip()[:200]
        message = text or response.reason or _('no explanation given')
    return _('%(status)d %(reason)s: %(message)s') % {
        'status': response.status_code,
        'reason': response.reason or '', 'message': message}


def api_root(endpoint: str) -> str:
    """The API's root URL from an endpoint, with or without ``/v1``."""
    root = endpoint.rstrip('/')
    if root.endswith(API_PREFIX):
        root = root[:-len(API_PREFIX)]
    return root


def quote(segment: str) -> str:
    """``segment`` as one path segment: a ``/`` in it is escaped."""
    return parse.quote(segment, safe=':')


class HTTPClient:
    """Sends the requests of the commands and checks their answers."""

    def __init__(self, session: ks_session.Session,
                 endpoint: str | None = None,
                 interface: str | None = None,
                 region_name: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self._adapter = adapter.Adapter(
            session, service_type=SERVICE_TYPE, interface=interface,
            region_name=region_name, endpoint_override=endpoint,
            additional_headers=headers or {}, client_name=CLIENT_NAME)
        self._root: str | None = None

    @property
    def root(self) -> str:
        """The API's root URL, looked up once."""
        if self._root is None:
            try:
                endpoint = self._adapter.get_endpoint()
            except ks_exceptions.EndpointNotFound:
                endpoint = None
            if not endpoint:
                raise osc_exceptions.CommandError(_(
                    'No endpoint of doctor\'s API (service type '
                    '%(type)s) in the catalog: register one, or give '
                    '--os-doctor-url (OS_DOCTOR_URL)')
                    % {'type': SERVICE_TYPE})
            self._root = api_root(endpoint)
        return self._root

    def request(self, method: str, path: str,
                params: dict[str, Any] | None = None,
                json: Any = None, body: bool = True) -> Any:
        """One request to ``/v1`` + ``path``; the decoded JSON answer.

        :param body: whether a JSON body is expected in the answer.
        :raises APIError: for an answer of 400 or more.
        :raises CommandError: when the API cannot be reached.
        """
        url = self.root + API_PREFIX + path
        kwargs: dict[str, Any] = {'raise_exc': False}
        if params:
            kwargs['params'] = {name: value for name, value in params.items()
                                if value is not None}
        if json is not None:
            kwargs['json'] = json
        try:
            response = self._adapter.request(url, method, **kwargs)
        except ks_exceptions.ConnectionError as e:
            raise osc_exceptions.CommandError(
                _('Cannot reach doctor\'s API at %(url)s: %(error)s')
                % {'url': self.root, 'error': e})
        if response.status_code >= 400:
            raise APIError(response.status_code, error_message(response))
        if not body or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise osc_exceptions.CommandError(
                _('%(method)s %(url)s answered %(status)d with a body that '
                  'is not JSON')
                % {'method': method, 'url': url,
                   'status': response.status_code})

    def get(self, path: str, **params: Any) -> Any:
        return self.request('GET', path, params=params)

    def put(self, path: str, json: Any) -> Any:
        return self.request('PUT', path, json=json)

    def post(self, path: str, json: Any) -> Any:
        return self.request('POST', path, json=json)

    def delete(self, path: str) -> None:
        self.request('DELETE', path, body=False)

    def pages(self, path: str, key: str, limit: int | None = None,
              **params: Any) -> Iterator[dict]:
        """The items under ``key`` of a list that answers an object with
        ``links``, following ``next`` links unless ``limit`` is given.
        """
        answer = self.get(path, limit=limit, **params)
        while True:
            yield from answer[key]
            if limit is not None:
                return
            next_links = [link['href'] for link in answer.get('links', [])
                          if link.get('rel') == 'next']
            if not next_links:
                return
            query = dict(parse.parse_qsl(
                parse.urlsplit(next_links[0]).query))
            answer = self.get(path, **query)


class Client:
    """doctor's API v1, one attribute per resource."""

    def __init__(self, session: ks_session.Session,
                 endpoint: str | None = None,
                 interface: str | None = None,
                 region_name: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.http = HTTPClient(session, endpoint=endpoint,
                               interface=interface, region_name=region_name,
                               headers=headers)
        self.alarms = AlarmManager(self.http)
        self.hosts = HostManager(self.http)
        self.ports = PortManager(self.http)
        self.events = EventManager(self.http)
        self.entities = EntityManager(self.http)
        self.faults = FaultManager(self.http)
        self.heartbeats = HeartbeatManager(self.http)


class _Manager:
    def __init__(self, http: HTTPClient) -> None:
        self.http = http


class AlarmManager(_Manager):
    """``/v1/alarms``."""

    def create(self, body: dict) -> dict:
        return self.http.post('/alarms', body)

    def list(self, limit: int | None = None, marker: str | None = None,
             **filters: Any) -> Records:
        """Alarms matching ``filters``: every page, unless ``limit`` is
        given (then one page of at most ``limit``).
        """
        alarms = self.http.get('/alarms', limit=limit, marker=marker,
                               **filters)
        if limit is not None:
            return alarms
        found = list(alarms)
        while alarms:
            alarms = self.http.get('/alarms', marker=found[-1]['alarm_id'],
                                   **filters)
            found.extend(alarms)
        return found

    def get(self, alarm_id: str) -> dict:
        return self.http.get('/alarms/%s' % quote(alarm_id))

    def update(self, alarm_id: str, body: dict) -> dict:
        return self.http.put('/alarms/%s' % quote(alarm_id), body)

    def delete(self, alarm_id: str) -> None:
        self.http.delete('/alarms/%s' % quote(alarm_id))

    def get_state(self, alarm_id: str) -> str:
        return self.http.get('/alarms/%s/state' % quote(alarm_id))

    def set_state(self, alarm_id: str, state: str) -> str:
        return self.http.put('/alarms/%s/state' % quote(alarm_id), state)

    def history(self, alarm_id: str, limit: int | None = None,
                marker: str | None = None) -> Records:
        return self.http.get('/alarms/%s/history' % quote(alarm_id),
                             limit=limit, marker=marker)

    def find(self, name_or_id: str) -> dict:
        """The alarm with this id or, failing that, this unique name.

        :raises APIError: the API's 404 if neither matches.
        :raises CommandError: if several alarms have the name.
        """
        try:
            return self.get(name_or_id)
        except APIError as e:
            if e.status != 404:
                raise
            not_found = e
        named = self.list(name=name_or_id)
        if not named:
            raise not_found
        if len(named) > 1:
            raise osc_exceptions.CommandError(
                _('%(count)d alarms are named %(name)r: give the id of '
                  'one') % {'count': len(named), 'name': name_or_id})
        return named[0]


class HostManager(_Manager):
    """``/v1/hosts``."""

    def list(self, limit: int | None = None,
             marker: str | None = None) -> Records:
        return list(self.http.pages('/hosts', 'hosts', limit=limit,
                                    marker=marker))

    def get(self, name: str) -> dict:
        return self.http.get('/hosts/%s' % quote(name))['host']

    def report(self, name: str, down: bool) -> dict:
        """Report the host down (``down``) or recovered."""
        return self.http.put('/hosts/%s' % quote(name),
                             {'host': {'host_down_reported': down}})['host']


class PortManager(_Manager):
    """``/v1/ports``."""

    def get(self, port_id: str) -> dict:
        return self.http.get('/ports/%s' % quote(port_id))['port']

    def set_dp_down(self, port_id: str, down: bool) -> dict:
        return self.http.put('/ports/%s' % quote(port_id),
                             {'port': {'dp_down': down}})['port']


class EventManager(_Manager):
    """``/v1/events``."""

    def create(self, events: list[dict]) -> list[str | None]:
        """Report raw failures; the fault id of each, in their order."""
        return self.http.post('/events', events)['fault_ids']


class EntityManager(_Manager):
    """``/v1/entities``."""

    def list(self, limit: int | None = None, marker: str | None = None,
             **filters: Any) -> Records:
        return list(self.http.pages('/entities', 'entities', limit=limit,
                                    marker=marker, **filters))

    def get(self, key: str) -> dict:
        return self.http.get('/entities/%s' % quote(key))['entity']


class FaultManager(_Manager):
    """``/v1/faults``."""

    def list(self, limit: int | None = None, marker: str | None = None,
             **filters: Any) -> Records:
        return list(self.http.pages('/faults', 'faults', limit=limit,
                                    marker=marker, **filters))

    def get(self, fault_id: str) -> dict:
        return self.http.get('/faults/%s' % quote(fault_id))['fault']


class HeartbeatManager(_Manager):
    """``/v1/heartbeats``."""

    def list(self, **filters: Any) -> Records:
        return self.http.get('/heartbeats', **filters)['heartbeats']

    def get(self, instance_id: str) -> dict:
        [heartbeat] = self.http.get(
            '/heartbeats/%s' % quote(instance_id))['heartbeats']
        return heartbeat


def of(app: Any) -> Client:
    """The client the shell ``app`` made for doctor's commands (with
    the plugin's ``make_client``, on first use).
    """
    return app.client_manager.doctor
