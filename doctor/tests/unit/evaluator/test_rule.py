"""Tests of notification rules: which events match an alarm."""

import datetime

from doctor.common import exception
from doctor.evaluator import rule
from doctor.evaluator import transformer
from doctor.tests import base


def make_event(event_type='compute.instance.update', traits=None,
               payload=None):
    traits = dict(traits or {})
    return transformer.Event(
        event_type=event_type, message_id='m-1',
        generated=datetime.datetime(2024, 5, 1, 10, 0),
        traits=traits, trait_types={name: 'text' for name in traits},
        payload=payload or {})


def compile_query(*queries, event_type='compute.instance.update',
                  **extra):
    return rule.compile_rule(dict(extra, event_type=event_type,
                                  query=list(queries)))


def query(field, op, value, type_=None):
    item = {'field': field, 'op': op, 'value': value}
    if type_ is not None:
        item['type'] = type_
    return item


class TestEventType(base.TestCase):

    def test_exact(self):
        compiled = compile_query(event_type='compute.instance.update')
        self.assertTrue(compiled.watches('compute.instance.update'))
        self.assertFalse(compiled.watches('compute.instance.update.end'))
        self.assertFalse(compiled.watches('compute.instance'))

    def test_star(self):
        compiled = compile_query(event_type='compute.instance.*')
        self.assertTrue(compiled.watches('compute.instance.update'))
        self.assertTrue(compiled.watches('compute.instance.power_off.end'))
        self.assertFalse(compiled.watches('instance.update'))

    def test_question_mark_and_brackets(self):
        compiled = compile_query(event_type='port.[cu]*.en?')
        self.assertTrue(compiled.watches('port.create.end'))
        self.assertTrue(compiled.watches('port.update.end'))
        self.assertFalse(compiled.watches('port.delete.end'))

    def test_dots_are_literal(self):
        compiled = compile_query(event_type='port.update.end')
        self.assertFalse(compiled.watches('portXupdateXend'))


class TestOperators(base.TestCase):

    def _results(self, op, value, actual, type_='integer'):
        compiled = compile_query(query('traits.n', op, value, type_))
        return compiled.matches(make_event(traits={'n': actual}))

    def test_integer_operators(self):
        expected = {
            'lt': (True, False, False), 'le': (True, True, False),
            'eq': (False, True, False), 'ne': (True, False, True),
            'ge': (False, True, True), 'gt': (False, False, True),
        }
        for op, results in expected.items():
            actual = tuple(self._results(op, 5, n) for n in ('4', '5', '6'))
            self.assertEqual(results, actual, op)

    def test_default_op_is_eq(self):
        compiled = compile_query({'field': 'traits.state',
                                  'value': 'error'})
        self.assertTrue(compiled.matches(make_event(
            traits={'state': 'error'})))
        self.assertFalse(compiled.matches(make_event(
            traits={'state': 'active'})))

    def test_all_queries_must_match(self):
        compiled = compile_query(query('traits.state', 'eq', 'error'),
                                 query('traits.host', 'eq', 'compute-0'))
        self.assertTrue(compiled.matches(make_event(
            traits={'state': 'error', 'host': 'compute-0'})))
        self.assertFalse(compiled.matches(make_event(
            traits={'state': 'error', 'host': 'compute-1'})))

    def test_no_query_matches_every_watched_event(self):
        self.assertTrue(compile_query().matches(make_event()))


class TestTypes(base.TestCase):

    def _matches(self, q, traits=None, payload=None):
        return compile_query(q).matches(make_event(traits=traits,
                                                   payload=payload))

    def test_string_is_the_default(self):
        q = query('traits.state', 'eq', 'error')
        self.assertTrue(self._matches(q, {'state': 'error'}))
        self.assertFalse(self._matches(q, {'state': 'Error'}))

    def test_string_compares_as_text(self):
        # As strings, '10' sorts before '9'.
        q = query('traits.n', 'lt', '9', 'string')
        self.assertTrue(self._matches(q, {'n': '10'}))

    def test_integer_compares_as_numbers(self):
        q = query('traits.n', 'lt', '9', 'integer')
        self.assertFalse(self._matches(q, {'n': '10'}))
        self.assertTrue(self._matches(q, {'n': 8}))

    def test_integer_trait_that_is_not_a_number_does_not_match(self):
        q = query('traits.n', 'ne', 9, 'integer')
        self.assertFalse(self._matches(q, {'n': 'many'}))

    def test_float(self):
        q = query('payload.load', 'ge', '0.75', 'float')
        self.assertTrue(self._matches(q, payload={'load': 0.8}))
        self.assertFalse(self._matches(q, payload={'load': '0.7'}))

    def test_boolean(self):
        # The transformer gives Nova's forced_down as the text 'True'.
        q = query('traits.forced_down', 'eq', 'true', 'boolean')
        self.assertTrue(self._matches(q, {'forced_down': 'True'}))
        self.assertFalse(self._matches(q, {'forced_down': 'False'}))
        q = query('payload.forced_down', 'eq', False, 'boolean')
        self.assertTrue(self._matches(q, payload={'forced_down': False}))
        self.assertFalse(self._matches(q, payload={'forced_down': 'yes'}))

    def test_boolean_trait_that_is_not_a_boolean_does_not_match(self):
        q = query('traits.forced_down', 'ne', 'true', 'boolean')
        self.assertFalse(self._matches(q, {'forced_down': 'sometimes'}))

    def test_datetime(self):
        q = query('traits.launched_at', 'gt', '2024-05-01T09:00:00Z',
                  'datetime')
        self.assertTrue(self._matches(
            q, {'launched_at': datetime.datetime(2024, 5, 1, 9, 30)}))
        self.assertFalse(self._matches(
            q, {'launched_at': datetime.datetime(2024, 5, 1, 8, 30)}))
        self.assertTrue(self._matches(
            q, {'launched_at': '2024-05-01T09:00:01'}))

    def test_datetime_value_with_offset_is_normalized(self):
        q = query('traits.at', 'eq', '2024-05-01T11:00:00+02:00',
                  'datetime')
        self.assertTrue(self._matches(
            q, {'at': datetime.datetime(2024, 5, 1, 9, 0)}))


