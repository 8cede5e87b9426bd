"""The notifications the inspector and the ``local`` controller emit.

Each is shaped as the service it stands for would send it, so that an
alarm written for Nova or Neutron fires alike for doctor's own:

* ``compute.instance.update``: Nova's legacy instance notification
  (``instance_id``, ``tenant_id``, ``user_id``, ``display_name``,
  ``host``, ``state``, ``old_state``, ``state_description``), with the
  fault's correlation id as ``doctor_fault_id``;
* ``port.data_plane_status.update``: ``port_id``, ``project_id``,
  ``host``, ``device_id``, ``data_plane_status`` and its previous value,
  ``fault_id``;
* ``doctor.host.down`` and ``doctor.host.up``: ``host``, ``state``,
  ``fault_id``.

The fault id also travels in the context (``doctor_fault_id``).
"""

from collections.abc import Callable
from concurrent import futures
import threading

from oslo_utils import timeutils

from doctor.common import context as doctor_context
from doctor.common import rpc
from doctor.inspector.controllers import base

INSTANCE_UPDATE = 'compute.instance.update'
PORT_DP_UPDATE = 'port.data_plane_status.update'
HOST_DOWN = 'doctor.host.down'
HOST_UP = 'doctor.host.up'

#: Notifications of one batch sent at once: on RabbitMQ each waits for the
#: broker's confirmation, a round trip the others need not wait behind. On
#: the in-process bus there is no round trip to overlap, and threads would
#: only contend for the interpreter: one after the other there.
SENDERS = 4


class Announcer:
    """Emits the inspector's notifications on the bus."""

    def __init__(self, conf) -> None:
        self._notifiers: dict[str, object] = {}
        self._conf = conf
        self._senders: futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._concurrent = conf is None or not rpc.is_in_process(conf)

    def emit_all(self, emits: list[Callable[[], None]]
                 ) -> list[Exception | None]:
        """Call each of ``emits`` (notifications of different resources).

        They are sent concurrently, on up to :data:`SENDERS` threads
        (one after the other on the in-process bus), and all are done
        when this returns. Returns, in their order, what each raised or
        None.
        """
        if len(emits) < 2 or not self._concurrent:
            return [_error_of(emit) for emit in emits]
        with self._lock:
            if self._senders is None:
                self._senders = futures.ThreadPoolExecutor(
                    max_workers=SENDERS,
                    thread_name_prefix='doctor-announce')
            senders = self._senders
        return list(senders.map(_error_of, emits))

    def close(self) -> None:
        """Stop the sending threads (after what they are sending)."""
        with self._lock:
            senders, self._senders = self._senders, None
        if senders is not None:
            senders.shutdown()

    def _notifier(self, publisher_id: str):
        notifier = self._notifiers.get(publisher_id)
        if notifier is None:
            notifier = rpc.get_notifier(self._conf, publisher_id)
            self._notifiers[publisher_id] = notifier
        return notifier

    def instance_update(self, instance: base.Instance, state: str,
                        fault_id: str | None = None) -> None:
        """Say that ``instance`` went to ``state``, as Nova would."""
        context = doctor_context.RequestContext(
            project_id=instance.project_id, user_id=instance.user_id,
            fault_id=fault_id, overwrite=False)
        payload = {
            'instance_id': instance.id,
            'tenant_id': instance.project_id,
            'user_id': instance.user_id,
            'display_name': instance.name,
            'host': instance.host,
            'state': state,
            'old_state': instance.state,
            'state_description': '',
            'audit_period_ending': timeutils.utcnow().isoformat(),
            'doctor_fault_id': fault_id,
        }
        self._notifier('compute.%s' % instance.host).info(
            context, INSTANCE_UPDATE, payload)

    def port_dp_update(self, port: base.Port, status: str,
                       fault_id: str | None = None) -> None:
        """Say that ``port``'s data-plane status went to ``status``."""
        context = doctor_context.RequestContext(
            project_id=port.project_id, fault_id=fault_id, overwrite=False)
        payload = {
            'port_id': port.id,
            'project_id': port.project_id,
            'host': port.host,
            'device_id': port.device_id,
            'data_plane_status': status,
            'old_data_plane_status': port.data_plane_status,
            'fault_id': fault_id,
        }
        self._notifier('doctor-inspector.%s' % self._conf.host).info(
            context, PORT_DP_UPDATE, payload)

    def host_state(self, host: str, down: bool,
                   fault_id: str | None = None) -> None:
        """Say that ``host`` is down (a fault) or up again."""
        context = doctor_context.get_admin_context(fault_id=fault_id)
        payload = {'host': host, 'state': 'down' if down else 'up',
                   'fault_id': fault_id}
        self._notifier('doctor-inspector.%s' % self._conf.host).info(
            context, HOST_DOWN if down else HOST_UP, payload)


def _error_of(emit: Callable[[], None]) -> Exception | None:
    try:
        emit()
    except Exception as e:
        return e
    return None
