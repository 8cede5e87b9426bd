"""The HA guest protocol, version 1, as the compute agent checks it.

Every frame is one JSON object on one line, at most
:data:`~doctor.heartbeat.guest.MAX_FRAME` bytes with its newline::

    {"v": 1, "app": "heartbeat", "seq": 7, "msg": "register", "body": {...}}

``app`` multiplexes the applications of the channel (``base``,
``heartbeat``, ``servergroup``); ``seq`` numbers the frames of each
sender, rising by one from 1 (it may start again at 1 after a
reconnection or a ``hello``). The framing itself is in
:mod:`doctor.heartbeat.guest`, the module guests carry.

:func:`parse` turns a guest's line into a :class:`Message`, or raises
:class:`ProtocolError` with the code of the ``error`` frame the guest is
answered with. Nothing a guest sends can make it raise anything else.
"""

import dataclasses
import json
import typing

from doctor.heartbeat import guest

VERSION = guest.VERSION
VERSIONS = guest.VERSIONS
MAX_FRAME = guest.MAX_FRAME
MAX_SEQ = guest.MAX_SEQ

BASE = guest.BASE
HEARTBEAT = guest.HEARTBEAT
SERVER_GROUP = guest.SERVER_GROUP

HEALTHY = guest.HEALTHY
UNHEALTHY = guest.UNHEALTHY

# Codes of the error frames.
MALFORMED = 'malformed'
TOO_LARGE = 'too_large'
UNSUPPORTED_VERSION = 'unsupported_version'
OUT_OF_ORDER = 'out_of_order'
UNKNOWN_MESSAGE = 'unknown_message'
INVALID = 'invalid'
NOT_REGISTERED = 'not_registered'
RATE_LIMITED = 'rate_limited'
NO_SERVER_GROUP = 'no_server_group'

MAX_TEXT = 255
MAX_ID = 64
# Largest broadcast payload, as compact JSON, in bytes: what fits in a
# frame with the envelope and the sender's id around it.
MAX_DATA = 2048
MAX_THRESHOLD = 100
CORRECTIVE_ACTIONS = ('none', 'reboot', 'stop')


