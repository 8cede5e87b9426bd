"""Client side of the entity follower RPC API: publishing entity changes."""

import oslo_messaging as messaging

from doctor.common import rpc
from doctor.objects import entity as entity_obj

TOPIC = 'doctor-entities'


class EntityFollowerAPI:
    """Tells every follower of the entity store (fanout) what changed.

    API version history:

    * 1.0: ``entities_changed(batch)``
    """

    RPC_API_VERSION = '1.0'

    def __init__(self, conf) -> None:
        self.client = rpc.get_client(
            conf, TOPIC, version_cap=conf.upgrade_levels.synchronizer)

    def entities_changed(self, context, changes: list[dict]) -> None:
        """The store took ``changes`` (records), in this order."""
        self.client.prepare(fanout=True, version='1.0').cast(
            context, 'entities_changed',
            batch=entity_obj.EntityChangeBatch(changes=changes))


def get_target(server: str) -> messaging.Target:
    """The target a follower named ``server`` serves."""
    return messaging.Target(topic=TOPIC, server=server,
                            version=EntityFollowerAPI.RPC_API_VERSION)
