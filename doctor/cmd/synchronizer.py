"""doctor-synchronizer: datasources and the entity store."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.synchronizer import service as synchronizer_service


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-synchronizer',
                     lambda: synchronizer_service.check_config(conf))
    launcher = service.launch(
        conf, synchronizer_service.SynchronizerService(conf),
        restart_method='mutate')
    launcher.wait()
