"""The ``local`` controller on a real SQLite store and the in-process bus."""

import datetime
import threading
import time
from unittest import mock

from oslo_db import exception as db_exc
import oslo_messaging as messaging
from oslo_utils import timeutils

from doctor.common import exception
from doctor.common import rpc
from doctor.inspector import inspector as inspector_mod
from doctor.inspector.controllers import base as controller_base
from doctor.inspector.controllers import local
from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer import follower as follower_mod
from doctor.tests import base

FAULT = '0b9f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4'
PROJECT = 'p1'
USER = 'u1'
T0 = datetime.datetime(2025, 11, 22, 10, 0, 0)
WAIT = 10.0


def change(entity_type: str, entity_id: str, state: str | None = None,
           parents: tuple = (), attributes: dict | None = None,
           timestamp: datetime.datetime = T0,
           action: str = entity_mod.CREATE) -> dict:
    """A change record of the static datasource."""
    return entity_mod.Change(
        action, entity_mod.Entity(entity_type, entity_id, state=state,
                                  name='name-' + entity_id,
                                  project_id=PROJECT, parents=parents,
                                  attributes=attributes or {}),
        timestamp, 'static').as_record()


class _Listener:
    """Keeps the notifications heard on the bus, in order."""

    def __init__(self) -> None:
        self.heard: list[tuple[dict, str, str, dict]] = []
        self.arrived = threading.Condition()
        # Called first with each notification (the dispatcher holds the
        # bound ``info`` from the start: it cannot be replaced later).
        self.on_heard = None

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        if self.on_heard is not None:
            self.on_heard()
        with self.arrived:
            self.heard.append((ctxt, publisher_id, event_type, payload))
            self.arrived.notify_all()

    def wait(self, count: int) -> list[tuple[dict, str, str, dict]]:
        deadline = time.monotonic() + WAIT
        with self.arrived:
            while len(self.heard) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('%d notifications heard, not %d'
                                         % (len(self.heard), count))
                self.arrived.wait(left)
            return list(self.heard)


class LocalTestCase(base.DBTestCase):
    """A started ``local`` controller on a store of one host's entities.

    ``followed`` gets what the controller publishes to the followers of
    the entity store; ``listener`` the notifications on the bus.
    """

    def setUp(self):
        super().setUp()
        self.db.apply_entity_changes([
            change(entity_mod.HOST, 'c0', state='up',
                   attributes={'service_id': 's0', 'rack': 'r1'}),
            change(entity_mod.INSTANCE, 'i1', state='active',
                   parents=('host:c0',), attributes={'user_id': USER}),
            change(entity_mod.INSTANCE, 'i2', state='active',
                   parents=('host:c0',), attributes={'user_id': USER}),
            change(entity_mod.PORT, 'p1', state='ACTIVE',
                   parents=('host:c0', 'instance:i1'),
                   attributes={'device_id': 'i1',
                               'data_plane_status': None}),
        ])
        self.followed: list[dict] = []
        self.published = threading.Event()
        follower = follower_mod.Follower(self.conf, self._follow)
        follower.start()
        self.addCleanup(follower.stop)
        self.listener = _Listener()
        server = rpc.get_notification_listener(
            self.conf, [messaging.Target(topic='notifications')],
            [self.listener])
        server.start()
        self.addCleanup(server.wait)
        self.addCleanup(server.stop)
        self.config.config(controllers=['local'], group='inspector')
        [self.controller] = inspector_mod.load_controllers(self.conf)
        self.controller.start()
        self.addCleanup(self.controller.stop)
        self.context = controller_base.ActionContext(fault_id=FAULT)

    def _follow(self, changes: list[dict]) -> None:
        self.followed.extend(changes)
        self.published.set()

    def stored(self, key: str) -> dict:
        return self.db.get_entity(key)

    def wait_followed(self, count: int) -> list[dict]:
        deadline = time.monotonic() + WAIT
        while len(self.followed) < count:
            self.assertLess(time.monotonic(), deadline,
                            'followers told of %d changes, not %d'
                            % (len(self.followed), count))
            time.sleep(0.01)
        return self.followed

    def instance(self, instance_id: str, **kwargs
                 ) -> controller_base.Instance:
        return controller_base.Instance(id=instance_id, host='c0',
                                        **kwargs)

    def port(self, port_id: str = 'p1') -> controller_base.Port:
        return controller_base.Port(id=port_id, host='c0')


