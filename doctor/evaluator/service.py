"""doctor-evaluator: the notification alarm evaluator service."""

from concurrent import futures
import threading

from oslo_log import log
import oslo_messaging as messaging
from oslo_service import service

from doctor.common import context as doctor_context
from doctor.common import coordination
from doctor.common import exception
from doctor.common import listener as listener_mod
from doctor.common import periodic
from doctor.common import rpc
from doctor.conf import evaluator as evaluator_conf
from doctor.db import api as db_api
from doctor.evaluator import announcer as announcer_mod
from doctor.evaluator import evaluator as evaluator_mod
from doctor.evaluator import index as index_mod
from doctor.evaluator import manager
from doctor.evaluator import partition as partition_mod
from doctor.evaluator import rpcapi
from doctor.evaluator import transformer as transformer_mod
from doctor.notifier import deliverer as deliverer_mod
from doctor.notifier import rpcapi as notifier_rpcapi

LOG = log.getLogger(__name__)


class NotificationEndpoint:
    """Receives batches of notifications and evaluates their events.

    The notifications of a batch are queued in the order they were
    delivered, and the batch is acknowledged once what each of them causes
    is stored: the listener's thread waits for it. A batch the evaluator
    could not finish before stopping goes back to the bus, for this replica
    after a restart or for another one; what of it was already stored
    changes nothing when evaluated again. A batch that comes again because
    its acknowledgement was lost with the connection skips what this
    process evaluated of it already.

    Batches are submitted one after the other by the listener's polling
    thread, so the events of one resource are queued in the order the bus
    delivered them, and the next batch is taken while the previous one is
    stored (:class:`doctor.common.listener.PipelinedBatchListener`).
    """

    def __init__(self, engine: evaluator_mod.NotificationEvaluator,
                 recent: partition_mod.RecentIds | None = None) -> None:
        self._engine = engine
        self._recent = recent if recent is not None else (
            partition_mod.RecentIds())

    def submit(self, messages: list[dict]):
        """Queue a batch; returns what to wait on before acknowledging it.

        A notification evaluated already (its acknowledgement lost with
        the connection) is skipped: see partition.submit_in_order.
        """
        return partition_mod.submit_in_order(self._engine, self._recent,
                                             messages)


def notification_exchanges(conf) -> list[str]:
    """The exchanges the evaluator listens on: doctor's own, always.

    doctor's notifications (the inspector's, the local controller's) go
    to ``[DEFAULT] control_exchange``; an evaluator that missed them
    would hear of no fault of the local controller and of no early
    announcement.
    """
    return list(dict.fromkeys(list(conf.evaluator.notification_exchanges)
                              + [conf.control_exchange]))


def _check_notification_pool(conf) -> None:
    if conf.evaluator.notification_pool in (rpcapi.TOPIC,
                                            notifier_rpcapi.TOPIC):
        # RabbitMQ names a pool's queue after the pool: RPC casts and
        # notifications would share one queue and be lost to each other's
        # consumer.
        raise exception.ConfigInvalid(
            reason='[evaluator] notification_pool must not be an RPC '
                   'topic (%s)' % conf.evaluator.notification_pool)


def _check_processes(conf) -> None:
    if conf.evaluator.processes <= 1:
        return
    if not conf.coordination.backend_url:
        raise exception.ConfigInvalid(
            reason='[evaluator] processes = %d needs [coordination] '
                   'backend_url: the processes elect their intake and '
                   'share the partitions through it'
                   % conf.evaluator.processes)
    if rpc.is_in_process(conf):
        raise exception.ConfigInvalid(
            reason='[evaluator] processes = %d needs a message broker '
                   '(transport_url): the in-process bus does not reach '
                   'other processes' % conf.evaluator.processes)


def _load_transformer(conf) -> transformer_mod.Transformer:
    return transformer_mod.Transformer.from_file(
        transformer_mod.find_definitions_file(conf))


