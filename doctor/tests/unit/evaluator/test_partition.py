"""Tests of the partitioned evaluator: assignment, intake, hand-over."""

from concurrent import futures
import queue
import threading
from unittest import mock
import zlib

import oslo_messaging as messaging
from oslo_serialization import jsonutils
import testtools

from doctor.evaluator import evaluator
from doctor.evaluator import partition
from doctor.evaluator import service
from doctor.tests.unit.evaluator import fixture
from doctor.tests.unit.evaluator import samples

HANDLED = messaging.NotificationResult.HANDLED
REQUEUE = messaging.NotificationResult.REQUEUE


def nova_update(instance_id: str, state: str, message_id: str) -> dict:
    """A raw notification as the listener hands it to an endpoint."""
    return {'ctxt': {}, 'publisher_id': 'compute.compute-0',
            'event_type': 'compute.instance.update',
            'payload': samples.nova_legacy_update(instance_id=instance_id,
                                                  state=state),
            'metadata': {'message_id': message_id,
                         'timestamp': '2024-05-01 10:00:01.000000'}}


class TestAssignment(testtools.TestCase):

    MEMBERS = ['host-a-1', 'host-a-2', 'host-b-1', 'host-b-2']

    def test_every_partition_has_one_owner_all_agree(self):
        owners = partition.assign(self.MEMBERS, 32)
        self.assertEqual(set(range(32)), set(owners))
        self.assertEqual(owners,
                         partition.assign(reversed(self.MEMBERS), 32))
        shares = [partition.owned(self.MEMBERS, member, 32)
                  for member in self.MEMBERS]
        self.assertEqual(32, sum(len(share) for share in shares))
        self.assertEqual(set(range(32)), set().union(*shares))

    def test_a_member_leaving_moves_only_its_partitions(self):
        before = partition.assign(self.MEMBERS, 32)
        after = partition.assign(self.MEMBERS[1:], 32)
        moved = {number for number in before
                 if before[number] != after[number]}
        self.assertEqual(partition.owned(self.MEMBERS, self.MEMBERS[0], 32),
                         moved)

    def test_no_member_owns_nothing(self):
        self.assertEqual({}, partition.assign([], 8))

    def test_a_partitions_resources_spread_over_every_thread(self):
        # A process owning partition 3 of 32 still uses all its evaluator
        # threads: the two hashes are independent.
        keys = ['instance-%d' % number for number in range(20000)]
        threads = {zlib.crc32(key.encode()) % 4 for key in keys
                   if partition.partition_of(key, 32) == 3}
        self.assertEqual({0, 1, 2, 3}, threads)
        self.assertEqual(partition.partition_of('instance-7', 32),
                         partition.partition_of('instance-7', 32))


