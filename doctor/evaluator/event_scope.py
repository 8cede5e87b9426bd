"""Which event types name a project, as the event definitions say.

The evaluator shows an event that names no project only to the alarms
allowed infrastructure events (``alarm:infrastructure_events``); an event
names a project when the definition that covers its type reads a
``project_id`` trait. An alarm of a caller without that right, watching
only event types whose definitions read no project, could never fire:
:func:`infrastructure_only` tells the API so, which refuses it.

Event types are shell-style patterns on both sides (the alarm's
``event_type`` and each definition's), so the question is whether two
patterns match a common event type, answered exactly for ``*``, ``?`` and
``[...]``.
"""

from collections.abc import Iterable
from collections.abc import Sequence
import fnmatch
import functools
import os
import threading

from oslo_log import log
import yaml

from doctor.common import exception
from doctor.evaluator import transformer as transformer_mod

LOG = log.getLogger(__name__)

PROJECT_TRAIT = 'project_id'

_STAR = '*'


def _tokens(pattern: str) -> tuple[str, ...]:
    """``pattern`` cut into ``*``, ``?``, ``[...]`` and literal characters,
    as :mod:`fnmatch` reads it (an unclosed ``[`` is a literal).
    """
    tokens = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == '[':
            j = i + 1
            if j < n and pattern[j] == '!':
                j += 1
            if j < n and pattern[j] == ']':
                j += 1
            while j < n and pattern[j] != ']':
                j += 1
            if j < n:
                tokens.append(pattern[i:j + 1])
                i = j + 1
                continue
        if char == '*':
            # Consecutive stars are one.
            if not tokens or tokens[-1] != _STAR:
                tokens.append(_STAR)
        else:
            tokens.append(char)
        i += 1
    return tuple(tokens)


def _accepts(token: str, char: str) -> bool:
    """Whether one token matches the one character ``char``."""
    if token in (_STAR, '?'):
        return True
    if len(token) == 1:
        return token == char
    return fnmatch.fnmatchcase(char, token)


def _share_a_character(first: str, second: str) -> bool:
    """Whether some character matches both tokens.

    Each token matches a union of character ranges; where two such sets
    meet, the lowest character of their meeting is the lowest character
    of all, or a character written in either token, or the one after it.
    """
    candidates = {'\x00'}
    for char in first + second:
        candidates.add(char)
        if ord(char) < 0x10FFFF:
            candidates.add(chr(ord(char) + 1))
    return any(_accepts(first, char) and _accepts(second, char)
               for char in candidates)


def overlap(first: str, second: str) -> bool:
    """Whether some event type matches both shell-style patterns."""
    a, b = _tokens(first), _tokens(second)

    @functools.lru_cache(maxsize=None)
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        # A star may match nothing.
        if i < len(a) and a[i] == _STAR and meet(i + 1, j):
            return True
        if j < len(b) and b[j] == _STAR and meet(i, j + 1):
            return True
        if i == len(a) or j == len(b):
            return False
        star_a, star_b = a[i] == _STAR, b[j] == _STAR
        if star_a and star_b:
            # One character for both stars leads back here: nothing new.
            return False
        if not _share_a_character(a[i], b[j]):
            return False
        return meet(i if star_a else i + 1, j if star_b else j + 1)

    return meet(0, 0)


class DefinitionScope:
    """The patterns of one event definition, and whether it names a
    project.
    """

    __slots__ = ('patterns', 'names_project')

    def __init__(self, patterns: Sequence[str], names_project: bool) -> None:
        self.patterns = tuple(patterns)
        self.names_project = names_project


def scopes(definitions: Iterable[transformer_mod.EventDefinition]
           ) -> list[DefinitionScope]:
    """What :func:`infrastructure_only` needs of event definitions."""
    return [DefinitionScope(definition.patterns,
                            any(trait.name == PROJECT_TRAIT
                                for trait in definition.traits))
            for definition in definitions]


def infrastructure_only(event_type: str,
                        definitions: Sequence[DefinitionScope]) -> bool:
    """Whether every event ``event_type`` can match names no project.

    True when the pattern meets at least one definition that reads no
    project and none that reads one. A pattern that can match both kinds
    (``*``, ``*.host.*``) is not infrastructure only: it fires on the
    events of its project. One that meets no definition at all is not
    either; it is no infrastructure event type that the definitions know.
    """
    meets_project = meets_infrastructure = False
    for definition in definitions:
        if any(overlap(event_type, pattern)
               for pattern in definition.patterns):
            if definition.names_project:
                meets_project = True
            else:
                meets_infrastructure = True
    return meets_infrastructure and not meets_project


class DefinitionsFile:
    """The scopes of ``[evaluator] event_definitions_file``, read again
    when the file changes.

    A file that cannot be read gives no scopes (nothing is infrastructure
    only), with the reason logged once per change of the file: the
    evaluator, which needs the file, says what is wrong with it at start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._scopes: list[DefinitionScope] = []

    def scopes(self, conf) -> list[DefinitionScope]:
        try:
            path = transformer_mod.find_definitions_file(conf)
            stat = os.stat(path)
            key: tuple = (path, stat.st_mtime_ns, stat.st_size)
        except (exception.ConfigInvalid, OSError) as e:
            key = ('error', str(e))
            path = None
        with self._lock:
            if key == self._key:
                return self._scopes
            self._key = key
            self._scopes = []
            if path is None:
                LOG.warning('Cannot tell which event types name no project: '
                            '%s', key[1])
                return self._scopes
            try:
                with open(path) as f:
                    raw = yaml.safe_load(f)
                self._scopes = scopes(transformer_mod.EventDefinition(entry)
                                      for entry in raw or [])
            except (OSError, yaml.YAMLError, TypeError,
                    exception.EventDefinitionError) as e:
                LOG.warning('Cannot tell which event types name no project '
                            'from %s: %s', path, ' '.join(str(e).split()))
            return self._scopes


_FILE = DefinitionsFile()


def definition_scopes(conf) -> list[DefinitionScope]:
    """The scopes of the configured event definitions file."""
    return _FILE.scopes(conf)