def check_config(conf) -> None:
    """Refuse, before launching, a configuration the evaluator cannot run.

    oslo.service restarts a service whose start() raises, again and again:
    the commands that run the evaluator call this first.

    :raises ConfigInvalid: saying what is wrong, and where for the event
        definitions.
    """
    _check_notification_pool(conf)
    _check_processes(conf)
    _load_transformer(conf)


class EvaluatorService(service.Service):
    """Listens to the bus and evaluates notification alarms."""

    def __init__(self, conf) -> None:
        super().__init__()
        self.conf = conf
        self.engine: evaluator_mod.NotificationEvaluator | None = None
        self.deliverer: deliverer_mod.Deliverer | None = None
        self._servers: list = []
        self._periodic = periodic.PeriodicTasks()
        self._db: db_api.Connection | None = None
        self._membership: coordination.GroupMembership | None = None
        self._leadership: (coordination.Leadership
                           | coordination.SoleLeadership | None) = None
        self._partitioning: partition_mod.Partitioning | None = None
        self._forwarding: futures.ThreadPoolExecutor | None = None

    def start(self) -> None:
        super().start()
        conf = self.conf
        _check_notification_pool(conf)
        connection = self._db = db_api.get_connection(conf)
        transformer = _load_transformer(conf)
        index = index_mod.AlarmIndex(
            conf.evaluator.allow_alarms_without_resource)
        fire_stored = None
        if conf.evaluator.inline_notifier:
            self.deliverer = deliverer_mod.Deliverer(conf, connection)
            fire = self.deliverer.deliver
            fire_stored = self.deliverer.deliver_stored
        else:
            notifier_api = notifier_rpcapi.NotifierAPI(conf)
            admin = doctor_context.get_admin_context()

            def fire(firing):
                notifier_api.deliver(admin, firing)
        peers = rpcapi.EvaluatorAPI(conf)
        admin_context = doctor_context.get_admin_context()

        def publish_states(states, timestamps):
            peers.alarm_states_changed(admin_context, states, timestamps)

        announcer = announcer_mod.Announcer(
            rpc.get_notifier(conf, 'doctor.evaluator.%s' % conf.host),
            publish_states)
        self._membership = coordination.join(conf, 'doctor-evaluator')
        membership = self._membership
        self.engine = evaluator_mod.NotificationEvaluator(
            conf, connection, index, transformer, fire, announcer,
            has_peers=(None if membership is None
                       else lambda: membership.members > 1),
            fire_stored=fire_stored)
        self.engine.start()
        count = self.engine.load_index()
        LOG.info('Alarm index loaded: %d notification alarms', count)

        rpc_server = rpc.get_server(conf, rpcapi.get_target(conf),
                                    [manager.EvaluatorManager(index)])
        rpc_server.start()
        self._servers.append(rpc_server)

        if evaluator_conf.is_partitioned(conf):
            self._start_partitioned(transformer)
        else:
            listener = self._pipelined_listener(
                NotificationEndpoint(self.engine).submit)
            listener.start()
            self._servers.append(listener)
        LOG.info('Listening for notifications on %s of %s (pool %s%s)',
                 ', '.join(sorted(conf.evaluator.notification_topics)),
                 ', '.join(notification_exchanges(conf)),
                 conf.evaluator.notification_pool,
                 ', %d partitions' % conf.evaluator.partitions
                 if self._partitioning is not None else '')

        self._periodic.add(conf.evaluator.timeout_check_interval,
                           self.engine.check_timeouts)
        if conf.evaluator.resync_interval:
            self._periodic.add(conf.evaluator.resync_interval,
                               self.engine.load_index, initial_delay=True)
        if self.deliverer is not None:
            # Deliveries left owed while no deliverer ran; it scans again
            # by itself, on its one database thread.
            self.deliverer.scan_soon()

    def _pipelined_listener(self, submit
                            ) -> listener_mod.PipelinedBatchListener:
        """The pool queue's listener, batches submitted in bus order."""
        conf = self.conf
        return rpc.get_pipelined_notification_listener(
            conf, self._pool_targets(), submit,
            pool=conf.evaluator.notification_pool,
            batch_size=conf.evaluator.notification_batch_size,
            batch_timeout=conf.evaluator.notification_batch_timeout)

    def _pool_targets(self) -> list[messaging.Target]:
        conf = self.conf
        return [messaging.Target(topic=topic, exchange=exchange)
                for topic in conf.evaluator.notification_topics
                for exchange in notification_exchanges(conf)]

    def _start_partitioned(self, transformer) -> None:
        """Run the intake when leading, and this process's partitions.

        See :mod:`doctor.evaluator.partition`.
        """
        conf = self.conf
        assert self.engine is not None
        partitions = conf.evaluator.partitions
        forwarder = partition_mod.Forwarder(
            rpc.get_notification_transport(conf),
            'doctor.evaluator.%s' % conf.host)
        self._forwarding = futures.ThreadPoolExecutor(
            max_workers=min(partitions, partition_mod.FORWARD_THREADS),
            thread_name_prefix='doctor-forward')
        intake = partition_mod.IntakeEndpoint(
            transformer, forwarder.forward, partitions, self._forwarding,
            on_broken=self._restart_intake)
        consumer = partition_mod.PartitionEndpoint(
            self.engine, partition_mod.RecentIds())

        def listen_partitions(numbers: frozenset[int]):
            return rpc.get_pipelined_notification_listener(
                conf, [messaging.Target(
                    topic=partition_mod.partition_topic(number))
                    for number in sorted(numbers)],
                consumer.submit,
                batch_size=conf.evaluator.notification_batch_size,
                batch_timeout=conf.evaluator.notification_batch_timeout,
                priorities=[partition_mod.PRIORITY])

        def listen_intake():
            # Every batch the last intake took is settled: forward again.
            intake.reset()
            return self._pipelined_listener(intake.submit)

        self._leadership = coordination.leadership(conf, 'doctor-evaluator')
        self._leadership.start()
        leadership = self._leadership
        membership = self._membership

        def members():
            listed = membership.listed if membership is not None else None
            return listed[0] if listed is not None else None

        self._partitioning = partition_mod.Partitioning(
            partitions, conf.coordination.heartbeat_interval,
            listen_intake, listen_partitions,
            lambda: leadership.is_leader(partition_mod.LEADER_TASK),
            members,
            membership.member_id.decode() if membership is not None
            else None)
        self._partitioning.start()

    def _restart_intake(self) -> None:
        partitioning = self._partitioning
        if partitioning is not None:
            partitioning.restart_intake()

    def stop(self, graceful: bool = False) -> None:
        self._periodic.stop()
        if self._partitioning is not None:
            # Its listeners first, as the others below: their batches in
            # flight finish before the evaluator stops.
            self._partitioning.stop()
            self._partitioning = None
        if self._forwarding is not None:
            self._forwarding.shutdown()
            self._forwarding = None
        if self._leadership is not None:
            self._leadership.stop()
            self._leadership = None
        # On RabbitMQ an idle listener notices it is stopped only when its
        # poll times out (up to 5 s): stop the RPC server and the
        # notification listener together rather than one after the other.
        stoppers = [threading.Thread(target=server.stop,
                                     name='doctor-evaluator-stop')
                    for server in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers:
            server.wait()
        self._servers = []
        if self.engine is not None:
            self.engine.stop()
        if self._membership is not None:
            self._membership.stop()
            self._membership = None
        if self.deliverer is not None:
            self.deliverer.stop()
            self.deliverer = None
        if self._db is not None:
            # A restarted service makes a new connection: do not leave the
            # old one's pooled sessions open on the database.
            self._db.close()
            self._db = None
        super().stop(graceful)