class TestFields(base.TestCase):

    def test_trait(self):
        compiled = compile_query(query('traits.state', 'eq', 'error'))
        self.assertTrue(compiled.matches(make_event(
            traits={'state': 'error'}, payload={'state': 'active'})))

    def test_payload_path(self):
        compiled = compile_query(query('payload.port.status', 'eq', 'DOWN'))
        self.assertTrue(compiled.matches(make_event(
            traits={'status': 'ACTIVE'},
            payload={'port': {'status': 'DOWN'}})))

    def test_payload_path_with_quoted_key(self):
        compiled = compile_query(query(
            "payload.'nova_object.data'.state", 'eq', 'error'))
        self.assertTrue(compiled.matches(make_event(
            payload={'nova_object.data': {'state': 'error'}})))

    def test_field_without_prefix_reads_the_payload(self):
        compiled = compile_query(query('port.status', 'eq', 'DOWN'))
        self.assertTrue(compiled.matches(make_event(
            payload={'port': {'status': 'DOWN'}})))

    def test_missing_trait_does_not_match(self):
        for op in rule.OPERATORS:
            compiled = compile_query(query('traits.state', op, 'error'))
            self.assertFalse(compiled.matches(make_event(
                traits={'host': 'compute-0'})), op)

    def test_missing_payload_field_does_not_match(self):
        compiled = compile_query(query('payload.port.status', 'ne', 'UP'))
        self.assertFalse(compiled.matches(make_event(payload={'port': {}})))
        self.assertFalse(compiled.matches(make_event(payload=None)))

    def test_describe(self):
        compiled = compile_query(query('traits.state', 'eq', 'error'),
                                 query('traits.n', 'gt', '3', 'integer'))
        self.assertEqual("traits.state eq 'error' AND traits.n gt 3",
                         compiled.describe())
        self.assertEqual('(no query)', compile_query().describe())

    def test_timeout(self):
        self.assertEqual(30.0, compile_query(timeout=30).timeout)
        self.assertEqual(1.5, compile_query(timeout='1.5').timeout)
        self.assertIsNone(compile_query().timeout)
        self.assertIsNone(compile_query(timeout=0).timeout)


class TestInvalidRules(base.TestCase):

    def _assert_invalid(self, rule_dict, field, *fragments):
        e = self.assertRaises(exception.InvalidField, rule.compile_rule,
                              rule_dict)
        self.assertEqual(field, e.kwargs['field'])
        self.assertIn("'%s'" % field, str(e))
        for fragment in fragments:
            self.assertIn(fragment, str(e))
        self.assertEqual(400, e.code)

    def _with_second_query(self, item):
        return {'event_type': 'compute.instance.update',
                'query': [query('traits.state', 'eq', 'error'), item]}

    def test_bad_op(self):
        self._assert_invalid(
            self._with_second_query(query('traits.n', 'gte', 1)),
            'notification_rule.query[1].op', "'gte'", 'lt, le, eq')
        self._assert_invalid(
            self._with_second_query(query('traits.n', ['eq'], 1)),
            'notification_rule.query[1].op')

    def test_bad_type(self):
        self._assert_invalid(
            self._with_second_query(query('traits.n', 'eq', 1, 'int')),
            'notification_rule.query[1].type', "'int'",
            'string, integer, float, boolean, datetime')

    def test_bad_values(self):
        for value, type_ in (('many', 'integer'), ('1.2.3', 'float'),
                             ('maybe', 'boolean'), ('tomorrow', 'datetime'),
                             ([1], 'integer')):
            self._assert_invalid(
                self._with_second_query(query('traits.n', 'eq', value,
                                              type_)),
                'notification_rule.query[1].value', 'not a valid %s'
                % type_)

    def test_missing_value(self):
        self._assert_invalid(
            self._with_second_query({'field': 'traits.state', 'op': 'eq'}),
            'notification_rule.query[1].value', 'required')

    def test_bad_field_path(self):
        self._assert_invalid(
            self._with_second_query(query('payload..state', 'eq', 'x')),
            'notification_rule.query[1].field', 'cannot parse path')
        self._assert_invalid(
            self._with_second_query(query('traits.', 'eq', 'x')),
            'notification_rule.query[1].field', 'trait name')

    def test_missing_field(self):
        for item in ({'op': 'eq', 'value': 'x'},
                     query('', 'eq', 'x'), query(['traits.a'], 'eq', 'x')):
            self._assert_invalid(self._with_second_query(item),
                                 'notification_rule.query[1].field')

    def test_query_item_not_an_object(self):
        self._assert_invalid(self._with_second_query('traits.state=error'),
                             'notification_rule.query[1]')

    def test_query_not_a_list(self):
        self._assert_invalid(
            {'event_type': 'a.b', 'query': query('traits.a', 'eq', 'x')},
            'notification_rule.query')

    def test_event_type(self):
        for rule_dict in ({}, {'event_type': ''}, {'event_type': 3}):
            self._assert_invalid(rule_dict, 'notification_rule.event_type')

    def test_rule_not_an_object(self):
        self._assert_invalid('compute.instance.update', 'notification_rule')

    def test_bad_timeout(self):
        for timeout in ('soon', -5, float('nan'), float('inf'), [30]):
            self._assert_invalid({'event_type': 'a.b', 'timeout': timeout},
                                 'notification_rule.timeout')
