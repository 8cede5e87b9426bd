"""Compiled paths into notification bodies.

Event definitions and alarm queries name values inside a notification with
dotted paths: ``payload.instance_id``, ``payload.'nova_object.data'.uuid``
(quotes keep a key that contains dots whole) or ``payload.fixed_ips[0]``.
A path is parsed once into a tuple of keys and indexes, so reading it on
each event is a few dict lookups. (A general JSONPath library costs tens of
microseconds per lookup, more than the whole evaluation budget of an event;
event definitions only need this subset.)
"""

import re

_SEGMENT = re.compile(r"""
    \s*(?:
        '(?P<quoted>[^']*)'        # 'key.with.dots'
      | (?P<name>[^.\[\]'\s]+)     # plain key
    )(?P<indexes>(?:\[\d+\])*)\s*
""", re.VERBOSE)
_INDEX = re.compile(r'\[(\d+)\]')

_MISSING = object()


class PathError(ValueError):
    """A path that cannot be parsed."""


class Path:
    """A parsed path; ``get(document)`` returns the value or None."""

    __slots__ = ('text', 'steps')

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise PathError('a path must be a non-empty string')
        self.text = text
        source = text.strip()
        if source.startswith('$.'):
            source = source[2:]
        steps: list[str | int] = []
        position = 0
        while True:
            match = _SEGMENT.match(source, position)
            if not match or match.end() == position:
                raise PathError('cannot parse path %r at position %d'
                                % (text, position))
            key = match.group('quoted')
            if key is None:
                key = match.group('name')
            steps.append(key)
            steps.extend(int(i) for i in _INDEX.findall(
                match.group('indexes')))
            position = match.end()
            if position == len(source):
                break
            if source[position] != '.':
                raise PathError('expected "." in path %r at position %d'
                                % (text, position))
            position += 1
        self.steps = tuple(steps)

    def get(self, document):
        """The value at this path in ``document``, None where it is absent."""
        value = document
        for step in self.steps:
            if isinstance(step, int) and not isinstance(value, list):
                # An index reads a list item, never a character of a string.
                return None
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def __repr__(self) -> str:
        return 'Path(%r)' % self.text
