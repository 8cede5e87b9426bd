"""The documents and scripts that ship with doctor build and pass their checks.

The same builds as ``tox -e docs``, ``tox -e api-ref`` and
``tox -e releasenotes`` (warnings are errors), and the same checks of shell
scripts and reStructuredText as the pre-commit hooks, so that the test
suite (and CI, which runs it) catches a broken page or script.
"""

import os
import subprocess
import sys
import tempfile

import testtools

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))

# The shell files of the project, checked as the pre-commit hooks do.
SHELL_FILES = ('.ci/run', 'devstack/plugin.sh', 'devstack/settings',
               'doctor/tests/unit/devstack_stub/functions.sh',
               'tools/demo.sh', 'tools/devstack-check.sh',
               'tools/run-tests.sh', 'tools/venv.sh')


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _tool(name: str) -> str:
    """The console script ``name`` of the interpreter's environment."""
    return os.path.join(os.path.dirname(sys.executable), name)


class TestBuilds(testtools.TestCase):

    def _sphinx(self, source: str, *options: str) -> None:
        with tempfile.TemporaryDirectory() as out:
            result = _run(sys.executable, '-m', 'sphinx', '-W',
                          '--keep-going', *options, '-b', 'html',
                          '-d', os.path.join(out, 'doctrees'), source,
                          os.path.join(out, 'html'))
            self.assertEqual(0, result.returncode,
                             'sphinx-build of %s failed:\n%s%s'
                             % (source, result.stdout[-4000:],
                                result.stderr[-4000:]))
            self.assertTrue(os.path.exists(
                os.path.join(out, 'html', 'index.html')))

    def test_documentation_builds(self):
        self._sphinx('doc/source')

    def test_api_reference_builds(self):
        self._sphinx('api-ref/source')

    def test_release_notes_build(self):
        self._sphinx('releasenotes/source', '-a', '-E')

    def test_shell_scripts_pass_bashate(self):
        missing = [name for name in SHELL_FILES
                   if not os.path.exists(os.path.join(ROOT, name))]
        self.assertEqual([], missing)
        result = _run(_tool('bashate'), '--error', 'E006,E042,E043',
                      *SHELL_FILES)
        self.assertEqual(0, result.returncode,
                         result.stdout + result.stderr)

    def test_shell_scripts_parse(self):
        for name in SHELL_FILES:
            result = _run('bash', '-n', name)
            self.assertEqual(0, result.returncode,
                             '%s: %s' % (name, result.stderr))

    def test_restructured_text_passes_doc8(self):
        result = _run(_tool('doc8'), 'doc/source', 'api-ref/source',
                      'releasenotes/notes', 'devstack/README.rst')
        self.assertEqual(0, result.returncode,
                         result.stdout + result.stderr)
