"""Base test case and fixtures shared by unit and functional tests."""

import atexit
import logging
import os
import shutil
import tempfile
import threading
import warnings

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import sqlalchemy.exc
import testtools

from doctor.common import rpc
from doctor.common import service
from doctor.db import api as db_api

_schema_lock = threading.Lock()
_schema_template: str | None = None
# The template outlives each test's temporary directory
# (fixtures.NestedTempfile), so it is made in the system one.
_SYSTEM_TMP = tempfile.gettempdir()


def new_conf() -> cfg.ConfigOpts:
    """A fresh, parsed ConfigOpts with every doctor option registered."""
    conf = cfg.ConfigOpts()
    service.prepare_service([], conf=conf, default_config_files=[])
    return conf


class TestCase(testtools.TestCase):
    """A test with its own config, state directory and embedded bus.

    ``self.conf`` is a fresh ConfigOpts (never the global CONF) whose
    ``state_path`` is a temporary directory; SQLAlchemy warnings are errors.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        self._capture_output()
        self.useFixture(fixtures.NestedTempfile())
        warnings.simplefilter('error', sqlalchemy.exc.SAWarning)
        self.addCleanup(warnings.resetwarnings)
        self.conf = new_conf()
        self.config = self.useFixture(config_fixture.Config(self.conf))
        self.state_path = self.useFixture(fixtures.TempDir()).path
        self.config.config(state_path=self.state_path)
        # A private in-process bus per test.
        self.config.config(transport_url='inproc:/test-%s' % id(self))
        self.addCleanup(rpc.cleanup)

    def _capture_output(self) -> None:
        """Keep what a test logs and prints with the test.

        A test's log lines (INFO and above), standard output and standard
        error are attached to its result, and shown only if it fails: the
        errors a passing test provokes on purpose stay out of the
        console. ``DOCTOR_TEST_OUTPUT=1`` lets them through instead.
        """
        if os.environ.get('DOCTOR_TEST_OUTPUT') == '1':
            return
        self.useFixture(fixtures.FakeLogger(
            level=logging.INFO,
            format='%(asctime)s %(levelname)s %(name)s %(message)s'))
        # Named otherwise than stdout and stderr, which the runner prints
        # for passing tests too.
        for name in ('stdout', 'stderr'):
            stream = self.useFixture(
                fixtures.StringStream('captured-' + name)).stream
            self.useFixture(fixtures.MonkeyPatch('sys.%s' % name, stream))


class DBTestCase(TestCase):
    """A TestCase with a migrated SQLite database in ``self.db``.

    The schema is built once per test process and copied for each test.
    """

    def setUp(self):
        super().setUp()
        path = os.path.join(self.state_path, 'doctor.sqlite')
        shutil.copyfile(_template(), path)
        self.config.config(connection='sqlite:///' + path,
                           group='database')
        self.db = db_api.get_connection(self.conf)
        self.addCleanup(self.db.engine.dispose)


def _template() -> str:
    global _schema_template
    with _schema_lock:
        if _schema_template is None:
            directory = tempfile.mkdtemp(prefix='doctor-schema-',
                                         dir=_SYSTEM_TMP)
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            path = os.path.join(directory, 'doctor.sqlite')
            conf = new_conf()
            conf.set_override('connection', 'sqlite:///' + path,
                              group='database')
            connection = db_api.get_connection(conf)
            connection.upgrade()
            connection.engine.dispose()
            _schema_template = path
        return _schema_template