class ProtocolError(Exception):
    """A frame the agent refuses; ``code`` goes back in the error frame.
    """

    def __init__(self, code: str, reason: str, seq: int | None = None
                 ) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.seq = seq


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One checked message of a guest."""

    app: str
    msg: str
    seq: int
    body: dict


def _text(body: dict, name: str, required: bool = False,
          limit: int = MAX_TEXT) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise ProtocolError(INVALID, '%s must be a%s string'
                            % (name, ' non-empty' if required else ''))
    if len(value) > limit:
        raise ProtocolError(INVALID, '%s is longer than %d characters'
                            % (name, limit))
    return value


def _integer(body: dict, name: str, low: int, high: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(INVALID, '%s must be an integer' % name)
    if not low <= value <= high:
        raise ProtocolError(INVALID, '%s must be between %d and %d, not %d'
                            % (name, low, high, value))
    return value


def _hello(body: dict) -> dict:
    versions = body.get('versions')
    if (not isinstance(versions, list) or not versions or len(versions) > 16
            or not all(isinstance(v, int) and not isinstance(v, bool)
                       for v in versions)):
        raise ProtocolError(INVALID, 'versions must be a list of integers')
    return {'versions': versions}


def _register(body: dict) -> dict:
    checked = {
        'interval_ms': _integer(body, 'interval_ms', 1, 3600000),
        'threshold': _integer(body, 'threshold', 1, MAX_THRESHOLD),
        'health_check': body.get('health_check', False),
    }
    if not isinstance(checked['health_check'], bool):
        raise ProtocolError(INVALID, 'health_check must be a boolean')
    return checked


def _response(body: dict) -> dict:
    health = body.get('health', HEALTHY)
    if health not in (HEALTHY, UNHEALTHY):
        raise ProtocolError(INVALID, 'health must be healthy or unhealthy')
    return {'nonce': _text(body, 'nonce', required=True, limit=MAX_ID),
            'health': health, 'reason': _text(body, 'reason') or ''}


def _health(body: dict) -> dict:
    status = body.get('status')
    if status not in (HEALTHY, UNHEALTHY):
        raise ProtocolError(INVALID, 'status must be healthy or unhealthy')
    action = body.get('action', 'none')
    if action not in CORRECTIVE_ACTIONS:
        raise ProtocolError(INVALID, 'action must be one of %s'
                            % ', '.join(CORRECTIVE_ACTIONS))
    return {'status': status, 'reason': _text(body, 'reason') or '',
            'action': action}


def _broadcast(body: dict) -> dict:
    message_id = _text(body, 'id', required=True, limit=MAX_ID)
    if 'data' not in body:
        raise ProtocolError(INVALID, 'data is required')
    size = len(json.dumps(body['data'], separators=(',', ':')))
    if size > MAX_DATA:
        raise ProtocolError(TOO_LARGE, 'data is %d bytes, more than %d'
                            % (size, MAX_DATA))
    return {'id': message_id, 'data': body['data']}


def _empty(body: dict) -> dict:
    return {}


# What a guest may send: (app, msg) → the checker of its body.
GUEST_MESSAGES: dict[tuple[str, str], typing.Callable[[dict], dict]] = {
    (BASE, 'hello'): _hello,
    (HEARTBEAT, 'register'): _register,
    (HEARTBEAT, 'response'): _response,
    (HEARTBEAT, 'health'): _health,
    (HEARTBEAT, 'deregister'): _empty,
    (SERVER_GROUP, 'broadcast'): _broadcast,
}


def parse(line: bytes | None) -> Message:
    """Check one frame of a guest.

    :param line: the frame without its newline, or None for a frame the
        reader discarded as too large.
    :raises ProtocolError: saying why the frame is refused.
    """
    if line is None:
        raise ProtocolError(TOO_LARGE, 'frame longer than %d bytes'
                            % MAX_FRAME)
    try:
        frame = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError(MALFORMED, 'not a JSON object')
    if not isinstance(frame, dict):
        raise ProtocolError(MALFORMED, 'not a JSON object')
    seq = frame.get('seq')
    if isinstance(seq, bool) or not isinstance(seq, int) or not (
            1 <= seq <= MAX_SEQ):
        raise ProtocolError(MALFORMED, 'seq must be an integer from 1 to %d'
                            % MAX_SEQ)
    if frame.get('v') != VERSION:
        raise ProtocolError(UNSUPPORTED_VERSION, 'version %r is not %d'
                            % (frame.get('v'), VERSION), seq)
    app, msg, body = frame.get('app'), frame.get('msg'), frame.get('body')
    if not isinstance(body, dict):
        raise ProtocolError(MALFORMED, 'body must be an object', seq)
    check = GUEST_MESSAGES.get((app, msg))  # type: ignore[arg-type]
    if check is None:
        raise ProtocolError(UNKNOWN_MESSAGE, 'unknown message %.32r of %.32r'
                            % (msg, app), seq)
    try:
        checked = check(body)
    except ProtocolError as e:
        e.seq = seq
        raise
    return Message(typing.cast(str, app), typing.cast(str, msg), seq,
                   checked)


class Sequence:
    """The sequence numbers of one sender: each must follow the last.

    A gap (frames lost when the channel broke) is accepted; a number not
    greater than the last one is out of order, except 1, which starts
    the numbering again.
    """

    def __init__(self) -> None:
        self.last = 0

    def check(self, seq: int) -> None:
        """:raises ProtocolError: if ``seq`` is out of order."""
        if seq != 1 and seq <= self.last:
            raise ProtocolError(OUT_OF_ORDER, 'seq %d after %d'
                                % (seq, self.last), seq)
        self.last = seq


def negotiate(versions: list[int]) -> int | None:
    """The highest version both ends speak, or None."""
    common = set(versions) & set(VERSIONS)
    return max(common) if common else None
