"""doctor-inspector: raw failures in, corrected state out."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.heartbeat import router
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import service as inspector_service


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-inspector',
                     lambda: inspector_mod.check_config(conf))
    # The server-group router of the HA guests lives beside the inspector:
    # see doctor.heartbeat.router.
    services = doctor_service.ServiceGroup(
        [inspector_service.InspectorService(conf),
         router.RouterService(conf)])
    launcher = service.launch(conf, services, restart_method='mutate')
    launcher.wait()
