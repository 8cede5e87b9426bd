"""How the commands show what the API answers.

A shown resource keeps the API's field names as its columns, so that
``-f json`` and ``-f yaml`` read like the API's JSON; lists and objects
within are cliff columns, readable in a table and kept whole in JSON.
"""

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from cliff import columns
from osc_lib.cli import format_columns


class JSONListColumn(columns.FormattableColumn[list[Any]]):
    """A list shown one item a line in a table, kept as it is in JSON."""

    def human_readable(self) -> str:
        return '\n'.join(str(item) for item in self._value or [])

    def machine_readable(self) -> list[Any]:
        return list(self._value or [])


class RecordsColumn(columns.FormattableColumn[list[dict[str, Any]]]):
    """A list of objects, one a line as ``key='value', …`` in a table."""

    def human_readable(self) -> str:
        return '\n'.join(
            ', '.join('%s=%s' % (key, value) for key, value in item.items())
            for item in self._value or [])

    def machine_readable(self) -> list[dict[str, Any]]:
        return [dict(item) for item in self._value or []]


# Formatters by the kind of value, for the resources' fields.
LIST = JSONListColumn
RECORDS = RecordsColumn
DICT = format_columns.DictColumn


def show(item: Mapping[str, Any], fields: Sequence[str],
         formatters: Mapping[str, type[columns.FormattableColumn]]
         | None = None) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """A ShowOne answer: ``fields`` of ``item``, formatted."""
    return tuple(fields), row(item, fields, formatters)


def row(item: Mapping[str, Any], fields: Sequence[str],
        formatters: Mapping[str, type[columns.FormattableColumn]]
        | None = None) -> tuple[Any, ...]:
    """The values of ``fields`` in ``item``, formatted; None if absent."""
    formatters = formatters or {}
    values = []
    for field in fields:
        value = item.get(field)
        formatter = formatters.get(field)
        values.append(formatter(value) if formatter is not None else value)
    return tuple(values)


def heading(field: str) -> str:
    """The column heading of a field in a list: ``alarm_id`` → ``Alarm ID``.
    """
    words = [word.upper() if word in ('id', 'dp') else word.capitalize()
             for word in field.split('_')]
    return ' '.join(words)


def listing(items: Sequence[Mapping[str, Any]], fields: Sequence[str],
            formatters: Mapping[str, type[columns.FormattableColumn]]
            | None = None) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """A Lister answer: headings of ``fields`` and one row per item."""
    return (tuple(heading(field) for field in fields),
            [row(item, fields, formatters) for item in items])
