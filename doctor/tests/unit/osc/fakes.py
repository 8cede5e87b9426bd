"""A fake of doctor's API at the HTTP layer, and a way to run commands.

:class:`FakeAPI` is a requests transport adapter: the client's real
keystoneauth session sends its requests to it, and it answers what the
test told it to, recording each request. The client under test is the
real one, from the adapter down to the bytes of the request.
"""

import argparse
import io
import json
import os
import typing
from urllib import parse

import fixtures
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
import requests
from requests import adapters
from requests import structures

from doctor.osc.v1 import client
from doctor.tests import base

ROOT = 'http://doctor.test:12345'
# The API reference's samples: the answers the commands are shown here.
SAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                       os.pardir, os.pardir, 'api-ref', 'source', 'samples')
REASONS = {200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
           400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
           404: 'Not Found', 409: 'Conflict', 502: 'Bad Gateway',
           503: 'Service Unavailable'}


class Answer(typing.NamedTuple):
    status: int
    body: typing.Any = None
    text: str | None = None


class FakeAPI(adapters.BaseAdapter):
    """Answers requests by method and path; records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[requests.PreparedRequest] = []

    def add(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` with ``answers`` in turn; the last one
        again once they are used up.
        """
        self.routes[(method, path)] = list(answers)

    def send(self, request, stream=False, timeout=None, verify=True,
             cert=None, proxies=None) -> requests.Response:
        self.requests.append(request)
        url = parse.urlsplit(request.url)
        answers = self.routes.get((request.method, url.path))
        if answers is None:
            answer = Answer(404, {'error_message': {
                'faultstring': '%s was not found.' % url.path,
                'faultcode': 'Client'}})
        elif len(answers) > 1:
            answer = answers.pop(0)
        else:
            answer = answers[0]
        response = requests.Response()
        response.status_code = answer.status
        response.reason = REASONS.get(answer.status, '')
        response.url = request.url
        response.request = request
        response.headers = structures.CaseInsensitiveDict()
        if answer.text is not None:
            response._content = answer.text.encode()
            response.headers['Content-Type'] = 'text/html'
        elif answer.body is not None:
            response._content = json.dumps(answer.body).encode()
            response.headers['Content-Type'] = 'application/json'
        else:
            response._content = b''
        return response

    def close(self) -> None:
        pass

    # what was asked

    def calls(self) -> list[tuple[str, str]]:
        """``(method, path?query)`` of each request, in order."""
        found = []
        for request in self.requests:
            url = parse.urlsplit(str(request.url))
            found.append((str(request.method),
                          url.path + ('?' + url.query if url.query else '')))
        return found

    def query(self, index: int = -1) -> dict[str, list[str]]:
        """The query parameters of a request, by default the last."""
        return parse.parse_qs(
            parse.urlsplit(str(self.requests[index].url)).query)

    def last_body(self) -> typing.Any:
        body = self.requests[-1].body
        return json.loads(body) if body else None


def sample(name: str) -> typing.Any:
    """The JSON of the API reference's sample ``name``.json."""
    with open(os.path.join(SAMPLES, name + '.json')) as stream:
        return json.load(stream)


def error(status: int, message: str) -> Answer:
    """An error answer as doctor's API gives it."""
    return Answer(status, {'error_message': {
        'faultstring': message,
        'faultcode': 'Server' if status >= 500 else 'Client'}})


class FakeDoctor(fixtures.Fixture):
    """A :class:`~doctor.osc.v1.client.Client` on a fake API.

    The session is keystoneauth's with the ``none`` auth plugin and an
    endpoint, as ``--os-auth-type none --os-endpoint`` make it.
    """

    def __init__(self, endpoint: str = ROOT,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.headers = headers

    def _setUp(self) -> None:
        self.api = FakeAPI()
        transport = requests.Session()
        transport.mount('http://', self.api)
        self.addCleanup(transport.close)
        self.session = ks_session.Session(
            auth=noauth.NoAuth(endpoint=self.endpoint), session=transport)
        self.client = client.Client(self.session, headers=self.headers)


class _ClientManager:
    def __init__(self, doctor: client.Client) -> None:
        self.doctor = doctor


class _App:
    """What a command uses of the shell: its client manager and stdout."""

    def __init__(self, doctor: client.Client) -> None:
        self.client_manager = _ClientManager(doctor)
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()


class CommandTestCase(base.TestCase):
    """A test of commands against :class:`FakeAPI` (``self.api``)."""

    def setUp(self):
        super().setUp()
        fake = self.useFixture(FakeDoctor())
        self.api = fake.api
        self.client = fake.client

    def parse(self, command_class, *argv: str
              ) -> tuple[typing.Any, argparse.Namespace]:
        """The command and its parsed arguments.

        argparse's own refusal (a missing or unknown option) raises
        SystemExit, as the shell's parser exits.
        """
        command = command_class(_App(self.client), None)
        parser = command.get_parser('openstack doctor')
        return command, parser.parse_args(list(argv))

    def take(self, command_class, *argv: str):
        """What the command's take_action answers."""
        command, parsed_args = self.parse(command_class, *argv)
        return command.take_action(parsed_args)

    def output(self, command_class, *argv: str) -> str:
        """What the command prints, formatted as the options say."""
        command, parsed_args = self.parse(command_class, *argv)
        command.run(parsed_args)
        return command.app.stdout.getvalue()

    def json_output(self, command_class, *argv: str) -> typing.Any:
        return json.loads(self.output(command_class, *argv, '-f', 'json'))

    def assert_parse_error(self, command_class, *argv: str) -> None:
        """argparse refuses ``argv``."""
        stderr = self.useFixture(fixtures.StringStream('stderr'))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr.stream))
        self.assertRaises(SystemExit, self.parse, command_class, *argv)
