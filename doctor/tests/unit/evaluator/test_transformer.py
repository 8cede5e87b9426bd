"""Tests of the transformer with the shipped event definitions."""

import datetime
import os

import fixtures
from oslo_config import cfg
from oslo_utils import timeutils

from doctor.common import exception
from doctor.common import service
from doctor.evaluator import transformer
from doctor.tests import base
from doctor.tests.unit.evaluator import samples


class TestShippedDefinitions(base.TestCase):

    def setUp(self):
        super().setUp()
        self.transformer = transformer.Transformer.from_file(samples.SHIPPED)

    def _transform(self, event_type, payload, ctxt=None,
                   publisher='compute.compute-0', metadata=samples.METADATA):
        return self.transformer.transform(publisher, event_type, payload,
                                          metadata, ctxt)

    def test_nova_legacy_instance_update(self):
        ctxt = {'request_id': 'req-1', 'global_request_id': 'req-g',
                'project_id': samples.PROJECT_ID}
        event = self._transform('compute.instance.update',
                                samples.nova_legacy_update(), ctxt)
        self.assertEqual({
            'resource_id': samples.INSTANCE_ID,
            'instance_id': samples.INSTANCE_ID,
            'project_id': samples.PROJECT_ID,
            'tenant_id': samples.PROJECT_ID,
            'user_id': samples.USER_ID, 'display_name': 'vnf-a-0',
            'host': 'compute-0', 'state': 'error', 'old_state': 'active',
            'state_description': '', 'instance_type': 'm1.small',
            'launched_at': datetime.datetime(2024, 5, 1, 9, 58, 40),
            'request_id': 'req-1',
        }, event.traits)
        self.assertEqual('datetime', event.trait_types['launched_at'])
        self.assertEqual('text', event.trait_types['state'])
        self.assertEqual(samples.INSTANCE_ID, event.resource_id)
        self.assertEqual(samples.PROJECT_ID, event.project_id)
        self.assertEqual('compute.instance.update', event.event_type)
        self.assertEqual(samples.METADATA['message_id'], event.message_id)
        self.assertEqual('compute.compute-0', event.publisher_id)
        self.assertEqual(
            datetime.datetime(2024, 5, 1, 10, 0, 1, 123456),
            event.generated)

    def test_nova_legacy_fault_id_from_payload_first(self):
        payload = samples.nova_legacy_update(doctor_fault_id=samples.FAULT_ID)
        event = self._transform('compute.instance.update', payload,
                                {'doctor_fault_id': 'other'})
        self.assertEqual(samples.FAULT_ID, event.traits['fault_id'])

    def test_nova_legacy_fault_id_from_context(self):
        event = self._transform('compute.instance.update',
                                samples.nova_legacy_update(),
                                {'doctor_fault_id': samples.FAULT_ID})
        self.assertEqual(samples.FAULT_ID, event.traits['fault_id'])

    def test_request_id_falls_back_to_global_request_id(self):
        event = self._transform('compute.instance.update',
                                samples.nova_legacy_update(),
                                {'global_request_id': 'req-g'})
        self.assertEqual('req-g', event.traits['request_id'])

    def test_nova_legacy_unlaunched_instance_has_no_launched_at(self):
        # Nova sends '' for an instance that never launched.
        event = self._transform('compute.instance.create.start',
                                samples.nova_legacy_update(launched_at=''))
        self.assertNotIn('launched_at', event.traits)
        self.assertEqual(samples.INSTANCE_ID, event.resource_id)

    def test_datetime_trait_is_naive_utc(self):
        payload = samples.nova_legacy_update(
            launched_at='2024-05-01T11:58:40+02:00')
        event = self._transform('compute.instance.update', payload)
        self.assertEqual(datetime.datetime(2024, 5, 1, 9, 58, 40),
                         event.traits['launched_at'])
        self.assertIsNone(event.traits['launched_at'].tzinfo)

    def test_nova_versioned_instance_update(self):
        event = self._transform('instance.update',
                                samples.nova_instance_update(),
                                {'request_id': 'req-2',
                                 'doctor_fault_id': samples.FAULT_ID},
                                publisher='nova-compute:compute-0')
        self.assertEqual({
            'resource_id': samples.INSTANCE_ID,
            'instance_id': samples.INSTANCE_ID,
            'project_id': samples.PROJECT_ID,
            'tenant_id': samples.PROJECT_ID,
            'user_id': samples.USER_ID, 'display_name': 'vnf-a-0',
            'host': 'compute-0', 'state': 'error', 'old_state': 'active',
            'power_state': 'running', 'fault_id': samples.FAULT_ID,
            'request_id': 'req-2',
        }, event.traits)

    def test_nova_versioned_other_instance_notifications(self):
        event = self._transform('instance.power_off.end',
                                samples.nova_instance_update())
        self.assertEqual(samples.INSTANCE_ID, event.resource_id)

    def test_nova_versioned_service_update(self):
        event = self._transform('service.update',
                                samples.nova_service_update(),
                                publisher='nova-compute:compute-0')
        self.assertEqual({
            'resource_id': 'compute-0', 'host': 'compute-0',
            'service_id': 'c0a8d1e2-3f40-4b5c-8d6e-7f8091a2b3c4',
            'binary': 'nova-compute', 'disabled': 'False',
            'forced_down': 'True',
            'last_seen_up': datetime.datetime(2024, 5, 1, 9, 59, 55),
        }, event.traits)
        self.assertIsNone(event.project_id)

    def test_neutron_port_update(self):
        event = self._transform('port.update.end',
                                {'port': samples.neutron_port()},
                                {'request_id': 'req-3',
                                 'doctor_fault_id': samples.FAULT_ID},
                                publisher='network.controller-0')
        self.assertEqual({
            'resource_id': samples.PORT_ID, 'port_id': samples.PORT_ID,
            'project_id': samples.PROJECT_ID, 'tenant_id': samples.PROJECT_ID,
            'network_id': 'net-1', 'device_id': samples.INSTANCE_ID,
            'device_owner': 'compute:nova', 'host': 'compute-0',
            'status': 'ACTIVE', 'admin_state_up': 'True',
            'data_plane_status': 'DOWN', 'fault_id': samples.FAULT_ID,
        }, event.traits)

    def test_neutron_port_of_an_old_release_without_project_id(self):
        port = samples.neutron_port()
        del port['project_id']
        event = self._transform('port.update.end', {'port': port})
        self.assertEqual(samples.PROJECT_ID, event.project_id)

    def test_neutron_port_delete(self):
        event = self._transform('port.delete.end',
                                {'port_id': samples.PORT_ID})
        self.assertEqual({'resource_id': samples.PORT_ID,
                          'port_id': samples.PORT_ID}, event.traits)

    def test_doctor_port_data_plane_status(self):
        payload = {'port_id': samples.PORT_ID,
                   'project_id': samples.PROJECT_ID,
                   'host': 'compute-0', 'device_id': samples.INSTANCE_ID,
                   'data_plane_status': 'DOWN', 'fault_id': samples.FAULT_ID}
        event = self._transform('port.data_plane_status.update', payload)
        self.assertEqual(dict(payload, resource_id=samples.PORT_ID),
                         event.traits)

    def test_doctor_host_down(self):
        event = self._transform('doctor.host.down',
                                {'host': 'compute-0', 'state': 'down',
                                 'fault_id': samples.FAULT_ID})
        self.assertEqual({'resource_id': 'compute-0', 'host': 'compute-0',
                          'state': 'down', 'fault_id': samples.FAULT_ID},
                         event.traits)

    def test_unknown_event_type_is_no_event(self):
        self.assertIsNone(self._transform('image.update', {'id': 'x'}))
        self.assertIsNone(self._transform('compute.instance', {}))

    def test_event_type_missing_is_malformed(self):
        self.assertRaises(ValueError, self._transform, None, {})
        self.assertRaises(ValueError, self._transform, '', {})
        self.assertRaises(ValueError, self._transform, 42, {})

    def test_payload_not_a_dict_gives_an_event_without_traits(self):
        for payload in ('instance went away', None, [samples.INSTANCE_ID]):
            event = self._transform('compute.instance.update', payload)
            self.assertEqual({}, event.traits)
            self.assertIsNone(event.resource_id)

    def test_generated_is_now_without_usable_timestamp(self):
        self.useFixture(fixtures.MockPatchObject(
            timeutils, 'utcnow', autospec=True, return_value=samples.NOW))
        for metadata in (None, 'garbage', {},
                         {'timestamp': 'yesterday'}):
            event = self._transform('port.delete.end',
                                    {'port_id': samples.PORT_ID},
                                    metadata=metadata)
            self.assertEqual(samples.NOW, event.generated)
            self.assertEqual('', event.message_id)

    def test_as_dict_is_aodh_reason_data(self):
        event = self._transform('compute.instance.update',
                                samples.nova_legacy_update(instance_type_id=5))
        data = event.as_dict()
        self.assertEqual(samples.METADATA['message_id'], data['message_id'])
        self.assertEqual('compute.instance.update', data['event_type'])
        self.assertEqual('2024-05-01T10:00:01.123456', data['generated'])
        self.assertEqual({}, data['raw'])
        traits = {name: (kind, value) for name, kind, value
                  in data['traits']}
        self.assertEqual((1, samples.INSTANCE_ID), traits['resource_id'])
        self.assertEqual((4, '2024-05-01T09:58:40'), traits['launched_at'])


