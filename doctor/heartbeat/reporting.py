"""What the compute agent tells the rest of doctor, and what it asks.

* :class:`FaultPoster` posts instance faults (and recoveries) to
  ``POST /v1/events`` as ``compute.instance.down`` raw failures, with the
  retries of doctor-monitor's poster: the agent reaches the inspector the
  way every monitor does, whichever bus the services share.
* :class:`StatusWriter` records each guest's heartbeat status in the
  database, on one thread of its own, the latest record of each guest
  replacing one not yet written.
* :class:`Membership` finds the server group of an instance in the
  entity store: an instance entity whose parents include
  ``server_group:<id>`` is a member of that group.
"""

import collections
import datetime
import threading
import time
import typing

from keystoneauth1 import session as ks_session
from oslo_log import log
from oslo_utils import uuidutils

from doctor.common import exception
from doctor.db import api as db_api
from doctor.monitor import events as monitor_events

LOG = log.getLogger(__name__)

GROUP = 'compute_agent'
EVENT_TYPE = 'compute.instance.down'
SERVER_GROUP_PREFIX = 'server_group:'

# Seconds the status writer waits after the database failed.
RETRY = 1.0


def instance_event(instance_id: str, down: bool, reason: str, host: str,
                   agent: str, action: str | None = None) -> dict:
    """A raw failure (or recovery) of an instance, as the API takes it."""
    details: dict[str, typing.Any] = {
        'instance_id': instance_id, 'status': 'down' if down else 'up',
        'reason': reason[:1024], 'hostname': host, 'monitor': agent,
        'monitor_event_id': uuidutils.generate_uuid(),
    }
    if action and action != 'none':
        details['corrective_action'] = action
    return {'id': uuidutils.generate_uuid(),
            'time': monitor_events.iso_time(time.time()),
            'type': EVENT_TYPE, 'details': details}


class FaultPoster(monitor_events.EventPoster):
    """Posts instance faults to ``[compute_agent] api_url``.

    :param session: the HTTP session (tests); by default one made from
        ``[compute_agent]``'s keystoneauth options.
    """

    def __init__(self, conf, session: ks_session.Session | None = None
                 ) -> None:
        super().__init__(conf, session=session)
        self.url = conf.compute_agent.api_url.rstrip('/') + '/v1/events'

    def start(self) -> None:
        if self._session is None:
            self._session = monitor_events.make_session(self.conf,
                                                        GROUP)
        if self._session.auth is None:
            self._headers = monitor_events.noauth_headers(
                self.conf.compute_agent.name)
        self._stopping = False
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-compute-agent-poster',
                                        daemon=True)
        self._thread.start()


class StatusWriter:
    """Writes heartbeat records from a thread of its own.

    :param connection: the database.
    """

    def __init__(self, connection: db_api.Connection) -> None:
        self.connection = connection
        self._pending: collections.OrderedDict[str, dict | None] = (
            collections.OrderedDict())
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-heartbeat-writer')
        self._thread.start()

    def put(self, record: dict) -> None:
        """Record ``record``, replacing any of its guest not yet written.
        """
        with self._changed:
            self._pending[record['instance_id']] = record
            self._changed.notify_all()

    def forget(self, instance_id: str) -> None:
        """Delete the record of a guest whose channel is gone."""
        with self._changed:
            self._pending[instance_id] = None
            self._changed.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def idle(self) -> bool:
        with self._changed:
            return not self._pending

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(
                    lambda: self._pending or self._stopping)
                if not self._pending and self._stopping:
                    return
                batch = dict(self._pending)
                self._pending.clear()
            puts = [record for record in batch.values() if record]
            gone = [key for key, record in batch.items() if record is None]
            try:
                if puts:
                    self.connection.put_heartbeats(puts)
                if gone:
                    self.connection.delete_heartbeats(gone)
                self.written += len(batch)
            except Exception:
                LOG.exception('Heartbeat records of %d guest(s) could not '
                              'be written; trying again', len(batch))
                with self._changed:
                    for key, record in batch.items():
                        self._pending.setdefault(key, record)
                    if self._stopping:
                        return
                    self._changed.wait_for(lambda: self._stopping, RETRY)


class Membership:
    """Server groups and owners of instances, from the entity store,
    each entity read at most once per ``ttl`` seconds.
    """

    def __init__(self, connection: db_api.Connection,
                 ttl: float = 10.0) -> None:
        self.connection = connection
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entities: dict[str, tuple[float, dict | None]] = {}
        self._members: dict[str, tuple[float, list[str]]] = {}

    def _entity(self, instance_id: str) -> dict | None:
        now = time.monotonic()
        with self._lock:
            cached = self._entities.get(instance_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            entity: dict | None = self.connection.get_entity(
                'instance:' + instance_id)
        except exception.EntityNotFound:
            entity = None
        with self._lock:
            self._entities[instance_id] = (now, entity)
        return entity

    def project_of(self, instance_id: str) -> str | None:
        entity = self._entity(instance_id)
        return entity.get('project_id') if entity else None

    def group_of(self, instance_id: str) -> str | None:
        entity = self._entity(instance_id)
        for key in (entity or {}).get('parents', ()):
            if key.startswith(SERVER_GROUP_PREFIX):
                return key
        return None

    def members(self, instance_id: str) -> list[str]:
        """The instances of ``instance_id``'s server group, itself
        included; empty if it is in none.
        """
        group = self.group_of(instance_id)
        if group is None:
            return []
        return self.group_members(group)

    def group_members(self, group: str) -> list[str]:
        """The instances of the server group of key ``group``."""
        now = time.monotonic()
        with self._lock:
            cached = self._members.get(group)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        found = [entity['id'] for entity in self.connection.get_entities(
            entity_type='instance', parent=group)]
        with self._lock:
            self._members[group] = (now, found)
        return found


def utc(wall: float | None) -> datetime.datetime | None:
    """``wall`` (seconds since the epoch) as naive UTC, or None."""
    if wall is None:
        return None
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).replace(tzinfo=None)
