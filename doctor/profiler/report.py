"""What doctor-profiler prints: one fault's timeline, a summary of many,
and the documents it exports.
"""

import datetime
import math
import typing

from doctor.profiler import checkpoints
from doctor.profiler import timeline as timeline_mod

AXIS = 40


def _ms(value: float | None) -> str:
    return '-' if value is None else '%.1f' % value


def _bar(times: timeline_mod.PointTimes, scale: float) -> str:
    """The checkpoint on the time axis: ``|`` a single time, ``[--*--]``
    the spread of a per-alarm one (first, median, last).
    """
    cells = [' '] * (AXIS + 1)
    if times.missing:
        return ''.join(cells).rstrip()
    assert times.first is not None and times.last is not None
    first = max(0, round(times.first * scale))
    last = max(0, round(times.last * scale))
    if times.count == 1 or first == last:
        cells[first] = '|'
    else:
        for cell in range(first, last + 1):
            cells[cell] = '-'
        cells[first] = '['
        cells[last] = ']'
        median = round((times.median or 0.0) * scale)
        if first < median < last:
            cells[median] = '*'
    return ''.join(cells).rstrip()


def render_show(timeline: timeline_mod.Timeline) -> str:
    """The console view of one fault: the timeline, then the components
    sorted by time cost.
    """
    lines = ['fault %s, host %s, %d alarms'
             % (timeline.fault_id, timeline.host or '-', timeline.alarms)]
    end = max((times.last for times in timeline.points
               if times.last is not None), default=0.0)
    scale = AXIS / end if end > 0 else 0.0
    lines.append('%-2s %-21s %5s %9s %9s %9s  0 ms%s%s'
                 % ('#', 'checkpoint', 'count', 'first', 'median', 'last',
                    ' ' * (AXIS - 8), '%.0f ms' % end))
    for times in timeline.points:
        point = times.point
        if times.missing:
            lines.append('%-2d %-21s %5s %s' % (point.number, point.name,
                                                '-', 'MISSING'))
            continue
        lines.append(('%-2d %-21s %5d %9s %9s %9s  %s'
                      % (point.number, point.name, times.count,
                         _ms(times.first), _ms(times.median),
                         _ms(times.last), _bar(times, scale))).rstrip()
                     + ('' if times.on_path else '  (parallel)'))
    lines.append('')
    lines.append('%-11s %10s %7s  %s'
                 % ('component', 'ms', '%', 'segments'))
    measured = timeline.measured_ms()
    for component, ms, segments in timeline.components():
        share = 100.0 * ms / measured if measured > 0 else 0.0
        lines.append('%-11s %10.1f %7.1f  %s' % (component, ms, share,
                                                 ' '.join(segments)))
    lines.append('')
    total = timeline.total_ms
    if total is not None:
        lines.append('total %.1f ms from hostdown to the last handled '
                     'alarm' % total)
    else:
        unknown = [segment for segment in timeline.segments
                   if segment.ms is None]
        lines.append('total unknown: missing %s; %.1f ms measured over '
                     '%d of %d segments'
                     % (', '.join(timeline.missing), measured,
                        len(timeline.segments) - len(unknown),
                        len(timeline.segments)))
    if timeline.unknown:
        lines.append('ignored: %s' % ', '.join(timeline.unknown))
    return '\n'.join(lines) + '\n'


def as_json(timeline: timeline_mod.Timeline) -> dict:
    """One fault's timeline as JSON: times in ms after hostdown (or after
    the first checkpoint when hostdown is missing).
    """
    measured = timeline.measured_ms()
    return {
        'fault_id': timeline.fault_id,
        'host': timeline.host,
        'origin': (checkpoints.iso(timeline.origin)
                   if timeline.origin is not None else None),
        'total_ms': timeline.total_ms,
        'missing': timeline.missing,
        'checkpoints': [
            {'number': times.point.number, 'name': times.point.name,
             'component': times.point.component, 'count': times.count,
             'first_ms': times.first, 'median_ms': times.median,
             'last_ms': times.last, 'reached_ms': times.reached,
             'on_path': times.on_path, 'missing': times.missing}
            for times in timeline.points],
        'segments': [
            {'from': segment.start, 'to': segment.end,
             'component': segment.component, 'ms': segment.ms}
            for segment in timeline.segments],
        'components': [
            {'component': component, 'ms': ms,
             'percent': 100.0 * ms / measured if measured > 0 else 0.0}
            for component, ms, _segments in timeline.components()],
    }


