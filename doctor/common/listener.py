"""A notification listener that takes the next batch while one is handled.

oslo.messaging's batch listener acknowledges a batch when its endpoint
returns. A consumer that may acknowledge a notification only once what it
causes is stored must then hold the listener until the store is done, and
the next batch waits for the whole of the previous one: taking it from the
bus, evaluating it and storing it run one after the other.

:class:`PipelinedBatchListener` splits the two. Its polling thread hands
each batch, in the order the bus delivered them, to ``submit``, which
queues the work and returns at once with something to wait on. A second
thread waits on the batches in that same order and acknowledges each (or
sends it back to the bus) once its work is done. Meanwhile the polling
thread has taken the next batches: at most ``depth`` are submitted and
not yet settled, and on RabbitMQ the broker's prefetch bounds them too.

It uses the driver's poll-style listener, which oslo.messaging's own
servers are built on (``Transport._listen_for_notifications``).
"""

from collections.abc import Callable
import queue
import threading

from oslo_log import log
import oslo_messaging as messaging
from oslo_messaging.notify import dispatcher as notify_dispatcher

LOG = log.getLogger(__name__)

# What submit returns: called in the acknowledging thread, it waits for the
# batch's work and says whether to acknowledge it (HANDLED) or send it
# back to the bus (REQUEUE).
Waiter = Callable[[], messaging.NotificationResult]

_DEPTH = 4


def _requeue() -> messaging.NotificationResult:
    return messaging.NotificationResult.REQUEUE


class PipelinedBatchListener:
    """Hands batches to ``submit`` in bus order, acknowledges them later.

    ``submit(notifications)`` gets the notifications of a batch in the
    order they came, each a dict of ``ctxt``, ``publisher_id``,
    ``event_type``, ``payload`` and ``metadata`` (``message_id``,
    ``timestamp``), as an oslo.messaging batch endpoint does, and returns
    a :data:`Waiter`. A notification of an unknown priority is
    acknowledged unseen, as oslo.messaging's dispatcher drops it.

    The methods are those of oslo.messaging's servers that the evaluator
    uses: ``start``, ``stop`` (no batch is taken after it) and ``wait``
    (every batch taken is finished, and acknowledged or sent back).
    """

    def __init__(self, transport: messaging.Transport,
                 targets: list[messaging.Target],
                 submit: Callable[[list[dict]], Waiter],
                 pool: str | None = None, batch_size: int = 1,
                 batch_timeout: float | None = None,
                 priorities: list[str] | None = None,
                 depth: int = _DEPTH) -> None:
        """Listen on ``targets`` at ``priorities`` (default: all)."""
        self._transport = transport
        self._priorities = list(priorities or notify_dispatcher.PRIORITIES)
        self._targets = [(target, priority) for target in targets
                         for priority in self._priorities]
        self._submit = submit
        self._pool = pool
        self._batch_size = batch_size
        self._batch_timeout = batch_timeout
        # Batches submitted and not yet settled, in order; None ends the
        # acknowledging thread.
        self._taken: queue.SimpleQueue[tuple[list, Waiter] | None] = (
            queue.SimpleQueue())
        # At most depth of them: the polling thread waits for room before
        # it submits another.
        self._room = threading.Semaphore(depth)
        self._listener = None
        self._acknowledging: threading.Thread | None = None

    def start(self, override_pool_size: int | None = None) -> None:
        """Start taking batches; ``override_pool_size`` is ignored.

        Batches are submitted one after the other whatever it says.
        """
        self._listener = self._transport._listen_for_notifications(
            self._targets, self._pool, self._batch_size,
            self._batch_timeout)
        self._acknowledging = threading.Thread(
            target=self._acknowledge_loop, name='doctor-acknowledge',
            daemon=True)
        self._acknowledging.start()
        self._listener.start(self._take)

    def stop(self) -> None:
        """Take no more batches; those taken are still finished."""
        if self._listener is not None:
            # Returns once the polling thread has handed over what the
            # driver had taken from the bus already.
            self._listener.stop()

    def wait(self) -> None:
        """Wait until every batch taken is acknowledged or sent back."""
        if self._acknowledging is not None:
            self._taken.put(None)
            self._acknowledging.join()
            self._acknowledging = None
        if self._listener is not None:
            self._listener.cleanup()
            self._listener = None

    # the polling thread

    def _take(self, incoming: list) -> None:
        notifications = []
        kept = []
        for message in incoming:
            body = message.message
            if not isinstance(body, dict):
                LOG.warning('Dropping a notification that is not an '
                            'object: %.200r', body)
                self._settle([message], messaging.NotificationResult.HANDLED)
                continue
            priority = str(body.get('priority', '')).lower()
            if priority not in self._priorities:
                LOG.warning('Dropping a notification of unknown priority '
                            '%.100r', body.get('priority'))
                self._settle([message], messaging.NotificationResult.HANDLED)
                continue
            kept.append(message)
            notifications.append({
                'ctxt': message.ctxt,
                'publisher_id': body.get('publisher_id'),
                'event_type': body.get('event_type'),
                'payload': body.get('payload'),
                'metadata': {'message_id': body.get('message_id'),
                             'timestamp': body.get('timestamp')}})
        if not kept:
            return
        self._room.acquire()
        try:
            waiter = self._submit(notifications)
        except Exception:
            LOG.exception('Taking a batch of %d notifications failed; '
                          'sending it back', len(kept))
            waiter = _requeue
        self._taken.put((kept, waiter))

    # the acknowledging thread

    def _acknowledge_loop(self) -> None:
        while True:
            item = self._taken.get()
            if item is None:
                return
            messages, waiter = item
            try:
                result = waiter()
            except Exception:
                LOG.exception('Handling a batch of %d notifications failed; '
                              'sending it back', len(messages))
                result = messaging.NotificationResult.REQUEUE
            self._settle(messages, result)
            self._room.release()

    @staticmethod
    def _settle(messages: list, result) -> None:
        for message in messages:
            try:
                if result == messaging.NotificationResult.REQUEUE:
                    message.requeue()
                else:
                    message.acknowledge()
            except Exception:
                # The connection went: the broker sends the message again.
                LOG.exception('Acknowledging a notification failed')
