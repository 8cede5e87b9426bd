"""Server side of the evaluator RPC API."""

import oslo_messaging as messaging

from doctor.evaluator import index as index_mod
from doctor.evaluator import rpcapi


class EvaluatorManager:
    """RPC endpoint of doctor-evaluator: applies alarm changes to the index.
    """

    target = messaging.Target(version=rpcapi.EvaluatorAPI.RPC_API_VERSION)

    def __init__(self, index: index_mod.AlarmIndex) -> None:
        self.index = index

    def alarm_changed(self, context, alarm):
        self.index.put(alarm.as_dict())

    def alarm_deleted(self, context, alarm_id):
        self.index.remove(alarm_id)

    def alarm_states_changed(self, context, states, timestamps=None):
        """Follow other evaluators' transitions, discarding stale ones.

        ``timestamps`` (RPC 1.2) gives, by alarm id, when each transition
        was stored (ISO 8601).
        """
        timestamps = timestamps or {}
        for alarm_id, state in states.items():
            self.index.set_state(alarm_id, state, timestamps.get(alarm_id))
