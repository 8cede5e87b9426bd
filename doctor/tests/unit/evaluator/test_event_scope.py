"""Which event types name a project: pattern overlap and definitions."""

import os

import fixtures

from doctor.evaluator import event_scope
from doctor.evaluator import transformer
from doctor.tests import base


class TestOverlap(base.TestCase):

    def test_patterns_that_share_an_event_type(self):
        for first, second in (
                ('doctor.host.down', 'doctor.host.down'),
                ('doctor.host.down', 'doctor.host.*'),
                ('doctor.*', 'doctor.host.*'),
                ('*', 'service.*'),
                ('*.host.*', 'compute.instance.*'),
                ('*down', 'doctor.host.*'),
                ('service.updat?', 'service.*'),
                ('[sd]*', 'service.*'),
                ('[!c]*', 'doctor.host.*'),
                ('port.[a-d]*', 'port.data_plane_status.update'),
                ('a[', 'a['),
                ('**.x', '*.*x')):
            self.assertTrue(event_scope.overlap(first, second),
                            (first, second))
            self.assertTrue(event_scope.overlap(second, first),
                            (second, first))

    def test_patterns_that_share_none(self):
        for first, second in (
                ('doctor.host.down', 'doctor.host.up'),
                ('doctor.*', 'service.*'),
                ('service.*', 'instance.*'),
                ('[!s]ervice.update', 'service.*'),
                ('port.[e-z]*', 'port.data_plane_status.update'),
                ('doctor.host.?', 'doctor.host.down'),
                ('doctor.host', 'doctor.host.*'),
                ('a[', 'ab')):
            self.assertFalse(event_scope.overlap(first, second),
                             (first, second))
            self.assertFalse(event_scope.overlap(second, first),
                             (second, first))


class TestShippedDefinitions(base.TestCase):
    """The infrastructure event types of etc/doctor/event_definitions.yaml.
    """

    def setUp(self):
        super().setUp()
        self.scopes = event_scope.definition_scopes(self.conf)

    def test_host_and_service_events_name_no_project(self):
        for event_type in ('doctor.host.down', 'doctor.host.*', 'doctor.*',
                           'service.update', 'service.*', '?ervice.update',
                           '[sd]*'):
            self.assertTrue(event_scope.infrastructure_only(
                event_type, self.scopes), event_type)

    def test_patterns_that_also_match_events_of_a_project(self):
        for event_type in ('*', '*.update', '*.host.*', 'compute.*',
                           'compute.instance.update', 'instance.update',
                           'port.data_plane_status.update', '[!c]*'):
            self.assertFalse(event_scope.infrastructure_only(
                event_type, self.scopes), event_type)

    def test_event_types_no_definition_covers_are_not_infrastructure(self):
        self.assertFalse(event_scope.infrastructure_only(
            'volume.attach.end', self.scopes))


class TestDefinitionsFile(base.TestCase):

    def write(self, text: str) -> str:
        path = os.path.join(self.state_path, 'definitions.yaml')
        with open(path, 'w') as f:
            f.write(text)
        self.config.config(event_definitions_file=path, group='evaluator')
        return path

    def test_a_definition_without_project_trait_names_no_project(self):
        self.write('- event_type: rack.*\n'
                   '  traits:\n    resource_id:\n      fields: payload.id\n'
                   '- event_type: "*"\n'
                   '  traits:\n    project_id:\n'
                   '      fields: payload.project\n')
        scopes = event_scope.DefinitionsFile().scopes(self.conf)

        self.assertEqual([(('rack.*',), False), (('*',), True)],
                         [(s.patterns, s.names_project) for s in scopes])
        # The catch-all definition names a project: rack.* events may
        # carry one as far as the definitions go.
        self.assertFalse(event_scope.infrastructure_only('rack.*', scopes))

    def test_the_file_is_read_again_when_it_changes(self):
        path = self.write('- event_type: rack.*\n')
        definitions = event_scope.DefinitionsFile()
        self.assertTrue(event_scope.infrastructure_only(
            'rack.down', definitions.scopes(self.conf)))

        with open(path, 'a') as f:
            f.write('  traits:\n    project_id:\n      fields: payload.p\n')

        self.assertFalse(event_scope.infrastructure_only(
            'rack.down', definitions.scopes(self.conf)))

    def test_an_unreadable_file_makes_nothing_infrastructure_only(self):
        self.write('- event_type: [rack.*\n')
        logger = self.useFixture(fixtures.FakeLogger(
            name=event_scope.__name__))

        self.assertEqual([], event_scope.DefinitionsFile().scopes(self.conf))
        self.assertIn('Cannot tell which event types name no project',
                      logger.output)

    def test_definitions_as_the_transformer_reads_them(self):
        definitions = [transformer.EventDefinition(
            {'event_type': ['a.*', 'b.*'],
             'traits': {'project_id': {'fields': 'payload.p'}}})]

        [scope] = event_scope.scopes(definitions)

        self.assertEqual((('a.*', 'b.*'), True),
                         (scope.patterns, scope.names_project))
