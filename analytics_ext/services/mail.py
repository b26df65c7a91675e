"""Account email (password reset, email verification): through SMTP, or into a private outbox.

Two deployments, one call:

- **SMTP configured**: the message goes to the relay over implicit TLS or STARTTLS with
  certificate and hostname verification on (never a silent fallback to plain text), logging in
  when a username is set. Every failure becomes ``Unavailable`` with a message built from the
  failure's kind and SMTP code only: never the password, the body (it holds reset tokens) or the
  server's free-text reply, which may quote either.
- **No SMTP** (a local JupyterLab): the message is written as a ``.eml`` file into an outbox
  folder only the server's user can read, and a WARNING names the file, so a local admin can
  still follow a reset link without a mail server.

``Mailer.send`` blocks (DNS, TCP, TLS, disk): services call it off the event loop. It keeps no
state between calls, so concurrent calls from a thread pool are safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import socket
import ssl
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from pathlib import Path
from typing import Literal

from ..errors import Invalid, Unavailable

MESSAGE_POLICY = email_policy.SMTP.clone(cte_type="7bit")
"""CRLF lines and 7-bit transfer encodings (quoted-printable or base64 for non-ASCII text).

``smtplib`` sends 8-bit bodies without announcing ``BODY=8BITMIME``, which a strict relay may
reject or mangle; 7-bit clean messages pass every relay unchanged.
"""

OUTBOX_POLICY = MESSAGE_POLICY.clone(linesep="\n", cte_type="8bit")
"""Outbox files: 8-bit UTF-8 bodies and Unix line ends, so ``cat`` or ``less`` shows plain text."""

MAX_ADDRESS_LENGTH = 254
"""RFC 5321's practical limit on a forward path; longer input is not a real mailbox."""

_HEADERS = HeaderRegistry()


