"""The contract of a controller plugin (``doctor.controllers``).

A controller acts on the cloud for the inspector: it forces a compute
host's service down (or up again), sets an instance's state, and sets a
port's data-plane status. A plugin handles some of these three kinds of
action (:attr:`Controller.handles`); ``[inspector] controllers`` lists the
plugins in order of preference and each action goes to the first that
handles its kind.

Calls come from the inspector's bounded pool of workers, many at once: a
controller must be safe to call from several threads. The instances and
the ports of one fault come together, in one call of
:meth:`Controller.set_instance_states` and one of
:meth:`Controller.set_ports_dp_down`, when the plugin overrides them (it
stores them in one transaction, say); a plugin that does not has one call
per item, each on a worker of the pool (:func:`takes_batches`). A call
returns when the action is done (or, for a controller that writes in
batches, when it is accepted and cannot be lost to a single failure),
a batch call when each of its items is. It raises
:class:`TransientError` for a failure worth retrying (the service
unreachable, a 5xx, a timeout), which the inspector retries with a
backoff (the item of a batch alone), and any other exception for a
failure that is final.

The inspector itself emits ``doctor.host.down``/``doctor.host.up`` and
``port.data_plane_status.update`` when a value toggles, and, with
``[inspector] notify_early``, each affected instance's
``compute.instance.update``; a controller emits what the service it
stands for would emit of its own accord.
"""

import abc
from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import typing

NAMESPACE = 'doctor.controllers'

# The kinds of action.
HOST = 'host'
INSTANCE = 'instance'
PORT = 'port'
KINDS = (HOST, INSTANCE, PORT)

# Data-plane status values, as Neutron spells them.
DP_DOWN = 'DOWN'
DP_ACTIVE = 'ACTIVE'


class TransientError(Exception):
    """A controller call that failed but may succeed if tried again."""


@dataclasses.dataclass(frozen=True, slots=True)
class Host:
    """A compute host, as the inspector's cache knows it."""

    name: str
    state: str | None = None
    attributes: dict[str, typing.Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False)

    @property
    def service_id(self) -> str | None:
        """Nova's id of the host's nova-compute service, when known."""
        return self.attributes.get('service_id')


@dataclasses.dataclass(frozen=True, slots=True)
class Instance:
    """An instance on a host, as the inspector's cache knows it."""

    id: str
    host: str
    state: str | None = None
    name: str | None = None
    project_id: str | None = None
    datasource: str | None = None
    attributes: dict[str, typing.Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False)

    @property
    def user_id(self) -> str | None:
        return self.attributes.get('user_id')


@dataclasses.dataclass(frozen=True, slots=True)
class Port:
    """A port bound to a host, as the inspector's cache knows it."""

    id: str
    host: str
    device_id: str | None = None
    project_id: str | None = None
    state: str | None = None
    datasource: str | None = None
    name: str | None = None
    attributes: dict[str, typing.Any] = dataclasses.field(
        default_factory=dict, compare=False, hash=False)

    @property
    def data_plane_status(self) -> str | None:
        return self.attributes.get('data_plane_status')


@dataclasses.dataclass(frozen=True, slots=True)
class ActionContext:
    """What a controller call is part of.

    ``fault_id`` is the correlation id of the fault (None for a port
    changed through the API); ``announced`` is true when the inspector has
    already emitted the instance's notification (``notify_early``), so
    that a controller standing in for Nova need not emit it again.
    """

    fault_id: str | None = None
    request_id: str | None = None
    announced: bool = False


class Controller(metaclass=abc.ABCMeta):
    """Base of controller plugins; ``name`` is the entry point's."""

    #: The kinds of action (HOST, INSTANCE, PORT) this plugin carries out.
    handles: typing.ClassVar[frozenset[str]] = frozenset()

    def __init__(self, conf, name: str) -> None:
        self.conf = conf
        self.name = name

    def start(self) -> None:
        """Open what the controller needs (clients, threads)."""

    def stop(self) -> None:
        """Release what :meth:`start` opened; calls may no longer come."""

    def set_host_down(self, context: ActionContext, host: Host,
                      down: bool) -> None:
        """Force the host's compute service down (``down``) or up again."""
        raise NotImplementedError

    def set_instance_state(self, context: ActionContext, instance: Instance,
                           state: str) -> None:
        """Set the instance to ``state`` (``error`` or ``stopped``)."""
        raise NotImplementedError

    def set_port_dp_down(self, context: ActionContext, port: Port,
                         down: bool) -> None:
        """Set the port's data-plane status DOWN (``down``) or ACTIVE."""
        raise NotImplementedError

    # Batches: the items of one fault in one call.

    def set_instance_states(self, context: ActionContext,
                            instances: Sequence[Instance],
                            state: str) -> list[BaseException | None]:
        """Set each of ``instances`` to ``state``.

        Returns one result per instance, in their order: None when it is
        done, or the exception its own :meth:`set_instance_state` call
        would have raised (a :class:`TransientError` is retried by the
        inspector, for that instance alone). A failure of the whole batch
        may be raised instead: it stands for every instance's.

        This default makes one call per instance, in turn; the inspector
        calls it only for a plugin that overrides it.
        """
        return _each(instances, lambda instance: self.set_instance_state(
            context, instance, state))

    def set_ports_dp_down(self, context: ActionContext,
                          ports: Sequence[Port],
                          down: bool) -> list[BaseException | None]:
        """Set the data-plane status of each of ``ports``, as
        :meth:`set_instance_states` sets instances.
        """
        return _each(ports, lambda port: self.set_port_dp_down(
            context, port, down))


def _each(items: Sequence[typing.Any],
          call: Callable[[typing.Any], None]) -> list[BaseException | None]:
    results: list[BaseException | None] = []
    for item in items:
        try:
            call(item)
        except Exception as e:
            results.append(e)
        else:
            results.append(None)
    return results


def takes_batches(controller: Controller, kind: str) -> bool:
    """Whether ``controller`` takes the items of ``kind`` (INSTANCE or
    PORT) of a fault in one call: its plugin overrides the batch method.
    """
    name = {INSTANCE: 'set_instance_states',
            PORT: 'set_ports_dp_down'}[kind]
    return getattr(type(controller), name) is not getattr(Controller, name)
