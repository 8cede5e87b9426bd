"""doctor-notifier: delivers fired alarms handed over by evaluators."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.notifier import service as notifier_service
from doctor.notifier import targets


def main() -> None:
    conf = doctor_service.prepare_service()
    cmd.check_config('doctor-notifier', lambda: targets.check_config(conf))
    launcher = service.launch(
        conf, notifier_service.NotifierService(conf),
        workers=conf.notifier.processes, restart_method='mutate')
    launcher.wait()
