"""doctor-monitor: the sample host monitor."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.monitor import monitor as monitor_mod


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-monitor',
                     lambda: monitor_mod.check_config(conf))
    launcher = service.launch(conf, monitor_mod.MonitorService(conf),
                              restart_method='mutate')
    launcher.wait()
