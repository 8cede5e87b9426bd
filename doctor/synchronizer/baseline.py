"""A collector's baseline: what its last snapshot said of each entity.

Comparing a new snapshot with the baseline yields changes only for the
entities that were created, changed or have vanished since; an entity that
is the same yields nothing. Changes the datasource learnt of in between
(from the bus) move the baseline too, so that a snapshot older than them
neither undoes nor repeats them.
"""

from collections.abc import Iterable
import datetime

from oslo_log import log

from doctor.synchronizer import entity as entity_mod

LOG = log.getLogger(__name__)


class Baseline:
    """Per-entity hashes and timestamps of one datasource."""

    def __init__(self, datasource: str) -> None:
        self.datasource = datasource
        # key -> (digest, timestamp of the report the digest is of)
        self._entries: dict[str, tuple[str, datetime.datetime]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def load(self, entries: dict[str, tuple[str, datetime.datetime]]
             ) -> None:
        """Start from ``entries`` (key -> digest, timestamp): the store's."""
        self._entries = dict(entries)

    def record(self, change: entity_mod.Change) -> None:
        """Take into account a change learnt of outside a snapshot.

        A change older than what the baseline has for its entity is
        ignored.
        """
        current = self._entries.get(change.key)
        if current is not None and change.timestamp < current[1]:
            return
        if change.action == entity_mod.DELETE:
            self._entries.pop(change.key, None)
        else:
            self._entries[change.key] = (change.digest, change.timestamp)

    def diff(self, entities: Iterable[entity_mod.Entity],
             timestamp: datetime.datetime) -> list[entity_mod.Change]:
        """The changes from the baseline to a snapshot taken at ``timestamp``.

        The baseline becomes the snapshot, but for the entities it knows of
        from reports newer than ``timestamp``: the snapshot was taken
        before those and says nothing newer of them.
        """
        datasource = self.datasource
        old = self._entries
        new: dict[str, tuple[str, datetime.datetime]] = {}
        changes: list[entity_mod.Change] = []
        for entity in entities:
            key = entity.key
            if key in new:
                LOG.warning('The snapshot of %s reports %s more than once; '
                            'the last report counts', datasource, key)
            digest = entity.digest()
            current = old.get(key)
            if current is None:
                action = entity_mod.CREATE
            elif current[1] > timestamp:
                new[key] = current
                continue
            elif current[0] != digest:
                action = entity_mod.UPDATE
            else:
                new[key] = current
                continue
            new[key] = (digest, timestamp)
            changes.append(entity_mod.Change(action, entity, timestamp,
                                             datasource, digest))
        for key, current in old.items():
            if key in new:
                continue
            if current[1] > timestamp:
                new[key] = current
                continue
            entity_type, entity_id = entity_mod.split_key(key)
            changes.append(entity_mod.Change(
                entity_mod.DELETE, entity_mod.Entity(entity_type, entity_id),
                timestamp, datasource))
        self._entries = new
        return changes
