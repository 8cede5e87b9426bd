"""Functions a service runs at fixed intervals."""

from oslo_log import log
from oslo_service import loopingcall

LOG = log.getLogger(__name__)


class PeriodicTasks:
    """Runs functions on oslo.service looping calls until stopped.

    A run that raises is logged; the next one goes ahead as planned.
    """

    def __init__(self) -> None:
        self._timers: list[loopingcall.FixedIntervalLoopingCall] = []

    def add(self, interval: float, function,
            initial_delay: bool = False) -> None:
        """Run ``function`` every ``interval`` seconds.

        The first run is now, or after one interval with ``initial_delay``.
        """
        def run():
            try:
                function()
            except Exception:
                LOG.exception('Periodic task %s failed',
                              getattr(function, '__name__', function))
        timer = loopingcall.FixedIntervalLoopingCall(run)
        timer.start(interval=interval,
                    initial_delay=interval if initial_delay else None)
        self._timers.append(timer)

    def stop(self) -> None:
        """Stop every task and wait for a run under way to finish."""
        for timer in self._timers:
            timer.stop()
        for timer in self._timers:
            timer.wait()
        self._timers = []
