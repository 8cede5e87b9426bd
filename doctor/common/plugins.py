"""Loading the plugins an option names, through stevedore."""

import typing

import stevedore

from doctor.common import exception


def load_named(conf, namespace: str, names: typing.Iterable[str],
               option: str, kind: str) -> list:
    """The plugins ``names`` of ``namespace``, made with ``(conf, name)``.

    In the order given, each once. ``option`` (``[group] name``) and
    ``kind`` (``datasource``) word the error.

    :raises ConfigInvalid: naming the plugins that no entry point provides
        and the ones there are.
    """
    names = list(dict.fromkeys(names))
    missing: list[str] = []
    manager: stevedore.NamedExtensionManager = (
        stevedore.NamedExtensionManager(
            namespace, names, name_order=True, invoke_on_load=False,
            on_missing_entrypoints_callback=missing.extend))
    if missing:
        available = sorted(stevedore.ExtensionManager(namespace).names())
        raise exception.ConfigInvalid(
            reason='%s: no %s %s (there are: %s)'
                   % (option, kind, ', '.join(sorted(missing)),
                      ', '.join(available)))
    return [extension.plugin(conf, extension.name) for extension in manager]