class TestIntake(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.forwarded = []
        self.intake = partition.IntakeEndpoint(
            self.transformer, self.forward, 8)
        self.failing = None

    def forward(self, number, notifications):
        if number == self.failing:
            raise messaging.MessageDeliveryFailure('broker gone')
        self.forwarded.append(
            (number, [item['metadata']['message_id']
                      for item in notifications]))

    def test_each_resource_keeps_its_order_within_its_partition(self):
        messages = [nova_update('vm-%d' % (number % 5),
                                'error' if number % 2 else 'active',
                                'm%d' % number)
                    for number in range(40)]
        self.assertEqual(HANDLED, self.intake.submit(messages)())
        by_partition = dict(self.forwarded)
        # One message per partition of the batch.
        self.assertEqual(len(by_partition), len(self.forwarded))
        for resource in range(5):
            number = partition.partition_of('vm-%d' % resource, 8)
            ids = ['m%d' % n for n in range(40) if n % 5 == resource]
            sent = [message_id for message_id in by_partition[number]
                    if message_id in ids]
            self.assertEqual(ids, sent)
        self.assertEqual(40, sum(len(ids) for _n, ids in self.forwarded))

    def test_a_failed_forward_requeues_the_batch(self):
        messages = [nova_update('vm-%d' % number, 'error', 'm%d' % number)
                    for number in range(20)]
        broken = []
        intake = partition.IntakeEndpoint(
            self.transformer, self.forward, 8,
            on_broken=lambda: broken.append(True))
        self.failing = partition.partition_of('vm-0', 8)
        self.assertEqual(REQUEUE, intake.submit(messages)())
        self.assertTrue(intake.broken)
        self.assertEqual([True], broken)
        # Broken, it sends nothing more until it starts again: the broker
        # is to deliver the batch again before any later one.
        self.failing = None
        self.forwarded = []
        self.assertEqual(REQUEUE, intake.submit(messages)())
        self.assertEqual([], self.forwarded)
        self.assertEqual([True], broken)
        intake.reset()
        self.assertFalse(intake.broken)
        # Acknowledged only when every forward returned.
        self.assertEqual(HANDLED, intake.submit(messages)())
        self.assertEqual(20, sum(len(ids) for _n, ids in self.forwarded))

    def test_concurrent_parts_all_confirmed_before_the_ack(self):
        executor = futures.ThreadPoolExecutor(max_workers=4)
        self.addCleanup(executor.shutdown)
        held = threading.Event()
        release = threading.Event()
        slow = partition.partition_of('vm-0', 8)

        def forward(number, notifications):
            if number == slow:
                held.set()
                release.wait(30)
            self.forward(number, notifications)
        intake = partition.IntakeEndpoint(self.transformer, forward, 8,
                                          executor)
        messages = [nova_update('vm-%d' % number, 'error', 'm%d' % number)
                    for number in range(20)]
        results = []
        caller = threading.Thread(
            target=lambda: results.append(intake.submit(messages)()))
        caller.start()
        self.assertTrue(held.wait(30))
        # Every other part is confirmed; the batch still waits for one.
        caller.join(0.05)
        self.assertEqual([], results)
        release.set()
        caller.join(30)
        self.assertEqual([HANDLED], results)
        self.assertEqual(20, sum(len(ids) for _n, ids in self.forwarded))
        self.failing = slow
        self.assertEqual(REQUEUE, intake.submit(messages)())

    def hold_m1(self, threads: int = 4):
        """An intake on ``threads`` whose forwards to m1's partition wait.

        m1 is submitted and its forward held until ``self.release`` is
        set; returns the intake, m1's waiter, m1's resource, a resource
        of another partition, and m1's partition.
        """
        self.held = queue.SimpleQueue()
        self.release = threading.Event()
        self.broken = []
        first = 'vm-0'
        gated = partition.partition_of(first, 8)
        other = next('vm-%d' % n for n in range(1, 50)
                     if partition.partition_of('vm-%d' % n, 8) != gated)
        executor = futures.ThreadPoolExecutor(max_workers=threads)
        self.addCleanup(executor.shutdown)
        self.addCleanup(self.release.set)

        def forward(number, notifications):
            if number == gated:
                self.held.put(notifications[0]['metadata']['message_id'])
                self.assertTrue(self.release.wait(30))
            self.forward(number, notifications)
        intake = partition.IntakeEndpoint(
            self.transformer, forward, 8, executor,
            on_broken=lambda: self.broken.append(True))
        wait_1 = intake.submit([nova_update(first, 'error', 'm1')])
        self.assertEqual('m1', self.held.get(timeout=30))
        return intake, wait_1, first, other, gated

    def test_a_partition_gets_the_next_batch_only_after_the_last(self):
        intake, wait_1, first, other, gated = self.hold_m1()
        # The next batch is taken while the first is on its way; its part
        # for another partition goes at once, its part for the same
        # partition waits for the first's.
        wait_2 = intake.submit([nova_update(first, 'active', 'm2'),
                                nova_update(other, 'error', 'm3')])
        done = threading.Event()
        threading.Thread(target=lambda: (wait_2(), done.set())).start()
        self._wait_for(lambda: ['m3'] in [ids for _n, ids
                                          in self.forwarded])
        self.assertFalse(done.is_set())
        self.assertEqual([], [ids for n, ids in self.forwarded
                              if n == gated])
        self.release.set()
        self.assertEqual(HANDLED, wait_1())
        self.assertEqual(HANDLED, wait_2())
        self.assertEqual([['m1'], ['m2']], [ids for n, ids in self.forwarded
                                            if n == gated])

    def test_parts_waiting_behind_a_forward_leave_together_in_order(self):
        intake, wait_1, first, _other, gated = self.hold_m1()
        waits = [wait_1]
        waits += [intake.submit([nova_update(first, state, 'm%d' % n)])
                  for n, state in ((2, 'active'), (3, 'error'),
                                   (4, 'active'))]
        self.release.set()
        self.assertEqual([HANDLED] * 4, [wait() for wait in waits])
        # One message for the three batches that waited, in their order.
        self.assertEqual([['m1'], ['m2', 'm3', 'm4']],
                         [ids for n, ids in self.forwarded if n == gated])

    def test_a_busy_lane_lets_the_other_partitions_go_first(self):
        # One forwarding thread: once m1 is confirmed, its lane has m2
        # waiting, but the other partition's part, queued meanwhile, goes
        # before it.
        intake, wait_1, first, other, _gated = self.hold_m1(threads=1)
        wait_2 = intake.submit([nova_update(first, 'active', 'm2'),
                                nova_update(other, 'error', 'm3')])
        self.release.set()
        self.assertEqual([HANDLED, HANDLED], [wait_1(), wait_2()])
        self.assertEqual([['m1'], ['m3'], ['m2']],
                         [ids for _n, ids in self.forwarded])

    def _wait_for(self, condition):
        for _ in range(3000):
            if condition():
                return
            threading.Event().wait(0.01)
        self.fail('condition never met')

    def test_a_failed_forward_sends_back_every_later_batch(self):
        intake, wait_1, first, other, gated = self.hold_m1()
        # Queued behind m1 in its partition: never sent once m1 fails,
        # although its own forward would succeed.
        wait_2 = intake.submit([nova_update(first, 'active', 'm2')])
        self.failing = gated
        self.release.set()
        self.assertEqual(REQUEUE, wait_1())
        self.failing = None
        self.assertEqual(REQUEUE, wait_2())
        self.assertTrue(self.held.empty())
        self.assertEqual([True], self.broken)
        # Taken after the failure: sent back unsent, whatever partition.
        self.failing = None
        wait_3 = intake.submit([nova_update(other, 'error', 'm3')])
        self.assertEqual(REQUEUE, wait_3())
        self.assertEqual([], self.forwarded)
        self.assertEqual([True], self.broken)

    def test_what_no_alarm_can_watch_is_not_forwarded(self):
        unknown = dict(nova_update('vm-1', 'error', 'm1'),
                       event_type='image.upload')
        self.assertEqual(HANDLED, self.intake.submit([unknown])())
        self.assertEqual([], self.forwarded)

    def test_a_malformed_notification_goes_to_an_evaluator_to_log(self):
        malformed = dict(nova_update('vm-1', 'error', 'm1'), event_type=7)
        self.assertEqual(HANDLED, self.intake.submit([malformed])())
        self.assertEqual([(partition.partition_of('', 8), ['m1'])],
                         self.forwarded)


class TestPartitionEndpoint(fixture.EngineTestCase):

    def setUp(self):
        super().setUp()
        self.config.config(executor_threads=2, group='evaluator')
        self.engine = self.make_engine()
        self.engine.start()
        self.engine.load_index()
        self.endpoint = partition.PartitionEndpoint(self.engine,
                                                    partition.RecentIds())

    def forward(self, *notifications):
        return {'ctxt': {}, 'publisher_id': 'doctor.evaluator.x',
                'event_type': partition.FORWARD_EVENT_TYPE,
                'payload': {'notifications': list(notifications)},
                'metadata': {'message_id': 'f', 'timestamp': ''}}

    def test_forwarded_events_are_evaluated_in_order_and_once(self):
        alarm = self.create_alarm()
        self.engine.load_index()
        flips = [nova_update(samples.INSTANCE_ID, state, 'm%d' % number)
                 for number, state in enumerate(['error', 'active',
                                                 'error'])]
        self.assertEqual(HANDLED,
                         self.endpoint.submit([self.forward(*flips)])())
        details = [jsonutils.loads(change['detail'])
                   for change in self.state_changes(alarm['alarm_id'])]
        changes = [(detail['previous'], detail['state'])
                   for detail in details]
        self.assertEqual([('ok', 'alarm'), ('alarm', 'ok'), ('ok', 'alarm')],
                         changes)
        # The same forward again (an intake that died before its ack):
        # nothing moves.
        self.assertEqual(HANDLED,
                         self.endpoint.submit([self.forward(*flips)])())
        self.assertEqual(3, len(self.state_changes(alarm['alarm_id'])))
        self.assertEqual('alarm', self.state_of(alarm['alarm_id']))

    def test_pool_batch_redelivered_after_a_lost_ack_replays_nothing(self):
        # The one-process evaluator's endpoint on the pool queue: a batch
        # whose acknowledgement was lost with the connection comes again.
        alarm = self.create_alarm()
        self.engine.load_index()
        endpoint = service.NotificationEndpoint(self.engine)
        flips = [nova_update(samples.INSTANCE_ID, state, 'm%d' % number)
                 for number, state in enumerate(['error', 'active'])]
        self.assertEqual(HANDLED, endpoint.submit(flips)())
        self.assertEqual(HANDLED, endpoint.submit(flips)())
        self.assertEqual(2, len(self.state_changes(alarm['alarm_id'])))
        self.assertEqual('ok', self.state_of(alarm['alarm_id']))

    def test_requeued_when_the_evaluator_stops_first(self):
        engine = mock.create_autospec(evaluator.NotificationEvaluator,
                                      instance=True)
        stopped = evaluator.Ticket()
        stopped.finish(evaluator.Outcome.REQUEUE)
        engine.submit.side_effect = [evaluator.DONE, stopped]
        recent = partition.RecentIds()
        endpoint = partition.PartitionEndpoint(engine, recent)
        result = endpoint.submit([self.forward(
            nova_update('vm-1', 'error', 'm1'),
            nova_update('vm-1', 'active', 'm2'))])()
        self.assertEqual(REQUEUE, result)
        # The one stored is skipped when the batch comes again.
        self.assertIn('m1', recent)
        self.assertNotIn('m2', recent)


class FakeServer:
    def __init__(self, name, log):
        self.name = name
        self.log = log

    def start(self, override_pool_size=None):
        self.log.append(('start', self.name, override_pool_size))

    def stop(self):
        self.log.append(('stop', self.name))

    def wait(self):
        self.log.append(('wait', self.name))


class TestPartitioning(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.log = []
        self.members = frozenset(['a', 'b'])
        self.leader = False
        self.now = 100.0
        self.partitioning = partition.Partitioning(
            16, 1.0, lambda: FakeServer('intake', self.log),
            lambda numbers: FakeServer(tuple(sorted(numbers)), self.log),
            lambda: self.leader, lambda: self.members, 'a',
            clock=lambda: self.now)

    def test_alone_at_start_takes_every_partition_at_once(self):
        self.members = frozenset(['a'])
        self.partitioning.tick(first=True)
        self.assertEqual(frozenset(range(16)), self.partitioning.consuming)
        # On one listener.
        self.assertEqual([('start', tuple(range(16)), 1)], self.log)

    def test_joining_others_waits_for_them_to_hand_over(self):
        # The others see this process join within a heartbeat, and stop
        # consuming its share within the next.
        self.partitioning.tick(first=True)
        self.assertEqual(frozenset(), self.partitioning.consuming)
        self.now += 1.5
        self.partitioning.tick()
        self.assertEqual(frozenset(), self.partitioning.consuming)
        self.assertEqual([], self.log)
        self.now += 0.5
        self.partitioning.tick()
        mine = partition.owned(self.members, 'a', 16)
        self.assertEqual(mine, self.partitioning.consuming)
        self.assertEqual([('start', tuple(sorted(mine)), 1)], self.log)

    def start(self):
        self.partitioning.tick(first=True)
        self.now += 2.0
        self.partitioning.tick()

    def test_hand_over_stops_first_and_gains_after_two_heartbeats(self):
        self.start()
        before = self.partitioning.consuming
        self.members = frozenset(['a', 'b', 'c'])
        after = partition.owned(self.members, 'a', 16)
        self.log.clear()
        self.partitioning.tick()
        lost = before - after
        self.assertTrue(lost)
        # The listener stopped, its batches in flight finished, before it
        # starts again on the partitions kept alone.
        kept = tuple(sorted(after & before))
        self.assertEqual([('stop', tuple(sorted(before))),
                          ('wait', tuple(sorted(before))),
                          ('start', kept, 1)], self.log)
        self.assertEqual(after & before, self.partitioning.consuming)
        self.members = frozenset(['a', 'b'])
        self.log.clear()
        self.partitioning.tick()
        # Regained, but the process that took them may still consume them.
        self.assertEqual([], self.log)
        self.now += 2.0
        self.partitioning.tick()
        self.assertEqual(before, self.partitioning.consuming)
        self.assertEqual([('stop', kept), ('wait', kept),
                          ('start', tuple(sorted(before)), 1)], self.log)

    def test_losing_every_partition_leaves_no_listener(self):
        self.start()
        before = tuple(sorted(self.partitioning.consuming))
        # So many members that this one owns none of the 16.
        self.members = frozenset(['a'] + ['m%d' % n for n in range(200)])
        self.assertEqual(set(), partition.owned(self.members, 'a', 16))
        self.log.clear()
        self.partitioning.tick()
        self.assertEqual(frozenset(), self.partitioning.consuming)
        self.assertEqual([('stop', before), ('wait', before)], self.log)

    def test_the_intake_follows_leadership(self):
        self.partitioning.tick(first=True)
        self.assertFalse(self.partitioning.leading)
        self.leader = True
        self.partitioning.tick()
        self.assertTrue(self.partitioning.leading)
        self.assertIn(('start', 'intake', 1), self.log)
        self.leader = False
        self.partitioning.tick()
        self.assertFalse(self.partitioning.leading)
        self.assertEqual([('stop', 'intake'), ('wait', 'intake')],
                         self.log[-2:])

    def test_the_intake_stops_when_leadership_is_unknown(self):
        self.leader = True
        self.start()

        def unknown():
            raise ConnectionError('coordination backend unreachable')
        self.partitioning._is_leader = unknown
        self.partitioning.tick()
        self.assertFalse(self.partitioning.leading)
        self.assertEqual([('stop', 'intake'), ('wait', 'intake')],
                         self.log[-2:])

    def test_unknown_members_keep_the_partitions_consumed(self):
        self.start()
        before = self.partitioning.consuming
        self.members = None
        self.partitioning.tick()
        self.assertEqual(before, self.partitioning.consuming)

    def test_stop_stops_everything(self):
        self.leader = True
        self.start()
        self.partitioning.stop()
        self.assertEqual(frozenset(), self.partitioning.consuming)
        self.assertFalse(self.partitioning.leading)
        self.assertIn(('wait', 'intake'), self.log)

    def test_restarting_the_intake_stops_it_before_starting_anew(self):
        self.leader = True
        self.start()
        self.log.clear()
        self.partitioning.restart_intake()
        self.partitioning.tick()
        self.assertEqual([('stop', 'intake'), ('wait', 'intake'),
                          ('start', 'intake', 1)], self.log)
        self.assertTrue(self.partitioning.leading)
        # Once.
        self.log.clear()
        self.partitioning.tick()
        self.assertEqual([], self.log)

    def test_a_restart_asked_when_not_leading_starts_nothing(self):
        self.start()
        self.partitioning.restart_intake()
        self.partitioning.tick()
        self.assertFalse(self.partitioning.leading)
        self.leader = True
        self.log.clear()
        self.partitioning.tick()
        self.assertEqual([('start', 'intake', 1)], self.log)

    def test_a_restart_does_not_wait_for_the_heartbeat(self):
        self.members = frozenset(['a'])
        self.leader = True
        partitioning = partition.Partitioning(
            4, 3600.0, lambda: FakeServer('intake', self.log),
            lambda numbers: FakeServer(tuple(sorted(numbers)), self.log),
            lambda: self.leader, lambda: self.members, 'a')
        partitioning.start()
        self.addCleanup(partitioning.stop)
        self.assertEqual(1, self.log.count(('start', 'intake', 1)))
        partitioning.restart_intake()
        for _ in range(3000):
            if self.log.count(('start', 'intake', 1)) == 2:
                break
            threading.Event().wait(0.01)
        self.assertEqual(2, self.log.count(('start', 'intake', 1)))
        self.assertIn(('stop', 'intake'), self.log)
