"""doctor-evaluator: the notification alarm evaluator."""

from oslo_service import service

from doctor.common import service as doctor_service
from doctor.evaluator import service as evaluator_service


def main() -> None:
    conf = doctor_service.prepare_service()
    launcher = service.launch(
        conf, evaluator_service.EvaluatorService(conf),
        restart_method='mutate')
    launcher.wait()
