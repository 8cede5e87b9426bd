"""ServiceGroup: members started in order, stopped in reverse or together."""

import threading

from oslo_service import service

from doctor.common import service as doctor_service
from doctor.tests import base


class Member(service.ServiceBase):
    """Records its start and stop; its stop may wait for the others'."""

    def __init__(self, name: str, log: list[str],
                 barrier: threading.Barrier | None = None) -> None:
        self.name = name
        self.log = log
        self.barrier = barrier
        self.stopped_with_others = False

    def start(self) -> None:
        self.log.append('start ' + self.name)

    def stop(self) -> None:
        if self.barrier is not None:
            try:
                # Passes only if every member is stopping at once.
                self.barrier.wait(10)
                self.stopped_with_others = True
            except threading.BrokenBarrierError:
                pass
        self.log.append('stop ' + self.name)

    def wait(self) -> None:
        pass

    def reset(self) -> None:
        pass


class TestServiceGroup(base.TestCase):

    def test_stopped_in_reverse_order_on_the_embedded_bus(self):
        log: list[str] = []
        group = doctor_service.ServiceGroup(
            [Member('a', log), Member('b', log)])
        group.start()
        group.stop()
        self.assertEqual(['start a', 'start b', 'stop b', 'stop a'], log)

    def test_stopped_together_on_a_broker(self):
        log: list[str] = []
        barrier = threading.Barrier(3)
        members = [Member(name, log, barrier) for name in 'abc']
        group = doctor_service.ServiceGroup(members, together=True)
        group.start()
        group.stop()
        self.assertEqual([True, True, True],
                         [member.stopped_with_others for member in members])
        self.assertEqual(['stop a', 'stop b', 'stop c'],
                         sorted(log[3:]))

    def test_a_member_failing_to_stop_stops_none_of_the_others(self):
        log: list[str] = []

        class Failing(Member):
            def stop(self) -> None:
                raise RuntimeError('no')

        group = doctor_service.ServiceGroup(
            [Member('a', log), Failing('b', log), Member('c', log)],
            together=True)
        group.start()
        group.stop()
        self.assertEqual(['stop a', 'stop c'], sorted(log[3:]))
