"""Every command that checks webhook targets refuses a bad CIDR at start."""

import io
import os
import sys

import fixtures
from oslo_config import cfg
from oslo_service import service as oslo_service

from doctor import conf as doctor_conf
from doctor import demo
from doctor.cmd import all as all_cmd
from doctor.cmd import api as api_cmd
from doctor.cmd import evaluator as evaluator_cmd
from doctor.cmd import notifier as notifier_cmd
from doctor.common import exception
from doctor.db import api as db_api
from doctor.notifier import targets
from doctor.tests import base


class TestNetworksAtStart(base.TestCase):

    def setUp(self):
        super().setUp()
        # main() reads the global configuration: give it a fresh one.
        self.useFixture(fixtures.MockPatchObject(doctor_conf, 'CONF',
                                                 cfg.ConfigOpts()))
        self.launch = self.useFixture(fixtures.MockPatchObject(
            oslo_service, 'launch', autospec=True)).mock
        self.get_connection = self.useFixture(fixtures.MockPatchObject(
            db_api, 'get_connection', autospec=True)).mock
        self.stderr = self.useFixture(fixtures.MockPatchObject(
            sys, 'stderr', io.StringIO())).mock
        self.config_file = os.path.join(self.state_path, 'doctor.conf')
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n'
                    '[notifier]\nallowed_networks = 10.0.0.0/8, '
                    'consumers.example\n' % self.state_path)
        self.argv = ['--config-file', self.config_file]

    def assert_refused(self, main, *args):
        e = self.assertRaises(SystemExit, main, *args)
        self.assertEqual(1, e.code)
        [line] = self.stderr.getvalue().splitlines()
        self.assertIn("[notifier] allowed_networks: 'consumers.example' is "
                      "not a network in CIDR notation", line)
        self.launch.assert_not_called()

    def test_evaluator(self):
        self.assert_refused(evaluator_cmd.main, self.argv)

    def test_all(self):
        self.assert_refused(all_cmd.main, self.argv)
        self.get_connection.assert_not_called()

    def test_api_and_notifier(self):
        self.useFixture(fixtures.MockPatchObject(
            sys, 'argv', ['doctor'] + self.argv))
        for main in (api_cmd.main, notifier_cmd.main):
            self.stderr.seek(0)
            self.stderr.truncate()
            self.useFixture(fixtures.MockPatchObject(doctor_conf, 'CONF',
                                                     cfg.ConfigOpts()))
            self.assert_refused(main)


class TestDemoConsumer(base.TestCase):
    """doctor-all --demo allows its sample consumer, and nothing else."""

    def test_the_consumer_address_alone_is_allowed(self):
        self.config.config(allowed_networks=['10.0.0.0/8'],
                           group='notifier')
        demo.allow_consumer(self.conf)
        self.assertEqual(['10.0.0.0/8', '127.0.0.1/32'],
                         self.conf.notifier.allowed_networks)
        policy = targets.TargetPolicy.from_conf(self.conf)
        policy.check_literal('consumer', '127.0.0.1')
        self.assertRaises(exception.TargetDenied, policy.check_literal,
                          'another', '127.0.0.2')
        self.assertRaises(exception.TargetDenied, policy.check_literal,
                          'metadata', '169.254.169.254')

    def test_a_consumer_outside_the_denied_networks_adds_nothing(self):
        self.config.config(host='192.0.2.10', group='consumer')
        demo.allow_consumer(self.conf)
        self.assertEqual([], self.conf.notifier.allowed_networks)
