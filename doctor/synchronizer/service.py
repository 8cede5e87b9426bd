"""doctor-synchronizer: runs the datasources, keeps the entity store.

Each configured datasource (``[synchronizer] datasources``) is loaded as a
stevedore plugin. A collector takes its snapshots at its own interval,
on the replica that leads it; a message-bus datasource listens on every
replica, in a listener pool of its own, so that each notification is
handled once, and takes the notifications in batches. One datasource
failing or hanging takes none of the others down.
"""

import datetime
import typing

from oslo_log import log
import oslo_messaging as messaging
from oslo_service import service
from oslo_utils import timeutils

from doctor.common import context as doctor_context
from doctor.common import coordination
from doctor.common import periodic
from doctor.common import plugins
from doctor.common import rpc
from doctor.db import api as db_api
from doctor.synchronizer import collector as collector_mod
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import rpcapi
from doctor.synchronizer import synchronizer as synchronizer_mod
from doctor.synchronizer.datasources import base
from doctor.synchronizer.datasources import static

LOG = log.getLogger(__name__)

# Seconds between two purges of old tombstones, at most.
PURGE_INTERVAL = 600.0


def load_datasources(conf) -> list[base.Datasource]:
    """The configured datasources, instantiated, in configuration order.

    :raises ConfigInvalid: naming a datasource that no plugin provides.
    """
    return plugins.load_named(conf, base.NAMESPACE,
                              conf.synchronizer.datasources,
                              '[synchronizer] datasources', 'datasource')


def check_config(conf) -> None:
    """Refuse, before launching, a configuration the synchronizer can't run.

    :raises ConfigInvalid: saying what is wrong.
    """
    names = load_datasources(conf)
    if any(datasource.name == 'static' for datasource in names):
        static.load(static.find_inventory(conf))


class _DatasourceEndpoint:
    """Turns one datasource's notifications into entity changes."""

    def __init__(self, datasource: base.Datasource,
                 synchronizer: synchronizer_mod.Synchronizer,
                 runner: collector_mod.CollectorRunner | None) -> None:
        self._datasource = datasource
        self._synchronizer = synchronizer
        self._runner = runner

    def changes(self, publisher_id: str, event_type: str,
                payload: typing.Any, metadata: dict[str, typing.Any] | None
                ) -> list[entity_mod.Change]:
        """The changes of one notification; none, logged, if unreadable."""
        try:
            return self._datasource.changes_from_notification(
                event_type, payload, metadata or {})
        except base.NotificationError as e:
            LOG.warning('Dropped a notification from %s for %s: %s',
                        publisher_id, self._datasource.name, e)
        except Exception:
            LOG.exception('Dropped a %s notification from %s that %s '
                          'cannot read', event_type, publisher_id,
                          self._datasource.name)
        return []

    def submit(self, changes: list[entity_mod.Change]) -> None:
        """Move the collector's baseline by ``changes`` and store them."""
        if changes:
            if self._runner is not None:
                self._runner.record(changes)
            self._synchronizer.submit(changes)


class BatchNotificationEndpoint(_DatasourceEndpoint):
    """The endpoint of a batch listener: a batch's changes submitted at once.
    """

    def _handle_batch(self, messages: list[dict[str, typing.Any]]):
        changes: list[entity_mod.Change] = []
        for message in messages:
            changes.extend(self.changes(
                message['publisher_id'], message['event_type'],
                message['payload'], message['metadata']))
        self.submit(changes)
        return messaging.NotificationResult.HANDLED

    audit = critical = debug = error = info = sample = warn = _handle_batch


class SynchronizerService(service.Service):
    """The datasources, the entity store's writer and its publisher.

    :param datasources: the datasources to run instead of the configured
        ones (tools and tests).
    """

    def __init__(self, conf,
                 datasources: list[base.Datasource] | None = None) -> None:
        super().__init__()
        self.conf = conf
        self.synchronizer: synchronizer_mod.Synchronizer | None = None
        self._given = datasources
        self.datasources: list[base.Datasource] = []
        self.runners: dict[str, collector_mod.CollectorRunner] = {}
        self._listeners: list[messaging.MessageHandlingServer] = []
        self._periodic = periodic.PeriodicTasks()
        self._db: db_api.Connection | None = None
        self._leadership: typing.Any = None

    def start(self) -> None:
        super().start()
        conf = self.conf
        self.datasources = (list(self._given) if self._given is not None
                            else load_datasources(conf))
        connection = self._db = db_api.get_connection(conf)
        followers = rpcapi.EntityFollowerAPI(conf)
        admin = doctor_context.get_admin_context()

        def publish(changes: list[dict]) -> None:
            followers.entities_changed(admin, changes)

        synchronizer = self.synchronizer = synchronizer_mod.Synchronizer(
            conf, connection, publish)
        synchronizer.start()
        self._leadership = coordination.leadership(conf,
                                                   'doctor-synchronizer')
        self._leadership.start()
        for datasource in self.datasources:
            runner = None
            if datasource.is_collector:
                runner = collector_mod.CollectorRunner(
                    datasource, synchronizer, connection,
                    self._leadership.is_leader)
                self.runners[datasource.name] = runner
                self._periodic.add(datasource.snapshot_interval, runner.run)
            targets = datasource.notification_targets()
            if targets:
                listener = messaging.get_batch_notification_listener(
                    rpc.get_notification_transport(conf), targets,
                    [BatchNotificationEndpoint(datasource, synchronizer,
                                               runner)],
                    pool='%s-%s' % (conf.synchronizer.notification_pool,
                                    datasource.name),
                    allow_requeue=False,
                    batch_size=conf.synchronizer.notification_batch_size,
                    batch_timeout=(
                        conf.synchronizer.notification_batch_timeout))
                listener.start()
                self._listeners.append(listener)
            LOG.info('Datasource %s started (%s)', datasource.name,
                     ', '.join(kind for kind, on in (
                         ('collector', runner is not None),
                         ('message bus', bool(targets))) if on))
        lifetime = conf.synchronizer.tombstone_lifetime
        self._periodic.add(min(PURGE_INTERVAL, float(lifetime)),
                           self.purge_tombstones, initial_delay=True)

    def purge_tombstones(self) -> int:
        """Forget the entities deleted longer ago than their lifetime."""
        assert self._db is not None
        before = timeutils.utcnow() - datetime.timedelta(
            seconds=self.conf.synchronizer.tombstone_lifetime)
        return self._db.purge_entity_tombstones(before)

    def stop(self, graceful: bool = False) -> None:
        self._periodic.stop()
        for listener in self._listeners:
            listener.stop()
        for listener in self._listeners:
            listener.wait()
        self._listeners = []
        for runner in self.runners.values():
            runner.stop()
        self.runners = {}
        if self.synchronizer is not None:
            self.synchronizer.stop()
            self.synchronizer = None
        for datasource in self.datasources:
            try:
                datasource.close()
            except Exception:
                LOG.exception('Closing datasource %s failed',
                              datasource.name)
        if self._leadership is not None:
            self._leadership.stop()
            self._leadership = None
        if self._db is not None:
            self._db.close()
            self._db = None
        super().stop(graceful)
