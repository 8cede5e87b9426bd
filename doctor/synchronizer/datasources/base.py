"""The base of datasource plugins.

A datasource is a *collector*, a *message-bus* listener, or both:

* a collector takes full snapshots at an interval (:meth:`snapshot`); the
  synchronizer compares each with the datasource's baseline and stores
  only what changed. For a source that pushes nothing it is the only
  channel; for one that does, it is the periodic consistency check.
* a message-bus listener names the notification targets it follows
  (:meth:`notification_targets`) and turns each notification into changes
  as it arrives (:meth:`changes_from_notification`).

Plugins are stevedore entry points of ``doctor.datasources``, loaded by
name and instantiated with the configuration and that name.
"""

from collections.abc import Iterable
import datetime
import threading
import typing

from keystoneauth1 import exceptions as ksa_exc
from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils

from doctor.synchronizer import entity as entity_mod

if typing.TYPE_CHECKING:
    from openstack import connection as sdk_connection

NAMESPACE = 'doctor.datasources'


class NotificationError(ValueError):
    """A notification a datasource cannot make sense of; says why."""


class SnapshotError(Exception):
    """A snapshot failed for a reason the message says in full."""


class Datasource:
    """A source of entities; override the side(s) the source has.

    :ivar types: the entity types the datasource reports.
    """

    types: tuple[str, ...] = ()

    def __init__(self, conf: cfg.ConfigOpts, name: str) -> None:
        self.conf = conf
        self.name = name

    # collector

    @property
    def is_collector(self) -> bool:
        """Whether the datasource takes snapshots."""
        return type(self).snapshot is not Datasource.snapshot

    @property
    def snapshot_interval(self) -> float:
        """Seconds between two snapshots."""
        return self.conf[self.name].snapshot_interval

    @property
    def snapshot_timeout(self) -> float:
        """Seconds a snapshot may take before it is given up."""
        return self.conf[self.name].snapshot_timeout

    def snapshot(self) -> Iterable[entity_mod.Entity] | None:
        """Every entity the source has now.

        Return None when the source can tell that nothing changed since
        the previous snapshot this object took (a file not modified): the
        synchronizer then skips the comparison. Raise on any failure: the
        snapshot is then retried at the next interval and no entity is
        deleted because of it.
        """
        raise NotImplementedError()

    def forget(self) -> None:
        """Forget what was kept between snapshots: the next one is whole.
        """

    # message bus

    @property
    def is_listener(self) -> bool:
        """Whether the datasource follows notifications."""
        return bool(self.notification_targets())

    def notification_targets(self) -> list[messaging.Target]:
        """Topics and exchanges of the notifications to follow."""
        return []

    def changes_from_notification(
            self, event_type: str, payload: typing.Any,
            metadata: dict[str, typing.Any]
    ) -> list[entity_mod.Change]:
        """The entity changes one notification reports, maybe none.

        :raises NotificationError: for a notification of a followed type
            whose payload lacks what the change needs.
        """
        return []

    def close(self) -> None:
        """Release what the datasource holds (connections)."""

    # helpers for plugins

    def change(self, action: str, entity: entity_mod.Entity,
               timestamp: datetime.datetime) -> entity_mod.Change:
        """A change reported by this datasource."""
        return entity_mod.Change(action, entity, timestamp, self.name)


def notification_time(metadata: dict[str, typing.Any]
                      ) -> datetime.datetime:
    """When a notification was published, from its metadata (UTC, naive).

    Falls back to now when the publisher did not say.
    """
    value = metadata.get('timestamp') if metadata else None
    if value:
        try:
            return timeutils.normalize_time(timeutils.parse_isotime(
                str(value)))
        except ValueError:
            pass
    return timeutils.utcnow()


def required(payload: typing.Any, field: str, event_type: str
             ) -> typing.Any:
    """``payload[field]``, or a :class:`NotificationError` naming it."""
    value = payload.get(field) if isinstance(payload, dict) else None
    if value in (None, ''):
        raise NotificationError('%s notification without %s'
                                % (event_type, field))
    return value


