"""Account email through a real SMTP server (aiosmtpd on 127.0.0.1), and the outbox fallback.

No mocks: every delivery crosses a socket, TLS is verified against a CA generated for the run,
and every failure mode is produced by a real server (or a real closed or silent port).
"""

from __future__ import annotations

import email
import logging
import re
import stat
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from analytics_ext.errors import Invalid, Unavailable
from analytics_ext.services.mail import Delivery, Mailer, SmtpSecurity, SmtpSettings
from tests.support.smtp import (
    SmtpMode,
    SmtpTestServer,
    TlsFiles,
    closed_port,
    make_tls_files,
    run_smtp_server,
    silent_port,
)

LOGGER = "analytics_ext.services.mail"
TO = "Zoë Müller <zoe@example.com>"
SUBJECT = "Réinitialiser votre mot de passe ✓"
TOKEN = "rst_Zq8yT3kWc1vJ0aLp"  # stands for a reset token: must never reach a log or an error
TEXT = f"Bonjour Zoë,\n\nhttps://analytics.example.com/reset?token={TOKEN}\n\n— l\u2019équipe 📊\n"
HTML = f'<p>Bonjour Zoë, <a href="https://analytics.example.com/reset?token={TOKEN}">ici</a> ✓</p>'
PASSWORD = "c0rrect-Horse-battery"
WRONG_PASSWORD = "Tr0ub4dor&3-wrong"

SECURITY = {"plain": SmtpSecurity.NONE, "starttls": SmtpSecurity.STARTTLS, "ssl": SmtpSecurity.SSL}


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One CA and server certificate for the run (for 127.0.0.1 and localhost)."""
    return make_tls_files(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def plain_server() -> Iterator[SmtpTestServer]:
    with run_smtp_server("plain") as server:
        yield server


@pytest.fixture
def starttls_server(tls_files: TlsFiles) -> Iterator[SmtpTestServer]:
    with run_smtp_server("starttls", tls=tls_files) as server:
        yield server


def settings_for(server: SmtpTestServer, **overrides: object) -> SmtpSettings:
    """Client settings matching a test server (its mode, CA and credentials), then overrides."""
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "security": SECURITY[server.mode],
        "username": server.username,
        "password": server.password,
        "ca_file": str(server.ca_file) if server.ca_file else None,
        "sender": "Analytics <analytics@example.com>",
        "timeout": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def assert_secret_free(text: str) -> None:
    """Neither a password nor the message body (its reset token) may leak into ``text``."""
    for secret in (PASSWORD, WRONG_PASSWORD, TOKEN):
        assert secret not in text


def parts_by_type(message: EmailMessage) -> dict[str, str]:
    """Each part's decoded text, line ends as a mail reader shows them (SMTP sends CRLF)."""
    return {
        part.get_content_type(): part.get_content().replace("\r\n", "\n")
        for part in message.iter_parts()
    }


# -- delivery -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "with_login"),
    [
        ("plain", False),
        ("starttls", False),
        ("ssl", False),
        ("starttls", True),
        ("ssl", True),
    ],
)
def test_delivers_through_each_security_mode(
    tls_files: TlsFiles, mode: SmtpMode, with_login: bool
) -> None:
    credentials = ("mailer@example.com", PASSWORD) if with_login else None
    tls = tls_files if mode != "plain" else None
    with run_smtp_server(mode, tls=tls, credentials=credentials) as server:
        delivery = Mailer(settings_for(server), Path("/nonexistent/outbox")).send(
            TO, SUBJECT, TEXT, HTML
        )
        (received,) = server.received

    assert delivery == Delivery(via="smtp", message_id=delivery.message_id, path=None)
    assert received.mail_from == "analytics@example.com"
    assert received.rcpt_tos == ["zoe@example.com"]
    assert received.encrypted == (mode != "plain")
    assert received.login == (credentials[0] if credentials else None)

    message = received.message
    assert message["From"] == "Analytics <analytics@example.com>"
    assert message["To"] == TO
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == delivery.message_id
    assert re.fullmatch(r"<[^<>@\s]+@example\.com>", delivery.message_id)
    assert parsedate_to_datetime(message["Date"]).utcoffset() is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    assert parts_by_type(message) == {"text/plain": TEXT, "text/html": HTML + "\n"}
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())


