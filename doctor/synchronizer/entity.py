"""Entities as datasources report them, and changes to them.

An entity is a thing doctor follows (a host, an instance, a port): its key
is ``<type>:<id>``, whatever the datasource that reports it. A change is
one report that an entity was created, updated or deleted, stamped with
the time the source knew it, so that two reports of one entity can be
ordered however they arrive.
"""

import dataclasses
import datetime
import hashlib
import json
import typing

from oslo_serialization import jsonutils

CREATE = 'create'
UPDATE = 'update'
DELETE = 'delete'
ACTIONS = (CREATE, UPDATE, DELETE)

HOST = 'host'
INSTANCE = 'instance'
PORT = 'port'

# What jsonutils.dump_as_bytes(document, sort_keys=True) writes, from an
# encoder built once rather than for every entity: a collector digests each
# entity of every snapshot, and the digests in the store must stay the same.
_DIGEST_ENCODER = json.JSONEncoder(sort_keys=True,
                                   default=jsonutils.to_primitive)


def make_key(entity_type: str, entity_id: str) -> str:
    """The key of the entity of ``entity_type`` and ``entity_id``."""
    return '%s:%s' % (entity_type, entity_id)


def split_key(key: str) -> tuple[str, str]:
    """The type and id of ``key``.

    :raises ValueError: if ``key`` is not ``<type>:<id>``.
    """
    entity_type, sep, entity_id = key.partition(':')
    if not sep or not entity_type or not entity_id:
        raise ValueError('%r is not an entity key (<type>:<id>)' % key)
    return entity_type, entity_id


@dataclasses.dataclass(slots=True)
class Entity:
    """What a datasource knows of one entity at one moment.

    ``parents`` are the keys of the entities this one belongs to: an
    instance's host; a port's host and the instance it is plugged into.
    ``attributes`` are the source's own, as JSON values.
    """

    type: str
    id: str
    state: str | None = None
    name: str | None = None
    project_id: str | None = None
    parents: tuple[str, ...] = ()
    attributes: dict[str, typing.Any] = dataclasses.field(
        default_factory=dict)

    @property
    def key(self) -> str:
        return make_key(self.type, self.id)

    def digest(self) -> str:
        """A hash of everything reported of the entity but its identity.

        Equal for two reports that say the same, in any key order.
        """
        document = _DIGEST_ENCODER.encode(
            [self.state, self.name, self.project_id, self.parents,
             self.attributes])
        return hashlib.blake2b(document.encode('utf-8'),
                               digest_size=16).hexdigest()


@dataclasses.dataclass(slots=True)
class Change:
    """One report of ``datasource`` about ``entity``, as of ``timestamp``.

    A delete carries the entity's type and id; anything else it carries is
    ignored. ``digest`` is the entity's, computed once.
    """

    action: str
    entity: Entity
    timestamp: datetime.datetime
    datasource: str
    digest: str = ''

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError('action %r is not one of %s'
                             % (self.action, ', '.join(ACTIONS)))
        if not self.digest and self.action != DELETE:
            self.digest = self.entity.digest()

    @property
    def key(self) -> str:
        return self.entity.key

    @property
    def type(self) -> str:
        return self.entity.type

    def as_record(self) -> dict[str, typing.Any]:
        """The change as the plain dict the entity store and the bus take."""
        entity = self.entity
        return {
            'key': entity.key, 'type': entity.type, 'id': entity.id,
            'action': self.action, 'timestamp': self.timestamp,
            'datasource': self.datasource, 'state': entity.state,
            'name': entity.name, 'project_id': entity.project_id,
            'parents': list(entity.parents),
            'attributes': entity.attributes, 'digest': self.digest,
        }

    @classmethod
    def from_record(cls, record: dict[str, typing.Any]) -> 'Change':
        """The change of a dict made by :meth:`as_record`."""
        entity = Entity(type=record['type'], id=record['id'],
                        state=record.get('state'), name=record.get('name'),
                        project_id=record.get('project_id'),
                        parents=tuple(record.get('parents') or ()),
                        attributes=dict(record.get('attributes') or {}))
        return cls(action=record['action'], entity=entity,
                   timestamp=record['timestamp'],
                   datasource=record['datasource'],
                   digest=record.get('digest') or '')