class OpenStackClient:
    """An openstacksdk connection to one service, as ``[<group>]`` sets it.

    The group holds keystoneauth's session, auth and adapter options (see
    :mod:`doctor.conf.clients`). The connection is made on first use and
    made again after a failure; an HTTP call without ``[<group>] timeout``
    is bounded by the datasource's ``snapshot_timeout``.

    :param service: how messages name the service, e.g. ``Nova``.
    """

    def __init__(self, conf: cfg.ConfigOpts, group: str, service_type: str,
                 service: str) -> None:
        self.conf = conf
        self.group = group
        self.service_type = service_type
        self.service = service
        self._connection: 'sdk_connection.Connection | None' = None
        self._lock = threading.Lock()

    def connection(self) -> 'sdk_connection.Connection':
        """The connection, made if there is none.

        :raises SnapshotError: if the options cannot make one.
        """
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection

    def _connect(self) -> 'sdk_connection.Connection':
        from keystoneauth1 import loading as ks_loading
        from openstack import connection as sdk_connection

        group = self.conf[self.group]
        try:
            auth = ks_loading.load_auth_from_conf_options(self.conf,
                                                          self.group)
            if auth is None:
                raise SnapshotError(
                    '[%s] auth_type is not set: no credentials to reach %s'
                    % (self.group, self.service))
            timeout = (group.timeout if group.timeout is not None
                       else group.snapshot_timeout)
            session = ks_loading.load_session_from_conf_options(
                self.conf, self.group, auth=auth, timeout=timeout)
            return sdk_connection.Connection(
                session=session, oslo_conf=self.conf,
                service_types=[self.service_type])
        except client_errors() as e:
            raise SnapshotError('%s: invalid [%s] options: %s'
                                % (self.service, self.group, describe(e)))

    def fail(self, what: str, error: Exception) -> 'SnapshotError':
        """The error to raise for ``error``; the next call reconnects."""
        self.close()
        return SnapshotError('%s: cannot %s: %s'
                             % (self.service, what, describe(error)))

    def close(self) -> None:
        """Close the connection, if any; the next call makes another."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def client_errors() -> tuple[type[Exception], ...]:
    """What keystoneauth and openstacksdk raise for a failed call."""
    from openstack import exceptions as sdk_exc

    return (ksa_exc.ClientException, sdk_exc.SDKException)


def describe(error: Exception) -> str:
    """One line saying what ``error`` is, for a log line without traceback.
    """
    text = ' '.join(str(error).split())
    name = type(error).__name__
    if not text:
        return name
    return text if text.startswith(name) else '%s: %s' % (name, text)


class OpenStackDatasource(Datasource):
    """A datasource of an OpenStack service, configured in ``[<group>]``.

    The group holds the service's credentials (see :class:`OpenStackClient`),
    the snapshot interval and timeout and the notifications to follow
    (``notification_topics`` on ``notification_exchange``).

    :cvar group: the option group, e.g. ``nova``.
    :cvar service_type: the catalog's type of the service, e.g. ``compute``.
    :cvar service: how messages name the service, e.g. ``Nova``.
    """

    group = ''
    service_type = ''
    service = ''

    def __init__(self, conf: cfg.ConfigOpts, name: str) -> None:
        super().__init__(conf, name)
        self.client = OpenStackClient(conf, self.group, self.service_type,
                                      self.service)

    @property
    def snapshot_interval(self) -> float:
        return self.conf[self.group].snapshot_interval

    @property
    def snapshot_timeout(self) -> float:
        return self.conf[self.group].snapshot_timeout

    def notification_targets(self) -> list[messaging.Target]:
        options = self.conf[self.group]
        return [messaging.Target(topic=topic,
                                 exchange=options.notification_exchange)
                for topic in options.notification_topics]

    def close(self) -> None:
        self.client.close()
