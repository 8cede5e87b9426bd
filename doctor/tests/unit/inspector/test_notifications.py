"""The inspector's announcer: a batch of notifications sent at once."""

import threading

from doctor.inspector import notifications
from doctor.tests import base


class TestEmitAll(base.TestCase):

    def setUp(self):
        super().setUp()
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
