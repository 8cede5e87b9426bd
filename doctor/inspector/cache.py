"""The inspector's cache: which instances and ports each host carries.

When a host fails the inspector must know at once everything on it,
without asking Nova or the database at that moment. The cache holds the
``host``, ``instance`` and ``port`` entities of the entity store in memory,
indexed by host, so that looking a host up costs the same however many
instances the cloud has: a dict lookup and a copy of that host's own
members.

It is built from the store at start (:meth:`HostCache.reload`), follows the
synchronizer's changes as they are stored (:meth:`HostCache.apply`, fed by
:class:`doctor.synchronizer.follower.Follower`), and is rebuilt from the
store periodically to repair anything missed. Changes that arrive while a
rebuild reads the store are kept and applied on top of what it read, so a
rebuild never undoes a newer change.
"""

from collections.abc import Callable
from collections.abc import Iterable
import dataclasses
import datetime
import threading
import typing

from oslo_log import log

from doctor.inspector.controllers import base
from doctor.synchronizer import entity as entity_mod

LOG = log.getLogger(__name__)

_HOST_PREFIX = entity_mod.HOST + ':'
_INSTANCE_PREFIX = entity_mod.INSTANCE + ':'

TYPES = (entity_mod.HOST, entity_mod.INSTANCE, entity_mod.PORT)


@dataclasses.dataclass(slots=True)
class Lookup:
    """Everything the cache knows to be on one host."""

    host: base.Host
    instances: list[base.Instance]
    ports: list[base.Port]


def _parent(parents: Iterable[str], prefix: str) -> str | None:
    for key in parents:
        if key.startswith(prefix):
            return key[len(prefix):]
    return None


class _Index:
    """The maps themselves; replaced whole by a rebuild."""

    def __init__(self) -> None:
        self.hosts: dict[str, base.Host] = {}
        self.instances: dict[str, base.Instance] = {}
        self.ports: dict[str, base.Port] = {}
        # Each host's members in a dict of their own: a lookup touches
        # only the host's entries, not ones scattered over the cloud's.
        self.host_instances: dict[str, dict[str, base.Instance]] = {}
        self.host_ports: dict[str, dict[str, base.Port]] = {}
        # When the cache last learned of each key: an older report of the
        # same entity (a rebuild's read racing a followed change) loses.
        self.stamps: dict[str, datetime.datetime] = {}

    def _unlink(self, members: dict[str, dict], host: str | None,
                member_id: str) -> None:
        if host is None:
            return
        on_host = members.get(host)
        if on_host is not None:
            on_host.pop(member_id, None)
            if not on_host:
                del members[host]

    def remove(self, entity_type: str, entity_id: str) -> None:
        if entity_type == entity_mod.HOST:
            self.hosts.pop(entity_id, None)
        elif entity_type == entity_mod.INSTANCE:
            instance = self.instances.pop(entity_id, None)
            if instance is not None:
                self._unlink(self.host_instances, instance.host, entity_id)
        elif entity_type == entity_mod.PORT:
            port = self.ports.pop(entity_id, None)
            if port is not None:
                self._unlink(self.host_ports, port.host, entity_id)

    def put(self, record: typing.Mapping[str, typing.Any]) -> None:
        """Add or replace the entity of a store view or change record."""
        entity_type = record['type']
        entity_id = record['id']
        parents = record.get('parents') or ()
        attributes = dict(record.get('attributes') or {})
        if entity_type == entity_mod.HOST:
            self.hosts[entity_id] = base.Host(
                name=entity_id, state=record.get('state'),
                attributes=attributes)
            return
        self.remove(entity_type, entity_id)
        host = _parent(parents, _HOST_PREFIX)
        if entity_type == entity_mod.INSTANCE:
            if host is None:
                # Not scheduled yet: on no host, so affected by no fault.
                self.instances[entity_id] = base.Instance(
                    id=entity_id, host='', state=record.get('state'),
                    name=record.get('name'),
                    project_id=record.get('project_id'),
                    datasource=record.get('datasource'),
                    attributes=attributes)
                return
            instance = self.instances[entity_id] = base.Instance(
                id=entity_id, host=host, state=record.get('state'),
                name=record.get('name'), project_id=record.get('project_id'),
                datasource=record.get('datasource'), attributes=attributes)
            self.host_instances.setdefault(host, {})[entity_id] = instance
        elif entity_type == entity_mod.PORT:
            device_id = (attributes.get('device_id')
                         or _parent(parents, _INSTANCE_PREFIX))
            port = self.ports[entity_id] = base.Port(
                id=entity_id, host=host or '', device_id=device_id,
                project_id=record.get('project_id'),
                state=record.get('state'), name=record.get('name'),
                datasource=record.get('datasource'), attributes=attributes)
            if host is not None:
                self.host_ports.setdefault(host, {})[entity_id] = port

    def apply(self, change: typing.Mapping[str, typing.Any]) -> bool:
        """Apply one change record unless the cache knows newer."""
        key = change['key']
        timestamp = change.get('timestamp')
        known = self.stamps.get(key)
        if (known is not None and timestamp is not None
                and _naive(timestamp) < known):
            return False
        if timestamp is not None:
            self.stamps[key] = _naive(timestamp)
        if change['action'] == entity_mod.DELETE:
            self.remove(change['type'], change['id'])
        else:
            self.put(change)
        return True


