"""doctor-consumer: sample webhook receiver that logs each alarm."""

from oslo_service import service

from doctor.common import service as doctor_service
from doctor.common import wsgi
from doctor.consumer import app
from doctor.profiler import reporter


def main() -> None:
    conf = doctor_service.prepare_service()
    consumer = app.Consumer(recorder=reporter.consumer_recorder(conf))
    server = wsgi.WSGIService('doctor-consumer', lambda: consumer,
                              conf.consumer.host, conf.consumer.port)
    service.launch(conf, server, restart_method='mutate').wait()
