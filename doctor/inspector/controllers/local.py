"""The ``local`` controller: acts on doctor's own entity store.

The embedded default, and the controller of a cloud whose inventory doctor
keeps itself (the ``static`` datasource). It handles every kind of action:

* a host forced down (or up again): the ``host`` entity's state becomes
  ``down`` (``up``) and its attribute ``forced_down`` true (false);
* an instance set to ``error`` or ``stopped``: the ``instance`` entity's
  state, then Nova's legacy ``compute.instance.update``, as Nova would
  emit it, unless the inspector has already emitted it
  (:attr:`~doctor.inspector.controllers.base.ActionContext.announced`);
* a port's data plane set DOWN (or ACTIVE): the ``port`` entity's attribute
  ``data_plane_status``.

Each change is made to the entity as the store has it, read at the moment
of writing (what the inspector's cache handed over may be a moment old),
and changes that one field alone. It keeps the datasource that owns the
entity, so that the owner can still update or delete it, and is stamped
now (or just after the stored report, should that be stamped later: the
change is made from that report, so it is the newer of the two).

Many calls come at once during a fault, from the inspector's pool. One
writer thread takes all those waiting and stores them together, in one
transaction, having read their entities in one query (group commit): a
host's hundred instances cost a few transactions rather than a hundred.
Each call returns once its own change is stored; the changes that took
are then already on their way to every follower of the entity store (the
inspector's cache among them), as the synchronizer sends its own. The
instance's notification is emitted after the write, so that a consumer
that reads doctor's API on hearing of the alarm finds the new state.

A call for an entity the store does not have fails for good
(:class:`~doctor.common.exception.HostNotFound`, ``PortNotFound``,
``EntityNotFound``); the store unreachable fails it with
:class:`~doctor.inspector.controllers.base.TransientError`, which the
inspector retries. A change the store refuses fails alone: the others of
its batch are stored one by one.

The ``static`` datasource does not undo these changes: its snapshots are
compared with what it last reported, not with the store. A synchronizer
replica that takes over collecting ``static`` rebuilds that baseline from
the store, and so reports the inventory's own state again.
"""

import collections
from collections.abc import Callable
import copy
import dataclasses
import datetime
import threading
import typing

from oslo_db import exception as db_exc
from oslo_log import log
from oslo_utils import timeutils
import sqlalchemy.exc

from doctor.common import context as doctor_context
from doctor.common import exception
from doctor.db import api as db_api
from doctor.inspector import notifications
from doctor.inspector.controllers import base
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import rpcapi as follower_rpcapi

LOG = log.getLogger(__name__)

# Database failures worth trying again: the inspector retries the call.
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (
    db_exc.DBConnectionError, db_exc.DBDeadlock, sqlalchemy.exc.TimeoutError)

# Times a change is made again from a fresh read when a report of its
# entity was stored between the read and the write.
ATTEMPTS = 3

# Seconds that stopping waits for the writer to store what is queued.
STOP_TIMEOUT = 30.0

_TICK = datetime.timedelta(microseconds=1)


def _naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def _entity(view: typing.Mapping[str, typing.Any]) -> entity_mod.Entity:
    """The entity of a store view, its attributes a copy of their own."""
    return entity_mod.Entity(
        type=view['type'], id=view['id'], state=view.get('state'),
        name=view.get('name'), project_id=view.get('project_id'),
        parents=tuple(view.get('parents') or ()),
        attributes=copy.deepcopy(dict(view.get('attributes') or {})))


