"""The email channel's TLS against real aiosmtpd servers on loopback.

trustme makes a throw-away CA and server certificates; aiosmtpd serves them with
STARTTLS (``tls_context=``) or implicit TLS (the Controller's ``ssl_context=``).
What is proven: a certificate chaining to ``MONITOR_SMTP_CA_FILE`` is accepted;
an untrusted certificate or one for another host name stops the session before
any credentials or message are sent, as RETRY with a detail naming the reason;
clear text is never a fallback. Plain-SMTP reply codes (4xx RETRY, 5xx
PERMANENT at RCPT and DATA) are covered in test_channels_integration.py; here
only the replies that belong to TLS.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from pydantic import ValidationError

from monitor.delivery.channels import EmailChannel
from monitor.model import DeliveryResult, DeliveryStatus
from monitor.settings import Settings
from tests.conftest import FrozenClock, free_port
from tests.factories import make_alert, make_settings
from tests.servers import SmtpSink

HOST = "127.0.0.1"
PASSWORD = "tls-Pa55-4d9e"


@dataclass(frozen=True)
class Pki:
    """A CA (its PEM bundle written to ``ca_file``) and certificates it issued."""

    ca_file: Path
    #: Valid for 127.0.0.1 and localhost.
    good: trustme.LeafCert
    #: Issued by the same CA, but for another host name.
    wrong_host: trustme.LeafCert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    # Module scope: key generation is the slow part, and the certificates are read-only.
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Pki(ca_file, ca.issue_cert(HOST, "localhost"), ca.issue_cert("mail.example.org"))


@pytest.fixture(autouse=True)
def _no_ca_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A CA file set in the developer's shell would make the "untrusted" cases pass or fail
    # for the wrong reason; the tests that want one set it themselves.
    monkeypatch.delenv("MONITOR_SMTP_CA_FILE", raising=False)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@dataclass
class Logins:
    """aiosmtpd authenticator that accepts anything and records who tried, to prove that
    credentials never reached a server whose certificate failed verification."""

    attempts: list[bytes] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login = data.login if isinstance(data, LoginPassword) else b""
        self.attempts.append(login)
        return AuthResult(success=True)


class TempFailStartTLS(SMTP):
    """Offers STARTTLS, then answers it with 454 (RFC 3207: TLS temporarily unavailable)."""

    async def smtp_STARTTLS(self, arg: str) -> None:
        await self.push("454 4.7.0 TLS not available due to temporary reason")


class TempFailStartTLSController(Controller):
    def factory(self) -> SMTP:
        return TempFailStartTLS(self.handler, **self.SMTP_kwargs)


@contextmanager
def running(controller: Controller) -> Iterator[None]:
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@contextmanager
def starttls_server(
    sink: SmtpSink, cert: trustme.LeafCert, *, require_starttls: bool = True, **options: Any
) -> Iterator[None]:
    """aiosmtpd offering STARTTLS with ``cert`` on ``sink``'s port."""
    with running(
        Controller(
            sink,
            hostname=sink.host,
            port=sink.port,
            tls_context=server_context(cert),
            require_starttls=require_starttls,
            **options,
        )
    ):
        yield


@contextmanager
def implicit_tls_server(sink: SmtpSink, cert: trustme.LeafCert) -> Iterator[None]:
    """aiosmtpd speaking TLS from the first byte (as on port 465) with ``cert``."""
    with running(
        Controller(sink, hostname=sink.host, port=sink.port, ssl_context=server_context(cert))
    ):
        yield


def new_sink() -> SmtpSink:
    return SmtpSink(HOST, free_port())


def channel(settings: Settings) -> EmailChannel:
    return EmailChannel("mail", ["desk@example.org"], settings, FrozenClock())


