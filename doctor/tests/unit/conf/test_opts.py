"""Tests of what oslo-config-generator writes for doctor."""

import os
import subprocess
import sys

from doctor.tests import base

NAMESPACES = ('doctor', 'oslo.messaging')


class TestSampleConfig(base.TestCase):

    def _sample(self) -> str:
        # In a process of its own: the generator changes the defaults of
        # the libraries' option objects for the rest of the process.
        path = os.path.join(self.state_path, 'doctor.conf.sample')
        args = ['--output-file', path]
        for namespace in NAMESPACES:
            args += ['--namespace', namespace]
        subprocess.run(
            [sys.executable, '-c',
             'import sys; from oslo_config import generator; '
             'generator.main(sys.argv[1:])'] + args,
            check=True, capture_output=True)
        with open(path) as sample:
            return sample.read()

    def test_sample_shows_the_embedded_defaults(self):
        lines = self._sample().splitlines()
        self.assertIn('#transport_url = inproc:/', lines)
        self.assertIn('#control_exchange = doctor', lines)
        self.assertIn('#connection = sqlite:///$state_path/doctor.sqlite',
                      lines)
        self.assertIn('#driver = messagingv2', lines)
        # The connection budget and the RabbitMQ defaults doctor sets.
        self.assertIn('#max_pool_size = 4', lines)
        self.assertIn('#max_overflow = 4', lines)
        self.assertIn('#rabbit_transient_queues_ttl = 60', lines)
        self.assertIn('#rabbit_qos_prefetch_count = 100', lines)
