"""The pipelined batch listener: batches in bus order, acknowledged later."""

import queue
import threading
from unittest import mock

import oslo_messaging as messaging

from doctor.common import listener
from doctor.tests import base

HANDLED = messaging.NotificationResult.HANDLED
REQUEUE = messaging.NotificationResult.REQUEUE


class FakeDriverListener:
    """The driver's poll-style listener: the test plays its polling thread."""

    def __init__(self):
        self.take = None
        self.stopped = False
        self.cleaned_up = False

    def start(self, on_incoming):
        self.take = on_incoming

    def stop(self):
        self.stopped = True

    def cleanup(self):
        self.cleaned_up = True


class Incoming:
    """A message as the driver hands it over."""

    def __init__(self, number, priority='INFO'):
        self.number = number
        self.ctxt = {'request_id': 'req-%d' % number}
        self.message = {'priority': priority, 'publisher_id': 'compute.c0',
                        'event_type': 'compute.instance.update',
                        'payload': {'n': number},
                        'message_id': 'm%d' % number,
                        'timestamp': '2026-12-07 10:00:00.000000'}
        self.settled = queue.SimpleQueue()

    def acknowledge(self):
        self.settled.put('ack')

    def requeue(self):
        self.settled.put('requeue')


class Batch:
    """What submit returned for one batch: the test says when it is done."""

    def __init__(self, notifications):
        self.notifications = notifications
        self.done = threading.Event()
        self.result = HANDLED

    def __call__(self):
        self.done.wait()
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class TestPipelinedBatchListener(base.TestCase):

    def setUp(self):
        super().setUp()
        self.driver = FakeDriverListener()
        self.transport = mock.Mock()
        self.transport._listen_for_notifications.return_value = self.driver
        self.batches = []

        def submit(notifications):
            batch = Batch(notifications)
            self.batches.append(batch)
            return batch
        self.submit = submit

    def start(self, **kwargs):
        server = listener.PipelinedBatchListener(
            self.transport, [messaging.Target(topic='notifications')],
            self.submit, pool='pool', batch_size=10, batch_timeout=0.01,
            **kwargs)
        server.start()
        self.addCleanup(self.finish, server)
        return server

    def finish(self, server):
        for batch in self.batches:
            batch.done.set()
        server.stop()
        server.wait()

    def test_listens_at_every_priority_unless_told(self):
        self.start()
        [(targets, pool, size, timeout)] = [
            call.args for call in
            self.transport._listen_for_notifications.call_args_list]
        self.assertEqual(('pool', 10, 0.01), (pool, size, timeout))
        self.assertEqual(sorted(messaging.notify.dispatcher.PRIORITIES),
                         sorted(priority for _t, priority in targets))
        self.transport.reset_mock()
        self.start(priorities=['info'])
        [call] = self.transport._listen_for_notifications.call_args_list
        self.assertEqual(['info'], [p for _t, p in call.args[0]])

    def test_the_next_batch_is_taken_before_the_first_is_finished(self):
        self.start()
        first = [Incoming(1), Incoming(2)]
        second = [Incoming(3)]
        self.driver.take(first)
        self.driver.take(second)
        # Both submitted, in bus order, with what an endpoint gets.
        self.assertEqual([[1, 2], [3]],
                         [[n['payload']['n'] for n in batch.notifications]
                          for batch in self.batches])
        self.assertEqual(
            {'ctxt': {'request_id': 'req-1'}, 'publisher_id': 'compute.c0',
             'event_type': 'compute.instance.update', 'payload': {'n': 1},
             'metadata': {'message_id': 'm1',
                          'timestamp': '2026-12-07 10:00:00.000000'}},
            self.batches[0].notifications[0])
        # Nothing is acknowledged before its batch is done.
        for message in first + second:
            self.assertTrue(message.settled.empty())
        self.batches[0].done.set()
        self.assertEqual(['ack', 'ack'],
                         [message.settled.get(timeout=10)
                          for message in first])
        self.assertTrue(second[0].settled.empty())
        self.batches[1].done.set()
        self.assertEqual('ack', second[0].settled.get(timeout=10))

    def test_batches_are_settled_in_the_order_taken(self):
        self.start()
        first, second = [Incoming(1)], [Incoming(2)]
        self.driver.take(first)
        self.driver.take(second)
        # The second is done first, but waits for the first.
        self.batches[1].done.set()
        self.assertRaises(queue.Empty, second[0].settled.get, timeout=0.05)
        self.batches[0].done.set()
        self.assertEqual('ack', first[0].settled.get(timeout=10))
        self.assertEqual('ack', second[0].settled.get(timeout=10))

    def test_a_batch_to_requeue_goes_back_whole(self):
        self.start()
        messages = [Incoming(1), Incoming(2)]
        self.driver.take(messages)
        self.batches[0].result = REQUEUE
        self.batches[0].done.set()
        self.assertEqual(['requeue', 'requeue'],
                         [m.settled.get(timeout=10) for m in messages])

    def test_a_failing_wait_requeues_and_the_next_batch_goes_on(self):
        self.start()
        failing, next_ = [Incoming(1)], [Incoming(2)]
        self.driver.take(failing)
        self.driver.take(next_)
        self.batches[0].result = RuntimeError('boom')
        self.batches[0].done.set()
        self.batches[1].done.set()
        self.assertEqual('requeue', failing[0].settled.get(timeout=10))
        self.assertEqual('ack', next_[0].settled.get(timeout=10))

    def test_a_failing_submit_requeues_the_batch(self):
        def submit(notifications):
            raise RuntimeError('boom')
        self.submit = submit
        self.start()
        message = Incoming(1)
        self.driver.take([message])
        self.assertEqual('requeue', message.settled.get(timeout=10))

    def test_unknown_priority_is_acknowledged_unseen(self):
        self.start(priorities=['info'])
        odd, known = Incoming(1, priority='LOUD'), Incoming(2)
        self.driver.take([odd, known])
        self.assertEqual('ack', odd.settled.get(timeout=10))
        [batch] = self.batches
        self.assertEqual([{'n': 2}], [n['payload']
                                      for n in batch.notifications])
        self.driver.take([Incoming(3, priority='LOUD')])
        self.assertEqual(1, len(self.batches))

    def test_a_body_that_is_no_object_is_acknowledged_unseen(self):
        self.start()
        odd, known = Incoming(1), Incoming(2)
        odd.message = ['not', 'an', 'object']
        self.driver.take([odd, known])
        self.assertEqual('ack', odd.settled.get(timeout=10))
        [batch] = self.batches
        self.assertEqual([{'n': 2}], [n['payload']
                                      for n in batch.notifications])

    def test_at_most_depth_batches_wait(self):
        self.start(depth=2)
        self.driver.take([Incoming(1)])
        self.driver.take([Incoming(2)])
        # A third is not submitted before the first is settled.
        taken = threading.Thread(
            target=self.driver.take, args=([Incoming(3)],))
        taken.start()
        taken.join(0.05)
        self.assertTrue(taken.is_alive())
        self.assertEqual(2, len(self.batches))
        self.batches[0].done.set()
        taken.join()
        self.assertEqual(3, len(self.batches))

    def test_wait_finishes_every_batch_taken(self):
        server = self.start()
        messages = [Incoming(1)]
        self.driver.take(messages)
        server.stop()
        self.assertTrue(self.driver.stopped)
        waiting = threading.Thread(target=server.wait)
        waiting.start()
        waiting.join(0.05)
        # Still waiting for the batch; the driver is not cleaned up yet.
        self.assertTrue(waiting.is_alive())
        self.assertFalse(self.driver.cleaned_up)
        self.batches[0].done.set()
        waiting.join()
        self.assertEqual('ack', messages[0].settled.get_nowait())
        self.assertTrue(self.driver.cleaned_up)