def starttls_settings(port: int, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {"smtp_host": HOST, "smtp_port": port, "smtp_starttls": True}
    fields.update(overrides)
    return make_settings(**fields)


def implicit_settings(port: int, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "smtp_host": HOST,
        "smtp_port": port,
        "smtp_tls": True,
        "smtp_starttls": False,
    }
    fields.update(overrides)
    return make_settings(**fields)


def assert_unverified(result: DeliveryResult, sink: SmtpSink, reason: str) -> None:
    assert result.status is DeliveryStatus.RETRY, result.detail
    assert "certificate" in result.detail and "could not be verified" in result.detail
    assert reason in result.detail, result.detail
    assert sink.messages == []


# --- STARTTLS ------------------------------------------------------------------------------


async def test_starttls_with_ca_from_environment_delivers(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the environment variable, as an operator sets it, not a constructor argument.
    monkeypatch.setenv("MONITOR_SMTP_CA_FILE", str(pki.ca_file))
    sink = new_sink()
    with starttls_server(sink, pki.good):
        settings = starttls_settings(sink.port)
        assert settings.smtp_ca_file == pki.ca_file
        result = await channel(settings).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert [m["Message-ID"] for m in sink.messages] == [f"<{make_alert().id}@news-monitor>"]
    assert sink.recipients == [["desk@example.org"]]


async def test_starttls_untrusted_certificate_sends_nothing_not_even_the_login(
    pki: Pki,
) -> None:
    sink, logins = new_sink(), Logins()
    # The server would accept mail and a login in clear text (STARTTLS not required, AUTH
    # allowed without TLS): only the client's refusal to fall back keeps them away.
    with starttls_server(
        sink, pki.good, require_starttls=False, authenticator=logins, auth_require_tls=False
    ):
        # No CA file: the system CAs, which do not include our throw-away CA.
        result = await channel(
            starttls_settings(sink.port, smtp_username="alerts", smtp_password=PASSWORD)
        ).send(make_alert())
    assert_unverified(result, sink, "unable to get local issuer certificate")
    assert f"{HOST}:{sink.port}" in result.detail
    assert logins.attempts == []
    assert PASSWORD not in result.detail


async def test_starttls_certificate_for_another_host_is_refused(pki: Pki) -> None:
    sink = new_sink()
    with starttls_server(sink, pki.wrong_host):
        result = await channel(starttls_settings(sink.port, smtp_ca_file=pki.ca_file)).send(
            make_alert()
        )
    assert_unverified(result, sink, "mismatch")


async def test_starttls_login_happens_inside_the_verified_session(pki: Pki) -> None:
    sink, logins = new_sink(), Logins()
    # aiosmtpd's default auth_require_tls=True: it only takes a login over TLS.
    with starttls_server(sink, pki.good, authenticator=logins, auth_required=True):
        result = await channel(
            starttls_settings(
                sink.port, smtp_ca_file=pki.ca_file, smtp_username="alerts", smtp_password=PASSWORD
            )
        ).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert logins.attempts == [b"alerts"]
    assert len(sink.messages) == 1


async def test_starttls_answered_454_is_retried_and_nothing_sent_in_clear(pki: Pki) -> None:
    sink = new_sink()
    controller = TempFailStartTLSController(
        sink, hostname=sink.host, port=sink.port, tls_context=server_context(pki.good)
    )
    with running(controller):
        result = await channel(starttls_settings(sink.port, smtp_ca_file=pki.ca_file)).send(
            make_alert()
        )
    assert result.status is DeliveryStatus.RETRY, result.detail
    assert "454" in result.detail
    assert sink.messages == []


async def test_server_requiring_starttls_refuses_clear_text_permanently(pki: Pki) -> None:
    # MONITOR_SMTP_STARTTLS=false against a server that insists: its 530 is a 5xx, and
    # retrying with the same settings would only be refused again.
    sink = new_sink()
    with starttls_server(sink, pki.good):
        result = await channel(starttls_settings(sink.port, smtp_starttls=False)).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT, result.detail
    assert "530" in result.detail
    assert sink.messages == []


# --- implicit TLS --------------------------------------------------------------------------


async def test_implicit_tls_with_ca_delivers(pki: Pki) -> None:
    sink = new_sink()
    with implicit_tls_server(sink, pki.good):
        result = await channel(implicit_settings(sink.port, smtp_ca_file=pki.ca_file)).send(
            make_alert()
        )
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert len(sink.messages) == 1


async def test_implicit_tls_certificate_for_another_host_is_refused(pki: Pki) -> None:
    sink = new_sink()
    with implicit_tls_server(sink, pki.wrong_host):
        # The CA is trusted, so only the host name check can refuse it.
        result = await channel(implicit_settings(sink.port, smtp_ca_file=pki.ca_file)).send(
            make_alert()
        )
    assert_unverified(result, sink, "IP address mismatch")


async def test_implicit_tls_untrusted_certificate_is_refused(pki: Pki) -> None:
    sink = new_sink()
    with implicit_tls_server(sink, pki.good):
        result = await channel(implicit_settings(sink.port)).send(make_alert())
    assert_unverified(result, sink, "unable to get local issuer certificate")


# --- settings ------------------------------------------------------------------------------


async def test_ca_file_gone_after_startup_is_permanent_without_connecting(
    pki: Pki, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki.ca_file.read_bytes())
    settings = starttls_settings(free_port(), smtp_ca_file=ca_file)
    ca_file.unlink()
    # The port is closed: a connection attempt would say "refused", not name the CA file.
    result = await channel(settings).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "MONITOR_SMTP_CA_FILE" in result.detail


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_unloadable_ca_file_is_a_settings_error(tmp_path: Path, content: bytes | None) -> None:
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_bytes(content)
    with pytest.raises(ValidationError, match="cannot load CA bundle"):
        make_settings(smtp_ca_file=ca_file)


@pytest.mark.parametrize(
    ("overrides", "implicit"),
    [
        ({"smtp_port": 465}, True),
        ({"smtp_port": 587}, False),
        ({"smtp_port": 465, "smtp_tls": False}, False),
        ({"smtp_port": 2465, "smtp_tls": True}, True),
    ],
)
def test_port_465_means_implicit_tls_unless_set(overrides: dict[str, Any], implicit: bool) -> None:
    assert make_settings(**overrides).smtp_tls is implicit


def test_port_465_from_environment_means_implicit_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SMTP_PORT", "465")
    monkeypatch.delenv("MONITOR_SMTP_TLS", raising=False)
    assert Settings(_env_file=None).smtp_tls is True
    monkeypatch.setenv("MONITOR_SMTP_TLS", "false")
    assert Settings(_env_file=None).smtp_tls is False


async def test_delivery_timeout_still_bounds_a_tls_session(pki: Pki) -> None:
    # A STARTTLS client pointed at an implicit-TLS port waits for a greeting that never
    # comes in clear text: the delivery timeout must end it, as RETRY.
    sink = new_sink()
    with implicit_tls_server(sink, pki.good):
        result = await channel(
            starttls_settings(
                sink.port, smtp_ca_file=pki.ca_file, delivery_timeout=timedelta(seconds=0.3)
            )
        ).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert "timed out" in result.detail.lower()
    assert sink.messages == []
