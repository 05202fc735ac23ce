"""Email channel: one multipart (text + HTML) message per alert, sent with aiosmtplib.

The SMTP server comes from the process settings (``MONITOR_SMTP_*``), the
recipients from the channel config. Message details that matter:

- every header value is one line with no control characters: a feed title
  like ``"x\\r\\nBcc: victim@example.org"`` stays inside the Subject;
- ``Message-ID`` is ``<{alert.id}@news-monitor>``, the same on every retry, so
  a retried duplicate can be recognised;
- the HTML part escapes all feed text and links only http(s) URLs;
- ``Auto-Submitted: auto-generated`` (RFC 3834) keeps vacation responders quiet.

aiosmtplib's exceptions are translated here, reply codes judged by
``monitor.delivery.retry.classify_smtp``. The password never reaches a detail.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from monitor.delivery.base import Channel
from monitor.delivery.render import (
    one_line,
    published_label,
    safe_url,
    snippet_of,
    terms_label,
    truncate,
)
from monitor.delivery.retry import classify_smtp
from monitor.settings import Settings
from monitor.types import Alert, Clock, DeliveryResult, DeliveryStatus

PERMANENT = DeliveryStatus.PERMANENT
SUBJECT_LIMIT = 200
SNIPPET_WIDTH = 500
#: Characters allowed in the local part of our Message-ID (RFC 5322 dot-atom text).
_MSGID_UNSAFE = re.compile(r"[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]")


def header_value(text: str) -> str:
    """``text`` as a safe header value: one line, control characters removed."""
    return one_line(text)


def message_id(alert: Alert) -> str:
    """``<{alert.id}@news-monitor>``, with characters not allowed in a Message-ID replaced."""
    return f"<{_MSGID_UNSAFE.sub('-', alert.id) or 'alert'}@news-monitor>"


def subject(alert: Alert) -> str:
    return truncate(
        header_value(f"[news-monitor] {alert.rule_id}: {alert.article.title}"), SUBJECT_LIMIT
    )


def text_body(alert: Alert) -> str:
    """The plain-text part."""
    article = alert.article
    lines = [one_line(article.title) or "(no title)"]
    if url := safe_url(article.url):
        lines.append(url)
    lines += [
        "",
        f"Rule:      {one_line(alert.rule_id)} ({one_line(alert.query)})",
        f"Source:    {one_line(article.feed_id)}",
        f"Published: {published_label(alert)}",
        f"Matched:   {terms_label(alert) or '-'}",
    ]
    if article.author.strip():
        lines.append(f"Author:    {one_line(article.author)}")
    if excerpt := snippet_of(alert, SNIPPET_WIDTH).render():
        lines += ["", excerpt]
    lines += ["", "-- ", f"news-monitor alert {alert.id}"]
    return "\n".join(lines) + "\n"


def _mark(text: str) -> str:
    return f"<mark>{text}</mark>"


def html_body(alert: Alert) -> str:
    """The HTML part: all feed text escaped, matched terms in ``<mark>``."""
    article = alert.article
    esc = html.escape
    title = esc(one_line(article.title) or "(no title)")
    url = safe_url(article.url)
    heading = f'<a href="{esc(url, quote=True)}">{title}</a>' if url else title
    rows = [
        ("Rule", f"{esc(one_line(alert.rule_id))} <code>{esc(one_line(alert.query))}</code>"),
        ("Source", esc(one_line(article.feed_id))),
        ("Published", esc(published_label(alert))),
        ("Matched", esc(terms_label(alert)) or "-"),
    ]
    if article.author.strip():
        rows.append(("Author", esc(one_line(article.author))))
    table = "".join(
        f'<tr><th align="left" style="padding-right:1em">{name}</th><td>{value}</td></tr>'
        for name, value in rows
    )
    excerpt = snippet_of(alert, SNIPPET_WIDTH).render(esc, _mark)
    quote = f'<blockquote style="color:#333">{excerpt}</blockquote>' if excerpt else ""
    return (
        '<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n'
        f"<h2>{heading}</h2>\n<table>{table}</table>\n{quote}\n"
        f'<p style="color:#888;font-size:small">news-monitor alert {esc(alert.id)}</p>\n'
        "</body></html>\n"
    )


def build_message(alert: Alert, *, sender: str, to: Sequence[str], now: float) -> EmailMessage:
    """The complete message for ``alert``; ``now`` (epoch seconds) becomes the Date header."""
    message = EmailMessage()
    message["Subject"] = subject(alert)
    message["From"] = header_value(sender)
    message["To"] = ", ".join(header_value(address) for address in to)
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    message["Message-ID"] = message_id(alert)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text_body(alert))
    message.add_alternative(html_body(alert), subtype="html")
    return message


class EmailChannel(Channel):
    """Sends alerts by email through the SMTP server of the settings."""

    def __init__(self, name: str, to: Sequence[str], settings: Settings, clock: Clock) -> None:
        super().__init__(name)
        self._to = [header_value(address) for address in to]
        self._settings = settings
        self._clock = clock

    def __repr__(self) -> str:
        return f"EmailChannel(name={self.name!r}, to={self._to!r})"

    def _result(self, alert: Alert, status: DeliveryStatus, detail: str) -> DeliveryResult:
        password = self._settings.smtp_password
        if password is not None and password.get_secret_value():
            detail = detail.replace(password.get_secret_value(), "[redacted]")
        return DeliveryResult(alert.id, self.name, status, detail)

    async def send(self, alert: Alert) -> DeliveryResult:
        s = self._settings
        if not s.smtp_host:
            return self._result(alert, DeliveryStatus.PERMANENT, "MONITOR_SMTP_HOST is not set")
        message = build_message(alert, sender=s.smtp_from, to=self._to, now=self._clock())
        timeout = s.delivery_timeout.total_seconds()
        try:
            # aiosmtplib's timeout is per command; asyncio.timeout bounds the whole session.
            async with asyncio.timeout(timeout):
                refused, reply = await aiosmtplib.send(
                    message,
                    sender=header_value(s.smtp_from),
                    recipients=self._to,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username or None,
                    password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                    use_tls=s.smtp_tls,
                    # Implicit TLS already encrypts; asking for STARTTLS too is an aiosmtplib error.
                    start_tls=s.smtp_starttls and not s.smtp_tls,
                    timeout=timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            # Every recipient refused: retry only if some refusal was temporary (greylisting).
            statuses = {classify_smtp(r.code) for r in exc.recipients}
            status = DeliveryStatus.RETRY if DeliveryStatus.RETRY in statuses else PERMANENT
            refusals = "; ".join(
                f"{r.recipient}: {r.code} {one_line(r.message)}" for r in exc.recipients
            )
            return self._result(alert, status, f"all recipients refused: {refusals}")
        except aiosmtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.code}: {one_line(exc.message)}"
            return self._result(alert, classify_smtp(exc.code), detail)
        except TimeoutError:
            return self._result(alert, DeliveryStatus.RETRY, f"SMTP timed out after {timeout:g}s")
        except OSError as exc:
            # Refused, reset or dropped connections (aiosmtplib's SMTPServerDisconnected and
            # SMTPConnectError are ConnectionErrors), TLS handshake failures: may clear up.
            return self._result(alert, DeliveryStatus.RETRY, f"SMTP: {type(exc).__name__}: {exc}")
        except aiosmtplib.SMTPException as exc:
            # What is left is a mismatch between our settings and the server's abilities:
            # STARTTLS or AUTH required but not offered, SMTPUTF8 missing. Retrying won't help.
            return self._result(alert, PERMANENT, f"SMTP: {one_line(exc.message)}")
        except ValueError as exc:
            return self._result(alert, PERMANENT, f"SMTP settings: {exc}")
        detail = f"SMTP accepted: {one_line(reply)}"
        if refused:
            some = "; ".join(
                f"{addr}: {r.code} {one_line(r.message)}" for addr, r in refused.items()
            )
            detail += f" (refused, not retried: {some})"
        return self._result(alert, DeliveryStatus.DELIVERED, detail)