@dataclasses.dataclass(eq=False)
class _Request:
    """One call's change, waiting for the writer.

    ``change`` edits the entity as read; ``missing`` is the error of a
    call whose entity the store does not have. The writer sets
    ``before`` (the stored view the change was made from), or ``error``,
    then ``done``.
    """

    key: str
    change: Callable[[entity_mod.Entity], None]
    missing: Callable[[], Exception]
    before: dict[str, typing.Any] | None = None
    error: BaseException | None = None
    attempts: int = 0
    done: threading.Event = dataclasses.field(
        default_factory=threading.Event)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class GroupWriter:
    """Stores the changes of concurrent calls together, on one thread.

    :param connection: the entity store.
    :param publish: called with the change records each batch stored.
    :param batch_size: most changes in one transaction.
    """

    def __init__(self, connection: db_api.Connection,
                 publish: Callable[[list[dict]], None],
                 batch_size: int) -> None:
        self._db = connection
        self._publish = publish
        self._batch_size = batch_size
        self._queue: collections.deque[_Request] = collections.deque()
        self._ready = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._ready:
            self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='doctor-local-controller')
        self._thread.start()

    def stop(self) -> None:
        """Store what is queued, then stop; later calls fail (transient)."""
        with self._ready:
            self._running = False
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
        with self._ready:
            left, self._queue = list(self._queue), collections.deque()
        for request in left:
            request.fail(base.TransientError(
                'the local controller stopped before storing the change '
                'of %s' % request.key))

    def pending(self) -> int:
        """How many changes wait for the writer (tools and tests)."""
        with self._ready:
            return len(self._queue)

    def write(self, request: _Request) -> _Request:
        """Queue ``request``; return it once stored, or raise its error."""
        [error] = self.write_many([request])
        if error is not None:
            raise error
        return request

    def write_many(self, requests: list[_Request]
                   ) -> list[BaseException | None]:
        """Queue ``requests`` together; once each is stored or failed,
        return their errors (None for those stored), in order.
        """
        with self._ready:
            if not self._running:
                raise base.TransientError('the local controller is not '
                                          'running')
            self._queue.extend(requests)
            self._ready.notify()
        for request in requests:
            request.done.wait()
        return [request.error for request in requests]

    # the writer thread

    def _take(self) -> list[_Request] | None:
        with self._ready:
            while not self._queue:
                if not self._running:
                    return None
                self._ready.wait()
            count = min(self._batch_size, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                again = self._write(batch)
            except Exception as e:
                LOG.exception('The local controller failed on a batch of '
                              '%d changes', len(batch))
                for request in batch:
                    if not request.done.is_set():
                        request.fail(base.TransientError(
                            'the change of %s was not stored: %s'
                            % (request.key, e)))
                continue
            if again:
                with self._ready:
                    self._queue.extendleft(reversed(again))

    def _write(self, batch: list[_Request]) -> list[_Request]:
        """Store one batch; return the requests to make again."""
        # One change per entity in a batch: a second call for the same
        # entity waits for the next one, made from what the first stored.
        seen: set[str] = set()
        later: list[_Request] = []
        first: list[_Request] = []
        for request in batch:
            if request.key in seen:
                later.append(request)
            else:
                seen.add(request.key)
                first.append(request)
        try:
            stored = {view['key']: view
                      for view in self._db.get_entities(keys=list(seen))}
        except TRANSIENT_DB_ERRORS as e:
            self._unreachable(batch, e)
            return []
        now = timeutils.utcnow()
        pending: list[tuple[_Request, dict]] = []
        for request in first:
            view = stored.get(request.key)
            if view is None:
                request.fail(request.missing())
                continue
            request.before = view
            entity = _entity(view)
            request.change(entity)
            if entity.digest() == _entity(view).digest():
                # Already so: nothing to store, nothing to tell.
                request.done.set()
                continue
            timestamp = max(now, _naive(view['updated_at']) + _TICK)
            pending.append((request, entity_mod.Change(
                entity_mod.UPDATE, entity, timestamp,
                view['datasource']).as_record()))
        if not pending:
            return later
        took = {record['key']: record for record in self._store(pending)}
        published: list[dict] = []
        vanished: list[dict] = []
        gone: list[_Request] = []
        again: list[_Request] = []
        for request, record in pending:
            if request.done.is_set():
                continue
            found = took.get(record['key'])
            if found is None:
                # A report stored since the read is newer than the change.
                request.attempts += 1
                if request.attempts < ATTEMPTS:
                    again.append(request)
                else:
                    request.fail(base.TransientError(
                        '%s keeps changing in the entity store; the change '
                        'was not stored' % request.key))
            elif found['action'] == entity_mod.CREATE:
                # Deleted since the read: the change made it exist again.
                vanished.append(found)
                gone.append(request)
            else:
                published.append(found)
        if vanished:
            self._undo(vanished)
            for request in gone:
                request.fail(request.missing())
        if published:
            try:
                self._publish(published)
            except Exception:
                LOG.exception('Cannot tell the followers of the entity '
                              'store of %d changes; they learn of them at '
                              'their next rebuild', len(published))
        retried = {id(request) for request in again}
        for request, _record in pending:
            if id(request) not in retried:
                request.done.set()
        return again + later

    def _store(self, pending: list[tuple[_Request, dict]]) -> list[dict]:
        """Apply the records of ``pending``; fail the requests refused."""
        try:
            return self._db.apply_entity_changes(
                [record for _request, record in pending])
        except TRANSIENT_DB_ERRORS as e:
            self._unreachable([request for request, _ in pending], e)
            return []
        except Exception as e:
            if len(pending) == 1:
                request, record = pending[0]
                LOG.error('The entity store refused the change of %s: %s',
                          record['key'], e)
                request.fail(exception.DoctorException(
                    'the entity store refused the change of %s: %s'
                    % (record['key'], e)))
                return []
            # One bad change must not cost the others: store them one by
            # one to find it.
            LOG.warning('A batch of %d changes failed (%s); storing them '
                        'one at a time', len(pending), e)
            took: list[dict] = []
            for one in pending:
                took.extend(self._store([one]))
            return took

    def _undo(self, created: list[dict]) -> None:
        deletes = [entity_mod.Change(
            entity_mod.DELETE,
            entity_mod.Entity(record['type'], record['id']),
            record['timestamp'] + _TICK, record['datasource']).as_record()
            for record in created]
        try:
            self._db.apply_entity_changes(deletes)
        except Exception:
            LOG.exception('Entities %s were deleted while the local '
                          'controller changed them, and are stored again',
                          ', '.join(record['key'] for record in created))

    @staticmethod
    def _unreachable(requests: list[_Request], error: Exception) -> None:
        LOG.warning('Entity store unreachable: %d changes not stored: %s',
                    len(requests), error)
        for request in requests:
            if not request.done.is_set():
                request.fail(base.TransientError(
                    'entity store unreachable: %s' % error))


def _instance(view: typing.Mapping[str, typing.Any],
              given: base.Instance) -> base.Instance:
    """The instance as the store had it before the change."""
    host = given.host
    for parent in view.get('parents') or ():
        if parent.startswith(entity_mod.HOST + ':'):
            host = parent.partition(':')[2]
            break
    return base.Instance(
        id=view['id'], host=host, state=view.get('state'),
        name=view.get('name'), project_id=view.get('project_id'),
        datasource=view.get('datasource'),
        attributes=dict(view.get('attributes') or {}))


class LocalController(base.Controller):
    """Hosts, instances and ports changed in doctor's entity store.

    Once started, ``connection`` is its own connection to the store and
    ``writer`` the :class:`GroupWriter` that stores every change.
    """

    handles = frozenset(base.KINDS)

    def __init__(self, conf, name: str) -> None:
        super().__init__(conf, name)
        self.connection: db_api.Connection | None = None
        self.writer: GroupWriter | None = None
        self._announcer: notifications.Announcer | None = None

    def start(self) -> None:
        conf = self.conf
        self.connection = db_api.get_connection(conf)
        followers = follower_rpcapi.EntityFollowerAPI(conf)
        admin = doctor_context.get_admin_context()

        def publish(changes: list[dict]) -> None:
            followers.entities_changed(admin, changes)

        self._announcer = notifications.Announcer(conf)
        self.writer = GroupWriter(self.connection, publish,
                                  conf.synchronizer.batch_size)
        self.writer.start()

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.stop()
            self.writer = None
        if self._announcer is not None:
            self._announcer.close()
            self._announcer = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _write_many(self, requests: list[_Request]
                    ) -> list[BaseException | None]:
        if self.writer is None:
            raise base.TransientError('the local controller is not running')
        return self.writer.write_many(requests)

    @staticmethod
    def _one(results: list[BaseException | None]) -> None:
        [error] = results
        if error is not None:
            raise error

    def set_host_down(self, context: base.ActionContext, host: base.Host,
                      down: bool) -> None:
        def change(entity: entity_mod.Entity) -> None:
            entity.state = 'down' if down else 'up'
            entity.attributes['forced_down'] = down

        self._one(self._write_many([_Request(
            entity_mod.make_key(entity_mod.HOST, host.name), change,
            lambda: exception.HostNotFound(host=host.name))]))

    def set_instance_state(self, context: base.ActionContext,
                           instance: base.Instance, state: str) -> None:
        self._one(self.set_instance_states(context, [instance], state))

    def set_instance_states(self, context: base.ActionContext,
                            instances: typing.Sequence[base.Instance],
                            state: str) -> list[BaseException | None]:
        """Store every instance's state in the writer's transactions, then
        emit each one's notification (unless the inspector has).
        """
        if state not in ('error', 'stopped'):
            raise exception.InvalidField(
                field='state', reason='an instance can be set to error or '
                                      'stopped, not %r' % state)

        def change(entity: entity_mod.Entity) -> None:
            entity.state = state

        def request(instance: base.Instance) -> _Request:
            key = entity_mod.make_key(entity_mod.INSTANCE, instance.id)
            return _Request(key, change,
                            lambda: exception.EntityNotFound(key=key))

        requests = [request(instance) for instance in instances]
        results = self._write_many(requests)
        if context.announced:
            return results
        announcer = self._announcer
        assert announcer is not None
        stored = [(position, instance, request.before)
                  for position, (instance, request) in enumerate(
                      zip(instances, requests))
                  if results[position] is None]

        def emit(instance: base.Instance, before: dict | None):
            assert before is not None
            return lambda: announcer.instance_update(
                _instance(before, instance), state, context.fault_id)
        errors = announcer.emit_all([emit(instance, before)
                                     for _p, instance, before in stored])
        for (position, instance, _b), error in zip(stored, errors):
            if error is not None:
                # The state is stored; trying again stores nothing more
                # and emits the notification again.
                results[position] = base.TransientError(
                    'instance %s is %s, but its compute.instance.update '
                    'could not be emitted: %s' % (instance.id, state, error))
        return results

    def set_port_dp_down(self, context: base.ActionContext, port: base.Port,
                         down: bool) -> None:
        self._one(self.set_ports_dp_down(context, [port], down))

    def set_ports_dp_down(self, context: base.ActionContext,
                          ports: typing.Sequence[base.Port],
                          down: bool) -> list[BaseException | None]:
        status = base.DP_DOWN if down else base.DP_ACTIVE

        def change(entity: entity_mod.Entity) -> None:
            entity.attributes['data_plane_status'] = status

        def request(port: base.Port) -> _Request:
            return _Request(
                entity_mod.make_key(entity_mod.PORT, port.id), change,
                lambda: exception.PortNotFound(port_id=port.id))

        return self._write_many([request(port) for port in ports])
