"""The inspector's announcer: a batch of notifications sent at once."""

import threading

from doctor.inspector import notifications
from doctor.tests import base


class TestEmitAll(base.TestCase):

    def setUp(self):
        super().setUp()
        # A broker's URL: nothing is sent through it here.
        self.config.config(transport_url='rabbit://doctor@broker.invalid/')
        self.announcer = notifications.Announcer(self.conf)
        self.addCleanup(self.announcer.close)

    def test_each_ones_error_in_order(self):
        sent = []
        boom = RuntimeError('boom')

        def ok(number):
            return lambda: sent.append(number)

        def fail():
            raise boom
        self.assertEqual([None, boom, None],
                         self.announcer.emit_all([ok(1), fail, ok(3)]))
        self.assertEqual([1, 3], sorted(sent))
        self.assertEqual([], self.announcer.emit_all([]))
        self.assertEqual([boom], self.announcer.emit_all([fail]))

    def test_sent_concurrently(self):
        # Each waits until all of them are being sent: one after the
        # other they would never meet.
        meeting = threading.Barrier(notifications.SENDERS, timeout=30)
        errors = self.announcer.emit_all(
            [meeting.wait] * notifications.SENDERS)
        self.assertEqual([None] * notifications.SENDERS, errors)

    def test_close_then_send_again(self):
        sent = []
        self.announcer.emit_all([lambda: sent.append(1)] * 2)
        self.announcer.close()
        self.announcer.emit_all([lambda: sent.append(2)] * 2)
        self.assertEqual([1, 1, 2, 2], sent)

    def test_one_after_the_other_in_the_callers_thread_in_process(self):
        self.config.config(transport_url='inproc:/')
        announcer = notifications.Announcer(self.conf)
        threads = []
        errors = announcer.emit_all(
            [lambda: threads.append(threading.current_thread())] * 3)
        self.assertEqual([None] * 3, errors)
        self.assertEqual([threading.current_thread()] * 3, threads)
