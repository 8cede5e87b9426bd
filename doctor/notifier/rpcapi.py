"""Client side of the notifier RPC API."""

import oslo_messaging as messaging

from doctor.common import rpc
from doctor.objects import firing as firing_obj

TOPIC = 'doctor-notifier'


class NotifierAPI:
    """Hands fired alarms to doctor-notifier.

    API version history:

    * 1.0: ``deliver(firing)`` with AlarmFiring 1.0
    * 1.1: AlarmFiring 1.1 (``fault_id``)
    """

    RPC_API_VERSION = '1.1'
    # The AlarmFiring version each RPC version carries.
    _FIRING_VERSIONS = {'1.0': '1.0', '1.1': '1.1'}

    def __init__(self, conf) -> None:
        self.client = rpc.get_client(conf, TOPIC,
                                     version_cap=conf.upgrade_levels.notifier)

    def deliver(self, context, firing: firing_obj.AlarmFiring) -> None:
        """Cast one firing; any notifier replica may take it."""
        for version in ('1.1', '1.0'):
            if self.client.can_send_version(version):
                break
        primitive = firing.obj_to_primitive(
            target_version=self._FIRING_VERSIONS[version])
        self.client.prepare(version=version).cast(context, 'deliver',
                                                  firing=primitive)


def get_target(conf) -> messaging.Target:
    """The target doctor-notifier serves."""
    return messaging.Target(topic=TOPIC, server=conf.host,
                            version=NotifierAPI.RPC_API_VERSION)
