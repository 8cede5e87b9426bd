"""The HA guest protocol: framing and the checks of a guest's frames."""

import json
import os
import random

from doctor.heartbeat import guest
from doctor.heartbeat import protocol
from doctor.tests import base


def frame(app='heartbeat', msg='register', seq=1, body=None, **extra):
    values = {'v': 1, 'app': app, 'seq': seq, 'msg': msg,
              'body': {'interval_ms': 1000, 'threshold': 3}
              if body is None else body}
    values.update(extra)
    return json.dumps(values).encode()


class TestFraming(base.TestCase):

    def test_encode_is_one_compact_line(self):
        line = guest.encode('heartbeat', 'challenge', 5, {'nonce': 'a'})
        self.assertTrue(line.endswith(b'\n'))
        self.assertEqual(1, line.count(b'\n'))
        self.assertEqual({'v': 1, 'app': 'heartbeat', 'seq': 5,
                          'msg': 'challenge', 'body': {'nonce': 'a'}},
                         json.loads(line))

    def test_encode_refuses_a_frame_too_large(self):
        self.assertRaises(guest.FrameTooLarge, guest.encode, 'servergroup',
                          'broadcast', 1, {'data': 'x' * 5000})

    def test_reader_splits_lines_across_reads(self):
        reader = guest.LineReader(64)
        self.assertEqual([], reader.feed(b'{"a"'))
        self.assertEqual([b'{"a":1}', b'{}'], reader.feed(b':1}\n{}\n{'))
        self.assertEqual([b'{"b":2}'], reader.feed(b'"b":2}\n'))

    def test_an_oversized_frame_is_skipped_to_its_newline(self):
        reader = guest.LineReader(16)
        found = reader.feed(b'x' * 10)
        found += reader.feed(b'y' * 100)
        found += reader.feed(b'z' * 100 + b'\n{"ok":1}\n')
        self.assertEqual([None, b'{"ok":1}'], found)

    def test_a_frame_of_exactly_the_maximum_is_taken(self):
        reader = guest.LineReader(8)
        self.assertEqual([b'1234567'], reader.feed(b'1234567\n'))
        self.assertEqual([None], reader.feed(b'12345678\n'))


class TestParse(base.TestCase):

    def assert_refused(self, line, code):
        error = self.assertRaises(protocol.ProtocolError, protocol.parse,
                                  line)
        self.assertEqual(code, error.code, error.reason)
        return error

    def test_a_registration(self):
        message = protocol.parse(frame(seq=3))
        self.assertEqual(('heartbeat', 'register', 3), (
            message.app, message.msg, message.seq))
        self.assertEqual({'interval_ms': 1000, 'threshold': 3,
                          'health_check': False}, message.body)

    def test_oversized(self):
        self.assert_refused(None, protocol.TOO_LARGE)

    def test_not_json(self):
        self.assert_refused(b'{"v": 1, ', protocol.MALFORMED)
        self.assert_refused(b'\xff\xfe', protocol.MALFORMED)
        self.assert_refused(b'[1, 2]', protocol.MALFORMED)

    def test_deep_nesting_is_malformed_not_a_crash(self):
        self.assert_refused(b'[' * 100000 + b']' * 100000,
                            protocol.MALFORMED)

    def test_sequence_number(self):
        for seq in (None, 0, -1, True, 'one', 2 ** 53):
            self.assert_refused(frame(seq=seq), protocol.MALFORMED)

    def test_another_version(self):
        error = self.assert_refused(frame(v=2, seq=4),
                                    protocol.UNSUPPORTED_VERSION)
        self.assertEqual(4, error.seq)

    def test_unknown_application_or_message(self):
        self.assert_refused(frame(app='other'), protocol.UNKNOWN_MESSAGE)
        self.assert_refused(frame(msg='challenge'),
                            protocol.UNKNOWN_MESSAGE)

    def test_body_must_be_an_object(self):
        self.assert_refused(frame(body=[]), protocol.MALFORMED)

    def test_registration_bounds(self):
        for body in ({'interval_ms': 0, 'threshold': 3},
                     {'interval_ms': True, 'threshold': 3},
                     {'interval_ms': 1000, 'threshold': 101},
                     {'interval_ms': '1000', 'threshold': 3},
                     {'threshold': 3},
                     {'interval_ms': 1000, 'threshold': 3,
                      'health_check': 'yes'}):
            error = self.assert_refused(frame(body=body, seq=9),
                                        protocol.INVALID)
            self.assertEqual(9, error.seq)

    def test_health_reports(self):
        message = protocol.parse(frame(msg='health', body={
            'status': 'unhealthy', 'reason': 'db down', 'action': 'reboot'}))
        self.assertEqual({'status': 'unhealthy', 'reason': 'db down',
                          'action': 'reboot'}, message.body)
        for body in ({'status': 'fine'},
                     {'status': 'unhealthy', 'reason': 'x' * 256},
                     {'status': 'unhealthy', 'action': 'format disk'}):
            self.assert_refused(frame(msg='health', body=body),
                                protocol.INVALID)

    def test_responses(self):
        message = protocol.parse(frame(msg='response', body={'nonce': '1f'}))
        self.assertEqual({'nonce': '1f', 'health': 'healthy', 'reason': ''},
                         message.body)
        self.assert_refused(frame(msg='response', body={}), protocol.INVALID)
        self.assert_refused(frame(msg='response', body={'nonce': 5}),
                            protocol.INVALID)

    def test_broadcasts(self):
        message = protocol.parse(frame(
            app='servergroup', msg='broadcast',
            body={'id': 'm1', 'data': {'role': 'active'}}))
        self.assertEqual({'id': 'm1', 'data': {'role': 'active'}},
                         message.body)
        self.assert_refused(frame(app='servergroup', msg='broadcast',
                                  body={'id': 'm1'}), protocol.INVALID)
        self.assert_refused(frame(app='servergroup', msg='broadcast',
                                  body={'id': 'm1',
                                        'data': 'x' * (protocol.MAX_DATA)}),
                            protocol.TOO_LARGE)

    def test_random_bytes_raise_protocol_errors_only(self):
        randomness = random.Random(15)
        valid = frame()
        for _ in range(2000):
            line = bytearray(valid)
            for _ in range(randomness.randint(1, 8)):
                line[randomness.randrange(len(line))] = randomness.randrange(
                    256)
            try:
                protocol.parse(bytes(line))
            except protocol.ProtocolError:
                pass


