"""The ``nova`` controller: compute hosts and servers, through Nova.

With the ``[nova]`` credentials (an administrator's: forcing a service
down and resetting a server's state are admin actions by Nova's default
policy), on Nova's REST API at microversion 2.53, the first that names a
compute service by its id:

* a host forced down (or up again): ``PUT /os-services/{service_id}``
  with ``{"forced_down": true}`` (``false``). The service id is the one
  the ``nova`` datasource stored with the host entity; when the entity
  has none (another datasource reported the host) or Nova no longer knows
  it (the service was made again), the controller asks Nova for the
  ``nova-compute`` service of the host by name, once, and remembers it.
  A host without a ``nova-compute`` service fails the action for good
  (:class:`~doctor.common.exception.HostNotFound`). Nova then sees the
  host's service down at once, rather than after its ``service_down_time``,
  and emits ``service.update``.

* an instance set to ``error``: ``POST /servers/{id}/action`` with
  ``{"os-resetState": {"state": "error"}}``. Nova sets the server to
  ERROR (clearing any task under way) and emits ``compute.instance.update``
  and ``instance.update`` itself.

* an instance set to ``stopped``: ``os-resetState`` takes only ``active``
  and ``error``, so the one way to a stopped server is ``os-stop``, and
  what it does depends on the host. Nova's API accepts a stop whatever the
  state of the server's compute service, forced down included (it checks
  that the service is up for evacuations and migrations, not for a stop):
  it marks the server ``powering-off`` and hands the stop to the host's
  nova-compute. The server is ``stopped`` (SHUTOFF) when that compute
  carries it out: at once if nova-compute still runs (the monitor saw the
  host's data plane fail, not its compute service), or when it starts
  again, since nova-compute resumes at start-up a stop left
  ``powering-off``. Until then Nova shows the server ACTIVE, task
  ``powering-off``, and emits nothing with the state ``stopped``: with
  ``[inspector] notify_early`` (the default) tenants hear of the fault
  from the inspector's own notification all the same. An evacuation of
  the server needs its task cleared first (``os-resetState`` to
  ``active``). The call returns once Nova has accepted the stop: it is
  stored in Nova's database and not lost if the host comes back. A stop
  that Nova refuses (409) because the server is already stopped, or
  already powering off, has nothing left to do and succeeds; any other
  refusal fails the action for good. ``error`` is the state that Nova
  sets by itself whatever the host: prefer it with this controller.

At most ``[nova] max_concurrent_calls`` calls are under way at once
(see :mod:`.openstack`), a force-down excepted: it goes out at once, on a
connection of its own. A call that failed for a transient reason (a
timeout above all) may have been carried out all the same: before trying
it again, the controller asks Nova whether the server is in error (the
service forced down) already, and sends nothing more if it is, so that
a slow Nova gets one reset per server, not one per attempt.

Failures are mapped as :mod:`.openstack` says: Nova or Keystone
unreachable, a timeout, a 5xx or a 429 are retried by the inspector; a 404
fails the action for good, and so do 400, 403 and 409, with Nova's
message. Each call carries the fault's id as its global request id
(``req-<fault id>``), so that Nova's logs of what it did for a fault can
be found by that id.
"""

import threading
import typing
from urllib import parse

from oslo_log import log

from doctor.common import exception
from doctor.inspector.controllers import base
from doctor.inspector.controllers import openstack

LOG = log.getLogger(__name__)

GROUP = 'nova'
# Force down by service id (a uuid) and the services' uuids: from 2.53.
MICROVERSION = '2.53'
COMPUTE_BINARY = 'nova-compute'
STATES = ('error', 'stopped')
# A server in these vm states, or with one of these tasks, needs no stop.
_STOPPED = ('stopped',)
_STOPPING = ('powering-off',)
_NOTHING = object()


