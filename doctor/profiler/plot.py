"""One fault's timeline as a picture: SVG written here, PNG with Pillow.

A row per checkpoint: a tick where a single checkpoint fell, a bar from
the first to the last time of one recorded per event or per alarm with a
mark at the median; a missing checkpoint is written as missing. Below,
the components by time cost, as bars.

SVG needs nothing beyond the standard library; PNG needs Pillow (the
``profiler-png`` extra).
"""

import dataclasses
from xml.sax import saxutils

from doctor.profiler import timeline as timeline_mod

WIDTH = 900
ROW = 22
LEFT = 230
RIGHT = 40
TOP = 50


class PlotError(Exception):
    """The picture cannot be written as asked."""


COLOURS = {
    'monitor': '#7f7f7f', 'inspector': '#1f77b4', 'controller': '#ff7f0e',
    'bus': '#9467bd', 'evaluator': '#2ca02c', 'notifier': '#8c564b',
    'consumer': '#d62728',
}


@dataclasses.dataclass
class _Shape:
    kind: str  # 'rect', 'line' or 'text'
    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    colour: str = '#000000'
    text: str = ''


def _layout(timeline: timeline_mod.Timeline) -> tuple[int, list[_Shape]]:
    """The picture as shapes, and its height."""
    shapes: list[_Shape] = []
    end = max((times.last for times in timeline.points
               if times.last is not None), default=0.0) or 1.0
    span = WIDTH - LEFT - RIGHT
    scale = span / end

    def x(ms: float) -> float:
        return LEFT + ms * scale

    title = 'fault %s  host %s  %d alarms' % (
        timeline.fault_id, timeline.host or '-', timeline.alarms)
    total = timeline.total_ms
    title += ('  total %.1f ms' % total if total is not None
              else '  total unknown (missing %s)'
              % ', '.join(timeline.missing))
    shapes.append(_Shape('text', 10, 20, text=title))
    axis_y = TOP - 8
    shapes.append(_Shape('line', LEFT, axis_y, span, 0))
    for step in range(5):
        ms = end * step / 4
        shapes.append(_Shape('line', x(ms), axis_y - 4, 0, 8))
        shapes.append(_Shape('text', x(ms) - 10, axis_y - 8,
                             text='%.0f ms' % ms))
    y = TOP
    for times in timeline.points:
        point = times.point
        label = '%d %s' % (point.number, point.name)
        if times.count > 1:
            label += ' x%d' % times.count
        if not times.on_path:
            label += ' (parallel)'
        shapes.append(_Shape('text', 10, y + 15, text=label))
        colour = COLOURS.get(timeline_mod.SEGMENT_COMPONENTS.get(
            point.number, point.component), '#000000')
        if times.missing:
            shapes.append(_Shape('text', LEFT, y + 15, colour='#d62728',
                                 text='MISSING'))
        else:
            assert times.first is not None and times.last is not None
            first, last = x(times.first), x(times.last)
            shapes.append(_Shape('rect', first - 1, y + 4,
                                 max(last - first, 0) + 2, ROW - 8,
                                 colour))
            if times.count > 1 and times.median is not None:
                shapes.append(_Shape('line', x(times.median), y + 1, 0,
                                     ROW - 2))
        y += ROW
    y += 20
    measured = timeline.measured_ms()
    for component, ms, _segments in timeline.components():
        share = 100.0 * ms / measured if measured > 0 else 0.0
        shapes.append(_Shape('text', 10, y + 15,
                             text='%s %.1f ms (%.1f%%)'
                             % (component, ms, share)))
        shapes.append(_Shape('rect', LEFT, y + 4,
                             max(span * share / 100.0, 1.0), ROW - 8,
                             COLOURS.get(component, '#000000')))
        y += ROW
    return y + 10, shapes


def svg(timeline: timeline_mod.Timeline) -> str:
    """The picture as an SVG document."""
    height, shapes = _layout(timeline)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
           % (WIDTH, height, WIDTH, height),
           '<rect width="100%" height="100%" fill="#ffffff"/>']
    for shape in shapes:
        if shape.kind == 'rect':
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" '
                       'fill="%s"/>' % (shape.x, shape.y, shape.w,
                                        shape.h, shape.colour))
        elif shape.kind == 'line':
            out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                       'stroke="%s"/>' % (shape.x, shape.y,
                                          shape.x + shape.w,
                                          shape.y + shape.h, shape.colour))
        else:
            out.append('<text x="%.1f" y="%.1f" fill="%s">%s</text>'
                       % (shape.x, shape.y, shape.colour,
                          saxutils.escape(shape.text)))
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def png(timeline: timeline_mod.Timeline) -> bytes:
    """The picture as PNG bytes.

    :raises PlotError: if Pillow is not installed.
    """
    try:
        from PIL import Image
        from PIL import ImageDraw
        from PIL import ImageFont
    except ImportError as e:
        raise PlotError('a PNG picture needs Pillow (pip install '
                        '"doctor[profiler-png]"); an SVG one needs '
                        'nothing: name the file .svg') from e
    import io

    height, shapes = _layout(timeline)
    image = Image.new('RGB', (WIDTH, height), '#ffffff')
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=12)
    for shape in shapes:
        if shape.kind == 'rect':
            draw.rectangle((shape.x, shape.y, shape.x + shape.w,
                            shape.y + shape.h), fill=shape.colour)
        elif shape.kind == 'line':
            draw.line((shape.x, shape.y, shape.x + shape.w,
                       shape.y + shape.h), fill=shape.colour)
        else:
            draw.text((shape.x, shape.y - 12), shape.text,
                      fill=shape.colour, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def write(timeline: timeline_mod.Timeline, path: str) -> None:
    """Write the picture to ``path``: PNG or SVG by its extension.

    :raises PlotError: for another extension, or PNG without Pillow.
    """
    lowered = path.lower()
    if lowered.endswith('.svg'):
        with open(path, 'w', encoding='utf-8') as out:
            out.write(svg(timeline))
    elif lowered.endswith('.png'):
        data = png(timeline)
        with open(path, 'wb') as out:
            out.write(data)
    else:
        raise PlotError('%s: the file must end in .png or .svg' % path)