def test_text_only_is_a_single_utf8_part(plain_server: SmtpTestServer) -> None:
    Mailer(settings_for(plain_server), Path("/nonexistent")).send(TO, SUBJECT, TEXT)

    (received,) = plain_server.received
    assert not received.message.is_multipart()
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content_charset() == "utf-8"
    assert received.message.get_content().replace("\r\n", "\n") == TEXT


def test_message_is_7bit_clean(plain_server: SmtpTestServer) -> None:
    """smtplib never announces 8BITMIME, so non-ASCII must travel encoded to pass any relay."""
    Mailer(settings_for(plain_server), Path("/nonexistent")).send(TO, SUBJECT, TEXT, HTML)

    (received,) = plain_server.received
    assert received.raw.isascii()
    assert all(len(line) <= 998 for line in received.raw.splitlines())


# -- failures: Unavailable, with nothing secret in the message or the log ------------------------


def test_wrong_password_is_unavailable_without_the_password(
    tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    credentials = ("mailer@example.com", PASSWORD)
    with run_smtp_server("starttls", tls=tls_files, credentials=credentials) as server:
        mailer = Mailer(settings_for(server, password=WRONG_PASSWORD), Path("/nonexistent"))
        with pytest.raises(Unavailable) as caught:
            mailer.send(TO, SUBJECT, TEXT, HTML)
        assert server.received == []

    assert caught.value.status == 503
    assert "refused the login (SMTP 535)" in caught.value.message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # no traceback chain back to smtplib's reply
    assert_secret_free(str(caught.value))
    assert_secret_free(caplog.text)


def test_missing_login_is_unavailable(tls_files: TlsFiles) -> None:
    credentials = ("mailer@example.com", PASSWORD)
    with run_smtp_server("starttls", tls=tls_files, credentials=credentials) as server:
        mailer = Mailer(settings_for(server, username=None, password=None), Path("/x"))
        with pytest.raises(Unavailable, match=r"refused the sender address \(SMTP 530\)"):
            mailer.send(TO, SUBJECT, TEXT)
        assert server.received == []


def test_closed_port_is_unavailable() -> None:
    with closed_port() as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security=SmtpSecurity.NONE)
        with pytest.raises(Unavailable, match="connection refused"):
            Mailer(settings, Path("/nonexistent")).send(TO, SUBJECT, TEXT)


@pytest.mark.parametrize("security", list(SmtpSecurity))
def test_silent_server_times_out(security: SmtpSecurity) -> None:
    """A relay that accepts the connection and never answers must not hang a password reset."""
    with silent_port() as port:
        settings = SmtpSettings(host="127.0.0.1", port=port, security=security, timeout=0.3)
        with pytest.raises(Unavailable, match=r"no answer within 0\.3 seconds"):
            Mailer(settings, Path("/nonexistent")).send(TO, SUBJECT, TEXT)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_untrusted_certificate_is_refused(tls_files: TlsFiles, mode: SmtpMode) -> None:
    """Without our CA the test certificate is unknown: verification is on, so nothing is sent."""
    with run_smtp_server(mode, tls=tls_files) as server:
        mailer = Mailer(settings_for(server, ca_file=None), Path("/nonexistent"))
        with pytest.raises(Unavailable, match="TLS certificate verification failed"):
            mailer.send(TO, SUBJECT, TEXT)
        assert server.received == []


def test_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    """A trusted CA is not enough: the certificate must name the host we connected to."""
    other = make_tls_files(tmp_path / "tls", dns_names=["mail.example.test"], ip_addresses=[])
    with run_smtp_server("starttls", tls=other) as server:
        with pytest.raises(Unavailable, match=r"certificate verification failed.*mismatch"):
            Mailer(settings_for(server), Path("/nonexistent")).send(TO, SUBJECT, TEXT)
        assert server.received == []


