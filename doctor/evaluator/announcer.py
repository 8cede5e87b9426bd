"""Telling the world about state transitions, off the evaluation path.

Each transition is emitted as an ``alarm.state_transition`` notification,
and the new states are passed to the other evaluator replicas so their
indexes follow. Both happen on a thread of their own after the transition
is stored and its webhooks are on their way; the replicas' updates go out
as one message per burst of transitions, not one per transition.
"""

from collections.abc import Callable
import queue
import threading

from oslo_log import log
from oslo_serialization import jsonutils

from doctor.common import context as doctor_context

LOG = log.getLogger(__name__)

_STOP = object()


class Announcer:
    """Emits transition notifications and batched peer state updates."""

    def __init__(self, notifier=None,
                 publish_states: Callable[[dict[str, str], dict[str, str]],
                                          None] | None = None) -> None:
        """Announce through ``notifier`` and ``publish_states``.

        :param notifier: oslo.messaging Notifier, or None to emit nothing.
        :param publish_states: given ``{alarm_id: state}`` and
            ``{alarm_id: ISO 8601 time the transition was stored}`` for a
            burst of transitions, or None when there is nobody to tell.
        """
        self._notifier = notifier
        self._publish_states = publish_states
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run,
                                        name='doctor-announce', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._pending.put(_STOP)
            self._thread.join(timeout=10)
            self._thread = None

    def transitioned(self, alarm, change: dict) -> None:
        """Queue the announcement of one stored transition."""
        self._pending.put((alarm.alarm_id, alarm.project_id, alarm.user_id,
                           change))

    def _run(self) -> None:
        while True:
            item = self._pending.get()
            batch = [item]
            # Take whatever else is already waiting: one peer message for
            # the whole burst.
            while item is not _STOP:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            states = {}
            timestamps = {}
            for entry in batch:
                if entry is _STOP:
                    continue
                alarm_id, project_id, user_id, change = entry
                detail = jsonutils.loads(change['detail'])
                states[alarm_id] = detail['state']
                timestamps[alarm_id] = change['timestamp'].isoformat()
                self._emit(project_id, user_id, change, detail)
            if states and self._publish_states is not None:
                try:
                    self._publish_states(states, timestamps)
                except Exception:
                    LOG.exception('Cannot send %d alarm states to the other '
                                  'evaluators', len(states))
            if batch[-1] is _STOP:
                return

    def _emit(self, project_id, user_id, change: dict, detail: dict) -> None:
        if self._notifier is None:
            return
        payload = dict(change, project_id=project_id, user_id=user_id,
                       detail=detail,
                       timestamp=change['timestamp'].isoformat())
        try:
            self._notifier.info(doctor_context.get_admin_context(),
                                'alarm.state_transition', payload)
        except Exception:
            LOG.exception('Cannot emit alarm.state_transition of %s',
                          change['alarm_id'])
