"""JSON error bodies for every failed API request.

Every failure, whether raised by a controller, a hook or pecan's routing,
leaves the API as ``{"error_message": {"faultstring": …, "faultcode":
"Client" | "Server"}}`` with its HTTP status. Doctor's exceptions carry
their status; a service that does not answer is a 503 that says which;
anything unexpected is logged and answered with a generic 500, so that no
traceback or internal detail reaches the caller.
"""

from collections.abc import Callable
from http import client as http_client
import logging
from urllib import parse

import jsonschema
from oslo_log import log
from pecan import hooks
import webob
from webob import exc as webob_exc

from doctor.common import exception
from doctor.i18n import _

LOG = log.getLogger(__name__)

SERVER_ERROR = _('The server could not complete the request. The error has '
                 'been logged.')

# What pecan logs at ERROR about a request it then refuses with a 4xx: an
# Accept header no controller answers (406) or a content type it does not
# serve (404); and, with the exception, a request it cannot decode (400).
_PECAN_CLIENT_ERROR = 'does not support content_type'

# Characters left unquoted in the paths of log lines, as webob does.
_PATH_SAFE = "/~!$&'()*+,;=:@"


def display_path(environ: dict) -> str:
    """The request's path, URL-quoted, for logs and messages.

    ``request.path`` raises for a path that is not UTF-8, and the error
    answer to that very request must not; quoted, a path cannot break a
    log line either.
    """
    raw = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    return parse.quote(raw.encode('latin-1', 'replace'), safe=_PATH_SAFE)


def _path(request: webob.Request) -> str:
    return display_path(request.environ)


def error_body(status: int, message: str) -> dict:
    """The JSON body of an error answer."""
    return {'error_message': {
        'faultstring': message,
        'faultcode': 'Server' if status >= 500 else 'Client',
    }}


def error_response(status: int, message: str) -> webob.Response:
    """An error answer with ``status`` and ``message``."""
    response = webob.Response(status=status, charset='UTF-8',
                              content_type='application/json')
    response.json_body = error_body(status, message)
    return response


def _http_error_message(error: webob_exc.WSGIHTTPException,
                        request: webob.Request) -> str:
    if isinstance(error, webob_exc.HTTPMethodNotAllowed):
        return _('Method %(method)s is not allowed on %(path)s.') % {
            'method': request.method, 'path': _path(request)}
    if isinstance(error, webob_exc.HTTPNotFound):
        return _('%s was not found.') % _path(request)
    if isinstance(error, webob_exc.HTTPNotAcceptable):
        return _('This API answers in application/json only.')
    return error.detail or error.explanation or error.title


def _client_error(request: webob.Request, status: int,
                  message: str) -> webob.Response:
    """The answer to a client's mistake, logged at INFO: not our error."""
    LOG.info('%s %s answered %d: %s', request.method, _path(request),
             status, message)
    return error_response(status, message)


def to_response(error: BaseException,
                request: webob.Request) -> webob.Response | None:
    """The error answer for ``error``; None for a redirection.

    Server errors are logged at ERROR, client errors (4xx) at INFO.
    """
    if isinstance(error, exception.DoctorException):
        # The message alone: str() of an exception re-raised from another
        # service over RPC carries that service's traceback.
        message = error.message
        if isinstance(error, exception.ServiceUnavailable):
            # Another service (an inspector) did not answer: the caller
            # may try again, and should know which one it waits for.
            LOG.warning('%s %s answered %d: %s', request.method,
                        _path(request), error.code, message)
            return error_response(error.code, message)
        if error.code >= 500:
            LOG.error('%s %s failed: %s', request.method, _path(request),
                      error)
            return error_response(error.code, SERVER_ERROR)
        return _client_error(request, error.code, message)
    if isinstance(error, jsonschema.ValidationError):
        return _client_error(request, http_client.BAD_REQUEST,
                             _('Invalid input: %s') % error.message)
    if isinstance(error, webob_exc.WSGIHTTPException):
        if isinstance(error, webob_exc.HTTPRedirection):
            return None
        if error.code >= 500:
            LOG.error('%s %s failed: %s', request.method, _path(request),
                      error)
            return error_response(error.code, SERVER_ERROR)
        response = _client_error(request, error.code,
                                 _http_error_message(error, request))
        if 'Allow' in error.headers:
            response.headers['Allow'] = error.headers['Allow']
        return response
    LOG.exception('%s %s failed', request.method, _path(request))
    return error_response(http_client.INTERNAL_SERVER_ERROR, SERVER_ERROR)


class PecanClientErrorFilter(logging.Filter):
    """Moves pecan's ERROR records of a client's mistake down to DEBUG.

    pecan logs at ERROR, before raising the 4xx it answers with, a request
    whose Accept header no controller satisfies and a request it cannot
    decode: a client's mistake is not a server error, and doctor's own
    answer to it is logged at INFO already. The record is dropped unless
    its logger takes DEBUG records, and keeps no traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not self._client_error(record):
            return True
        record.levelno = logging.DEBUG
        record.levelname = logging.getLevelName(logging.DEBUG)
        record.exc_info = None
        record.exc_text = None
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _client_error(record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1],
                                          UnicodeDecodeError):
            return True
        return _PECAN_CLIENT_ERROR in str(record.msg)


_pecan_filter = PecanClientErrorFilter()


def quiet_pecan_client_errors() -> None:
    """Install :class:`PecanClientErrorFilter` on pecan's logger, once."""
    # addFilter adds the same filter object only once.
    logging.getLogger('pecan.core').addFilter(_pecan_filter)


class ErrorMiddleware:
    """Answers a JSON 500 for an exception that escapes the middlewares.

    The pecan app answers its own errors through :class:`ErrorHook`; this
    covers the middlewares around it (a misconfigured keystonemiddleware,
    for one).
    """

    def __init__(self, app: Callable) -> None:
        self._app = app

    def __call__(self, environ: dict, start_response: Callable):
        try:
            return self._app(environ, start_response)
        except Exception:
            LOG.exception('%s %s failed', environ.get('REQUEST_METHOD'),
                          display_path(environ))
            response = error_response(http_client.INTERNAL_SERVER_ERROR,
                                      SERVER_ERROR)
            return response(environ, start_response)


class ErrorHook(hooks.PecanHook):
    """Turns every exception of a request into a JSON error answer."""

    def on_error(self, state, e: BaseException) -> webob.Response | None:
        return to_response(e, state.request)