class TestPlugin(LocalTestCase):

    def test_loaded_by_name_acts_on_everything(self):
        self.assertIsInstance(self.controller, local.LocalController)
        self.assertEqual('local', self.controller.name)
        self.assertEqual(frozenset(controller_base.KINDS),
                         self.controller.handles)

    def test_a_call_after_stop_is_transient(self):
        self.controller.stop()

        self.assertRaises(controller_base.TransientError,
                          self.controller.set_host_down, self.context,
                          controller_base.Host(name='c0'), True)


class TestHosts(LocalTestCase):

    def test_host_forced_down_then_up(self):
        before = timeutils.utcnow()

        self.controller.set_host_down(self.context,
                                      controller_base.Host(name='c0'), True)

        host = self.stored('host:c0')
        self.assertEqual('down', host['state'])
        self.assertEqual({'service_id': 's0', 'rack': 'r1',
                          'forced_down': True}, host['attributes'])
        self.assertEqual(('static', 'name-c0', PROJECT),
                         (host['datasource'], host['name'],
                          host['project_id']))
        self.assertGreaterEqual(host['updated_at'], before)
        [followed] = self.wait_followed(1)
        self.assertEqual(('update', 'host:c0', 'down', 'static'),
                         (followed['action'], followed['key'],
                          followed['state'], followed['datasource']))

        self.controller.set_host_down(self.context,
                                      controller_base.Host(name='c0'), False)

        host = self.stored('host:c0')
        self.assertEqual('up', host['state'])
        self.assertFalse(host['attributes']['forced_down'])
        self.assertEqual('up', self.wait_followed(2)[1]['state'])

    def test_unknown_host(self):
        error = self.assertRaises(
            exception.HostNotFound, self.controller.set_host_down,
            self.context, controller_base.Host(name='c9'), True)

        self.assertEqual('Host c9 not found.', str(error))
        self.assertEqual([], self.followed)

    def test_the_owner_may_still_delete_the_entity(self):
        self.controller.set_host_down(self.context,
                                      controller_base.Host(name='c0'), True)

        self.db.apply_entity_changes([change(
            entity_mod.HOST, 'c0', action=entity_mod.DELETE,
            timestamp=timeutils.utcnow() + datetime.timedelta(seconds=1))])

        self.assertRaises(exception.EntityNotFound, self.stored, 'host:c0')


