"""Every checkpoint of a fault recorded through the whole chain.

doctor-all's demo reports a host down through the API; the inspector,
the evaluator and the demo's consumer record their checkpoints, and
doctor-profiler reads all eleven back from the database.
"""

import io
import json
import logging
import os

import fixtures
from oslo_config import cfg

from doctor.api import service as api_service
from doctor.cmd import all as all_cmd
from doctor.cmd import profiler as profiler_cmd
from doctor.common import rpc
from doctor.common import service as doctor_service
from doctor.db import api as db_api
from doctor.profiler import checkpoints
from doctor.profiler import report
from doctor.profiler import sources
from doctor.profiler import timeline
from doctor.tests.functional import base

# The demo's host carries two instances, an alarm each.
ALARMS = 2


class EmbeddedChainTest(base.FunctionalTestCase):
    """SQLite and the in-process bus: the embedded default."""

    def overrides(self, conf: cfg.ConfigOpts) -> None:
        conf.set_override('transport_url', self.conf.transport_url)

    def run_fault(self) -> dict:
        """Run the demo; return its fault once every checkpoint is in."""
        conf = cfg.ConfigOpts()
        conf.register_cli_opts(all_cmd.CLI_OPTS)
        doctor_service.prepare_service(['--demo'], conf=conf,
                                       default_config_files=[])
        self.addCleanup(rpc.cleanup)
        conf.set_override('state_path', self.state_path)
        conf.set_override('port', 0, group='api')
        conf.set_override('port', 0, group='consumer')
        self.overrides(conf)
        group = all_cmd.build(conf)
        demo = group.services[-1]
        demo._out = io.StringIO()
        connection = db_api.get_connection(conf)
        self.addCleanup(connection.close)
        connection.upgrade()
        source = sources.DatabaseSource(
            connection.engine.url.render_as_string(hide_password=False))
        group.start()
        try:
            self.wait_for(lambda: demo.succeeded is not None, 60,
                          'the demo')
            self.assertTrue(demo.succeeded, demo._out.getvalue())
            fault_id = connection.get_faults(limit=1)[0]['id']

            def complete():
                fault = source.get_fault(fault_id)
                built = timeline.build(fault)
                counts = [times.count for times in built.points]
                return fault if counts[8:] == [ALARMS] * 3 else None
            fault = self.wait_for(complete, 30, 'checkpoints 8 to 10')
            [api] = [service for service in group.services
                     if isinstance(service, api_service.APIService)]
            self.shown = self.show_through_the_api(
                'http://127.0.0.1:%d' % api.port, fault_id)
            return fault
        finally:
            group.stop()

    def show_through_the_api(self, endpoint: str, fault_id: str) -> dict:
        """``doctor-profiler show --format json`` against doctor-api."""
        out = io.StringIO()
        code = profiler_cmd.main(['--os-auth-type', 'none', '--os-endpoint',
                                  endpoint, 'show', fault_id, '--format',
                                  'json'], out)
        self.assertEqual(0, code)
        return json.loads(out.getvalue())

    def test_every_checkpoint_of_the_fault(self):
        logger = self.useFixture(fixtures.FakeLogger(level=logging.INFO))
        fault = self.run_fault()

        built = timeline.build(fault)
        self.assertEqual([], built.missing)
        counts = [times.count for times in built.points]
        self.assertEqual([1] * 6 + [ALARMS] * 3, counts[:6] + counts[8:])
        # Every event of the fault is transformed and evaluated: the
        # instances' and those of the host and its ports.
        self.assertGreaterEqual(min(counts[6:8]), ALARMS)
        self.assertIsNotNone(built.total_ms)
        fired = {entry['alarm_id'] for entry in fault['checkpoints']
                 if entry['name'] == 'fired_alarm'}
        for name in checkpoints.CONSUMER_NAMES:
            self.assertEqual(fired, {entry['alarm_id'] for entry
                                     in fault['checkpoints']
                                     if entry['name'] == name})
        self.assertIn('total ', report.render_show(built))
        # doctor-profiler reads the same fault through the API.
        self.assertEqual([], self.shown['missing'])
        self.assertEqual(
            [report.as_json(built)['checkpoints'][n]['count']
             for n in (0, 5, 8, 9, 10)],
            [self.shown['checkpoints'][n]['count']
             for n in (0, 5, 8, 9, 10)])
        # The services' log lines alone give the same timeline.
        path = os.path.join(self.state_path, 'doctor.log')
        with open(path, 'w') as log:
            log.write(logger.output)
        logged = timeline.build(
            sources.LogSource([path]).get_fault(fault['id']))
        # Events of the host's recovery may still be on their way to the
        # database or the log: compare what was complete when read.
        settled = list(range(6)) + [8, 9, 10]
        self.assertEqual(
            [report.as_json(built)['checkpoints'][n] for n in settled],
            [report.as_json(logged)['checkpoints'][n] for n in settled])


class RabbitPostgreSQLChainTest(EmbeddedChainTest):
    """RabbitMQ and PostgreSQL: production's services."""

    def overrides(self, conf: cfg.ConfigOpts) -> None:
        conf.set_override('transport_url', self.use_rabbit())
        self.use_database('postgresql')
        conf.set_override('connection', self.conf.database.connection,
                          group='database')
        conf.set_override('max_pool_size', 2, group='database')
        conf.set_override('max_overflow', 2, group='database')
