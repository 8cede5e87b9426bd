"""doctor-evaluator and doctor-all refuse bad event definitions at start.

A service whose start() raises is restarted by oslo.service for ever; the
commands check the definitions first and exit with one line instead.
"""

import io
import os
import sys
from unittest import mock

import fixtures
from oslo_config import cfg
from oslo_service import service as oslo_service

from doctor import conf as doctor_conf
from doctor.cmd import all as all_cmd
from doctor.cmd import evaluator as evaluator_cmd
from doctor.db import api as db_api
from doctor.tests import base

BROKEN = '''\
- event_type: compute.instance.update
  traits:
    resource_id: payload.instance_id
- event_type: port.*
  traits:
    resource_id: {fields: payload.port.id, type: uuid}
'''


class TestEventDefinitionsAtStart(base.TestCase):

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
        self.definitions = os.path.join(self.state_path, 'defs.yaml')
        self.config_file = os.path.join(self.state_path, 'doctor.conf')
        self._configure(self.definitions)

    def _configure(self, definitions: str) -> None:
        with open(self.config_file, 'w') as f:
            f.write('[DEFAULT]\nstate_path = %s\n'
                    '[evaluator]\nevent_definitions_file = %s\n'
                    % (self.state_path, definitions))

    def _main(self, main, definitions: str) -> SystemExit:
        with open(self.definitions, 'w') as f:
            f.write(definitions)
        return self.assertRaises(SystemExit, main,
                                 ['--config-file', self.config_file])

    def _assert_refused(self, main):
        e = self._main(main, BROKEN)

        self.assertEqual(1, e.code)
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(1, len(lines), lines)
        for fragment in (self.definitions, 'entry at index 1',
                         "event_type 'port.*'",
                         "trait resource_id has type 'uuid'"):
            self.assertIn(fragment, lines[0])
        self.launch.assert_not_called()

    def test_evaluator_exits_1_naming_the_bad_entry(self):
        self._assert_refused(evaluator_cmd.main)

    def test_all_exits_1_naming_the_bad_entry(self):
        self._assert_refused(all_cmd.main)
        self.get_connection.assert_not_called()

    def test_missing_file_is_named(self):
        missing = os.path.join(self.state_path, 'missing.yaml')
        self._configure(missing)

        e = self._main(evaluator_cmd.main, BROKEN)

        self.assertEqual(1, e.code)
        self.assertIn(missing, self.stderr.getvalue())
        self.launch.assert_not_called()

    def _launch(self, main, **launched):
        with open(self.definitions, 'w') as f:
            f.write(BROKEN.replace('type: uuid', 'type: text'))

        main(['--config-file', self.config_file])

        self.launch.assert_called_once_with(doctor_conf.CONF, mock.ANY,
                                            restart_method='mutate',
                                            **launched)
        self.assertEqual('', self.stderr.getvalue())

    def test_evaluator_launches_with_good_definitions(self):
        # One process by default ([evaluator] processes).
        self._launch(evaluator_cmd.main, workers=1)

    def test_all_launches_with_good_definitions(self):
        self._launch(all_cmd.main)
        self.get_connection.assert_called_once_with(doctor_conf.CONF)
