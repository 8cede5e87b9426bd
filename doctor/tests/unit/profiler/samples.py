"""A fault of three alarms, every checkpoint recorded, for the tests."""

import datetime

T0 = datetime.datetime(2026, 12, 7, 12, 0, 0, tzinfo=datetime.timezone.utc)


def at(ms: float) -> str:
    return (T0 + datetime.timedelta(milliseconds=ms)).isoformat()


SINGLE = [('hostdown', 0), ('raw_failure_received', 1.5),
          ('found_affected', 1.8), ('marked_host_down', 12),
          ('set_vm_error', 20), ('notified_vm_error', 21)]
PER_ALARM = [('transformed_event', 22), ('evaluated_event', 23),
             ('fired_alarm', 30), ('received_alarm', 33),
             ('handled_alarm', 33.5)]


def fault(fault_id: str = 'f-1', without: tuple[str, ...] = (),
          slower: float = 0.0, alarms: int = 3) -> dict:
    """A fault whose checkpoints but ``without`` are recorded; ``slower``
    ms more between the fired and the received alarms.
    """
    entries = [{'name': name, 'component': 'x', 'timestamp': at(ms)}
               for name, ms in SINGLE if name not in without]
    for alarm in range(alarms):
        for name, ms in PER_ALARM:
            if name in without:
                continue
            if name in ('received_alarm', 'handled_alarm'):
                ms += slower
            entries.append({'name': name, 'component': 'x',
                            'timestamp': at(ms + alarm),
                            'alarm_id': 'a-%d' % alarm})
    return {'id': fault_id, 'host': 'compute-0',
            'created_at': at(0), 'checkpoints': entries}