class TestInstances(LocalTestCase):

    def test_set_to_error_is_stored_then_announced_as_nova_would(self):
        stored_when_heard = []
        self.listener.on_heard = lambda: stored_when_heard.append(
            self.stored('instance:i1')['state'])

        self.controller.set_instance_state(self.context,
                                           self.instance('i1'), 'error')

        instance = self.stored('instance:i1')
        self.assertEqual(('error', 'static', ['host:c0'], {'user_id': USER}),
                         (instance['state'], instance['datasource'],
                          instance['parents'], instance['attributes']))
        [(ctxt, publisher, event_type, payload)] = self.listener.wait(1)
        self.assertEqual(('compute.c0', 'compute.instance.update'),
                         (publisher, event_type))
        self.assertEqual(
            {'instance_id': 'i1', 'tenant_id': PROJECT, 'user_id': USER,
             'display_name': 'name-i1', 'host': 'c0', 'state': 'error',
             'old_state': 'active', 'state_description': '',
             'doctor_fault_id': FAULT},
            {k: v for k, v in payload.items()
             if k != 'audit_period_ending'})
        # oslo.messaging sends a redacted copy of the context: the fault
        # id survives it.
        self.assertEqual(FAULT, ctxt.get('doctor_fault_id'))
        self.assertEqual(PROJECT, ctxt['project_id'])
        self.assertEqual(['error'], stored_when_heard)
        [followed] = self.wait_followed(1)
        self.assertEqual(('instance:i1', 'error'),
                         (followed['key'], followed['state']))

    def test_made_from_the_store_not_from_a_stale_cache(self):
        stale = controller_base.Instance(
            id='i1', host='c7', state='building', name='old',
            project_id='p9', attributes={'user_id': 'u9'})

        self.controller.set_instance_state(self.context, stale, 'stopped')

        instance = self.stored('instance:i1')
        self.assertEqual(('stopped', 'name-i1', PROJECT, ['host:c0']),
                         (instance['state'], instance['name'],
                          instance['project_id'], instance['parents']))
        [(_ctxt, publisher, _type, payload)] = self.listener.wait(1)
        self.assertEqual('compute.c0', publisher)
        self.assertEqual(('stopped', 'active', PROJECT, USER, 'c0'),
                         (payload['state'], payload['old_state'],
                          payload['tenant_id'], payload['user_id'],
                          payload['host']))

    def test_announced_by_the_inspector_already(self):
        announced = controller_base.ActionContext(fault_id=FAULT,
                                                  announced=True)

        self.controller.set_instance_state(announced, self.instance('i1'),
                                           'error')
        self.controller.set_instance_state(self.context,
                                           self.instance('i2'), 'error')

        self.assertEqual('error', self.stored('instance:i1')['state'])
        # The bus keeps the order: had i1's been emitted, it came first.
        [(_ctxt, _publisher, _type, payload)] = self.listener.wait(1)
        self.assertEqual('i2', payload['instance_id'])
        self.assertEqual(['instance:i1', 'instance:i2'],
                         [c['key'] for c in self.wait_followed(2)])

    def test_already_in_the_state_stores_nothing_but_announces(self):
        self.controller.set_instance_state(self.context,
                                           self.instance('i1'), 'error')
        updated_at = self.stored('instance:i1')['updated_at']

        self.controller.set_instance_state(self.context,
                                           self.instance('i1'), 'error')

        self.assertEqual(updated_at, self.stored('instance:i1')['updated_at'])
        heard = self.listener.wait(2)
        self.assertEqual(['error', 'error'],
                         [payload['state'] for *_, payload in heard])
        self.assertEqual(1, len(self.wait_followed(1)))

    def test_only_error_or_stopped(self):
        error = self.assertRaises(
            exception.InvalidField, self.controller.set_instance_state,
            self.context, self.instance('i1'), 'active')

        self.assertIn("'state'", str(error))
        self.assertEqual('active', self.stored('instance:i1')['state'])

    def test_unknown_instance(self):
        error = self.assertRaises(
            exception.EntityNotFound, self.controller.set_instance_state,
            self.context, self.instance('i9'), 'error')

        self.assertEqual('Entity instance:i9 not found.', str(error))

    def test_a_failed_notification_is_transient(self):
        with mock.patch.object(
                self.controller._announcer, 'instance_update',
                autospec=True,
                side_effect=messaging.MessageDeliveryFailure('bus down')):
            error = self.assertRaises(
                controller_base.TransientError,
                self.controller.set_instance_state, self.context,
                self.instance('i1'), 'error')

        self.assertIn('bus down', str(error))
        self.assertEqual('error', self.stored('instance:i1')['state'])
        # Tried again: the notification goes out.
        self.controller.set_instance_state(self.context,
                                           self.instance('i1'), 'error')
        self.assertEqual('error', self.listener.wait(1)[0][3]['state'])


