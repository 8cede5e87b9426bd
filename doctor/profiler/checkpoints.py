"""The checkpoints of a fault, in the order the fault crosses them.

Each is recorded with a wall-clock timestamp and the fault's id; the ones
after the evaluator's transformation are recorded once per event or per
alarm, so a fault of 50 instances with an alarm each has 50 of each.
"""

import dataclasses
import datetime
import json
import typing


@dataclasses.dataclass(frozen=True)
class Point:
    """A checkpoint: its number, name and the component that records it."""

    number: int
    name: str
    component: str
    per_alarm: bool = False


POINTS: tuple[Point, ...] = (
    Point(0, 'hostdown', 'monitor'),
    Point(1, 'raw_failure_received', 'inspector'),
    Point(2, 'found_affected', 'inspector'),
    Point(3, 'marked_host_down', 'inspector'),
    Point(4, 'set_vm_error', 'inspector'),
    Point(5, 'notified_vm_error', 'inspector'),
    Point(6, 'transformed_event', 'evaluator', per_alarm=True),
    Point(7, 'evaluated_event', 'evaluator', per_alarm=True),
    Point(8, 'fired_alarm', 'evaluator', per_alarm=True),
    Point(9, 'received_alarm', 'consumer', per_alarm=True),
    Point(10, 'handled_alarm', 'consumer', per_alarm=True),
)
BY_NAME: dict[str, Point] = {point.name: point for point in POINTS}
NAMES: tuple[str, ...] = tuple(point.name for point in POINTS)

# What a consumer reports of each alarm it received.
CONSUMER_NAMES = ('received_alarm', 'handled_alarm')

# The prefix of the one log line each recorded checkpoint is written as.
LOG_MARKER = 'doctor-checkpoint'


def number(name: str) -> int | None:
    """The number of the checkpoint ``name``, None for an unknown name."""
    point = BY_NAME.get(name)
    return point.number if point is not None else None


def iso(timestamp: datetime.datetime) -> str:
    """``timestamp`` as ISO 8601 UTC with microseconds (naive is UTC)."""
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=datetime.timezone.utc)
    return timestamp.astimezone(datetime.timezone.utc).isoformat(
        timespec='microseconds')


def parse_time(value: typing.Any) -> datetime.datetime:
    """An ISO 8601 time as an aware UTC datetime (naive taken as UTC).

    :raises ValueError: if ``value`` is not such a time.
    """
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value)
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def log_line(fault_id: str, name: str, component: str,
             timestamp: datetime.datetime | str,
             alarm_id: str | None = None, host: str | None = None) -> str:
    """The one parseable log line of a checkpoint: the marker, then JSON.

    ``doctor-profiler --log-file`` finds it anywhere in a line, whatever
    the logging format puts before it.
    """
    if not isinstance(timestamp, str):
        timestamp = iso(timestamp)
    record = {'fault_id': fault_id, 'name': name, 'component': component,
              'timestamp': timestamp}
    if alarm_id is not None:
        record['alarm_id'] = alarm_id
    if host is not None:
        record['host'] = host
    return '%s %s' % (LOG_MARKER, json.dumps(record, sort_keys=True))
