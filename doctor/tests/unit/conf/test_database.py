"""Tests of the ``[database]`` options doctor lists for the sample."""

from oslo_db import options as db_options

from doctor.conf import database
from doctor.tests import base


def _connection_opt(opts):
    return next(opt for opt in opts if opt.dest == 'connection')


class TestListOpts(base.TestCase):

    def test_sample_shows_the_embedded_database(self):
        [(group, opts)] = database.list_opts()
        self.assertEqual('database', group)
        self.assertEqual(database.DEFAULT_CONNECTION,
                         _connection_opt(opts).default)
        # The default the sample shows is the one a service starts with.
        self.assertEqual(
            'sqlite:///%s/doctor.sqlite' % self.state_path,
            self.conf.database.connection)

    def test_oslo_db_keeps_its_own_default(self):
        database.list_opts()
        self.assertIsNone(
            _connection_opt(db_options.database_opts).default)


class TestConnectionBudget(base.TestCase):
    """Every service with two replicas fits a 100-connection database."""

    def test_a_process_holds_at_most_eight_connections(self):
        self.assertEqual(
            (4, 4), (self.conf.database.max_pool_size,
                     self.conf.database.max_overflow))
        services = 5
        replicas = 2
        per_process = (self.conf.database.max_pool_size
                       + self.conf.database.max_overflow)
        self.assertLessEqual(services * replicas * per_process, 80)

    def test_the_sample_shows_the_budget(self):
        [(_group, opts)] = database.list_opts()
        defaults = {opt.dest: opt.default for opt in opts}
        self.assertEqual((4, 4), (defaults['max_pool_size'],
                                  defaults['max_overflow']))


class TestRabbitDefaults(base.TestCase):

    def test_queues_of_dead_processes_expire_and_prefetch_is_bounded(self):
        rabbit = self.conf.oslo_messaging_rabbit
        self.assertEqual(60, rabbit.rabbit_transient_queues_ttl)
        self.assertEqual(100, rabbit.rabbit_qos_prefetch_count)
