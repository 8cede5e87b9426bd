"""What every doctor process does before it starts its services."""

import sys

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

    ``doctor-all`` uses it to run every service in one process, where the
    embedded in-process bus connects them.
    """

    def __init__(self, services: list[service.ServiceBase]) -> None:
        super().__init__()
        self.services = list(services)
        self._started: list[service.ServiceBase] = []

    def start(self) -> None:
        super().start()
        for member in self.services:
            member.start()
            self._started.append(member)

    def stop(self, graceful: bool = False) -> None:
        while self._started:
            member = self._started.pop()
            try:
                member.stop()
            except Exception:
                LOG.exception('Stopping %s failed', type(member).__name__)
        super().stop(graceful)
