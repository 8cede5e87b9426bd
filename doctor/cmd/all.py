"""doctor-all: every doctor service in one process (the embedded default)."""

from oslo_config import cfg
from oslo_log import log
from oslo_service import service

from doctor import cmd
from doctor import conf as doctor_conf
from doctor import demo
from doctor.api import service as api_service
from doctor.common import rpc
from doctor.common import service as doctor_service
from doctor.common import wsgi
from doctor.consumer import app as consumer_app
from doctor.db import api as db_api
from doctor.evaluator import service as evaluator_service
from doctor.heartbeat import router
from doctor.inspector import inspector as inspector_mod
from doctor.inspector import service as inspector_service
from doctor.notifier import service as notifier_service
from doctor.notifier import targets
from doctor.profiler import reporter
from doctor.synchronizer import service as synchronizer_service

LOG = log.getLogger(__name__)

CLI_OPTS = [
    cfg.BoolOpt('demo', default=False,
                help='Also run the sample consumer and a demo: an alarm '
                     'created through the API fires when its instance '
                     'fails and recovers.'),
]


def build(conf: cfg.ConfigOpts) -> doctor_service.ServiceGroup:
    """The services doctor-all runs, in start order."""
    if conf.demo:
        demo.allow_consumer(conf)
    members: list = [notifier_service.NotifierService(conf),
                     evaluator_service.EvaluatorService(conf),
                     synchronizer_service.SynchronizerService(conf),
                     inspector_service.InspectorService(conf),
                     router.RouterService(conf)]
    api = api_service.APIService(conf)
    members.append(api)
    if conf.demo:
        consumer = consumer_app.Consumer(recorder=reporter.consumer_recorder(
            conf, lambda: 'http://%s:%d' % (conf.api.host, api.port)))
        consumer_server = wsgi.WSGIService(
            'doctor-consumer', lambda: consumer, conf.consumer.host,
            conf.consumer.port)
        members.append(consumer_server)
        members.append(demo.DemoService(conf, api, consumer_server,
                                        consumer))
    # On a broker the services stop together: see ServiceGroup.
    return doctor_service.ServiceGroup(members, together=_on_a_broker(conf))


def _on_a_broker(conf: cfg.ConfigOpts) -> bool:
    """Whether either bus (RPC, notifications) is a broker's."""
    return any(url and not url.startswith(rpc.EMBEDDED_TRANSPORT_URL)
               for url in (conf.transport_url,
                           conf.oslo_messaging_notifications.transport_url))


def main(argv: list[str] | None = None) -> None:
    conf = doctor_conf.CONF
    conf.register_cli_opts(CLI_OPTS)
    doctor_service.prepare_service(argv, conf=conf)
    # One process runs everything: the evaluator's and notifier's process
    # counts are for their own commands.
    conf.set_override('processes', 1, group='evaluator')
    conf.set_override('processes', 1, group='notifier')
    cmd.check_config('doctor-all',
                     lambda: evaluator_service.check_config(conf))
    cmd.check_config('doctor-all',
                     lambda: synchronizer_service.check_config(conf))
    cmd.check_config('doctor-all',
                     lambda: inspector_mod.check_config(conf))
    cmd.check_config('doctor-all', lambda: targets.check_config(conf))
    # The all-in-one process owns its database: bring the schema up to date
    # so that the embedded default works from a fresh machine.
    connection = db_api.get_connection(conf)
    connection.upgrade()
    connection.close()
    service.launch(conf, build(conf), restart_method='mutate').wait()