def _naive(value: typing.Any) -> datetime.datetime:
    """A UTC datetime without tzinfo; ISO strings (from the bus) parsed."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


class HostCache:
    """host → instances and ports, kept current; safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = _Index()
        # Changes followed while a rebuild reads the store, or None.
        self._pending: list[typing.Mapping[str, typing.Any]] | None = None
        self.loaded = threading.Event()

    # reading

    def lookup(self, host: str) -> Lookup | None:
        """What is on ``host``, or None if the cache knows no such host.

        A host is known from its own entity, or from an instance or port
        that names it as parent.
        """
        with self._lock:
            index = self._index
            found = index.hosts.get(host)
            on_host = index.host_instances.get(host)
            ports_on_host = index.host_ports.get(host)
            if found is None:
                if not on_host and not ports_on_host:
                    return None
                found = base.Host(name=host)
            instances = list(on_host.values()) if on_host else []
            ports = list(ports_on_host.values()) if ports_on_host else []
        return Lookup(found, instances, ports)

    def knows_host(self, host: str) -> bool:
        with self._lock:
            index = self._index
            return (host in index.hosts or host in index.host_instances
                    or host in index.host_ports)

    def port(self, port_id: str) -> base.Port | None:
        with self._lock:
            return self._index.ports.get(port_id)

    def instance(self, instance_id: str) -> base.Instance | None:
        with self._lock:
            return self._index.instances.get(instance_id)

    def counts(self) -> dict[str, int]:
        with self._lock:
            index = self._index
            return {'hosts': len(index.hosts),
                    'instances': len(index.instances),
                    'ports': len(index.ports)}

    # writing

    def apply(self, changes: Iterable[typing.Mapping[str, typing.Any]]
              ) -> None:
        """Follow entity changes, as the store took them."""
        changes = [change for change in changes if change['type'] in TYPES]
        with self._lock:
            if self._pending is not None:
                self._pending.extend(changes)
            for change in changes:
                self._index.apply(change)

    def reload(self, read: Callable[[], Iterable[dict]]) -> None:
        """Rebuild the cache from ``read()``, the store's entities.

        Changes followed while ``read`` runs are applied again on top of
        what it returned, newest wins, so that nothing followed is lost.
        """
        with self._lock:
            self._pending = []
        try:
            index = _Index()
            for view in read():
                if view['type'] not in TYPES:
                    continue
                index.put(view)
                if view.get('updated_at') is not None:
                    index.stamps[view['key']] = _naive(view['updated_at'])
        except BaseException:
            with self._lock:
                self._pending = None
            raise
        with self._lock:
            pending, self._pending = self._pending or [], None
            for change in pending:
                index.apply(change)
            self._index = index
        self.loaded.set()
        LOG.info('Host cache rebuilt: %(hosts)d hosts, %(instances)d '
                 'instances, %(ports)d ports', self.counts())


def read_store(connection, page_size: int = 10000
               ) -> typing.Iterator[dict]:
    """Every host, instance and port of the entity store, page by page."""
    for entity_type in TYPES:
        marker = None
        while True:
            page = connection.get_entities(entity_type=entity_type,
                                           limit=page_size, marker=marker)
            yield from page
            if len(page) < page_size:
                break
            marker = page[-1]['key']
