"""Client side of the evaluator RPC API: keeping alarm indexes current."""

import oslo_messaging as messaging

from doctor.common import rpc
from doctor.objects import alarm as alarm_obj

TOPIC = 'doctor-evaluator'


class EvaluatorAPI:
    """Tells every evaluator replica (fanout) that an alarm changed.

    API version history:

    * 1.0: ``alarm_changed(alarm)``, ``alarm_deleted(alarm_id)``
    * 1.1: ``alarm_states_changed(states)``, so that replicas follow the
      transitions of each other
    * 1.2: ``alarm_states_changed(states, timestamps)``: when each
      transition was stored, so that a late announcement is discarded
    """

    RPC_API_VERSION = '1.2'

    def __init__(self, conf) -> None:
        self.client = rpc.get_client(
            conf, TOPIC, version_cap=conf.upgrade_levels.evaluator)

    def alarm_changed(self, context, alarm: alarm_obj.Alarm) -> None:
        """The alarm was created or changed; index the new copy."""
        self.client.prepare(fanout=True, version='1.0').cast(
            context, 'alarm_changed', alarm=alarm)

    def alarm_states_changed(self, context, states: dict[str, str],
                             timestamps: dict[str, str] | None = None
                             ) -> None:
        """Another evaluator moved these alarms (``{alarm_id: state}``).

        ``timestamps`` says when each transition was stored (ISO 8601, by
        alarm id); it is left out for evaluators older than 1.2. Nothing is
        sent while evaluators older than 1.1 run: they learn a state when
        their own compare-and-set on it fails.
        """
        if timestamps is not None and self.client.can_send_version('1.2'):
            self.client.prepare(fanout=True, version='1.2').cast(
                context, 'alarm_states_changed', states=states,
                timestamps=timestamps)
            return
        if not self.client.can_send_version('1.1'):
            return
        self.client.prepare(fanout=True, version='1.1').cast(
            context, 'alarm_states_changed', states=states)

    def alarm_deleted(self, context, alarm_id: str) -> None:
        """The alarm is gone; drop it from the index."""
        self.client.prepare(fanout=True, version='1.0').cast(
            context, 'alarm_deleted', alarm_id=alarm_id)


def get_target(conf) -> messaging.Target:
    """The target doctor-evaluator serves."""
    return messaging.Target(topic=TOPIC, server=conf.host,
                            version=EvaluatorAPI.RPC_API_VERSION)