def test_starttls_is_never_downgraded(plain_server: SmtpTestServer, tls_files: TlsFiles) -> None:
    """A server (or an attacker on the path) that hides STARTTLS gets no mail in clear text."""
    settings = settings_for(
        plain_server, security=SmtpSecurity.STARTTLS, ca_file=str(tls_files.ca_cert)
    )
    with pytest.raises(Unavailable, match="STARTTLS extension not supported"):
        Mailer(settings, Path("/nonexistent")).send(TO, SUBJECT, TEXT)
    assert plain_server.received == []


def test_ssl_to_a_plain_server_is_unavailable(plain_server: SmtpTestServer) -> None:
    settings = settings_for(plain_server, security=SmtpSecurity.SSL)
    with pytest.raises(Unavailable, match="TLS failed"):
        Mailer(settings, Path("/nonexistent")).send(TO, SUBJECT, TEXT)


def test_refused_recipient_is_unavailable_without_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    with run_smtp_server("plain", refuse_recipients=["zoe@example.com"]) as server:
        with pytest.raises(Unavailable, match=r"refused the recipient \(SMTP 550\)") as caught:
            Mailer(settings_for(server), Path("/nonexistent")).send(TO, SUBJECT, TEXT, HTML)
        assert server.received == []
    assert_secret_free(str(caught.value))
    assert_secret_free(caplog.text)
    assert "zoe@example.com" in caplog.text  # the admin learns which address bounced


# -- outbox (no SMTP configured) ---------------------------------------------------------------


def test_outbox_writes_a_private_parseable_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    outbox = tmp_path / "data" / "outbox"  # missing parents are created too

    delivery = Mailer(None, outbox).send(TO, SUBJECT, TEXT, HTML)

    assert delivery.via == "outbox"
    assert delivery.path is not None
    assert delivery.path.parent == outbox
    assert re.fullmatch(r"\d{8}T\d{12}Z-[0-9a-f]{16}\.eml", delivery.path.name)
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert stat.S_IMODE(delivery.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in outbox.iterdir()) == [delivery.path.name]  # no temp file left

    message = email.message_from_bytes(delivery.path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == TO
    assert message["From"] == "analytics@localhost"
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == delivery.message_id
    assert parts_by_type(message) == {"text/plain": TEXT, "text/html": HTML + "\n"}
    # A local admin opens the file and copies the link: it must be there verbatim.
    assert f"https://analytics.example.com/reset?token={TOKEN}\n" in delivery.path.read_text()

    warnings = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        f"no SMTP configured: wrote account email for zoe@example.com to {delivery.path}"
    ]
    assert_secret_free(caplog.text)


def test_outbox_tightens_an_existing_folder(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o755)
    outbox.chmod(0o755)

    Mailer(None, outbox).send(TO, SUBJECT, TEXT)

    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700


def test_outbox_keeps_every_message(tmp_path: Path) -> None:
    mailer = Mailer(None, tmp_path / "outbox")
    first = mailer.send("a@example.com", "one", "first")
    second = mailer.send("b@example.com", "two", "second")

    assert first.path != second.path
    assert first.message_id != second.message_id
    assert sorted((tmp_path / "outbox").iterdir()) == sorted([first.path, second.path])


def test_outbox_failure_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the outbox folder should be")
    with pytest.raises(Unavailable, match="cannot write account email to the outbox"):
        Mailer(None, blocker / "outbox").send(TO, SUBJECT, TEXT)


