"""A real webhook receiver on loopback, plain or TLS, for notifier tests."""

import datetime
import http.server
import ipaddress
import os
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import oid
import fixtures


class Received:
    """One request the receiver answered."""

    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.body = body


class WebhookServer(fixtures.Fixture):
    """A ThreadingHTTPServer on 127.0.0.1 answering POSTs.

    ``statuses`` are the answers to the first requests in turn, 200 after
    them; ``delay`` seconds pass before each answer. ``received`` lists
    every request; ``url`` is the base URL. ``location``, if given, is
    sent as the Location header of every answer.
    """

    def __init__(self, statuses=(), delay=0.0, tls_files=None,
                 location=None):
        super().__init__()
        self.location = location
        self.statuses = list(statuses)
        self.delay = delay
        self.tls_files = tls_files
        self.received = []

    def _setUp(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get('Content-Length', 0))
                body = self.rfile.read(length)
                owner.received.append(Received(self.path,
                                               dict(self.headers), body))
                if owner.delay:
                    threading.Event().wait(owner.delay)
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                if owner.location:
                    self.send_header('Location', owner.location)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        scheme = 'http'
        if self.tls_files is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls_files)
            server.socket = context.wrap_socket(server.socket,
                                                server_side=True)
            scheme = 'https'
        thread = threading.Thread(target=server.serve_forever,
                                  kwargs={'poll_interval': 0.05},
                                  daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.port = server.server_address[1]
        self.url = '%s://127.0.0.1:%d' % (scheme, self.port)


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def self_signed_certificate(directory, names=()):
    """Write a self-signed certificate for 127.0.0.1 and its key.

    ``names`` are host names the certificate is for as well.

    :returns: ``(certificate_path, key_path)``
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME,
                                         'doctor test webhook')])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]
            + [x509.DNSName(name) for name in names]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(
            key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    cert_path = os.path.join(directory, 'webhook.pem')
    key_path = os.path.join(directory, 'webhook.key')
    with open(cert_path, 'wb') as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, 'wb') as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
    return cert_path, key_path
