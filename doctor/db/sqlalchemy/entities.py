"""The synchronizer's entity store, on SQLAlchemy Core.

Each function runs inside a transaction its caller opened; see
:class:`doctor.db.api.Connection` for what each means.
"""

import datetime
import typing

import sqlalchemy as sa

from doctor.db.sqlalchemy import models

_entity = typing.cast(sa.Table, models.Entity.__table__)
_parent = typing.cast(sa.Table, models.EntityParent.__table__)

# Keys per IN (...) list: well below every database's limit on parameters.
_CHUNK = 500

_COLUMNS = ('type', 'entity_id', 'name', 'state', 'project_id',
            'datasource', 'parents', 'attributes', 'digest', 'updated_at',
            'deleted')
_INSERT = _entity.insert()
_UPDATE = (_entity.update()
           .where(_entity.c.key == sa.bindparam('b_key'))
           .values({name: sa.bindparam('b_' + name) for name in _COLUMNS}))
_TOMBSTONE = (_entity.update()
              .where(_entity.c.key == sa.bindparam('b_key'))
              .values(deleted=True, digest=None,
                      updated_at=sa.bindparam('b_updated_at')))
_TOUCH = (_entity.update()
          .where(_entity.c.key == sa.bindparam('b_key'))
          .values(updated_at=sa.bindparam('b_updated_at')))
_INSERT_PARENT = _parent.insert()
_BINDS = tuple(('b_' + name, name) for name in ('key',) + _COLUMNS)

CREATE = 'create'
UPDATE = 'update'
DELETE = 'delete'


def _chunks(items: list) -> typing.Iterator[list]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _current(connection: sa.Connection, keys: list[str]) -> dict[str, dict]:
    """What the store has of ``keys``, locked until the transaction ends."""
    found: dict[str, dict] = {}
    for chunk in _chunks(keys):
        query = (sa.select(_entity.c.key, _entity.c.datasource,
                           _entity.c.digest, _entity.c.updated_at,
                           _entity.c.deleted, _entity.c.parents)
                 .where(_entity.c.key.in_(chunk)))
        if connection.dialect.name != 'sqlite':
            query = query.with_for_update()
        for row in connection.execute(query).mappings():
            found[row['key']] = dict(row)
    return found


def _row(change: dict) -> dict:
    return {'key': change['key'], 'type': change['type'],
            'entity_id': change['id'], 'name': change.get('name'),
            'state': change.get('state'),
            'project_id': change.get('project_id'),
            'datasource': change['datasource'],
            'parents': list(change.get('parents') or ()),
            'attributes': change.get('attributes') or {},
            'digest': change.get('digest'),
            'updated_at': change['timestamp'], 'deleted': False}


def _tombstone(change: dict) -> dict:
    row = _row(change)
    row.update(name=None, state=None, project_id=None, parents=[],
               attributes={}, digest=None, deleted=True)
    return row


def apply_changes(connection: sa.Connection,
                  changes: list[dict]) -> list[dict]:
    """Apply ``changes``; return those that changed the store."""
    ordered = sorted(changes, key=lambda change: change['timestamp'])
    current = _current(connection, list({c['key'] for c in ordered}))
    linked = {key: _links(row) for key, row in current.items()}
    rows: dict[str, dict] = {}
    # Entities reported again unchanged: only their time moves, so that a
    # report older than this one is still recognised as older.
    touched: dict[str, datetime.datetime] = {}
    applied: list[dict] = []
    for change in ordered:
        key = change['key']
        known = current.get(key)
        if known is not None and change['timestamp'] < known['updated_at']:
            continue
        present = known is not None and not known['deleted']
        same_source = (known is not None
                       and known['datasource'] == change['datasource'])
        if change['action'] == DELETE:
            if known is None:
                # Remember it, so that an older create arriving later does
                # not make it exist.
                rows[key] = _tombstone(change)
                current[key] = rows[key]
                continue
            if not present or not same_source:
                continue
            row = _tombstone(change)
            action = DELETE
        else:
            if present and same_source and (
                    known is not None
                    and known['digest'] == change['digest']):
                if key in rows:
                    rows[key]['updated_at'] = change['timestamp']
                else:
                    touched[key] = change['timestamp']
                current[key] = dict(known, updated_at=change['timestamp'])
                continue
            row = _row(change)
            action = UPDATE if present else CREATE
        rows[key] = row
        current[key] = row
        record = dict(change)
        record['action'] = action
        applied.append(record)
    _write(connection, rows, linked)
    touches = [{'b_key': key, 'b_updated_at': when}
               for key, when in touched.items() if key not in rows]
    if touches:
        connection.execute(_TOUCH, touches)
    return applied


