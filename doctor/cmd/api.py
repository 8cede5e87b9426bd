"""doctor-api: the REST API service."""

from oslo_service import service

from doctor import cmd
from doctor.api import service as api_service
from doctor.common import service as doctor_service
from doctor.notifier import targets


def main() -> None:
    conf = doctor_service.prepare_service()
    cmd.check_config('doctor-api', lambda: targets.check_config(conf))
    server = api_service.APIService(conf)
    service.launch(conf, server, restart_method='mutate').wait()