class TestTraitTypes(base.TestCase):

    def _transformer(self, traits):
        return transformer.Transformer([transformer.EventDefinition(
            {'event_type': 'probe.*', 'traits': traits})])

    def test_int_float_and_text(self):
        t = self._transformer({
            'count': {'type': 'int', 'fields': 'payload.count'},
            'load': {'type': 'float', 'fields': 'payload.load'},
            'name': 'payload.name'})
        event = t.transform(None, 'probe.x', {'count': '7', 'load': 2,
                                              'name': 12}, {})
        self.assertEqual({'count': 7, 'load': 2.0, 'name': '12'},
                         event.traits)
        self.assertEqual([['count', 2, 7], ['load', 3, 2.0],
                          ['name', 1, '12']], event.as_dict()['traits'])

    def test_unconvertible_value_leaves_the_trait_out(self):
        t = self._transformer({
            'count': {'type': 'int', 'fields': 'payload.count'},
            'at': {'type': 'datetime', 'fields': 'payload.at'}})
        event = t.transform(None, 'probe.x', {'count': 'many',
                                              'at': 'soon'}, {})
        self.assertEqual({}, event.traits)

    def test_first_path_present_wins(self):
        t = self._transformer({'id': {'fields': ['payload.a', 'payload.b',
                                                 'payload.c']}})
        event = t.transform(None, 'probe.x', {'b': 'second', 'c': 'third'},
                            {})
        self.assertEqual('second', event.traits['id'])

    def test_envelope_fields(self):
        t = self._transformer({
            'publisher': 'publisher_id', 'type': 'event_type',
            'message': 'metadata.message_id', 'user': 'ctxt.user_id'})
        event = t.transform('p-1', 'probe.x', {}, {'message_id': 'm-1'},
                            {'user_id': 'u-1'})
        self.assertEqual({'publisher': 'p-1', 'type': 'probe.x',
                          'message': 'm-1', 'user': 'u-1'}, event.traits)

    def test_first_matching_definition_wins(self):
        t = transformer.Transformer([
            transformer.EventDefinition({'event_type': ['a.b', 'a.c'],
                                         'traits': {'which': 'ctxt.x'}}),
            transformer.EventDefinition({'event_type': 'a.*',
                                         'traits': {'other': 'ctxt.x'}})])
        self.assertIn('which', t.transform(None, 'a.c', {}, {},
                                           {'x': 1}).traits)
        self.assertIn('other', t.transform(None, 'a.d', {}, {},
                                           {'x': 1}).traits)