class NovaController(base.Controller):
    """Compute services forced down and servers' states set in Nova."""

    handles = frozenset((base.HOST, base.INSTANCE))

    def __init__(self, conf, name: str) -> None:
        super().__init__(conf, name)
        self.api = openstack.ServiceAPI(
            conf, GROUP, 'Nova',
            max_concurrent=conf[GROUP].max_concurrent_calls)
        # host name -> id of its nova-compute service, as looked up.
        self._service_ids: dict[str, str] = {}
        # What a call that failed may have done all the same (it timed
        # out, or Nova answered 5xx): (kind, id) -> the state asked for.
        self._uncertain: dict[tuple[str, str], typing.Any] = {}
        self._lock = threading.Lock()
        #: The thread preparing the client at start (see ServiceAPI).
        self.prepared: threading.Thread | None = None

    def start(self) -> None:
        # Nova validates the token now rather than at the first force-down.
        self.prepared = self.api.prepare('/os-services?' + parse.urlencode(
            {'binary': COMPUTE_BINARY, 'host': ''}), MICROVERSION)

    def stop(self) -> None:
        self.api.close()

    # hosts

    def set_host_down(self, context: base.ActionContext, host: base.Host,
                      down: bool) -> None:
        what = 'force host %s %s' % (host.name, 'down' if down else 'up')
        with self._lock:
            service_id = host.service_id or self._service_ids.get(host.name)
        if service_id:
            try:
                self._force(context, service_id, host.name, down, what)
                return
            except exception.NotFound:
                # An old id: Nova made the service again since. The new
                # one is Nova's to tell.
                LOG.info('Nova has no service %s of host %s any more; '
                         'looking the host up', service_id, host.name)
                with self._lock:
                    self._service_ids.pop(host.name, None)
        service_id = self._look_up(context, host.name, what)
        try:
            self._force(context, service_id, host.name, down, what)
        except exception.NotFound as e:
            raise exception.HostNotFound(str(e), host=host.name)

    def _force(self, context: base.ActionContext, service_id: str,
               host: str, down: bool, what: str) -> None:
        key = ('service', service_id)
        if self._settled(key, down, lambda: self._forced_down(
                context, service_id, host, what)):
            LOG.info('Nova shows service %s forced %s already, after a '
                     'call that failed: not sent again', service_id,
                     'down' if down else 'up')
            return
        # The host first, on a connection of its own: every recovery
        # waits for it, resets included.
        self._uncertain_call(key, down, lambda: self.api.call(
            'PUT', '/os-services/%s' % service_id, what,
            {'forced_down': down}, microversion=MICROVERSION,
            context=context, priority=True))

    def _forced_down(self, context: base.ActionContext, service_id: str,
                     host: str, what: str) -> bool | None:
        """Whether Nova shows the service forced down (None: no such one).
        """
        response = self.api.call(
            'GET', '/os-services?' + parse.urlencode(
                {'binary': COMPUTE_BINARY, 'host': host}), what,
            microversion=MICROVERSION, context=context, priority=True)
        for service in response.json().get('services') or ():
            if str(service.get('id')) == service_id:
                return bool(service.get('forced_down'))
        return None

    # calls that may have been carried out although they failed

    def _settled(self, key: tuple[str, str], wanted: typing.Any,
                 current: typing.Callable[[], typing.Any]) -> bool:
        """Whether an earlier, failed call for ``key`` did it after all.

        Asked only after such a call: Nova may have carried out a call
        that timed out, and sending it again doubles its work when Nova
        is slow already.
        """
        with self._lock:
            if self._uncertain.get(key, _NOTHING) != wanted:
                return False
        try:
            done = current() == wanted
        except exception.NotFound:
            done = False
        if done:
            with self._lock:
                self._uncertain.pop(key, None)
        return done

    def _uncertain_call(self, key: tuple[str, str], wanted: typing.Any,
                        call: typing.Callable[[], typing.Any]) -> None:
        """Make ``call``; if it fails for a transient reason, remember it.
        """
        try:
            call()
        except base.TransientError:
            with self._lock:
                self._uncertain[key] = wanted
            raise
        with self._lock:
            self._uncertain.pop(key, None)

    def _look_up(self, context: base.ActionContext, host: str,
                 what: str) -> str:
        """The id of the nova-compute service of ``host``, from Nova."""
        query = parse.urlencode({'binary': COMPUTE_BINARY, 'host': host})
        response = self.api.call('GET', '/os-services?' + query, what,
                                 microversion=MICROVERSION, context=context,
                                 priority=True)
        services = [service for service in response.json().get('services')
                    or () if service.get('host') == host
                    and service.get('binary') == COMPUTE_BINARY]
        if not services:
            raise exception.HostNotFound(
                'Nova has no nova-compute service on host %s; cannot %s'
                % (host, what), host=host)
        service_id = str(services[0]['id'])
        with self._lock:
            self._service_ids[host] = service_id
        return service_id

    # instances

    def set_instance_state(self, context: base.ActionContext,
                           instance: base.Instance, state: str) -> None:
        if state not in STATES:
            raise exception.InvalidField(
                field='state', reason='Nova can set an instance to %s, not '
                                      '%r' % (' or '.join(STATES), state))
        what = 'set instance %s %s' % (instance.id, state)
        path = '/servers/%s/action' % instance.id
        try:
            if state == 'error':
                key = ('server', instance.id)
                if self._settled(key, 'error', lambda: self._vm_state(
                        context, instance, what)):
                    LOG.info('Nova shows server %s in error already, after '
                             'a call that failed: not reset again',
                             instance.id)
                    return
                self._uncertain_call(key, 'error', lambda: self.api.call(
                    'POST', path, what,
                    {'os-resetState': {'state': 'error'}},
                    microversion=MICROVERSION, context=context))
                return
            try:
                self.api.call('POST', path, what, {'os-stop': None},
                              microversion=MICROVERSION, context=context)
            except openstack.Refused as e:
                if e.status != 409 or not self._stopped(context, instance,
                                                        what):
                    raise
        except exception.NotFound as e:
            raise exception.EntityNotFound(
                str(e), key='instance:%s' % instance.id)

    def _vm_state(self, context: base.ActionContext,
                  instance: base.Instance, what: str) -> str | None:
        server = self.api.call(
            'GET', '/servers/%s' % instance.id, what,
            microversion=MICROVERSION, context=context).json()['server']
        return server.get('OS-EXT-STS:vm_state')

    def _stopped(self, context: base.ActionContext,
                 instance: base.Instance, what: str) -> bool:
        """Whether the server is stopped, or being stopped, already."""
        server = self.api.call(
            'GET', '/servers/%s' % instance.id, what,
            microversion=MICROVERSION, context=context).json()['server']
        vm_state = server.get('OS-EXT-STS:vm_state')
        task_state = server.get('OS-EXT-STS:task_state')
        if vm_state in _STOPPED or task_state in _STOPPING:
            LOG.debug('Server %s is %s (task %s): no stop needed',
                      instance.id, vm_state, task_state)
            return True
        return False
