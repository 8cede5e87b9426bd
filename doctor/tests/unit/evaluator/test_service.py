from doctor.common import exception
from doctor.evaluator import rpcapi
from doctor.evaluator import service
from doctor.notifier import rpcapi as notifier_rpcapi
from doctor.tests import base


class TestEvaluatorServiceConfig(base.DBTestCase):

    def test_default_pool_is_no_rpc_topic(self):
        # On RabbitMQ the pool names the listener's queue: sharing it with
        # an RPC topic hands notifications to the RPC server and casts to
        # the listener.
        self.assertNotIn(self.conf.evaluator.notification_pool,
                         (rpcapi.TOPIC, notifier_rpcapi.TOPIC))

    def test_pool_named_like_an_rpc_topic_is_refused(self):
        for topic in (rpcapi.TOPIC, notifier_rpcapi.TOPIC):
            self.config.config(notification_pool=topic, group='evaluator')
            evaluator = service.EvaluatorService(self.conf)
            error = self.assertRaises(exception.ConfigInvalid,
                                      evaluator.start)
            self.assertIn('notification_pool', str(error))
            evaluator.stop()

    def test_doctors_own_exchange_is_always_listened_on(self):
        self.config.config(control_exchange='doctor-site-b')
        self.assertEqual(['nova', 'neutron', 'doctor-site-b'],
                         service.notification_exchanges(self.conf))
        self.config.config(notification_exchanges=['nova', 'doctor-site-b'],
                           group='evaluator')
        self.assertEqual(['nova', 'doctor-site-b'],
                         service.notification_exchanges(self.conf))
