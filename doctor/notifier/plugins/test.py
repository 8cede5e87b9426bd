"""The ``test:`` notifier: keeps fired alarms in memory, for tests."""

import threading

from doctor.notifier.plugins import base


class TestAlarmNotifier(base.AlarmNotifier):
    """Records every delivery in ``notifications`` (admin-only scheme).

    Each entry is ``(action_url, body, request_id)``. Meant for functional
    tests and benchmarks running the notifier in their own process.
    """

    notifications: list[tuple[str, dict, str]] = []
    _lock = threading.Lock()
    delivered = threading.Condition(_lock)

    def notify(self, action, body, request_id):
        with self.delivered:
            self.notifications.append((action.geturl(), body, request_id))
            self.delivered.notify_all()

    @classmethod
    def reset(cls) -> None:
        with cls.delivered:
            del cls.notifications[:]
