"""A datasource whose snapshots and notifications a test controls."""

import threading

import oslo_messaging as messaging

from doctor.synchronizer import entity as entity_mod
from doctor.synchronizer.datasources import base


class ScriptedDatasource(base.Datasource):
    """Answers snapshots with ``entities``, or raises ``error``.

    ``hold`` (an Event), when set on the object, makes snapshots wait for
    it; notifications of type ``test.entity`` carry one entity each. With
    ``interval`` None it takes no snapshot at all.
    """

    types = (entity_mod.INSTANCE,)

    def __init__(self, conf, name: str = 'scripted',
                 interval: float | None = 0.05,
                 timeout: float = 5.0, topic: str | None = None) -> None:
        super().__init__(conf, name)
        self.entities: list[entity_mod.Entity] = []
        self.error: Exception | None = None
        self.hold: threading.Event | None = None
        self.snapshots = 0
        self.forgotten = 0
        self._interval = interval
        self._timeout = timeout
        self._topic = topic

    @property
    def is_collector(self) -> bool:
        return self._interval is not None

    @property
    def snapshot_interval(self) -> float:
        assert self._interval is not None
        return self._interval

    @property
    def snapshot_timeout(self) -> float:
        return self._timeout

    def snapshot(self):
        self.snapshots += 1
        if self.hold is not None:
            self.hold.wait(30)
        if self.error is not None:
            raise self.error
        return list(self.entities)

    def forget(self) -> None:
        self.forgotten += 1

    def notification_targets(self):
        if self._topic is None:
            return []
        return [messaging.Target(topic=self._topic)]

    def changes_from_notification(self, event_type, payload, metadata):
        if event_type != 'test.entity':
            return []
        entity_id = base.required(payload, 'id', event_type)
        entity = entity_mod.Entity(entity_mod.INSTANCE, entity_id,
                                   state=payload.get('state'))
        action = payload.get('action', entity_mod.UPDATE)
        return [self.change(action, entity,
                            base.notification_time(metadata))]