# -- input checks: header injection and recipients ------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [
        "zoe@example.com\r\nBcc: eve@example.com",
        "zoe@example.com\nBcc: eve@example.com",
        "zoe@example.com\rBcc: eve@example.com",
        "zoe@example.com\u2028Bcc: eve@example.com",
        "zoe@example.com\x85Bcc: eve@example.com",
        "zoe@example.com, eve@example.com",
        "zoe@example.com; eve@example.com",
        "friends: zoe@example.com, eve@example.com;",
        "Zoë <zoe@example.com>, eve@example.com",
        "not an address",
        "zoe@",
        "@example.com",
        "zoe@@example.com",
        "",
        "x" * 250 + "@example.com",
    ],
)
def test_bad_recipient_is_refused(plain_server: SmtpTestServer, tmp_path: Path, to: str) -> None:
    for mailer in (
        Mailer(settings_for(plain_server), tmp_path / "a"),
        Mailer(None, tmp_path / "b"),
    ):
        with pytest.raises(Invalid) as caught:
            mailer.send(to, SUBJECT, TEXT)
        assert caught.value.field == "to"
    assert plain_server.received == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "subject",
    [
        "Reset\r\nBcc: eve@example.com",
        "Reset\nBcc: eve@example.com",
        "Reset\rBcc: eve@example.com",
        "Reset\u2028Bcc: eve@example.com",
        "Reset\x0cBcc: eve@example.com",
        "Reset\x00",
    ],
)
def test_subject_with_line_breaks_is_refused(
    plain_server: SmtpTestServer, tmp_path: Path, subject: str
) -> None:
    for mailer in (
        Mailer(settings_for(plain_server), tmp_path / "a"),
        Mailer(None, tmp_path / "b"),
    ):
        with pytest.raises(Invalid) as caught:
            mailer.send("zoe@example.com", subject, TEXT)
        assert caught.value.field == "subject"
    assert plain_server.received == []
    assert list(tmp_path.iterdir()) == []


def test_a_display_name_cannot_smuggle_a_recipient(plain_server: SmtpTestServer) -> None:
    """A quoted comma in a display name stays a name: one envelope recipient, one To address."""
    Mailer(settings_for(plain_server), Path("/x")).send(
        '"Eve, eve@evil.example" <zoe@example.com>', SUBJECT, TEXT
    )
    (received,) = plain_server.received
    assert received.rcpt_tos == ["zoe@example.com"]
    assert [a.addr_spec for a in received.message["To"].addresses] == ["zoe@example.com"]


# -- settings ---------------------------------------------------------------------------------


def test_settings_repr_hides_the_password() -> None:
    settings = SmtpSettings(host="smtp.example.com", port=587, username="u", password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert "smtp.example.com" in repr(settings)


def test_settings_accept_config_strings() -> None:
    settings = SmtpSettings(host="smtp.example.com", port=465, security="ssl")  # type: ignore[arg-type]
    assert settings.security is SmtpSecurity.SSL


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"security": "tls"}, "security must be one of none, starttls, ssl"),
        ({"port": 0}, "port must be between"),
        ({"timeout": 0}, "timeout must be positive"),
        ({"password": PASSWORD}, "password is set but username is not"),
        ({"username": "u", "password": "pässword"}, "must be ASCII"),
        ({"sender": "a@example.com\r\nBcc: eve@example.com"}, "sender"),
        ({"sender": "a@example.com, b@example.com"}, "sender"),
        ({"host": "smtp.example.com\r\n"}, "host"),
    ],
)
def test_settings_refuse_bad_configuration(overrides: dict[str, object], problem: str) -> None:
    values: dict[str, object] = {"host": "smtp.example.com", "port": 587, **overrides}
    with pytest.raises(ValueError, match=problem) as caught:
        SmtpSettings(**values)  # type: ignore[arg-type]
    assert PASSWORD not in str(caught.value)


def test_missing_ca_file_fails_at_start(tmp_path: Path) -> None:
    """A typo in ca_file stops the server at start, not at the first password reset."""
    settings = SmtpSettings(host="smtp.example.com", port=587, ca_file=str(tmp_path / "no.pem"))
    with pytest.raises(ValueError, match=r"ca_file .* cannot load"):
        Mailer(settings, tmp_path / "outbox")


def test_ca_file_adds_to_the_system_trust_store(tls_files: TlsFiles) -> None:
    """ca_file extends the system CAs: a relay with a public certificate keeps working."""
    settings = SmtpSettings(host="smtp.example.com", port=587, ca_file=str(tls_files.ca_cert))
    mailer = Mailer(settings, Path("/nonexistent"))
    context = mailer._tls
    assert context is not None
    with_ca = context.cert_store_stats()["x509_ca"]
    without = Mailer(SmtpSettings(host="smtp.example.com", port=587), Path("/x"))._tls
    assert without is not None
    assert with_ca == without.cert_store_stats()["x509_ca"] + 1