def export_document(timeline: timeline_mod.Timeline,
                    fault: typing.Mapping) -> dict:
    """The document of one fault for a test results database."""
    document = as_json(timeline)
    created = fault.get('created_at')
    document['created_at'] = (checkpoints.iso(created)
                              if isinstance(created, datetime.datetime)
                              else created)
    document['alarms'] = timeline.alarms
    document['type'] = 'doctor-fault-profile'
    return document


def percentile(values: list[float], rank: float) -> float | None:
    """The ``rank`` percentile (0-100) by nearest rank, None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(1, math.ceil(rank / 100.0 * len(ordered)))
    return ordered[index - 1]


def summary(timelines: list[timeline_mod.Timeline],
            slowest: int = 5) -> dict:
    """p50/p95/p99 of each segment over ``timelines``, and the slowest
    complete faults. Each segment counts only the faults it is known in.
    """
    segments = []
    for position, segment in enumerate(
            timelines[0].segments if timelines else []):
        values: list[float] = []
        for timeline in timelines:
            ms = timeline.segments[position].ms
            if ms is not None:
                values.append(ms)
        segments.append({
            'from': segment.start, 'to': segment.end,
            'component': segment.component, 'faults': len(values),
            'p50_ms': percentile(values, 50),
            'p95_ms': percentile(values, 95),
            'p99_ms': percentile(values, 99),
            'max_ms': max(values) if values else None})
    if not timelines:
        segments = [{'from': a.name, 'to': b.name,
                     'component': timeline_mod.SEGMENT_COMPONENTS[b.number],
                     'faults': 0, 'p50_ms': None, 'p95_ms': None,
                     'p99_ms': None, 'max_ms': None}
                    for a, b in zip(checkpoints.POINTS,
                                    checkpoints.POINTS[1:])]
    totals = [timeline.total_ms for timeline in timelines
              if timeline.total_ms is not None]
    complete = sorted((timeline for timeline in timelines
                       if timeline.total_ms is not None),
                      key=lambda timeline: -(timeline.total_ms or 0.0))
    return {
        'faults': len(timelines),
        'complete': len(totals),
        'total': {'p50_ms': percentile(totals, 50),
                  'p95_ms': percentile(totals, 95),
                  'p99_ms': percentile(totals, 99)},
        'segments': segments,
        'slowest': [{'fault_id': timeline.fault_id, 'host': timeline.host,
                     'total_ms': timeline.total_ms}
                    for timeline in complete[:slowest]],
        'incomplete': [{'fault_id': timeline.fault_id,
                        'missing': timeline.missing}
                       for timeline in timelines
                       if timeline.total_ms is None],
    }


def render_summary(result: dict) -> str:
    """The console view of :func:`summary`."""
    lines = ['%d faults, %d with every checkpoint'
             % (result['faults'], result['complete']), '',
             '%-43s %-10s %6s %9s %9s %9s' % ('segment', 'component',
                                              'faults', 'p50 ms',
                                              'p95 ms', 'p99 ms')]
    for segment in result['segments']:
        lines.append('%-43s %-10s %6d %9s %9s %9s'
                     % ('%s > %s' % (segment['from'], segment['to']),
                        segment['component'], segment['faults'],
                        _ms(segment['p50_ms']), _ms(segment['p95_ms']),
                        _ms(segment['p99_ms'])))
    total = result['total']
    lines.append('%-43s %-10s %6d %9s %9s %9s'
                 % ('total (complete faults)', '', result['complete'],
                    _ms(total['p50_ms']), _ms(total['p95_ms']),
                    _ms(total['p99_ms'])))
    if result['slowest']:
        lines += ['', 'slowest faults:']
        for fault in result['slowest']:
            lines.append('  %s  %-20s %9.1f ms'
                         % (fault['fault_id'], fault['host'] or '-',
                            fault['total_ms']))
    if result['incomplete']:
        lines += ['', 'faults with missing checkpoints:']
        for fault in result['incomplete']:
            lines.append('  %s  missing %s'
                         % (fault['fault_id'], ', '.join(fault['missing'])))
    return '\n'.join(lines) + '\n'
