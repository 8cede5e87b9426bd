"""Checks of the raw request before pecan sees it.

A request whose path, query string, identity headers or body cannot be
what doctor stores or parses is answered here, with doctor's error body
and one INFO log line, instead of failing deeper down (in pecan's routing
or JSON decoding, or in the database) with a 500:

* the path and the query string must be UTF-8 and hold no NUL;
* the identity headers (X-Project-Id, X-User-Id and their kin) must fit
  the columns they are stored in, and no header may hold a NUL;
* the body must arrive whole (400 if the client sent less than its
  Content-Length and closed, 408 if it stopped sending), be at most
  ``[api] max_request_body_size`` bytes (413), nest JSON arrays and
  objects at most :data:`MAX_JSON_DEPTH` deep, and be JSON rather than a
  form (multipart or urlencoded).

The body is read here once and handed on in memory, so that nothing
after this point waits for the client.
"""

from collections.abc import Callable
from collections.abc import Iterable
from http import client as http_client
import io
import itertools
import re
from urllib import parse

from oslo_log import log

from doctor.api import errors
from doctor.i18n import _

LOG = log.getLogger(__name__)

#: Deepest nesting of JSON arrays and objects a request body may have.
MAX_JSON_DEPTH = 32

#: Longest value of an identity header: the width of the project and
#: user columns.
MAX_ID_LENGTH = 128

# The headers a context is built from whose values end up in columns.
_ID_HEADERS = ('HTTP_X_PROJECT_ID', 'HTTP_X_USER_ID', 'HTTP_X_TENANT_ID',
               'HTTP_X_TENANT', 'HTTP_X_USER', 'HTTP_X_DOMAIN_ID',
               'HTTP_X_USER_DOMAIN_ID', 'HTTP_X_PROJECT_DOMAIN_ID')

_FORM_TYPES = ('multipart/', 'application/x-www-form-urlencoded')

# JSON strings (with their escapes) are skipped when counting brackets.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}')
_DEPTH_STEP = {ord('['): 1, ord('{'): 1, ord(']'): -1, ord('}'): -1}


class _Refused(Exception):
    """A request refused with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest.

    Brackets inside strings do not count; the text need not be valid JSON.
    """
    brackets = _JSON_STRING.sub(b'', body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(itertools.accumulate(_DEPTH_STEP[b] for b in brackets))


def _utf8(raw: str, what: str) -> str:
    try:
        return raw.encode('latin-1').decode('utf-8')
    except UnicodeError:
        raise _Refused(http_client.BAD_REQUEST,
                       _('the %s is not valid UTF-8') % what)


def _check_path(environ: dict) -> None:
    path = _utf8(environ.get('PATH_INFO', ''), 'path')
    if '\x00' in path:
        raise _Refused(http_client.BAD_REQUEST,
                       _('the path holds a NUL character'))


def _check_query(environ: dict) -> None:
    query = environ.get('QUERY_STRING', '')
    if not query:
        return
    try:
        pairs = parse.parse_qsl(query.encode('latin-1').decode('ascii'),
                                keep_blank_values=True, encoding='utf-8',
                                errors='strict')
    except (UnicodeError, ValueError):
        raise _Refused(http_client.BAD_REQUEST,
                       _('the query string is not valid UTF-8'))
    for name, value in pairs:
        if '\x00' in name or '\x00' in value:
            raise _Refused(http_client.BAD_REQUEST,
                           _('query parameter %r holds a NUL character')
                           % name.replace('\x00', ''))


def _check_headers(environ: dict) -> None:
    for key, value in environ.items():
        # Middleware before this one (keystonemiddleware) may leave an
        # HTTP_ key set to None or to something else than text.
        if (key.startswith('HTTP_') and isinstance(value, str)
                and '\x00' in value):
            raise _Refused(http_client.BAD_REQUEST,
                           _('header %s holds a NUL character')
                           % _header_name(key))
    for key in _ID_HEADERS:
        value = environ.get(key)
        if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
            raise _Refused(http_client.BAD_REQUEST,
                           _('header %(name)s is longer than %(max)d '
                             'characters') % {'name': _header_name(key),
                                              'max': MAX_ID_LENGTH})


def _header_name(key: str) -> str:
    return '-'.join(part.capitalize() for part in key[5:].split('_'))


def _content_length(environ: dict) -> int | None:
    text = environ.get('CONTENT_LENGTH') or ''
    if not text:
        return None
    if not text.isdigit():
        raise _Refused(http_client.BAD_REQUEST,
                       _('Content-Length is not a number of bytes'))
    return int(text)


def _read_body(environ: dict, max_size: int) -> bytes | None:
    """The whole body, or None for a request that has none."""
    length = _content_length(environ)
    chunked = 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower()
    if length is None and not chunked:
        return None
    if length is not None and length > max_size:
        raise _Refused(http_client.REQUEST_ENTITY_TOO_LARGE,
                       _('the request body is larger than %d bytes')
                       % max_size)
    stream = environ['wsgi.input']
    wanted = max_size + 1 if length is None else length
    parts = []
    received = 0
    try:
        while received < wanted:
            part = stream.read(min(wanted - received, 65536))
            if not part:
                break
            parts.append(part)
            received += len(part)
    except (TimeoutError, OSError, ValueError):
        raise _Refused(http_client.REQUEST_TIMEOUT,
                       _('the request body did not arrive in time'))
    if received > max_size:
        raise _Refused(http_client.REQUEST_ENTITY_TOO_LARGE,
                       _('the request body is larger than %d bytes')
                       % max_size)
    if length is not None and received < length:
        raise _Refused(http_client.BAD_REQUEST,
                       _('the request body is shorter than its '
                         'Content-Length'))
    return b''.join(parts)


def _check_body(environ: dict, body: bytes) -> None:
    if not body:
        return
    content_type = environ.get('CONTENT_TYPE', '').strip().lower()
    if content_type.startswith(_FORM_TYPES):
        raise _Refused(http_client.BAD_REQUEST,
                       _('request bodies are JSON (application/json), '
                         'not forms'))
    if json_depth(body) > MAX_JSON_DEPTH:
        raise _Refused(http_client.BAD_REQUEST,
                       _('the request body nests arrays and objects more '
                         'than %d deep') % MAX_JSON_DEPTH)


class RequestChecks:
    """Refuses, before the app, a request it could not handle safely."""

    def __init__(self, app: Callable, max_body_size: int) -> None:
        self._app = app
        self._max_body_size = max_body_size

    def __call__(self, environ: dict, start_response: Callable
                 ) -> Iterable[bytes]:
        try:
            _check_path(environ)
            _check_query(environ)
            _check_headers(environ)
            body = _read_body(environ, self._max_body_size)
            if body is not None:
                _check_body(environ, body)
                environ['wsgi.input'] = io.BytesIO(body)
                environ['CONTENT_LENGTH'] = str(len(body))
                environ.pop('HTTP_TRANSFER_ENCODING', None)
        except _Refused as refused:
            LOG.info('%s %s answered %d: %s',
                     environ.get('REQUEST_METHOD'),
                     errors.display_path(environ), refused.status,
                     refused.message)
            response = errors.error_response(refused.status,
                                             refused.message)
            return response(environ, start_response)
        return self._app(environ, start_response)