class TestInvalidDefinitions(base.TestCase):

    def _load(self, text):
        path = os.path.join(self.state_path, 'defs.yaml')
        with open(path, 'w') as f:
            f.write(text)
        return transformer.Transformer.from_file(path)

    def _assert_invalid(self, text, *fragments):
        e = self.assertRaises(exception.EventDefinitionError,
                              self._load, text)
        for fragment in fragments:
            self.assertIn(fragment, str(e))
        return e

    def test_missing_file(self):
        missing = os.path.join(self.state_path, 'nope.yaml')
        e = self.assertRaises(exception.EventDefinitionError,
                              transformer.Transformer.from_file, missing)
        self.assertIn(missing, str(e))

    def test_yaml_syntax_error(self):
        self._assert_invalid('- event_type: [a\n', 'cannot read')

    def test_not_a_list(self):
        self._assert_invalid('event_type: a.b\n', 'list of definitions')
        self._assert_invalid('', 'list of definitions')

    def test_entry_not_a_mapping(self):
        self._assert_invalid('- a.b\n', 'must be a mapping')

    def test_missing_or_bad_event_type(self):
        self._assert_invalid('- traits: {}\n', '"event_type"')
        self._assert_invalid('- event_type: [a.b, 3]\n', '"event_type"')

    def test_unknown_definition_key(self):
        # A misspelt "traits" would otherwise give events with no traits.
        self._assert_invalid(
            '- event_type: a.b\n  trait:\n    x: payload.x\n',
            "unknown keys: trait")

    def test_traits_not_a_mapping(self):
        self._assert_invalid('- event_type: a.b\n  traits: [x]\n',
                             '"traits"', 'must be a mapping')

    def test_trait_not_a_mapping(self):
        self._assert_invalid(
            '- event_type: a.b\n  traits:\n    x: [payload.x]\n',
            'trait x must be a mapping')

    def test_trait_unknown_key(self):
        self._assert_invalid(
            '- event_type: a.b\n  traits:\n'
            '    x: {fields: payload.x, plugin: split}\n',
            'trait x has unknown keys: plugin')

    def test_trait_bad_type(self):
        self._assert_invalid(
            '- event_type: a.b\n  traits:\n'
            '    x: {fields: payload.x, type: string}\n',
            "trait x has type 'string'", 'datetime, float, int, text')

    def test_trait_without_fields(self):
        self._assert_invalid(
            '- event_type: a.b\n  traits:\n    x: {type: int}\n',
            'trait x needs "fields"')

    def test_trait_bad_path(self):
        self._assert_invalid(
            '- event_type: a.b\n  traits:\n    x: payload..x\n',
            'trait x', "'payload..x'")

    def test_is_a_config_error(self):
        e = self._assert_invalid('{}\n')
        self.assertIsInstance(e, exception.ConfigInvalid)

    def test_entry_errors_name_the_file_and_the_entry(self):
        good = '- event_type: a.good\n  traits:\n    x: payload.x\n'
        path = os.path.join(self.state_path, 'defs.yaml')
        for bad, event_type, reason in (
                ('- a.b\n', 'no event_type', 'must be a mapping'),
                ('- traits: {}\n', 'no event_type', '"event_type"'),
                ('- event_type: [a.b, 3]\n', "event_type ['a.b', 3]",
                 '"event_type"'),
                ('- event_type: a.b\n  trait: {}\n', "event_type 'a.b'",
                 'unknown keys: trait'),
                ('- event_type: a.b\n  traits: [x]\n', "event_type 'a.b'",
                 '"traits" must be a mapping'),
                ('- event_type: a.b\n  traits:\n    x: [payload.x]\n',
                 "event_type 'a.b'", 'trait x must be a mapping'),
                ('- event_type: a.b\n  traits:\n    x: {type: int}\n',
                 "event_type 'a.b'", 'trait x needs "fields"'),
                ('- event_type: a.b\n  traits:\n'
                 '    x: {fields: payload.x, type: string}\n',
                 "event_type 'a.b'", "trait x has type 'string'"),
                ('- event_type: [a.b, a.c]\n  traits:\n'
                 '    x: payload..x\n', "event_type ['a.b', 'a.c']",
                 "trait x: cannot parse path 'payload..x'")):
            message = str(self._assert_invalid(good + bad))
            prefix = ('Invalid event definition: %s: entry at index 1 '
                      '(line 4, %s): ' % (path, event_type))
            self.assertTrue(message.startswith(prefix), message)
            self.assertIn(reason, message[len(prefix):])
            self.assertNotIn('\n', message)

    def test_file_errors_name_the_file_on_one_line(self):
        path = os.path.join(self.state_path, 'defs.yaml')
        for text, fragment in (('- event_type: [a\n', 'line 2, column 1'),
                               ('event_type: a.b\n', 'list of definitions'),
                               ('', 'list of definitions')):
            e = self._assert_invalid(text, path, fragment)
            self.assertNotIn('\n', str(e))


