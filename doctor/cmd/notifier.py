"""doctor-notifier: delivers fired alarms handed over by evaluators."""

from oslo_service import service

from doctor.common import service as doctor_service
from doctor.notifier import service as notifier_service


def main() -> None:
    conf = doctor_service.prepare_service()
    launcher = service.launch(
        conf, notifier_service.NotifierService(conf),
        restart_method='mutate')
    launcher.wait()
