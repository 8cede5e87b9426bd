"""What every doctor process does before it starts its services."""

import sys
import threading

from oslo_config import cfg
from oslo_log import log
from oslo_service import backend
from oslo_service import service

from doctor import conf as doctor_conf
from doctor import objects
from doctor import version
from doctor.common import rpc

LOG = log.getLogger(__name__)


def prepare_service(argv: list[str] | None = None,
                    conf: cfg.ConfigOpts | None = None,
                    default_config_files: list[str] | None = None
                    ) -> cfg.ConfigOpts:
    """Select the threading backend, parse config, set up logging.

    Doctor never uses eventlet: the threading backend of oslo.service is
    selected here, before any service object exists.
    """
    backend.init_backend(backend.BackendType.THREADING)
    conf = conf if conf is not None else doctor_conf.CONF
    argv = sys.argv[1:] if argv is None else argv
    doctor_conf.register_opts(conf)
    log.register_options(conf)
    rpc.set_defaults(conf)
    conf(argv, project='doctor', version=version.version_info.
         version_string(), default_config_files=default_config_files)
    log.setup(conf, 'doctor')
    objects.register_all()
    return conf


class ServiceGroup(service.Service):
    """Several services run as one: started in order, stopped in reverse.

    ``doctor-all`` uses it to run every service in one process. On the
    embedded in-process bus the members stop one after the other, the
    last started first, so that what one hands the next before it stops
    is still taken. On a broker (``together``) they stop all at once: a
    listener on RabbitMQ takes up to 5 s to notice it is stopped, which,
    one after the other, made a stop last 20 s; and nothing is lost, since
    what one member hands another waits on the broker (a batch the
    evaluator had not finished is requeued) or in the database.
    """

    def __init__(self, services: list[service.ServiceBase],
                 together: bool = False) -> None:
        super().__init__()
        self.services = list(services)
        self.together = together
        self._started: list[service.ServiceBase] = []

    def start(self) -> None:
        super().start()
        for member in self.services:
            member.start()
            self._started.append(member)

    def stop(self, graceful: bool = False) -> None:
        members, self._started = self._started[::-1], []
        if self.together:
            stoppers = [threading.Thread(
                target=self._stop_member, args=(member,),
                name='doctor-stop-%s' % type(member).__name__)
                for member in members]
            for stopper in stoppers:
                stopper.start()
            for stopper in stoppers:
                stopper.join()
        else:
            for member in members:
                self._stop_member(member)
        super().stop(graceful)

    @staticmethod
    def _stop_member(member: service.ServiceBase) -> None:
        try:
            member.stop()
        except Exception:
            LOG.exception('Stopping %s failed', type(member).__name__)
