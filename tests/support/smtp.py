"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 in a background thread, recording mail.

Variants: plain, STARTTLS and implicit TLS, each optionally with AUTH. TLS uses a throw-away
CA and server certificate generated at test time, so the client verifies certificates exactly as
in production (the CA file plays a corporate relay's ``ca_file``).

Plain functions and context managers, no fixtures: test modules (or the shared conftest) wrap
them in fixtures of whatever scope they need.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import hmac
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
SmtpMode = Literal["plain", "starttls", "ssl"]


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server accepted it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    login: str | None
    """The user name the client authenticated as, or ``None`` without AUTH."""
    encrypted: bool
    """Whether TLS protected the session when the message arrived (STARTTLS or implicit)."""


class RecordingHandler:
    """aiosmtpd handler that keeps every accepted message and can refuse chosen recipients."""

    def __init__(
        self, refuse_recipients: Iterable[str] = (), *, require_login: bool = False
    ) -> None:
        self.refuse_recipients = {address.lower() for address in refuse_recipients}
        self.require_login = require_login
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []

    @property
    def received(self) -> list[ReceivedMail]:
        """A snapshot: the server thread may append while a test reads."""
        with self._lock:
            return list(self._received)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Enforced here rather than with aiosmtpd's auth_required, which warns (UserWarning, on
        # every connection) whenever auth_require_tls is off, as implicit TLS needs (see below).
        if self.require_login and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.login.decode() if session.authenticated else None
        transport = server.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            message=message,
            raw=raw,
            login=login,
            encrypted=encrypted,
        )
        with self._lock:
            self._received.append(mail)
        # smtplib returns only after this reply: the message is recorded before send() returns.
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class TlsFiles:
    """A test CA and a server certificate it signed, as PEM files."""

    ca_cert: Path
    """Give this to the client as ``ca_file``."""
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_tls_files(
    directory: Path,
    *,
    dns_names: Iterable[str] = ("localhost",),
    ip_addresses: Iterable[str] = (HOST,),
) -> TlsFiles:
    """A self-signed CA and a server certificate for the given names, written to ``directory``.

    A CA plus a leaf rather than one self-signed leaf: it is what a corporate relay has, and it
    passes OpenSSL's strict X.509 checks (Python 3.13 turns on VERIFY_X509_STRICT by default).
    EC keys keep generation to milliseconds.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    validity = (now - dt.timedelta(minutes=5), now + dt.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "analytics_ext test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp test server")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TlsFiles(
        ca_cert=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key"
    )
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class _FreePortController(Controller):
    """Controller listening on an OS-chosen free port.

    aiosmtpd 1.4 binds ``port=0`` fine but then pokes the server on port 0 to trigger its lazy
    start; reading the real port first avoids both that and a pick-then-bind race.
    """

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpTestServer:
    """A running test server: where it listens, what it trusts, what it received."""

    host: str
    port: int
    mode: SmtpMode
    handler: RecordingHandler = field(repr=False)
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received


def _authenticator(username: str, password: str) -> Any:
    expected = (username.encode(), password.encode())

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        # aiosmtpd hands LOGIN and PLAIN credentials over as LoginPassword(bytes, bytes).
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, expected[0])
            and hmac.compare_digest(auth_data.password, expected[1])
        )
        # auth_data must be passed back: aiosmtpd stores it as session.auth_data (else None).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


@contextlib.contextmanager
def run_smtp_server(
    mode: SmtpMode = "plain",
    *,
    tls: TlsFiles | None = None,
    credentials: tuple[str, str] | None = None,
    refuse_recipients: Iterable[str] = (),
) -> Iterator[SmtpTestServer]:
    """Start an SMTP server on 127.0.0.1 for the ``with`` block.

    ``starttls`` refuses mail before STARTTLS and ``credentials`` refuses mail before AUTH, so a
    delivery proves the client really encrypted and logged in.
    """
    if mode != "plain" and tls is None:
        raise ValueError(f"{mode} needs TlsFiles (make_tls_files)")
    handler = RecordingHandler(refuse_recipients, require_login=credentials is not None)
    kwargs: dict[str, Any] = {
        # A fixed name: the default asks DNS for this host's FQDN on every connection.
        "server_hostname": "localhost",
        # Mail from tests is small; a modest limit keeps a runaway client from filling memory.
        "data_size_limit": 1 << 20,
    }
    if mode == "starttls":
        assert tls is not None
        kwargs.update(tls_context=tls.server_context(), require_starttls=True)
    elif mode == "ssl":
        assert tls is not None
        kwargs["ssl_context"] = tls.server_context()
    if credentials is not None:
        kwargs.update(
            authenticator=_authenticator(*credentials),
            # aiosmtpd 1.4 counts only STARTTLS as TLS: on an implicit-TLS listener it would
            # refuse AUTH with "538 Encryption required" unless told not to insist. Plain mode
            # emulates a local relay that takes a login in clear text.
            auth_require_tls=mode == "starttls",
        )
    controller = _FreePortController(handler, hostname=HOST, port=0, **kwargs)
    controller.start()
    try:
        yield SmtpTestServer(
            host=HOST,
            port=controller.port,
            mode=mode,
            handler=handler,
            ca_file=tls.ca_cert if tls else None,
            username=credentials[0] if credentials else None,
            password=credentials[1] if credentials else None,
        )
    finally:
        controller.stop()


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections, held so nobody else can take it.

    Bound but never listening: the kernel answers a connect with RST (connection refused).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        yield sock.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts TCP connections and never says a word (a hung relay).

    Listening but never accepting: the kernel completes the handshake from its backlog, and the
    client waits for a greeting that never comes.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield sock.getsockname()[1]
