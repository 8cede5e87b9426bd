"""A controller and an announcer whose behaviour a test controls."""

import threading
import time

from doctor.inspector.controllers import base
from doctor.inspector import notifications


class RecordingController(base.Controller):
    """Records every call; ``fail``/``transient``/``delay`` script them.

    ``fail`` maps a target (``host:c0``, ``instance:i1``, ``port:p1``) to
    an exception raised on every call, ``transient`` to how many calls
    raise TransientError first, ``delay`` to seconds a call takes.
    """

    def __init__(self, conf=None, name: str = 'recording',
                 handles=base.KINDS) -> None:
        super().__init__(conf, name)
        self.handles = frozenset(handles)  # type: ignore[misc]
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}
        self.transient: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.started = self.stopped = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def _call(self, target: str, *record) -> None:
        with self._lock:
            self.calls.append((target,) + record)
            left = self.transient.get(target, 0)
            if left:
                self.transient[target] = left - 1
        if target in self.delay:
            time.sleep(self.delay[target])
        if left:
            raise base.TransientError('%s busy' % target)
        if target in self.fail:
            raise self.fail[target]

    def set_host_down(self, context, host, down):
        self._call('host:' + host.name, down, context)

    def set_instance_state(self, context, instance, state):
        self._call('instance:' + instance.id, state, context)

    def set_port_dp_down(self, context, port, down):
        self._call('port:' + port.id, down, context)

    def targets(self) -> list[str]:
        with self._lock:
            return [call[0] for call in self.calls]


class RecordingAnnouncer(notifications.Announcer):
    """Keeps what the inspector would have emitted, in order.

    Batches are sent as the real announcer sends them (``emit_all``).
    """

    def __init__(self) -> None:
        super().__init__(conf=None)
        self.sent: list[tuple] = []

    def instance_update(self, instance, state, fault_id=None):
        with self._lock:
            self.sent.append(('instance', instance.id, state, fault_id))

    def port_dp_update(self, port, status, fault_id=None):
        with self._lock:
            self.sent.append(('port', port.id, status, fault_id))

    def host_state(self, host, down, fault_id=None):
        with self._lock:
            self.sent.append(('host', host, down, fault_id))


class BatchingController(RecordingController):
    """Takes a fault's instances and ports in one call.

    ``batches`` keeps each batch call's targets; ``batch_fail`` scripts a
    failure of a whole batch call by kind (``instance``, ``port``: raised
    once, then forgotten). The items
    of a batch follow ``fail``, ``transient`` and ``delay`` as their own
    calls do, each its own result.
    """

    def __init__(self, conf=None, name: str = 'batching') -> None:
        super().__init__(conf, name)
        self.batches: list[list[str]] = []
        self.batch_fail: dict[str, Exception] = {}

    def _batch(self, targets: list[str], *record) -> list:
        with self._lock:
            self.batches.append(list(targets))
            failure = self.batch_fail.pop(targets[0].partition(':')[0],
                                          None)
        if failure is not None:
            raise failure
        results = []
        for target in targets:
            try:
                self._call(target, *record)
            except Exception as e:
                results.append(e)
            else:
                results.append(None)
        return results

    def set_instance_states(self, context, instances, state):
        return self._batch(['instance:' + instance.id
                            for instance in instances], state, context)

    def set_ports_dp_down(self, context, ports, down):
        return self._batch(['port:' + port.id for port in ports], down,
                           context)
