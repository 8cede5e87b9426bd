"""The server-group router: messages between the members of a group
served by different compute agents.

It runs in every doctor-inspector (see :class:`RouterService`): the
inspector is the controller-side service that turns guests' faults into
instance state changes and already follows the entity store, and the
router keeps no state that needs a service of its own; every replica can
take any request.

* A compute agent delivers a broadcast, or the state change of one of
  its guests, to the members it serves itself, and hands it to the
  router (``doctor-guest-router`` topic, any replica) with its host: the
  router sends it to the compute agent of every other host where a
  member is, naming the members there.
* The router follows the entity store's instance changes: a member whose
  state changed (Nova's notifications through the ``nova`` datasource,
  or doctor's own fault handling setting it to its fault state) is
  announced to the other members, wherever they are. Every replica hears
  every change and forwards it under the same message id, which the
  compute agents deliver once.

Where a member is comes from the heartbeat records the compute agents
write (the host whose agent holds the member's channel); a member with
no channel gets nothing. The members of a group are the instance
entities under its ``server_group:<id>`` entity.
"""

from collections.abc import Callable
import datetime
import hashlib
import threading
import typing

from oslo_log import log
import oslo_messaging as messaging
from oslo_service import service
from oslo_utils import timeutils

from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.heartbeat import manager
from doctor.heartbeat import reporting
from doctor.heartbeat import rpcapi
from doctor.objects import guest as guest_obj
from doctor.synchronizer import follower as follower_mod

LOG = log.getLogger(__name__)

INSTANCE = 'instance'
DELETED = 'deleted'


def state_message_id(key: str, state: str, timestamp: typing.Any) -> str:
    """The id every router gives the same state change of ``key``."""
    text = '%s|%s|%s' % (key, state, timestamp)
    return 'state-' + hashlib.blake2b(text.encode('utf-8'),
                                      digest_size=16).hexdigest()


class GuestRouter:
    """Delivers server-group messages to the compute agents of members.

    :param membership: the server groups, from the entity store.
    :param locate: the host of a member's compute agent, or None.
    :param agents: the compute agents' RPC client.
    """

    def __init__(self, membership: reporting.Membership,
                 locate: Callable[[str], str | None],
                 agents: rpcapi.ComputeAgentAPI) -> None:
        self.membership = membership
        self.locate = locate
        self.agents = agents
        self._context = doctor_context.get_admin_context()
        # instance key -> (last state, server groups) as last changed.
        self._known: dict[str, tuple[str, list[str]]] = {}
        self._lock = threading.Lock()

    def route(self, message: guest_obj.GuestMessage,
              exclude_host: str | None, wait: bool,
              members: list[str] | None = None) -> int | None:
        """Send ``message`` to the other members of its sender's group,
        but those on ``exclude_host``.

        :param wait: wait for each agent's count of deliveries.
        :param members: the group (else read from the store).
        :returns: how many members got it (0 without ``wait``); None if
            the sender is in no server group.
        """
        sender = message.sender
        if members is None:
            members = self.membership.members(sender)
            if sender not in members:
                return None
        by_host: dict[str, list[str]] = {}
        for member in members:
            if member == sender:
                continue
            host = self.locate(member)
            if host is not None and host != exclude_host:
                by_host.setdefault(host, []).append(member)
        delivered = 0
        for host, recipients in sorted(by_host.items()):
            copy = guest_obj.GuestMessage(
                kind=message.kind, message_id=message.message_id,
                sender=sender, body=message.body, recipients=recipients)
            try:
                delivered += self.agents.deliver(self._context, host, copy,
                                                 wait) or 0
            except messaging.MessagingException as e:
                LOG.warning('Server-group %s %s of %s did not reach the '
                            'compute agent of %s: %s', message.kind,
                            message.message_id, sender, host, e)
        return delivered

    def entities_changed(self, changes: list[dict]) -> None:
        """Announce the state changes of members to their groups."""
        for change in changes:
            if change['type'] != INSTANCE:
                continue
            key = change['key']
            deleted = change['action'] == 'delete'
            state = DELETED if deleted else change.get('state')
            groups = [parent for parent in change.get('parents') or ()
                      if parent.startswith(reporting.SERVER_GROUP_PREFIX)]
            with self._lock:
                previous, known_groups = self._known.get(key, (None, []))
                if deleted:
                    # A deleted entity has no parents left: its groups
                    # are those it was last seen in.
                    self._known.pop(key, None)
                    groups = known_groups
                elif state is not None:
                    self._known[key] = (state, groups)
            if state is None or state == previous:
                continue
            for group in groups:
                self._announce(change, state, group)

    def _announce(self, change: dict, state: str, group: str) -> None:
        instance_id = change['id']
        timestamp = change.get('timestamp')
        if isinstance(timestamp, datetime.datetime):
            timestamp = timeutils.normalize_time(timestamp).isoformat()
        message = guest_obj.GuestMessage(
            kind=guest_obj.PEER_STATE, sender=instance_id,
            message_id=state_message_id(change['key'], state, timestamp),
            body={'instance_id': instance_id, 'state': state,
                  'reason': 'instance %s' % state, 'source': 'instance'})
        try:
            members = self.membership.group_members(group)
            self.route(message, exclude_host=None, wait=False,
                       members=members)
        except Exception:
            LOG.exception('The state change of instance %s could not be '
                          'forwarded to its server group', instance_id)


def heartbeat_locator(connection: db_api.Connection
                      ) -> Callable[[str], str | None]:
    """Finds a member's compute host in the heartbeat records."""

    def locate(instance_id: str) -> str | None:
        record = connection.get_heartbeat(instance_id)
        return record['host'] if record else None
    return locate


class RouterService(service.Service):
    """The server-group router of one doctor-inspector replica."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf
        self.router: GuestRouter | None = None
        self._db: db_api.Connection | None = None
        self._follower: follower_mod.Follower | None = None
        self._server: messaging.MessageHandlingServer | None = None

    def start(self) -> None:
        super().start()
        conf = self.conf
        connection = self._db = db_api.get_connection(conf)
        router = self.router = GuestRouter(
            reporting.Membership(connection), heartbeat_locator(connection),
            rpcapi.ComputeAgentAPI(conf))
        self._follower = follower_mod.Follower(
            conf, router.entities_changed, [INSTANCE])
        self._follower.start()
        self._server = rpc.get_server(
            conf, rpcapi.router_target(conf.host),
            [manager.GuestRouterManager(router)])
        self._server.start()
        LOG.info('Server-group router started')

    def stop(self, graceful: bool = False) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None
        if self._follower is not None:
            self._follower.stop()
            self._follower = None
        if self._db is not None:
            self._db.close()
            self._db = None
        super().stop(graceful)