class TestSequence(base.TestCase):

    def test_rising_numbers_and_gaps_are_in_order(self):
        sequence = protocol.Sequence()
        for seq in (1, 2, 5, 6):
            sequence.check(seq)

    def test_a_number_not_rising_is_out_of_order(self):
        sequence = protocol.Sequence()
        sequence.check(1)
        sequence.check(7)
        for seq in (7, 3):
            error = self.assertRaises(protocol.ProtocolError, sequence.check,
                                      seq)
            self.assertEqual(protocol.OUT_OF_ORDER, error.code)
        sequence.check(1)
        sequence.check(2)

    def test_negotiate(self):
        self.assertEqual(1, protocol.negotiate([3, 2, 1]))
        self.assertIsNone(protocol.negotiate([2]))


USER_GUIDE = os.path.normpath(os.path.join(
    os.path.dirname(__file__), '..', '..', '..', '..', 'doc', 'source',
    'user', 'ha-guest.rst'))


def _blocks(after: str) -> list[str]:
    """The lines of the first code block after the line ``after``."""
    with open(USER_GUIDE) as f:
        lines = f.read().splitlines()
    start = lines.index(after)
    start = lines.index('.. code-block:: text', start) + 2
    block = []
    for line in lines[start:]:
        if line and not line.startswith('   '):
            break
        if line.strip():
            block.append(line.strip())
    return block


class TestUserGuideExamples(base.TestCase):
    """The protocol examples of the user guide are what the agent does."""

    def test_what_a_guest_sends_is_taken(self):
        lines = _blocks('What a guest sends, as a session goes; each line '
                        'is checked against the')
        self.assertEqual(6, len(lines))
        sequence = protocol.Sequence()
        for line in lines:
            message = protocol.parse(line.encode())
            sequence.check(message.seq)

    def test_what_the_agent_answers_to_refused_frames(self):
        lines = _blocks('And what the compute agent answers to frames it '
                        'refuses:')
        self.assertEqual(4, len(lines))
        for sent, answer in zip(lines[::2], lines[1::2]):
            error = self.assertRaises(protocol.ProtocolError,
                                      protocol.parse, sent.encode())
            body = json.loads(answer)['body']
            self.assertEqual(body, {'code': error.code,
                                    'reason': error.reason,
                                    'ref_seq': error.seq})
