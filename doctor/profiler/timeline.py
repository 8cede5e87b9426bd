"""A fault's checkpoints as a timeline: points, segments, components.

Each checkpoint is placed at the time the fault was through it: for one
recorded per event or per alarm, when the last of them reached it (its
first, median and last times are kept for the picture). Events of the
fault transformed or evaluated after its last alarm fired (the host's
recovery, say) fired nothing and are left out of that time.

The inspector acts in parallel: the host may be marked down, or the
instances set to error, after the instances' notification went out
(``[inspector] notify_early``) and the alarms fired. A checkpoint reached
after a later one is off the alarms' path: it is shown, but its segment
costs nothing, and the next checkpoint's segment starts from the last
one on the path. The segments then add up to the time from hostdown to
the last handled alarm.

A missing checkpoint is named; the segments on either side of it are
unknown, and no total is given across it.
"""

import dataclasses
import datetime
import statistics
import typing

from doctor.profiler import checkpoints

# The component each segment's time is spent in: the segment ending at
# checkpoint N (from checkpoint N-1).
SEGMENT_COMPONENTS: dict[int, str] = {
    1: 'monitor',
    2: 'inspector',
    3: 'controller',
    4: 'controller',
    5: 'controller',
    6: 'bus',
    7: 'evaluator',
    8: 'evaluator',
    9: 'notifier',
    10: 'consumer',
}
COMPONENTS = ('monitor', 'inspector', 'controller', 'bus', 'evaluator',
              'notifier', 'consumer')


@dataclasses.dataclass
class PointTimes:
    """Where one checkpoint of a fault falls, in ms after the origin."""

    point: checkpoints.Point
    count: int = 0
    first: float | None = None
    median: float | None = None
    last: float | None = None
    # When the fault was through it: ``last``, less the events that fired
    # nothing (see the module's docstring).
    reached: float | None = None
    # Reached before every later checkpoint: on the alarms' path.
    on_path: bool = True

    @property
    def missing(self) -> bool:
        return self.count == 0


@dataclasses.dataclass
class Segment:
    """The time between two consecutive checkpoints; None if unknown."""

    start: str
    end: str
    component: str
    ms: float | None


@dataclasses.dataclass
class Timeline:
    """The timeline of one fault."""

    fault_id: str
    host: str | None
    origin: datetime.datetime | None
    points: list[PointTimes]
    segments: list[Segment]
    unknown: list[str]

    @property
    def missing(self) -> list[str]:
        """The checkpoints nothing was recorded of, in order."""
        return [times.point.name for times in self.points if times.missing]

    @property
    def alarms(self) -> int:
        """How many alarms the fault fired: the most of checkpoints 8 to
        10, recorded once per alarm.
        """
        return max(times.count for times in self.points[8:])

    @property
    def total_ms(self) -> float | None:
        """From the first checkpoint to the last, None across a gap."""
        if self.missing:
            return None
        return max(times.reached or 0.0 for times in self.points
                   if times.on_path)

    def components(self) -> list[tuple[str, float, list[str]]]:
        """(component, ms, its segments) of known segments, costliest
        first.
        """
        cost: dict[str, float] = {}
        names: dict[str, list[str]] = {}
        for segment in self.segments:
            if segment.ms is None:
                continue
            cost[segment.component] = (cost.get(segment.component, 0.0)
                                       + segment.ms)
            names.setdefault(segment.component, []).append(
                '%s>%s' % (checkpoints.BY_NAME[segment.start].number,
                           checkpoints.BY_NAME[segment.end].number))
        order = sorted(cost, key=lambda name: (-cost[name],
                                               COMPONENTS.index(name)))
        return [(name, cost[name], names[name]) for name in order]

    def measured_ms(self) -> float:
        """The sum of the known segments."""
        return sum(segment.ms for segment in self.segments
                   if segment.ms is not None)


def _ms(moment: datetime.datetime, origin: datetime.datetime) -> float:
    return (moment - origin).total_seconds() * 1000.0


def build(fault: typing.Mapping) -> Timeline:
    """The timeline of ``fault``: a dict with ``id``, ``host`` and
    ``checkpoints`` (each with ``name`` and ``timestamp``). Checkpoints of
    unknown names or unreadable times are listed in ``unknown``.
    """
    stamps: dict[str, list[datetime.datetime]] = {
        name: [] for name in checkpoints.NAMES}
    unknown = []
    for entry in fault.get('checkpoints') or ():
        name = entry.get('name')
        try:
            moment = checkpoints.parse_time(entry.get('timestamp'))
        except (TypeError, ValueError):
            unknown.append(str(name))
            continue
        if name not in stamps:
            unknown.append(str(name))
            continue
        stamps[name].append(moment)
    present = [moment for values in stamps.values() for moment in values]
    origin = (min(stamps['hostdown']) if stamps['hostdown']
              else min(present) if present else None)
    points = []
    for point in checkpoints.POINTS:
        times = PointTimes(point)
        values = sorted(stamps[point.name])
        if values and origin is not None:
            offsets = [_ms(value, origin) for value in values]
            times.count = len(offsets)
            times.first = offsets[0]
            times.median = statistics.median(offsets)
            times.last = times.reached = offsets[-1]
        points.append(times)
    fired = points[8].last
    if fired is not None:
        for times in points[6:8]:
            if times.first is not None:
                start = typing.cast(datetime.datetime, origin)
                before_fired = [offset for offset in (
                    _ms(moment, start) for moment in stamps[times.point.name])
                    if offset <= fired]
                times.reached = max(before_fired or [times.first])
    later: float | None = None
    for times in reversed(points):
        if times.reached is None:
            continue
        times.on_path = later is None or times.reached <= later
        if times.on_path:
            later = times.reached
    segments = []
    previous: float | None = None
    for before, after in zip(points, points[1:]):
        if before.on_path and before.reached is not None:
            previous = before.reached
        ms = None
        if not before.missing and not after.missing \
                and previous is not None and after.reached is not None:
            ms = after.reached - previous if after.on_path else 0.0
        segments.append(Segment(before.point.name, after.point.name,
                                SEGMENT_COMPONENTS[after.point.number], ms))
    return Timeline(str(fault.get('id')), fault.get('host'), origin,
                    points, segments, unknown)
