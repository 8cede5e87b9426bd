"""doctor-inspector: raw failures in, corrected state out."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import service as inspector_service


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-inspector',
                     lambda: inspector_mod.check_config(conf))
    launcher = service.launch(
        conf, inspector_service.InspectorService(conf),
        restart_method='mutate')
    launcher.wait()