class TestPorts(LocalTestCase):

    def test_data_plane_down_then_active(self):
        self.controller.set_port_dp_down(self.context, self.port(), True)

        port = self.stored('port:p1')
        self.assertEqual({'device_id': 'i1', 'data_plane_status': 'DOWN'},
                         port['attributes'])
        self.assertEqual(('ACTIVE', 'static'),
                         (port['state'], port['datasource']))

        self.controller.set_port_dp_down(self.context, self.port(), False)

        self.assertEqual('ACTIVE', self.stored('port:p1')['attributes'][
            'data_plane_status'])
        self.assertEqual(['DOWN', 'ACTIVE'],
                         [c['attributes']['data_plane_status']
                          for c in self.wait_followed(2)])
        # The inspector tells of ports; the controller does not.
        self.assertEqual([], self.listener.heard)

    def test_unknown_port(self):
        self.assertRaises(exception.PortNotFound,
                          self.controller.set_port_dp_down, self.context,
                          self.port('p9'), True)


class ManyInstancesTestCase(LocalTestCase):
    """Forty more instances; the store's reads and writes watched."""

    def setUp(self):
        super().setUp()
        self.db.apply_entity_changes([
            change(entity_mod.INSTANCE, 'v%02d' % number, state='active',
                   parents=('host:c0',))
            for number in range(40)])
        connection = self.controller.connection
        self.reads = mock.patch.object(
            connection, 'get_entities', autospec=True,
            side_effect=connection.get_entities).start()
        self.writes = mock.patch.object(
            connection, 'apply_entity_changes', autospec=True,
            side_effect=connection.apply_entity_changes).start()
        self.addCleanup(mock.patch.stopall)
        self.errors: dict[str, BaseException] = {}

    def batches(self) -> list[list[str]]:
        return [[record['key'] for record in call.args[0]]
                for call in self.writes.call_args_list]

    def refuse(self, key: str) -> None:
        """Make the store refuse every write holding a change of ``key``.
        """
        write = self.writes.side_effect

        def refusing(changes):
            if any(change['key'] == key for change in changes):
                raise db_exc.DBDataError(ValueError('value too long'))
            return write(changes)

        self.writes.side_effect = refusing


class TestGroupCommit(ManyInstancesTestCase):
    """Concurrent calls, written together by the controller's writer."""

    def call_at_once(self, instance_ids: list[str],
                     context: controller_base.ActionContext | None = None
                     ) -> None:
        """Set every instance to error, each call on a thread of its own.

        The writer is held on its first read until every other call is
        queued: they then make one batch.
        """
        gate = threading.Event()
        read = self.reads.side_effect

        def held(*args, **kwargs):
            gate.wait(WAIT)
            self.reads.side_effect = read
            return read(*args, **kwargs)

        self.reads.side_effect = held

        def call(instance_id: str) -> None:
            try:
                self.controller.set_instance_state(
                    context or self.context, self.instance(instance_id),
                    'error')
            except BaseException as e:
                self.errors[instance_id] = e

        threads = [threading.Thread(target=call, args=(instance_id,))
                   for instance_id in instance_ids]
        threads[0].start()
        deadline = time.monotonic() + WAIT
        while self.reads.call_count == 0:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        for thread in threads[1:]:
            thread.start()
        while self.controller.writer.pending() < len(threads) - 1:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        gate.set()
        for thread in threads:
            thread.join(WAIT)

    def test_concurrent_calls_are_stored_in_one_transaction(self):
        instance_ids = ['v%02d' % number for number in range(40)]

        self.call_at_once(instance_ids)

        self.assertEqual({}, self.errors)
        self.assertEqual(['instance:v00'], self.batches()[0])
        self.assertEqual(sorted('instance:' + i for i in instance_ids[1:]),
                         sorted(self.batches()[1]))
        self.assertEqual(2, len(self.batches()))
        # One read for the batch, every key of it at once.
        self.assertEqual(2, self.reads.call_count)
        self.assertEqual(39, len(self.reads.call_args.kwargs['keys']))
        self.assertEqual(
            ['error'] * 40,
            [entity['state'] for entity in self.db.get_entities(
                keys=['instance:' + i for i in instance_ids])])
        self.assertEqual(40, len(self.listener.wait(40)))
        self.assertEqual(40, len(self.wait_followed(40)))

    def test_one_bad_change_fails_alone(self):
        self.refuse('instance:v01')

        self.call_at_once(['v00', 'v01', 'v02', 'v03'])

        self.assertEqual(['v01'], list(self.errors))
        self.assertNotIsInstance(self.errors['v01'],
                                 controller_base.TransientError)
        self.assertIn('entity store refused the change of instance:v01',
                      str(self.errors['v01']))
        states = {entity['id']: entity['state'] for entity in
                  self.db.get_entities(entity_type='instance')}
        self.assertEqual(('error', 'active', 'error', 'error'),
                         (states['v00'], states['v01'], states['v02'],
                          states['v03']))
        self.assertEqual(
            ['instance:v00', 'instance:v02', 'instance:v03'],
            sorted(c['key'] for c in self.wait_followed(3)))

    def test_unknown_entity_fails_alone(self):
        self.call_at_once(['v00', 'gone', 'v02'])

        self.assertEqual(['gone'], list(self.errors))
        self.assertIsInstance(self.errors['gone'], exception.EntityNotFound)
        self.assertEqual('error', self.stored('instance:v02')['state'])

    def test_calls_for_one_entity_both_take(self):
        self.call_at_once(['v00', 'v05', 'v05'])

        self.assertEqual({}, self.errors)
        # The second call waited for the first's change to be stored, then
        # found nothing more to store.
        self.assertEqual([['instance:v00'], ['instance:v05']],
                         self.batches())
        self.assertEqual(3, self.reads.call_count)
        self.assertEqual(['instance:v00', 'instance:v05'],
                         sorted(c['key'] for c in self.wait_followed(2)))


