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
