"""Tests of the paths event definitions and alarm queries read values by."""

from doctor.common import jsonpath
from doctor.tests import base

NOVA_VERSIONED = {
    'payload': {
        'nova_object.name': 'InstanceUpdatePayload',
        'nova_object.data': {
            'uuid': '5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01',
            'ip_addresses': [
                {'nova_object.data': {'address': '10.0.0.5'}},
                {'nova_object.data': {'address': '10.0.0.6'}},
            ],
        },
    },
}


class TestPath(base.TestCase):

    def test_plain_dotted_path(self):
        path = jsonpath.Path('payload.instance_id')
        self.assertEqual('i-1', path.get(
            {'payload': {'instance_id': 'i-1'}}))

    def test_single_key(self):
        self.assertEqual('compute-0', jsonpath.Path('publisher_id').get(
            {'publisher_id': 'compute-0'}))

    def test_quoted_key_with_dots_is_one_key(self):
        path = jsonpath.Path("payload.'nova_object.data'.uuid")
        self.assertEqual('5d9a6f0e-7b1c-4a55-9d0e-0f3b1c2d4e01',
                         path.get(NOVA_VERSIONED))
        self.assertEqual(('payload', 'nova_object.data', 'uuid'), path.steps)

    def test_unquoted_dotted_key_does_not_match(self):
        path = jsonpath.Path('payload.nova_object.data.uuid')
        self.assertIsNone(path.get(NOVA_VERSIONED))

    def test_indexes(self):
        path = jsonpath.Path(
            "payload.'nova_object.data'.ip_addresses[1]"
            ".'nova_object.data'.address")
        self.assertEqual('10.0.0.6', path.get(NOVA_VERSIONED))

    def test_consecutive_indexes(self):
        path = jsonpath.Path('payload.matrix[1][0]')
        self.assertEqual(3, path.get({'payload': {'matrix': [[1, 2],
                                                             [3, 4]]}}))

    def test_dollar_prefix_is_the_root(self):
        plain = jsonpath.Path('payload.port.id')
        rooted = jsonpath.Path('$.payload.port.id')
        body = {'payload': {'port': {'id': 'p-1'}}}
        self.assertEqual('p-1', rooted.get(body))
        self.assertEqual(plain.steps, rooted.steps)

    def test_surrounding_whitespace_is_ignored(self):
        self.assertEqual(('payload', 'state'),
                         jsonpath.Path('  payload.state ').steps)

    def test_text_and_repr_keep_what_was_written(self):
        path = jsonpath.Path('$.payload.state')
        self.assertEqual('$.payload.state', path.text)
        self.assertEqual("Path('$.payload.state')", repr(path))

    def test_missing_key_is_none(self):
        path = jsonpath.Path('payload.port.binding_host')
        self.assertIsNone(path.get({'payload': {'port': {'id': 'p-1'}}}))
        self.assertIsNone(path.get({'payload': {}}))
        self.assertIsNone(path.get({}))

    def test_index_out_of_range_is_none(self):
        path = jsonpath.Path('payload.fixed_ips[3]')
        self.assertIsNone(path.get({'payload': {'fixed_ips': [1]}}))

    def test_wrong_container_type_is_none(self):
        self.assertIsNone(jsonpath.Path('payload.x[0]').get(
            {'payload': {'x': {'a': 1}}}))
        self.assertIsNone(jsonpath.Path('payload.x.y').get(
            {'payload': {'x': [1, 2]}}))
        self.assertIsNone(jsonpath.Path('payload.x').get(
            {'payload': 'a string payload'}))
        self.assertIsNone(jsonpath.Path('payload.x').get(None))

    def test_index_into_a_string_is_none(self):
        path = jsonpath.Path('payload.fixed_ips[0]')
        self.assertIsNone(path.get({'payload': {'fixed_ips': '10.0.0.5'}}))

    def test_falsy_values_are_returned(self):
        body = {'payload': {'disabled': False, 'count': 0, 'name': ''}}
        self.assertIs(False, jsonpath.Path('payload.disabled').get(body))
        self.assertEqual(0, jsonpath.Path('payload.count').get(body))
        self.assertEqual('', jsonpath.Path('payload.name').get(body))

    def test_containers_are_returned_whole(self):
        body = {'payload': {'port': {'id': 'p-1'}}}
        self.assertEqual({'id': 'p-1'},
                         jsonpath.Path('payload.port').get(body))


class TestPathErrors(base.TestCase):

    def _assert_invalid(self, text):
        self.assertRaises(jsonpath.PathError, jsonpath.Path, text)

    def test_empty(self):
        self._assert_invalid('')
        self._assert_invalid('   ')

    def test_not_a_string(self):
        self._assert_invalid(None)
        self._assert_invalid(['payload', 'x'])

    def test_trailing_dot(self):
        self._assert_invalid('payload.')

    def test_leading_or_double_dot(self):
        self._assert_invalid('.payload')
        self._assert_invalid('payload..state')
        self._assert_invalid('$..state')

    def test_unclosed_quote(self):
        self._assert_invalid("payload.'nova_object.data.uuid")

    def test_non_numeric_index(self):
        self._assert_invalid('payload.ports[x]')
        self._assert_invalid("payload['port']")

    def test_message_names_the_path_and_position(self):
        e = self.assertRaises(jsonpath.PathError, jsonpath.Path,
                              'payload..state')
        self.assertIn("'payload..state'", str(e))
        self.assertIn('position 8', str(e))

    def test_is_a_value_error(self):
        self.assertTrue(issubclass(jsonpath.PathError, ValueError))