class TestBatches(ManyInstancesTestCase):
    """A fault's instances and ports in one call of the controller."""

    def test_a_fault_s_instances_are_stored_in_one_transaction(self):
        instance_ids = ['v%02d' % number for number in range(40)]

        results = self.controller.set_instance_states(
            self.context, [self.instance(i) for i in instance_ids], 'error')

        self.assertEqual([None] * 40, results)
        self.assertEqual([sorted('instance:' + i for i in instance_ids)],
                         [sorted(batch) for batch in self.batches()])
        self.assertEqual(1, self.reads.call_count)
        # Nova's notification per instance, as before.
        heard = self.listener.wait(40)
        self.assertEqual(
            sorted(instance_ids),
            sorted(payload['instance_id'] for _c, _p, event_type, payload
                   in heard if event_type == 'compute.instance.update'))

    def test_a_batch_that_partly_fails_keeps_the_rest(self):
        self.refuse('instance:v01')

        results = self.controller.set_instance_states(
            self.context,
            [self.instance(i) for i in ('v00', 'v01', 'gone', 'v03')],
            'error')

        self.assertEqual([None, None], [results[0], results[3]])
        self.assertIn('entity store refused the change of instance:v01',
                      str(results[1]))
        self.assertIsInstance(results[2], exception.EntityNotFound)
        states = {entity['id']: entity['state'] for entity in
                  self.db.get_entities(entity_type='instance')}
        self.assertEqual(('error', 'active', 'error'),
                         (states['v00'], states['v01'], states['v03']))
        # Only the stored ones are announced.
        self.assertEqual(
            ['v00', 'v03'],
            sorted(payload['instance_id'] for _c, _p, _t, payload
                   in self.listener.wait(2)))

    def test_a_failed_notification_is_transient_for_its_instance(self):
        announcer = self.controller._announcer
        real = announcer.instance_update

        def fail_v01(instance, state, fault_id):
            if instance.id == 'v01':
                raise RuntimeError('bus gone')
            return real(instance, state, fault_id)

        with mock.patch.object(announcer, 'instance_update',
                               autospec=True, side_effect=fail_v01):
            results = self.controller.set_instance_states(
                self.context, [self.instance('v00'), self.instance('v01')],
                'error')

        self.assertIsNone(results[0])
        self.assertIsInstance(results[1], controller_base.TransientError)
        self.assertEqual('error', self.stored('instance:v01')['state'])

    def test_announced_by_the_inspector_already(self):
        context = controller_base.ActionContext(fault_id=FAULT,
                                                announced=True)

        results = self.controller.set_instance_states(
            context, [self.instance('v00'), self.instance('v01')], 'error')

        self.assertEqual([None, None], results)
        self.assertEqual('error', self.stored('instance:v01')['state'])
        self.assertEqual([], self.listener.heard)

    def test_ports_in_one_call(self):
        results = self.controller.set_ports_dp_down(
            self.context, [self.port('p1'), self.port('p9')], True)

        self.assertIsNone(results[0])
        self.assertIsInstance(results[1], exception.PortNotFound)
        self.assertEqual(
            'DOWN', self.stored('port:p1')['attributes']['data_plane_status'])

    def test_it_takes_batches(self):
        self.assertTrue(controller_base.takes_batches(
            self.controller, controller_base.INSTANCE))
        self.assertTrue(controller_base.takes_batches(
            self.controller, controller_base.PORT))


