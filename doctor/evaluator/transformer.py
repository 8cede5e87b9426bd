"""From raw notifications to events with typed traits.

The event definitions file maps notification types (shell-style patterns)
to traits, each read from one or more paths into the notification; the
first path that yields a value wins. Every event also gets the traits that
the evaluator needs to find alarms: ``resource_id`` and, where the source
says, ``project_id``.

.. code-block:: yaml

    - event_type: compute.instance.*
      traits:
        resource_id:
          fields: payload.instance_id
        state:
          fields: payload.state
        launched_at:
          type: datetime
          fields: payload.launched_at
"""

from collections.abc import Callable
import dataclasses
import datetime
import fnmatch
import re
from typing import Any

from oslo_log import log
from oslo_utils import timeutils
import yaml

from doctor.common import config_files
from doctor.common import exception
from doctor.common import jsonpath

LOG = log.getLogger(__name__)

# Trait types, numbered as Aodh numbers them in webhook bodies.
TRAIT_TYPES = {'text': 1, 'int': 2, 'float': 3, 'datetime': 4}


def _to_text(value):
    return value if isinstance(value, str) else str(value)


def _to_datetime(value):
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value)
        try:
            # The forms oslo.messaging and Nova write; several times faster
            # than the general ISO 8601 parser, which takes the rest.
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            parsed = timeutils.parse_isotime(text)
    if parsed.tzinfo is not None:
        parsed = timeutils.normalize_time(parsed)
    return parsed


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    'text': _to_text, 'int': int, 'float': float, 'datetime': _to_datetime,
}


@dataclasses.dataclass(slots=True)
class Event:
    """A notification after transformation."""

    event_type: str
    message_id: str
    generated: datetime.datetime
    traits: dict[str, Any]
    trait_types: dict[str, str]
    payload: Any
    publisher_id: str | None = None

    @property
    def resource_id(self) -> str | None:
        return self.traits.get('resource_id')

    @property
    def project_id(self) -> str | None:
        return self.traits.get('project_id')

    def as_dict(self) -> dict:
        """The event as Aodh puts it in ``reason_data``."""
        return {
            'message_id': self.message_id,
            'event_type': self.event_type,
            'generated': self.generated.isoformat(),
            'traits': [[name, TRAIT_TYPES[self.trait_types[name]],
                        value.isoformat()
                        if isinstance(value, datetime.datetime) else value]
                       for name, value in self.traits.items()],
            'raw': {},
        }


class TraitDefinition:
    """One trait of an event definition."""

    __slots__ = ('name', 'type', 'paths', '_convert')

    def __init__(self, name: str, definition) -> None:
        if isinstance(definition, str):
            definition = {'fields': definition}
        if not isinstance(definition, dict):
            raise exception.EventDefinitionError(
                reason='trait %s must be a mapping with "fields"' % name)
        unknown = set(definition) - {'fields', 'type'}
        if unknown:
            raise exception.EventDefinitionError(
                reason='trait %s has unknown keys: %s'
                % (name, ', '.join(sorted(unknown))))
        self.name = name
        self.type = definition.get('type', 'text')
        if self.type not in _CONVERTERS:
            raise exception.EventDefinitionError(
                reason='trait %s has type %r; expected one of %s'
                % (name, self.type, ', '.join(sorted(_CONVERTERS))))
        self._convert = _CONVERTERS[self.type]
        fields = definition.get('fields')
        if isinstance(fields, str):
            fields = [fields]
        if not fields or not isinstance(fields, list):
            raise exception.EventDefinitionError(
                reason='trait %s needs "fields": a path or a list of paths'
                % name)
        try:
            self.paths = tuple(jsonpath.Path(field) for field in fields)
        except jsonpath.PathError as e:
            raise exception.EventDefinitionError(
                reason='trait %s: %s' % (name, e))

    def extract(self, body: dict):
        for path in self.paths:
            value = path.get(body)
            if value is None:
                continue
            try:
                return self._convert(value)
            except (TypeError, ValueError):
                LOG.debug('Trait %s: cannot convert %r to %s',
                          self.name, value, self.type)
                return None
        return None


class EventDefinition:
    """Which notifications one entry covers and the traits it reads."""

    __slots__ = ('patterns', '_regex', 'traits')

    def __init__(self, definition) -> None:
        if not isinstance(definition, dict):
            raise exception.EventDefinitionError(
                reason='each definition must be a mapping')
        unknown = set(definition) - {'event_type', 'traits'}
        if unknown:
            raise exception.EventDefinitionError(
                reason='unknown keys: %s'
                % ', '.join(sorted(map(str, unknown))))
        patterns = definition.get('event_type')
        if isinstance(patterns, str):
            patterns = [patterns]
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise exception.EventDefinitionError(
                reason='"event_type" must be a pattern or a list of them')
        self.patterns = patterns
        self._regex = re.compile('|'.join(fnmatch.translate(p)
                                          for p in patterns))
        traits = definition.get('traits') or {}
        if not isinstance(traits, dict):
            raise exception.EventDefinitionError(
                reason='"traits" must be a mapping')
        self.traits = tuple(TraitDefinition(name, trait)
                            for name, trait in traits.items())

    def matches(self, event_type: str) -> bool:
        return self._regex.match(event_type) is not None


