"""doctor-evaluator: the notification alarm evaluator."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.evaluator import service as evaluator_service
from doctor.notifier import targets


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-evaluator',
                     lambda: evaluator_service.check_config(conf))
    cmd.check_config('doctor-evaluator',
                     lambda: targets.check_config(conf))
    launcher = service.launch(
        conf, evaluator_service.EvaluatorService(conf),
        workers=conf.evaluator.processes, restart_method='mutate')
    launcher.wait()
