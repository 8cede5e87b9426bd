"""Reading request bodies and query strings, with errors that name fields.

Bodies are checked against JSON Schema (one schema module per resource
under :mod:`doctor.api.schemas`); query parameters are read one by one,
each rejecting a bad value with a 400 that names the parameter.
"""

from collections.abc import Iterable
import re
from typing import Any

import jsonschema
from jsonschema import exceptions as schema_exceptions
from oslo_serialization import jsonutils
from oslo_utils import strutils
import webob

from doctor.common import exception
from doctor.i18n import _
from doctor.notifier import targets

# What no stored string may hold: PostgreSQL refuses NUL in text, and a
# lone surrogate (JSON accepts "\ud800") cannot be encoded to UTF-8 by
# any database driver, nor written to a log.
_UNSTORABLE = re.compile('[\x00\ud800-\udfff]')


def json_body(request: webob.Request) -> Any:
    """The request body, parsed as JSON, every string of it storable.

    :raises Invalid: if the body is empty or not JSON, or if a string in
        it (a key or a value) holds a NUL or a lone surrogate.
    """
    if not request.body:
        raise exception.Invalid(reason=_('the request has no JSON body'))
    try:
        document = jsonutils.loads(request.body)
    except (ValueError, TypeError, RecursionError) as e:
        raise exception.Invalid(
            reason=_('the request body is not valid JSON: %s') % e)
    check_strings(document)
    return document


def _printable(text: str) -> str:
    return _UNSTORABLE.sub(lambda match: '\\u%04x' % ord(match.group()),
                           text)


def check_strings(document: Any) -> None:
    """Refuse a document with a NUL or a lone surrogate in any string.

    :raises InvalidField: naming the first such string's field.
    """
    pending: list[tuple[list[str | int], Any]] = [([], document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise exception.InvalidField(
                    field=field_name(path) or _('the body'),
                    reason=_('must not hold a NUL character or a lone '
                             'surrogate'))
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                if _UNSTORABLE.search(key):
                    raise exception.InvalidField(
                        field=field_name(path + [_printable(key)]),
                        reason=_('a field name must not hold a NUL '
                                 'character or a lone surrogate'))
                pending.append((path + [key], item))
        elif isinstance(value, list):
            for index in range(len(value) - 1, -1, -1):
                pending.append((path + [index], value[index]))


def field_name(path: Iterable[str | int]) -> str:
    """The name of a field from its path: ``rule.query[0].op``."""
    name = ''
    for step in path:
        if isinstance(step, int):
            name += '[%d]' % step
        else:
            name += ('.' if name else '') + step
    return name


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _types(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _schema_error(error: schema_exceptions.ValidationError
                  ) -> exception.DoctorException:
    path = list(error.absolute_path)
    schema: Any = error.schema
    instance: Any = error.instance
    expected: Any = error.validator_value
    if error.validator == 'additionalProperties':
        allowed = schema.get('properties', {})
        unknown = sorted(key for key in instance if key not in allowed)
        names = ', '.join(repr(field_name(path + [key])) for key in unknown)
        return exception.Invalid(reason=_('unknown field(s) %s') % names)
    if error.validator == 'required':
        missing = [key for key in expected if key not in instance]
        return exception.InvalidField(
            field=field_name(path + missing[:1]),
            reason=_('this field is required'))
    if not path:
        return exception.Invalid(
            reason=_('the request body must be a JSON %s')
            % schema.get('type', 'value'))
    if error.validator == 'type':
        reason = _('%(value)s is not of type %(type)s') % {
            'value': _short(instance), 'type': ' or '.join(_types(expected))}
    elif error.validator == 'enum':
        reason = _('%(value)s is not one of %(allowed)s') % {
            'value': _short(instance),
            'allowed': ', '.join(str(v) for v in expected)}
    elif error.validator == 'pattern':
        reason = schema.get('description') or error.message
    else:
        reason = error.message
    # The value quoted may be an action URL with a password.
    return exception.InvalidField(field=field_name(path),
                                  reason=targets.mask_credentials(reason))


def check(validator: jsonschema.protocols.Validator, document: Any) -> None:
    """Check ``document`` against a schema.

    :raises Invalid: naming the first offending field.
    """
    error = schema_exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        raise _schema_error(error)


def make_validator(schema: dict) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator of ``schema``, checked itself first."""
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class QueryParams:
    """The query string of a request, read parameter by parameter.

    :raises Invalid: at construction, for an unknown or repeated parameter.
    """

    def __init__(self, request: webob.Request,
                 allowed: Iterable[str]) -> None:
        allowed = frozenset(allowed)
        self._values: dict[str, str] = {}
        for name, value in request.GET.items():
            if name not in allowed:
                raise exception.Invalid(
                    reason=_('unknown query parameter %(name)r; known '
                             'parameters: %(allowed)s')
                    % {'name': name, 'allowed': ', '.join(sorted(allowed))})
            if name in self._values:
                raise exception.InvalidField(
                    field=name, reason=_('given more than once'))
            self._values[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def string(self, name: str, default: str | None = None,
               choices: Iterable[str] | None = None) -> str | None:
        """A string parameter, optionally one of ``choices``."""
        value = self._values.get(name)
        if value is None:
            return default
        if not value:
            raise exception.InvalidField(field=name,
                                         reason=_('must not be empty'))
        if choices is not None and value not in choices:
            raise exception.InvalidField(
                field=name, reason=_('%(value)r is not one of %(choices)s')
                % {'value': value, 'choices': ', '.join(choices)})
        return value

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        """A boolean parameter: true/false, yes/no, 1/0, on/off."""
        value = self._values.get(name)
        if value is None:
            return default
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            raise exception.InvalidField(
                field=name, reason=_('%r is not a boolean') % value)

    def integer(self, name: str, default: int, minimum: int,
                maximum: int) -> int:
        """An integer parameter between ``minimum`` and ``maximum``."""
        value = self._values.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise exception.InvalidField(
                field=name, reason=_('%r is not an integer') % value)
        if not minimum <= number <= maximum:
            raise exception.InvalidField(
                field=name, reason=_('must be between %(min)d and %(max)d')
                % {'min': minimum, 'max': maximum})
        return number


def flag_update(resource: str, flag: str) -> dict:
    """The schema of ``{resource: {flag: <boolean>}}``, nothing else.

    The body of the PUTs that set one flag of a resource, such as
    ``{"host": {"host_down_reported": true}}``.
    """
    return {
        'type': 'object',
        'properties': {
            resource: {
                'type': 'object',
                'properties': {flag: {'type': 'boolean'}},
                'required': [flag],
                'additionalProperties': False,
            },
        },
        'required': [resource],
        'additionalProperties': False,
    }