class SmtpSecurity(StrEnum):
    """How the connection to the relay is protected."""

    NONE = "none"
    """Plain text: only for a relay on localhost or a trusted private network."""
    STARTTLS = "starttls"
    """Plain connect, then TLS before anything else (usually port 587); refused if not offered."""
    SSL = "ssl"
    """TLS from the first byte (usually port 465)."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail; built once from the extension's configuration."""

    host: str
    port: int
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    """Never shown by ``repr`` (settings end up in logs and tracebacks)."""
    sender: str = "analytics@localhost"
    """``From`` of every message: ``addr@domain`` or ``Display Name <addr@domain>``."""
    timeout: float = 10.0
    """Seconds per socket operation (connect, each reply), not for the whole delivery."""
    ca_file: str | None = None
    """Extra CA bundle trusted in addition to the system's (self-signed corporate relays)."""

    def __post_init__(self) -> None:
        # Traitlets hand us plain strings: accept "starttls" as well as SmtpSecurity.STARTTLS.
        try:
            object.__setattr__(self, "security", SmtpSecurity(self.security))
        except ValueError:
            choices = ", ".join(member.value for member in SmtpSecurity)
            raise ValueError(
                f"smtp security must be one of {choices}, not {self.security!r}"
            ) from None
        if not self.host or _has_control_characters(self.host):
            raise ValueError(f"smtp host is not a host name: {self.host!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"smtp port must be between 1 and 65535, not {self.port}")
        if not self.timeout > 0:
            raise ValueError(f"smtp timeout must be positive, not {self.timeout}")
        if self.password and not self.username:
            # Otherwise the password would be silently ignored and mail sent unauthenticated.
            raise ValueError("smtp password is set but username is not")
        if not (self.username or "").isascii() or not (self.password or "").isascii():
            # smtplib encodes AUTH as ASCII: fail at start, not with a UnicodeEncodeError (which
            # carries the password) at the first password reset.
            raise ValueError("smtp username and password must be ASCII (an smtplib limit)")
        try:
            parse_mailbox(self.sender, "sender")
        except Invalid as error:
            raise ValueError(f"smtp {error.message}") from None


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: the caller may log or audit it, never show its body."""

    via: Literal["smtp", "outbox"]
    message_id: str
    """The ``Message-ID`` header, angle brackets included."""
    path: Path | None
    """The ``.eml`` file when written to the outbox, else ``None``."""


class Mailer:
    """Sends account mail (password reset, email verification).

    Blocking: services call it off the event loop (``Services.run``).
    """

    def __init__(
        self,
        smtp: SmtpSettings | None,
        outbox_dir: Path,
        log: logging.Logger | None = None,
    ) -> None:
        self._smtp = smtp
        self._outbox_dir = Path(outbox_dir)
        self._log = log or logging.getLogger(__name__)
        self._sender = parse_mailbox(smtp.sender if smtp else SmtpSettings.sender, "sender")
        # Built once so a missing or broken ca_file stops the server at start, not at the first
        # password reset; SSLContext is safe to share between threads.
        self._tls = _client_tls_context(smtp) if smtp else None
        if smtp and smtp.username and smtp.security is SmtpSecurity.NONE:
            self._log.warning(
                "SMTP login to %s:%s over an unencrypted connection sends the password in "
                "clear text; set the security to starttls or ssl unless the relay is local",
                smtp.host,
                smtp.port,
            )

    @property
    def uses_smtp(self) -> bool:
        """Whether mail leaves this machine (else it lands in the outbox)."""
        return self._smtp is not None

    def send(self, to: str, subject: str, text: str, html: str | None = None) -> Delivery:
        """Deliver one message to one recipient, through SMTP or into the outbox.

        Raises ``Invalid`` for a bad recipient or subject (nothing is sent), and ``Unavailable``
        when the relay or the outbox fails; its message is safe to log.
        """
        recipient = parse_mailbox(to, "to")
        if _has_control_characters(subject):
            raise Invalid("subject", "must be one line without control characters")
        if self._smtp is None:
            # 8bit: an admin reading the file finds the reset link verbatim, not quoted-printable
            # with "=3D" for "=" and soft line breaks inside the URL.
            message = self._compose(recipient, subject, text, html, body_encoding="8bit")
            return self._write_outbox(message, recipient)
        message = self._compose(recipient, subject, text, html, body_encoding=None)
        return self._send_smtp(self._smtp, message, recipient)

    def _compose(
        self,
        recipient: Address,
        subject: str,
        text: str,
        html: str | None,
        *,
        body_encoding: Literal["8bit"] | None,
    ) -> EmailMessage:
        """The message; ``body_encoding=None`` lets the policy pick a 7-bit one per part."""
        message = EmailMessage(policy=MESSAGE_POLICY)
        # Headers come from parsed addresses, never from the caller's raw strings.
        message["From"] = self._sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        # An explicit domain: the default asks DNS for this host's name on every message.
        message["Message-ID"] = make_msgid(domain=self._sender.domain or "localhost")
        # RFC 3834: tells auto-responders and vacation replies not to answer account mail.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text, charset="utf-8", cte=body_encoding)
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8", cte=body_encoding)
        return message

    def _send_smtp(
        self, settings: SmtpSettings, message: EmailMessage, recipient: Address
    ) -> Delivery:
        message_id = str(message["Message-ID"])
        try:
            client: smtplib.SMTP
            if settings.security is SmtpSecurity.SSL:
                client = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=settings.timeout, context=self._tls
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
            with client:
                if settings.security is SmtpSecurity.STARTTLS:
                    client.ehlo()
                    # Raises SMTPNotSupportedError when STARTTLS is not offered: never a
                    # fallback to plain text that an attacker on the path could force.
                    client.starttls(context=self._tls)
                    client.ehlo()
                if settings.username:
                    client.login(settings.username, settings.password or "")
                client.send_message(
                    message, from_addr=self._sender.addr_spec, to_addrs=[recipient.addr_spec]
                )
        except (OSError, UnicodeError) as error:  # smtplib.SMTPException is an OSError
            reason = _describe_failure(error, settings)
            self._log.warning(
                "account email for %s not sent through %s:%s: %s",
                recipient.addr_spec,
                settings.host,
                settings.port,
                reason,
            )
            raise Unavailable(
                f"cannot send mail through {settings.host}:{settings.port}: {reason}"
            ) from None
        self._log.info(
            "sent account email for %s through %s:%s (%s)",
            recipient.addr_spec,
            settings.host,
            settings.port,
            message_id,
        )
        return Delivery(via="smtp", message_id=message_id, path=None)

    def _write_outbox(self, message: EmailMessage, recipient: Address) -> Delivery:
        message_id = str(message["Message-ID"])
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
        path = self._outbox_dir / f"{stamp}-{digest}.eml"
        try:
            _write_private(self._outbox_dir, path, message.as_bytes(policy=OUTBOX_POLICY))
        except OSError as error:
            reason = error.strerror or type(error).__name__
            self._log.warning(
                "account email for %s not written to %s: %s", recipient.addr_spec, path, reason
            )
            raise Unavailable(f"cannot write account email to the outbox: {reason}") from None
        self._log.warning(
            "no SMTP configured: wrote account email for %s to %s", recipient.addr_spec, path
        )
        return Delivery(via="outbox", message_id=message_id, path=path)


def parse_mailbox(value: str, field_name: str) -> Address:
    """One mailbox (``a@b.example`` or ``Name <a@b.example>``), or ``Invalid`` naming the field.

    Strict on purpose: a list, a group, a line break or a parse defect could add recipients or
    headers the caller never meant to write.
    """
    if not isinstance(value, str) or _has_control_characters(value):
        raise Invalid(field_name, "must be one line without control characters")
    try:
        header = _HEADERS(field_name, value)
        addresses = header.addresses
        groups = header.groups
        defects = header.defects
    except Exception:  # the stdlib parser raises IndexError and friends on some garbage
        raise Invalid(field_name, "is not an email address") from None
    if len(addresses) != 1 or len(groups) != 1 or groups[0].display_name is not None:
        raise Invalid(field_name, "must be exactly one email address")
    address = addresses[0]
    if defects or not address.username or not address.domain:
        raise Invalid(field_name, "is not an email address")
    if len(address.addr_spec) > MAX_ADDRESS_LENGTH:
        raise Invalid(field_name, f"is longer than {MAX_ADDRESS_LENGTH} characters")
    return address


def _has_control_characters(value: str) -> bool:
    """CR, LF and every other control or line-separator character (tab aside).

    Not only CR/LF: the email package treats U+2028, U+0085, form feeds and the like as line
    ends too (it refuses them with a bare ValueError, which would surface as a 500), and NUL it
    lets through into the header. Refusing them all here gives the caller one ``Invalid``.
    """
    return any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} and char != "\t" for char in value)


def _client_tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The system's trust store plus ``ca_file``, hostname checks on."""
    context = ssl.create_default_context()
    if settings.ca_file:
        # load_verify_locations adds to the defaults; create_default_context(cafile=...) would
        # replace them, breaking a relay with a public certificate behind a corporate CA file.
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "strerror", None) or getattr(error, "reason", None) or error
            raise ValueError(f"smtp ca_file {settings.ca_file}: cannot load: {reason}") from None
    return context


