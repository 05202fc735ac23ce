"""The channels against real servers on loopback.

HTTP: pytest-httpserver (a real werkzeug server) receives Slack and webhook
posts. SMTP: aiosmtpd's ``Controller`` runs a real SMTP server in a thread,
with handlers that collect messages or answer with chosen error codes, and an
authenticator for the login tests. Dead ports and silent servers cover
refused connections and timeouts.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook

from monitor.delivery.channels import EmailChannel, SlackChannel, WebhookChannel
from monitor.delivery.channels import slack as slack_mod
from monitor.delivery.channels import webhook as webhook_mod
from monitor.model import DeliveryResult, DeliveryStatus
from tests.conftest import FrozenClock, free_port
from tests.factories import make_alert, make_settings, with_article

SECRET_PATH = "/services/T000/B000/SECRETTOKEN"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "pa55-Wd-7c1e9f"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def slack(url: str, http: httpx.AsyncClient, timeout: float = 5.0) -> SlackChannel:
    return SlackChannel(
        "slack", SecretStr(url), http, timeout=timeout, user_agent="nm-test", clock=time.time
    )


def webhook(url: str, http: httpx.AsyncClient, timeout: float = 5.0) -> WebhookChannel:
    return WebhookChannel(
        "hook",
        SecretStr(url),
        http,
        secret=SecretStr(WHSEC),
        timeout=timeout,
        user_agent="nm-test",
        clock=time.time,
    )


# --- HTTP --------------------------------------------------------------------------------


async def test_slack_post_reaches_a_real_server(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request(SECRET_PATH, method="POST").respond_with_data("ok")
    result = await slack(httpserver.url_for(SECRET_PATH), http).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED
    (request, _), *_ = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "nm-test"
    assert json.loads(request.get_data()) == slack_mod.build_payload(make_alert())


async def test_slack_rate_limit_from_a_real_server(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request(SECRET_PATH).respond_with_data(
        "rate_limited", status=429, headers={"Retry-After": "17"}
    )
    result = await slack(httpserver.url_for(SECRET_PATH), http).send(make_alert())
    assert (result.status, result.retry_after) == (DeliveryStatus.RETRY, 17.0)
    assert "SECRETTOKEN" not in result.detail


async def test_signed_webhook_verifies_on_a_real_server(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=202)
    result = await webhook(httpserver.url_for("/hook"), http).send(make_alert())
    assert result.status is DeliveryStatus.DELIVERED
    (request, _), *_ = httpserver.log
    headers = {k.lower(): v for k, v in request.headers.items()}
    payload = Webhook(WHSEC).verify(request.get_data(), headers)
    assert payload == webhook_mod.build_payload(make_alert())
    assert headers["webhook-id"] == make_alert().id


async def test_webhook_redirect_is_not_followed_by_a_real_client(
    httpserver: HTTPServer, http: httpx.AsyncClient
) -> None:
    elsewhere = httpserver.url_for("/elsewhere")
    httpserver.expect_request("/hook").respond_with_data("", 307, {"Location": elsewhere})
    httpserver.expect_request("/elsewhere").respond_with_data("ok")
    result = await webhook(httpserver.url_for("/hook"), http).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert [req.path for req, _ in httpserver.log] == ["/hook"]


@pytest.mark.parametrize("make", [slack, webhook])
async def test_refused_connection_is_retried_and_url_redacted(
    http: httpx.AsyncClient, make: Any
) -> None:
    url = f"http://127.0.0.1:{free_port()}{SECRET_PATH}?key=QUERYSECRET"  # nothing listens
    result: DeliveryResult = await make(url, http).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert result.detail  # says what went wrong ...
    for secret in ("SECRETTOKEN", "QUERYSECRET", SECRET_PATH):
        assert secret not in result.detail  # ... without the secret parts of the URL
        assert secret not in repr(result)


@asynccontextmanager
async def raw_server(answer: bytes | None) -> AsyncIterator[int]:
    """A TCP server on loopback that reads the request, writes ``answer`` (the status line and
    headers of a 1000-byte body) and then drips that body one byte every 50 ms; with
    ``answer=None`` it never says a word."""
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await reader.read(65536)
            if answer is None:
                await reader.read()  # until the client gives up
                return
            writer.write(answer + b"\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                writer.write(b"o")
                await writer.drain()
                await asyncio.sleep(0.05)
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@pytest.mark.parametrize("make", [slack, webhook])
async def test_silent_receiver_times_out_as_retry(http: httpx.AsyncClient, make: Any) -> None:
    async with raw_server(None) as port:
        url = f"http://127.0.0.1:{port}{SECRET_PATH}"
        result: DeliveryResult = await make(url, http, timeout=0.3).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert "timed out" in result.detail.lower()
    assert "SECRETTOKEN" not in result.detail


@pytest.mark.parametrize(
    ("make", "answer", "status"),
    [
        # The status line says 2xx: only the body drips, the webhook was delivered.
        (webhook, b"HTTP/1.1 200 OK", DeliveryStatus.DELIVERED),
        (webhook, b"HTTP/1.1 404 Not Found", DeliveryStatus.PERMANENT),
        # Slack's verdict is the body ("ok"), which never finished arriving.
        (slack, b"HTTP/1.1 200 OK", DeliveryStatus.RETRY),
    ],
)
async def test_dripping_answer_is_cut_by_the_total_deadline(
    http: httpx.AsyncClient, make: Any, answer: bytes, status: DeliveryStatus
) -> None:
    # Each byte arrives well within httpx's read timeout: only the total deadline ends this.
    async with raw_server(answer) as port:
        url = f"http://127.0.0.1:{port}/hook"
        result: DeliveryResult = await make(url, http, timeout=0.4).send(make_alert())
    assert result.status is status, result.detail


# --- SMTP --------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """aiosmtpd handler: collects messages, or refuses with the replies it is given."""

    #: Recipient address -> reply to its RCPT TO (e.g. "550 5.1.1 no such user").
    refuse: dict[str, str] = field(default_factory=dict)
    #: Reply to DATA instead of accepting the message.
    data_reply: str | None = None
    received: list[tuple[str, list[str], EmailMessage, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        raw = bytes(envelope.content)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message, raw))
        return "250 2.0.0 queued"


class Authenticator:
    """Accepts user ``alerts`` with ``PASSWORD``; records every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bytes, bool]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"alerts",
            PASSWORD.encode(),
        )
        login = data.login if isinstance(data, LoginPassword) else b""
        self.attempts.append((mechanism, login, ok))
        # handled=False: let aiosmtpd answer 535 itself on failure.
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(handler: Mailbox, **smtp_options: Any) -> Iterator[int]:
    """A real SMTP server on a free loopback port, for the duration of the block."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail_channel(port: int, to: list[str] | None = None, **settings: Any) -> EmailChannel:
    options = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_from": "monitor@example.org"}
    options.update(settings)
    return EmailChannel(
        "mail", to or ["desk@example.org", "editor@example.org"], make_settings(**options),
        FrozenClock(),
    )  # fmt: skip


async def test_email_is_delivered_multipart_without_injected_headers() -> None:
    box = Mailbox()
    alert = with_article(make_alert(), title="Iran drones\r\nBcc: victim@example.org")
    with smtp_server(box) as port:
        result = await mail_channel(port).send(alert)
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    ((sender, recipients, message, raw),) = box.received
    assert sender == "monitor@example.org"
    assert recipients == ["desk@example.org", "editor@example.org"]
    assert message["Bcc"] is None
    assert b"\nBcc:" not in raw
    assert message["Subject"].strip() == (
        "[news-monitor] iran-russia-drones: Iran drones Bcc: victim@example.org"
    )
    assert message["To"] == "desk@example.org, editor@example.org"
    assert message["Message-ID"] == f"<{alert.id}@news-monitor>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    html = message.get_body(("html",))
    assert html is not None and "<mark>Iran</mark>" in html.get_content()


async def test_email_message_id_is_the_same_on_every_attempt() -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        channel = mail_channel(port)
        await channel.send(make_alert())
        await channel.send(make_alert())
    ids = [message["Message-ID"] for _, _, message, _ in box.received]
    assert ids == [f"<{make_alert().id}@news-monitor>"] * 2


@pytest.mark.parametrize(
    ("box", "status", "code"),
    [
        (Mailbox(data_reply="451 4.3.0 try again later"), DeliveryStatus.RETRY, "451"),
        (Mailbox(data_reply="554 5.7.1 rejected as spam"), DeliveryStatus.PERMANENT, "554"),
        (
            Mailbox(refuse={a: "550 5.1.1 no such user" for a in ["x@example.org"]}),
            DeliveryStatus.PERMANENT,
            "550",
        ),
        (
            Mailbox(refuse={"x@example.org": "450 4.2.0 greylisted"}),
            DeliveryStatus.RETRY,
            "450",
        ),
    ],
)
async def test_smtp_refusals_are_classified(
    box: Mailbox, status: DeliveryStatus, code: str
) -> None:
    with smtp_server(box) as port:
        result = await mail_channel(port, to=["x@example.org"]).send(make_alert())
    assert result.status is status
    assert code in result.detail
    assert box.received == []


async def test_smtp_partial_refusal_is_delivered_and_reported() -> None:
    box = Mailbox(refuse={"gone@example.org": "550 5.1.1 no such user"})
    with smtp_server(box) as port:
        result = await mail_channel(port, to=["desk@example.org", "gone@example.org"]).send(
            make_alert()
        )
    # Retrying would send a duplicate to the recipient who got it.
    assert result.status is DeliveryStatus.DELIVERED
    assert "gone@example.org: 550" in result.detail
    assert [rcpts for _, rcpts, _, _ in box.received] == [["desk@example.org"]]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_login_with_username_and_password() -> None:
    box, auth = Mailbox(), Authenticator()
    with smtp_server(box, authenticator=auth, auth_required=True, auth_require_tls=False) as port:
        result = await mail_channel(port, smtp_username="alerts", smtp_password=PASSWORD).send(
            make_alert()
        )
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert [(login, ok) for _, login, ok in auth.attempts] == [(b"alerts", True)]
    assert len(box.received) == 1
    assert PASSWORD not in result.detail


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_wrong_password_is_permanent_and_never_shown() -> None:
    box, auth = Mailbox(), Authenticator()
    wrong = "wrong-" + PASSWORD
    with smtp_server(box, authenticator=auth, auth_required=True, auth_require_tls=False) as port:
        result = await mail_channel(port, smtp_username="alerts", smtp_password=wrong).send(
            make_alert()
        )
    assert result.status is DeliveryStatus.PERMANENT
    assert "535" in result.detail
    assert wrong not in result.detail and PASSWORD not in result.detail
    # aiosmtplib tries each mechanism the server offers (PLAIN, LOGIN); all must fail.
    assert auth.attempts and not any(ok for _, _, ok in auth.attempts)
    assert box.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smtp_server_requiring_auth_refuses_anonymous_mail() -> None:
    box = Mailbox()
    with smtp_server(
        box, authenticator=Authenticator(), auth_required=True, auth_require_tls=False
    ) as port:
        result = await mail_channel(port).send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "530" in result.detail


async def test_starttls_required_but_not_offered_is_permanent() -> None:
    box = Mailbox()
    with smtp_server(box) as port:
        result = await mail_channel(port, smtp_starttls=True).send(make_alert())
    # Never fall back to sending in clear text when STARTTLS was asked for.
    assert result.status is DeliveryStatus.PERMANENT
    assert "STARTTLS" in result.detail
    assert box.received == []


async def test_smtp_connection_refused_is_retried() -> None:
    result = await mail_channel(free_port(), smtp_password=PASSWORD, smtp_username="alerts").send(
        make_alert()
    )
    assert result.status is DeliveryStatus.RETRY
    assert PASSWORD not in result.detail


async def test_silent_smtp_server_times_out_as_retry() -> None:
    async with raw_server(None) as port:
        result = await mail_channel(port, delivery_timeout=timedelta(seconds=0.3)).send(
            make_alert()
        )
    assert result.status is DeliveryStatus.RETRY
    assert "timed out" in result.detail.lower()
