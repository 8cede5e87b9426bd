"""doctor-consumer: sample webhook receiver that logs each alarm."""

from oslo_service import service

from doctor.common import service as doctor_service
from doctor.common import wsgi
from doctor.consumer import app


def main() -> None:
    conf = doctor_service.prepare_service()
    server = wsgi.WSGIService('doctor-consumer', app.Consumer,
                              conf.consumer.host, conf.consumer.port)
    service.launch(conf, server, restart_method='mutate').wait()