def _links(row: typing.Mapping) -> set[str]:
    """The parents a stored entity is linked to: none for a tombstone."""
    return set() if row['deleted'] else set(row['parents'] or ())


def _write(connection: sa.Connection, rows: dict[str, dict],
           linked: dict[str, set[str]]) -> None:
    """Write ``rows``; ``linked`` has the links of the keys in the store."""
    inserts = [row for key, row in rows.items() if key not in linked]
    updates = [{bind: row[name] for bind, name in _BINDS}
               for key, row in rows.items()
               if key in linked and not row['deleted']]
    tombstones = [{'b_key': key, 'b_updated_at': row['updated_at']}
                  for key, row in rows.items()
                  if key in linked and row['deleted']]
    if inserts:
        connection.execute(_INSERT, inserts)
    if updates:
        connection.execute(_UPDATE, updates)
    if tombstones:
        connection.execute(_TOMBSTONE, tombstones)
    # Most changes leave an entity's parents as they were: only the
    # entities whose links differ are unlinked and linked again.
    relinked = [key for key, row in rows.items()
                if key in linked and _links(row) != linked[key]]
    for chunk in _chunks(relinked):
        connection.execute(
            _parent.delete().where(_parent.c.child_key.in_(chunk)))
    linking = [key for key in rows if key not in linked] + relinked
    links = [{'child_key': key, 'parent_key': parent}
             for key in linking if not rows[key]['deleted']
             for parent in dict.fromkeys(rows[key]['parents'])]
    if links:
        connection.execute(_INSERT_PARENT, links)


def _view(row: typing.Mapping) -> dict:
    return {'key': row['key'], 'type': row['type'],
            'id': row['entity_id'], 'name': row['name'],
            'state': row['state'], 'project_id': row['project_id'],
            'datasource': row['datasource'],
            'parents': list(row['parents'] or ()),
            'attributes': row['attributes'] or {},
            'updated_at': row['updated_at']}


def get_entities(connection: sa.Connection, *,
                 entity_type: str | None = None, parent: str | None = None,
                 state: str | None = None, datasource: str | None = None,
                 project_id: str | None = None, limit: int | None = None,
                 marker: str | None = None,
                 keys: list[str] | None = None) -> list[dict]:
    if keys is not None and len(keys) > _CHUNK:
        found = [entity for chunk in _chunks(sorted(set(keys)))
                 for entity in get_entities(
                     connection, entity_type=entity_type, parent=parent,
                     state=state, datasource=datasource,
                     project_id=project_id, marker=marker, keys=chunk)]
        return found[:limit] if limit is not None else found
    query = sa.select(_entity).where(_entity.c.deleted.is_(False))
    if keys is not None:
        query = query.where(_entity.c.key.in_(keys))
    for column, value in ((_entity.c.type, entity_type),
                          (_entity.c.state, state),
                          (_entity.c.datasource, datasource),
                          (_entity.c.project_id, project_id)):
        if value is not None:
            query = query.where(column == value)
    if parent is not None:
        query = query.where(_entity.c.key.in_(
            sa.select(_parent.c.child_key)
            .where(_parent.c.parent_key == parent)))
    if marker is not None:
        query = query.where(_entity.c.key > marker)
    query = query.order_by(_entity.c.key)
    if limit is not None:
        query = query.limit(limit)
    return [_view(row) for row in connection.execute(query).mappings()]


def get_entity(connection: sa.Connection, key: str) -> dict | None:
    row = connection.execute(
        sa.select(_entity).where(_entity.c.key == key,
                                 _entity.c.deleted.is_(False))
    ).mappings().first()
    if row is None:
        return None
    entity = _view(row)
    entity['children'] = list(connection.execute(
        sa.select(_parent.c.child_key)
        .where(_parent.c.parent_key == key)
        .order_by(_parent.c.child_key)).scalars())
    return entity


def get_digests(connection: sa.Connection, datasource: str
                ) -> dict[str, tuple[str, datetime.datetime]]:
    rows = connection.execute(
        sa.select(_entity.c.key, _entity.c.digest, _entity.c.updated_at)
        .where(_entity.c.datasource == datasource,
               _entity.c.deleted.is_(False)))
    return {key: (digest or '', updated_at)
            for key, digest, updated_at in rows}


def purge_tombstones(connection: sa.Connection,
                     before: datetime.datetime) -> int:
    result = connection.execute(
        _entity.delete().where(_entity.c.deleted.is_(True),
                               _entity.c.updated_at < before))
    return result.rowcount
