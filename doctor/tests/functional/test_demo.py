"""The demo of ``doctor-all --demo``, on the embedded default."""

import io
import time

from oslo_config import cfg

from doctor import demo
from doctor.cmd import all as all_cmd
from doctor.common import rpc
from doctor.common import service as doctor_service
from doctor.db import api as db_api
from doctor.tests.functional import base


class DemoTest(base.FunctionalTestCase):
    """Every service in one process, as the README's first command runs."""

    def demo_alarms(self) -> list[dict]:
        connection = db_api.get_connection(self.conf)
        self.addCleanup(connection.close)
        return connection.get_alarms(name=demo.ALARM_NAME)

    def run_demo(self) -> tuple[bool | None, str]:
        conf = cfg.ConfigOpts()
        conf.register_cli_opts(all_cmd.CLI_OPTS)
        doctor_service.prepare_service(['--demo'], conf=conf,
                                       default_config_files=[])
        self.addCleanup(rpc.cleanup)
        conf.set_override('state_path', self.state_path)
        conf.set_override('transport_url', self.conf.transport_url)
        conf.set_override('port', 0, group='api')
        conf.set_override('port', 0, group='consumer')
        group = all_cmd.build(conf)
        service = group.services[-1]
        out = io.StringIO()
        service._out = out
        connection = db_api.get_connection(conf)
        connection.upgrade()
        connection.close()
        group.start()
        try:
            deadline = time.monotonic() + 30
            while (service.succeeded is None
                   and time.monotonic() < deadline):
                time.sleep(0.05)
        finally:
            group.stop()
        return service.succeeded, out.getvalue()

    def test_demo_runs_again_on_the_same_database(self):
        for run in (1, 2):
            succeeded, said = self.run_demo()
            self.assertTrue(succeeded, 'run %d said:\n%s' % (run, said))
            self.assertIn('the synchronizer holds 5 instances', said)
            # compute-0 carries two instances: an alarm each, each
            # received once, from the fault the demo reported.
            self.assertEqual(2, said.count('consumer received alarm'))
            self.assertEqual(2, said.count('-> alarm, fault '))
            self.assertIn('host compute-0 is down; its instances: vnf-a-0 '
                          'error, vnf-a-1 error', said)
            self.assertIn('5 notified_vm_error', said)
            # The host, its two instances and their two ports.
            self.assertIn('demo: 5 actions, 0 failed', said)
            self.assertIn('fault closed, host up', said)
            # The alarms of an earlier run are gone: they would fire too.
            self.assertEqual(2, len(self.demo_alarms()))