class TestStoreFailures(LocalTestCase):

    def test_store_unreachable_on_read_is_transient(self):
        with mock.patch.object(
                self.controller.connection, 'get_entities', autospec=True,
                side_effect=db_exc.DBConnectionError('gone away')):
            error = self.assertRaises(
                controller_base.TransientError,
                self.controller.set_host_down, self.context,
                controller_base.Host(name='c0'), True)

        self.assertIn('entity store unreachable', str(error))
        self.assertEqual('up', self.stored('host:c0')['state'])
        # Back again: the next call takes.
        self.controller.set_host_down(self.context,
                                      controller_base.Host(name='c0'), True)
        self.assertEqual('down', self.stored('host:c0')['state'])

    def test_store_unreachable_on_write_is_transient(self):
        with mock.patch.object(
                self.controller.connection, 'apply_entity_changes',
                autospec=True,
                side_effect=db_exc.DBConnectionError('gone away')):
            self.assertRaises(controller_base.TransientError,
                              self.controller.set_port_dp_down,
                              self.context, self.port(), True)

        self.assertIsNone(
            self.stored('port:p1')['attributes']['data_plane_status'])
        self.assertEqual([], self.listener.heard)

    def test_a_newer_report_stored_meanwhile_is_kept(self):
        connection = self.controller.connection
        read = connection.get_entities
        later = timeutils.utcnow() + datetime.timedelta(seconds=30)

        def report_then_read(*args, **kwargs):
            found = read(*args, **kwargs)
            if reads.call_count == 1:
                renamed = change(entity_mod.HOST, 'c0', state='up',
                                 attributes={'service_id': 's1'},
                                 timestamp=later, action=entity_mod.UPDATE)
                self.db.apply_entity_changes([renamed])
            return found

        with mock.patch.object(connection, 'get_entities', autospec=True,
                               side_effect=report_then_read) as reads:
            self.controller.set_host_down(
                self.context, controller_base.Host(name='c0'), True)

        self.assertEqual(2, reads.call_count)
        host = self.stored('host:c0')
        self.assertEqual('down', host['state'])
        self.assertEqual({'service_id': 's1', 'forced_down': True},
                         host['attributes'])
        self.assertGreater(host['updated_at'], later)

    def test_an_entity_deleted_meanwhile_stays_deleted(self):
        connection = self.controller.connection
        read = connection.get_entities

        def read_then_delete(*args, **kwargs):
            found = read(*args, **kwargs)
            self.db.apply_entity_changes([change(
                entity_mod.INSTANCE, 'i1', action=entity_mod.DELETE,
                timestamp=timeutils.utcnow())])
            return found

        with mock.patch.object(connection, 'get_entities', autospec=True,
                               side_effect=read_then_delete):
            self.assertRaises(exception.EntityNotFound,
                              self.controller.set_instance_state,
                              self.context, self.instance('i1'), 'error')

        self.assertRaises(exception.EntityNotFound, self.stored,
                          'instance:i1')
        self.assertEqual([], self.listener.heard)
        time.sleep(0.1)
        self.assertEqual([], self.followed)
