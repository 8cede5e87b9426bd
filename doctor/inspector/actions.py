"""Running the inspector's controller calls: one item, or a batch.

A call that fails for a transient reason (:class:`~doctor.inspector.
controllers.base.TransientError`) is tried again with an exponential
backoff, up to ``[inspector] action_retries`` times; any other failure is
final. Each item's action ends in an :class:`Outcome` whose record is what
the fault's ``actions`` show. A batch call stands for one call per item: an
item that failed for a transient reason is tried again on its own, on the
pool, the others stand as the batch left them.
"""

from collections.abc import Callable
from concurrent import futures
import dataclasses
import datetime
import time
import typing

from oslo_log import log

from doctor.common import exception
from doctor.inspector.controllers import base

LOG = log.getLogger(__name__)


def iso_time(wall: float) -> str:
    """A wall-clock time as ISO 8601, in UTC."""
    return datetime.datetime.fromtimestamp(
        wall, datetime.timezone.utc).isoformat()


@dataclasses.dataclass(slots=True)
class Outcome:
    """How one action ended."""

    record: dict
    ended: float  # wall clock
    ok: bool


class Actions:
    """Runs controller calls with the retries of ``[inspector]``.

    :param pool: where an item of a batch is tried again on its own.
    """

    def __init__(self, conf, pool: futures.Executor) -> None:
        self._conf = conf
        self._pool = pool

    def act(self, name: str, target: str, controller: base.Controller,
            call: Callable[[], None], tried: int = 0) -> Outcome:
        """Run one controller call, retrying transient failures.

        :param tried: attempts already made (by a batch) that failed for
            a transient reason: the next waits its backoff first.
        """
        retries = self._conf.inspector.action_retries
        interval = self._conf.inspector.action_retry_interval
        started_wall = time.time()
        started = time.monotonic()
        attempts = tried
        error = None
        while True:
            if attempts:
                time.sleep(interval * 2 ** (attempts - 1))
            attempts += 1
            try:
                call()
                ok = True
                break
            except base.TransientError as e:
                error = str(e) or type(e).__name__
                if attempts > retries:
                    ok = False
                    break
                LOG.warning('%(name)s of %(target)s failed (%(error)s); '
                            'trying again', {'name': name, 'target': target,
                                             'error': error})
            except Exception as e:
                error = self.final_error(name, target, e)
                ok = False
                break
        return self.outcome(name, target, controller, ok, attempts, error,
                            started_wall, started)

    @staticmethod
    def final_error(name: str, target: str, error: Exception) -> str:
        if not isinstance(error, exception.DoctorException):
            LOG.error('%s of %s failed', name, target,
                      exc_info=(type(error), error, error.__traceback__))
        return str(error) or type(error).__name__

    @staticmethod
    def outcome(name: str, target: str, controller: base.Controller,
                ok: bool, attempts: int, error: str | None,
                started_wall: float, started: float) -> Outcome:
        ended = time.time()
        record: dict[str, typing.Any] = {
            'name': name, 'target': target, 'controller': controller.name,
            'result': 'ok' if ok else 'failed',
            'duration_ms': round((time.monotonic() - started) * 1000.0, 3),
            'attempts': attempts, 'started_at': iso_time(started_wall),
        }
        if not ok:
            record['error'] = error
            LOG.error('%(name)s of %(target)s failed after %(attempts)d '
                      'attempt(s): %(error)s',
                      {'name': name, 'target': target, 'attempts': attempts,
                       'error': error})
        return Outcome(record, ended, ok)

    def batch(self, name: str, kind: str, items: list[typing.Any],
              controller: base.Controller,
              call: Callable[[list[typing.Any]], list[BaseException | None]],
              one: Callable[[typing.Any], Callable[[], None]],
              then: Callable[[typing.Any, Outcome], None]) -> None:
        """Run one batch call for ``items``; ``then`` each item's outcome.

        An item whose call failed for a transient reason is tried again
        on its own (``one`` gives its call) on a worker of the pool, with
        the backoff of its next attempt; the others stand as they ended.
        """
        started_wall = time.time()
        started = time.monotonic()
        try:
            results = call(items)
            if len(results) != len(items):
                raise exception.DoctorException(
                    '%s answered %d results for %d items'
                    % (controller.name, len(results), len(items)))
        except Exception as e:
            # The whole batch failed: each item as if it had failed alone.
            results = [e] * len(items)
        for item, result in zip(items, results):
            target = '%s:%s' % (kind, item.id)
            if isinstance(result, base.TransientError) and \
                    self._conf.inspector.action_retries > 0:
                LOG.warning('%(name)s of %(target)s failed (%(error)s); '
                            'trying again', {'name': name, 'target': target,
                                             'error': result})
                try:
                    self._pool.submit(self._retry_one, name, target, item,
                                      controller, one(item), then)
                except RuntimeError:
                    # The pool is shutting down: tried here, in turn.
                    self._retry_one(name, target, item, controller,
                                    one(item), then)
                continue
            if result is None:
                outcome = self.outcome(name, target, controller, True, 1,
                                       None, started_wall, started)
            else:
                error = (str(result) or type(result).__name__
                         if isinstance(result, base.TransientError)
                         else self.final_error(name, target, result))
                outcome = self.outcome(name, target, controller, False, 1,
                                       error, started_wall, started)
            then(item, outcome)

    def _retry_one(self, name: str, target: str, item: typing.Any,
                   controller: base.Controller, call: Callable[[], None],
                   then: Callable[[typing.Any, Outcome], None]) -> None:
        then(item, self.act(name, target, controller, call, tried=1))