class TestFindDefinitionsFile(base.TestCase):

    def test_default_is_the_shipped_file(self):
        self.assertEqual(samples.SHIPPED,
                         transformer.find_definitions_file(self.conf))

    def test_absolute_name_is_kept(self):
        self.config.config(event_definitions_file='/srv/defs.yaml',
                           group='evaluator')
        self.assertEqual('/srv/defs.yaml',
                         transformer.find_definitions_file(self.conf))

    def test_beside_the_configuration_file(self):
        config_file = os.path.join(self.state_path, 'doctor.conf')
        defs = os.path.join(self.state_path, 'event_definitions.yaml')
        for path in (config_file, defs):
            with open(path, 'w') as f:
                f.write('\n')
        conf = cfg.ConfigOpts()
        service.prepare_service(['--config-file', config_file], conf=conf,
                                default_config_files=[])
        self.addCleanup(conf.reset)
        self.assertEqual(defs, transformer.find_definitions_file(conf))

    def test_not_found(self):
        self.config.config(event_definitions_file='missing.yaml',
                           group='evaluator')
        e = self.assertRaises(exception.ConfigInvalid,
                              transformer.find_definitions_file, self.conf)
        self.assertIn('missing.yaml', str(e))


class TestDefinitionCache(base.TestCase):
    """Event type names come from outside: the cache stays bounded."""

    def setUp(self):
        super().setUp()
        self.subject = transformer.Transformer([transformer.EventDefinition(
            {'event_type': 'compute.instance.*',
             'traits': {'resource_id': {'fields': 'payload.id'}}})])

    def _transform(self, event_type):
        return self.subject.transform(
            'compute.host-1', event_type, {'id': 'r-1'},
            {'message_id': 'm-1', 'timestamp': '2024-05-01 10:00:00'})

    def test_long_names_are_not_cached(self):
        name = 'compute.instance.' + 'x' * transformer.CACHED_NAME_MAX
        self.assertEqual('r-1', self._transform(name).resource_id)
        self.assertNotIn(name, self.subject._cache)
        self.assertEqual(0, self.subject._cached_chars)

    def test_cache_is_bounded_by_characters(self):
        self.useFixture(fixtures.MockPatchObject(
            transformer, 'CACHE_CHARS', 100))
        for number in range(20):
            self._transform('unknown.type.%d' % number)
        self.assertLessEqual(self.subject._cached_chars, 100)
        self.assertLess(len(self.subject._cache), 20)
        # Names past the budget are still transformed, only not cached.
        self.assertEqual('r-1', self._transform(
            'compute.instance.update').resource_id)