def _describe_failure(error: BaseException, settings: SmtpSettings) -> str:
    """A reason an admin can act on, built from the failure's kind and SMTP code only.

    The exception's own text is not used: server replies can quote the message (a spam filter
    citing the reset link) or whatever was sent during AUTH.
    """
    match error:
        case smtplib.SMTPAuthenticationError():
            return f"the server refused the login (SMTP {error.smtp_code})"
        case smtplib.SMTPRecipientsRefused():
            codes = sorted({code for code, _reply in error.recipients.values()})
            return f"the server refused the recipient (SMTP {', '.join(map(str, codes))})"
        case smtplib.SMTPSenderRefused():
            return f"the server refused the sender address (SMTP {error.smtp_code})"
        case smtplib.SMTPDataError():
            return f"the server rejected the message (SMTP {error.smtp_code})"
        case smtplib.SMTPNotSupportedError():
            # smtplib's own wording ("STARTTLS extension not supported by server."), no input.
            return f"the server does not support a required feature: {error}"
        case smtplib.SMTPServerDisconnected() if isinstance(error.__context__, TimeoutError):
            # smtplib reports a reply that never came as a disconnect; name the real cause.
            return f"no answer within {settings.timeout:g} seconds"
        case smtplib.SMTPServerDisconnected():
            return "the server closed the connection"
        case smtplib.SMTPResponseException():
            return f"the server answered with an error (SMTP {error.smtp_code})"
        case smtplib.SMTPException():
            return f"SMTP protocol error ({type(error).__name__})"
        case ssl.SSLCertVerificationError():
            return f"TLS certificate verification failed: {error.verify_message}"
        case ssl.SSLError():
            return f"TLS failed: {error.reason or type(error).__name__}"
        case TimeoutError():
            return f"no answer within {settings.timeout:g} seconds"
        case ConnectionRefusedError():
            return "connection refused"
        case socket.gaierror():
            return "cannot resolve the host name"
        case OSError():
            return f"connection failed: {error.strerror or type(error).__name__}"
        case UnicodeError():
            # Never str(error): a UnicodeEncodeError quotes the text it could not encode.
            return "the SMTP client cannot encode the addresses for this server"
    return type(error).__name__


def _write_private(directory: Path, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, the file 0600 in a 0700 folder.

    A temporary dot-file and a rename: whoever watches the outbox for ``*.eml`` never reads half
    a message, and a crash leaves no truncated reset link behind.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # An existing folder keeps its mode through mkdir: tighten it, the mail holds reset tokens.
    os.chmod(directory, 0o700)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".eml.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            # mkstemp creates the file 0600 whatever the umask: private before a byte is written.
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
