"""Notification rules: which events an alarm watches and what they must say.

A rule is compiled once, when the alarm enters the index, into a matcher of
the event type and a tuple of query predicates, so that evaluating an event
costs a regex match and a few comparisons.
"""

from collections.abc import Callable
import fnmatch
import operator
import re
from typing import Any

from oslo_utils import strutils
from oslo_utils import timeutils

from doctor.common import exception
from doctor.common import jsonpath

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    'lt': operator.lt, 'le': operator.le, 'eq': operator.eq,
    'ne': operator.ne, 'ge': operator.ge, 'gt': operator.gt,
}


def _to_bool(value):
    if isinstance(value, bool):
        return value
    return strutils.bool_from_string(value, strict=True)


def _to_datetime(value):
    return timeutils.normalize_time(timeutils.parse_isotime(str(value)))


def _to_string(value):
    return value if isinstance(value, str) else str(value)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    'string': _to_string, 'integer': int, 'float': float,
    'boolean': _to_bool, 'datetime': _to_datetime,
}
_NOTHING = object()


class Query:
    """One ``field op value`` comparison, value already of its type."""

    __slots__ = ('field', 'op', 'value', 'type', '_trait', '_path',
                 '_compare', '_convert')

    def __init__(self, field: str, op: str, value, type_: str) -> None:
        self.field, self.op, self.type = field, op, type_
        self._compare = OPERATORS[op]
        self._convert = CONVERTERS[type_]
        self.value = self._convert(value)
        if field.startswith('traits.'):
            self._trait: str | None = field[len('traits.'):]
            if not self._trait:
                raise jsonpath.PathError('a trait name must follow "traits."')
            self._path: jsonpath.Path | None = None
        else:
            self._trait = None
            path = field[len('payload.'):] if field.startswith(
                'payload.') else field
            self._path = jsonpath.Path(path)

    def __call__(self, event) -> bool:
        if self._trait is not None:
            actual = event.traits.get(self._trait, _NOTHING)
            if actual is _NOTHING:
                return False
        else:
            assert self._path is not None  # set whenever _trait is None
            actual = self._path.get(event.payload)
            if actual is None:
                return False
        try:
            actual = self._convert(actual)
            return self._compare(actual, self.value)
        except (TypeError, ValueError):
            return False

    def key(self) -> tuple:
        return (self.field, self.op, self.value, self.type)


class CompiledRule:
    """An alarm's ``notification_rule``, ready to test events against."""

    __slots__ = ('event_type', '_exact', '_regex', 'queries', 'timeout')

    def __init__(self, event_type: str, queries: tuple[Query, ...],
                 timeout: float | None) -> None:
        self.event_type = event_type
        if any(ch in event_type for ch in '*?['):
            self._exact: str | None = None
            self._regex: re.Pattern[str] | None = re.compile(
                fnmatch.translate(event_type))
        else:
            self._exact = event_type
            self._regex = None
        self.queries = queries
        self.timeout = timeout

    def watches(self, event_type: str) -> bool:
        if self._exact is not None:
            return event_type == self._exact
        assert self._regex is not None  # set whenever _exact is None
        return self._regex.match(event_type) is not None

    def matches(self, event) -> bool:
        for query in self.queries:
            if not query(event):
                return False
        return True

    def describe(self) -> str:
        return ' AND '.join('%s %s %r' % (q.field, q.op, q.value)
                            for q in self.queries) or '(no query)'


# Identical queries are shared between alarms: with 100,000 alarms on a
# handful of distinct conditions this keeps the index small.
_query_cache: dict[tuple, Query] = {}


def compile_rule(rule: dict) -> CompiledRule:
    """Compile a stored or submitted notification rule.

    :raises InvalidField: naming the offending part of the rule.
    """
    if not isinstance(rule, dict):
        raise exception.InvalidField(field='notification_rule',
                                     reason='must be an object')
    event_type = rule.get('event_type')
    if not isinstance(event_type, str) or not event_type:
        raise exception.InvalidField(field='notification_rule.event_type',
                                     reason='must be a non-empty string')
    items = rule.get('query') or []
    if not isinstance(items, list):
        raise exception.InvalidField(field='notification_rule.query',
                                     reason='must be a list')
    queries = []
    for i, item in enumerate(items):
        name = 'notification_rule.query[%d]' % i
        if not isinstance(item, dict):
            raise exception.InvalidField(
                field=name, reason='must be an object with field, op, '
                'value and type')
        field = item.get('field')
        op = item.get('op', 'eq')
        type_ = item.get('type') or 'string'
        if not isinstance(field, str) or not field:
            raise exception.InvalidField(
                field=name + '.field', reason='must be a non-empty string')
        if not isinstance(op, str) or op not in OPERATORS:
            raise exception.InvalidField(
                field=name + '.op', reason='%r is not one of %s'
                % (op, ', '.join(OPERATORS)))
        if not isinstance(type_, str) or type_ not in CONVERTERS:
            raise exception.InvalidField(
                field=name + '.type', reason='%r is not one of %s'
                % (type_, ', '.join(CONVERTERS)))
        if item.get('value') is None:
            raise exception.InvalidField(field=name + '.value',
                                         reason='is required')
        cache_key = (field, op, repr(item.get('value')), type_)
        query = _query_cache.get(cache_key)
        if query is None:
            try:
                query = Query(field, op, item.get('value'), type_)
            except jsonpath.PathError as e:
                raise exception.InvalidField(field=name + '.field',
                                             reason=str(e))
            except (TypeError, ValueError):
                raise exception.InvalidField(
                    field=name + '.value',
                    reason='%r is not a valid %s'
                    % (item.get('value'), type_))
            if len(_query_cache) < 100000:
                _query_cache[cache_key] = query
        queries.append(query)
    timeout = rule.get('timeout')
    if timeout:
        try:
            timeout = float(timeout)
        except (TypeError, ValueError):
            timeout = None
        if timeout is None or not 0 < timeout < float('inf'):
            raise exception.InvalidField(
                field='notification_rule.timeout',
                reason='%r is not a positive number of seconds'
                % rule.get('timeout'))
    return CompiledRule(event_type, tuple(queries), timeout or None)
