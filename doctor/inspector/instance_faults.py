"""Faults of one instance: a guest that stopped answering or failed.

A compute agent (:mod:`doctor.heartbeat`) reports an instance whose
guest missed its heartbeats, or failed its health check, as a raw
failure of type ``compute.instance.down`` naming the instance. The
inspector handles it like a host fault with a single affected instance:
the fault is keyed by the subject ``instance:<id>`` (so that reports of
the same guest make one fault, and a report of its recovery closes it),
its only steps set the instance to ``[inspector] instance_fault_state``
and, with ``[inspector] notify_early``, announce it.
"""

import dataclasses

from doctor.inspector import progress
from doctor.inspector.controllers import base

INSTANCE_DOWN_EVENT = 'compute.instance.down'
PREFIX = 'instance:'


def subject(instance_id: str) -> str:
    """The key the fault of ``instance_id`` is recorded under."""
    return PREFIX + instance_id


def is_instance_subject(key: str) -> bool:
    return key.startswith(PREFIX)


def _step(kind: str, name: str, target: str,
          instance: base.Instance) -> dict:
    return {'key': progress.step_key(name, target), 'kind': kind,
            'name': name, 'target': target,
            'entity': dataclasses.asdict(instance)}


def plan(instance: base.Instance, state: str, early: bool,
         reason: str | None) -> progress.Plan:
    """What the fault of ``instance`` is to do.

    :param state: ``[inspector] instance_fault_state``.
    :param early: ``[inspector] notify_early``.
    :param reason: why the guest was reported (missed heartbeats, a
        failed health check), kept with the affected instance.
    """
    left_alone = instance.state in (progress.SKIPPED_STATES | {state})
    affected = [{
        'type': 'instance', 'id': instance.id,
        'project_id': instance.project_id, 'state': instance.state,
        'host': instance.host, 'reason': reason,
        'action': ('none: already %s' % instance.state
                   if left_alone else 'set %s' % state)}]
    if left_alone:
        return progress.Plan(affected, [])
    target = subject(instance.id)
    steps = [_step(base.INSTANCE, 'set_instance_state', target, instance)]
    if early:
        steps.append(_step(progress.ANNOUNCE, 'announce_instance', target,
                           instance))
    return progress.Plan(affected, steps)