# The definition found for an event type is remembered for names up to
# CACHED_NAME_MAX characters, CACHE_CHARS characters of names in all (a few
# MiB at most); other names are matched against the definitions each time.
CACHED_NAME_MAX = 255
CACHE_CHARS = 1 << 20


class Transformer:
    """Turns raw notifications into :class:`Event` objects."""

    def __init__(self, definitions: list[EventDefinition]) -> None:
        self._definitions = definitions
        self._cache: dict[str, EventDefinition | None] = {}
        # Characters of event type names held by the cache: notifications
        # come from outside, and their names may be long and endless.
        self._cached_chars = 0

    @classmethod
    def from_file(cls, path: str) -> 'Transformer':
        """The transformer of an event definitions file.

        :raises EventDefinitionError: on one line, naming the file and,
            for a bad definition, its index, line and event type.
        """
        try:
            with open(path) as f:
                loader = yaml.SafeLoader(f)
                try:
                    node = loader.get_single_node()
                    raw = (loader.construct_document(node)
                           if node is not None else None)
                finally:
                    loader.dispose()
        except OSError as e:
            raise exception.EventDefinitionError(
                reason='cannot read %s: %s' % (path, e))
        except yaml.YAMLError as e:
            raise exception.EventDefinitionError(
                reason='cannot read %s: %s' % (path, _yaml_error(e)))
        if not isinstance(raw, list):
            raise exception.EventDefinitionError(
                reason='%s must hold a list of definitions' % path)
        assert isinstance(node, yaml.SequenceNode)
        definitions = []
        for index, entry in enumerate(raw):
            try:
                definitions.append(EventDefinition(entry))
            except exception.EventDefinitionError as e:
                raise exception.EventDefinitionError(
                    reason='%s: entry at index %d (line %d, %s): %s'
                    % (path, index, node.value[index].start_mark.line + 1,
                       _describe_event_type(entry),
                       e.kwargs.get('reason', e))) from e
        return cls(definitions)

    def _definition_for(self, event_type: str) -> EventDefinition | None:
        try:
            return self._cache[event_type]
        except KeyError:
            pass
        found = None
        for definition in self._definitions:
            if definition.matches(event_type):
                found = definition
                break
        size = len(event_type)
        if (size <= CACHED_NAME_MAX
                and self._cached_chars + size <= CACHE_CHARS):
            self._cache[event_type] = found
            self._cached_chars += size
        return found

    def transform(self, publisher_id: str | None, event_type: str,
                  payload, metadata: dict | None,
                  ctxt: dict | None = None) -> Event | None:
        """The event of a notification, or None if no definition covers it.

        :raises ValueError: if the notification is malformed.
        """
        if not isinstance(event_type, str) or not event_type:
            raise ValueError('notification has no event_type')
        definition = self._definition_for(event_type)
        if definition is None:
            return None
        metadata = metadata if isinstance(metadata, dict) else {}
        body = {'payload': payload, 'publisher_id': publisher_id,
                'event_type': event_type, 'ctxt': ctxt or {},
                'metadata': metadata}
        traits: dict[str, Any] = {}
        trait_types: dict[str, str] = {}
        for trait in definition.traits:
            value = trait.extract(body)
            if value is not None:
                traits[trait.name] = value
                trait_types[trait.name] = trait.type
        generated = metadata.get('timestamp')
        try:
            generated = (_to_datetime(generated) if generated
                         else timeutils.utcnow())
        except (TypeError, ValueError):
            generated = timeutils.utcnow()
        return Event(event_type=event_type,
                     message_id=str(metadata.get('message_id') or ''),
                     generated=generated, traits=traits,
                     trait_types=trait_types, payload=payload,
                     publisher_id=publisher_id)


def _yaml_error(error: yaml.YAMLError) -> str:
    """A YAML error on one line: where it is and what is wrong."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return ' '.join(str(error).split())
    mark = error.problem_mark or error.context_mark
    what = '; '.join(part for part in (error.context, error.problem)
                     if part)
    if mark is None:
        return what
    return 'line %d, column %d: %s' % (mark.line + 1, mark.column + 1,
                                       what)


def _describe_event_type(entry: Any) -> str:
    """The event type of a definitions file entry, as an error names it."""
    if not isinstance(entry, dict) or entry.get('event_type') is None:
        return 'no event_type'
    return 'event_type %r' % (entry['event_type'],)


def find_definitions_file(conf) -> str:
    """Where ``[evaluator] event_definitions_file`` is, as a full path.

    A relative name is looked up beside the configuration files, in the
    installed ``etc/doctor`` and in the source tree, in that order.
    """
    return config_files.find(conf, conf.evaluator.event_definitions_file,
                             'event definitions file')
