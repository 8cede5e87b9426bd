"""doctor-api: the REST API service."""

from oslo_service import service

from doctor.api import service as api_service
from doctor.common import service as doctor_service


def main() -> None:
    conf = doctor_service.prepare_service()
    server = api_service.APIService(conf)
    service.launch(conf, server, restart_method='mutate').wait()
