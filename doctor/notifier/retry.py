"""When a failed delivery is attempted again, and when it is given up."""

from collections.abc import Callable
import datetime
import random


def backoff(attempts: int, initial: float, maximum: float,
            rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt in a row.

    ``initial`` after the first, doubling with each further one up to
    ``maximum``; a random part of up to half of it is taken off (jitter),
    so that the deliveries that failed together, when a consumer went
    away, do not all come back to it at the same moment.
    """
    exponent = max(0, min(attempts - 1, 64))
    delay = min(maximum, initial * 2.0 ** exponent)
    return delay - delay / 2.0 * rand()


def next_attempt(now: datetime.datetime, created_at: datetime.datetime,
                 attempts: int, horizon: float, initial: float,
                 maximum: float,
                 rand: Callable[[], float] = random.random
                 ) -> datetime.datetime | None:
    """When to attempt a failing delivery again; None to give it up.

    ``created_at`` is when the delivery was owed (its alarm's state
    transition) and ``attempts`` how many attempts failed so far. Past
    ``horizon`` seconds from ``created_at`` the delivery is given up; the
    last attempt is made at the horizon itself.
    """
    end = created_at + datetime.timedelta(seconds=horizon)
    if now >= end:
        return None
    wait = datetime.timedelta(
        seconds=backoff(attempts, initial, maximum, rand))
    return min(now + wait, end)
