"""doctor-compute-agent: the host's end of the HA guest channels."""

from oslo_service import service

from doctor import cmd
from doctor.common import service as doctor_service
from doctor.heartbeat import agent


def main(argv: list[str] | None = None) -> None:
    conf = doctor_service.prepare_service(argv)
    cmd.check_config('doctor-compute-agent',
                     lambda: agent.check_config(conf))
    launcher = service.launch(conf, agent.ComputeAgentService(conf),
                              restart_method='mutate')
    launcher.wait()
