"""Email channel: one multipart (text + HTML) message per alert or per group of alerts,
sent with aiosmtplib.

The SMTP server comes from the process settings (``MONITOR_SMTP_*``), the
recipients from the channel config. A group (alerts that arrived together, up
to ``MAX_GROUP``; with ``digest: hourly|daily`` the alerts of the period, up to
``DIGEST_MAX_GROUP``) is one message: subject ``[news-monitor] 3 articles:
rule-a, rule-b`` or ``[news-monitor] Hourly digest: 3 articles``, and the
single-alert layout repeated for every *article* (``render.group_entries``:
the alerts of several rules about one article, or one story, are one entry
whose ``Rules:`` field lists every rule with its query, whose ``Matched:``
field and highlights cover every rule's terms, and whose footer names every
alert id). ``Source:`` is the feed's display name (its ``name:``, else its
id). Templates ``subject``, ``text`` and ``html`` (``monitor.delivery.templates``)
replace those parts of the whole message; the HTML template is autoescaped.
Message details that matter:

- every header value is one line with no control characters: a feed title
  like ``"x\\r\\nBcc: victim@example.org"`` stays inside the Subject (a
  rendered subject template too);
- ``Message-ID`` is ``<{alert.id}@news-monitor>`` for one alert and
  ``<{hash of the sorted alert ids}@group.news-monitor>`` for a group, the
  same on every retry, so a retried duplicate can be recognised;
- the HTML part escapes all feed text and links only http(s) URLs;
- when other outlets carried the alert's story, an ``Also in:`` line (text) and
  row (HTML, each outlet linked to its copy) names up to ``ALSO_SHOWN`` of them,
  then ``(+N more)``; nothing changes for an alert without them;
- ``Auto-Submitted: auto-generated`` (RFC 3834) keeps vacation responders quiet.

aiosmtplib's exceptions are translated here, reply codes judged by
``monitor.delivery.retry.classify_smtp``. The password never reaches a detail.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import ssl
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Annotated, ClassVar, Literal, Self

import aiosmtplib
import httpx
from pydantic import Field, model_validator

from monitor.delivery.base import GroupChannel
from monitor.delivery.channel_config import (
    ChannelConfig,
    ChannelProblem,
    Digest,
    host_name_problem,
)
from monitor.delivery.render import (
    Entry,
    count_label,
    entry_of,
    feed_label,
    group_entries,
    join_within,
    matched_label,
    one_line,
    other_outlets,
    published_label,
    safe_url,
    snippet_of,
    truncate,
)
from monitor.delivery.retry import classify_smtp
from monitor.delivery.templates import (
    HTML,
    LINE,
    TEXT,
    ChannelTemplates,
    Context,
    Format,
    TemplateRenderError,
    compile_channel_templates,
)
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus
from monitor.settings import Settings

PERMANENT = DeliveryStatus.PERMANENT
SUBJECT_LIMIT = 200
SNIPPET_WIDTH = 500
#: Most alerts in one message. 50 keeps an email one can still scan (and well under
#: a megabyte: an alert is about 1 KB of text and 2 KB of HTML); a digest collects
#: an hour or a day, so it may carry more before the rest goes into a second message.
MAX_GROUP = 50
DIGEST_MAX_GROUP = 200
#: The "Also in" line: at most this many outlets of the story named, each name cut to
#: ALSO_NAME_LIMIT characters and each copy's title (an HTML tooltip) to ALSO_TITLE_LIMIT;
#: a copy's URL longer than ALSO_URL_LIMIT is not linked.
ALSO_SHOWN = 10
ALSO_NAME_LIMIT = 100
ALSO_TITLE_LIMIT = 300
ALSO_URL_LIMIT = 2000
#: Bound of the whole line, never reached within the limits above.
_ALSO_BUDGET = 100_000
#: Template parts and their formats: each renders the part for the whole message.
TEMPLATE_FORMATS: dict[str, Format] = {"subject": LINE, "text": TEXT, "html": HTML}
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


def also_text(alert: Alert) -> str:
    """``bbc-world, reuters (+3 more)``: the other outlets of the story, plain text; or ""."""
    entries = [(truncate(o.feed_id, ALSO_NAME_LIMIT),) for o in other_outlets(alert)]
    return join_within(entries, _ALSO_BUDGET, max_shown=ALSO_SHOWN)


def also_html(alert: Alert) -> str:
    """The other outlets of the story as escaped HTML, each linked to its copy when the URL
    is http(s), the copy's title as the link's tooltip; or ""."""
    esc = html.escape
    entries: list[tuple[str, ...]] = []
    for outlet in other_outlets(alert):
        name = esc(truncate(outlet.feed_id, ALSO_NAME_LIMIT))
        if outlet.url and len(outlet.url) <= ALSO_URL_LIMIT:
            title = esc(truncate(outlet.title, ALSO_TITLE_LIMIT), quote=True)
            entries.append((f'<a href="{esc(outlet.url, quote=True)}" title="{title}">{name}</a>',))
        else:
            entries.append((name,))
    return join_within(entries, _ALSO_BUDGET, max_shown=ALSO_SHOWN)


def _rule_lines(entry: Entry) -> list[str]:
    """Every rule of the entry, plain text: ``rule-a (query a)``, ``... in reuters`` for a
    rule that matched another outlet's copy of the story."""
    return [
        f"{one_line(r.rule_id)} ({one_line(r.query)})" + (f" in {r.via}" if r.via else "")
        for r in entry.rules
    ]


def _text_lines(entry: Entry) -> list[str]:
    """One entry (an article and every rule that matched it) in plain text: title, link,
    fields, excerpt (no signature)."""
    alert = entry.alert
    article = alert.article
    lines = [one_line(article.title) or "(no title)"]
    if url := safe_url(article.url):
        lines.append(url)
    first, *more = _rule_lines(entry)
    lines += ["", f"{'Rules:' if more else 'Rule:':<11}{first}", *(f"{'':11}{r}" for r in more)]
    lines.append(f"Source:    {feed_label(alert)}")
    if also := also_text(alert):
        lines.append(f"Also in:   {also}")
    lines += [
        f"Published: {published_label(alert)}",
        f"Matched:   {matched_label(entry) or '-'}",
    ]
    if article.author.strip():
        lines.append(f"Author:    {one_line(article.author)}")
    if excerpt := snippet_of(alert, SNIPPET_WIDTH).render():
        lines += ["", excerpt]
    return lines


def _footer(entry: Entry) -> str:
    """``news-monitor alert ID`` (``alerts ID, ID`` for an entry of several)."""
    return f"news-monitor alert{'s' if len(entry.ids) > 1 else ''} {', '.join(entry.ids)}"


def text_body(alert: Alert) -> str:
    """The plain-text part."""
    entry = entry_of([alert])
    lines = [*_text_lines(entry), "", "-- ", _footer(entry)]
    return "\n".join(lines) + "\n"


def _mark(text: str) -> str:
    return f"<mark>{text}</mark>"


_HTML_START = '<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n'
_HTML_END = "</body></html>\n"


def _html_section(entry: Entry) -> str:
    """One entry in HTML: all feed text escaped, every rule's matched terms in ``<mark>``."""
    alert = entry.alert
    article = alert.article
    esc = html.escape
    title = esc(one_line(article.title) or "(no title)")
    url = safe_url(article.url)
    heading = f'<a href="{esc(url, quote=True)}">{title}</a>' if url else title
    rules = "<br>".join(
        f"{esc(one_line(r.rule_id))} <code>{esc(one_line(r.query))}</code>"
        + (f" in {esc(r.via)}" if r.via else "")
        for r in entry.rules
    )
    rows = [
        ("Rules" if len(entry.rules) > 1 else "Rule", rules),
        ("Source", esc(feed_label(alert))),
    ]
    if also := also_html(alert):
        rows.append(("Also in", also))
    rows += [
        ("Published", esc(published_label(alert))),
        ("Matched", esc(matched_label(entry)) or "-"),
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
        f"<h2>{heading}</h2>\n<table>{table}</table>\n{quote}\n"
        f'<p style="color:#888;font-size:small">{esc(_footer(entry))}</p>\n'
    )


def html_body(alert: Alert) -> str:
    """The HTML part: all feed text escaped, matched terms in ``<mark>``."""
    return _HTML_START + _html_section(entry_of([alert])) + _HTML_END


def group_cap(digest: str | None) -> int:
    """The most alerts one message of a channel with this ``digest`` setting may carry."""
    return DIGEST_MAX_GROUP if digest else MAX_GROUP


def group_message_id(alerts: Sequence[Alert]) -> str:
    """``<{hash}@group.news-monitor>`` from the sorted alert ids: the same group (in any
    order) always gets the same id; the domain keeps it apart from every single alert's."""
    digest = hashlib.sha256("\n".join(sorted(a.id for a in alerts)).encode()).hexdigest()
    return f"<{digest[:32]}@group.news-monitor>"


def _rules(alerts: Sequence[Alert]) -> str:
    return ", ".join(dict.fromkeys(one_line(a.rule_id) for a in alerts))


def _count(alerts: Sequence[Alert]) -> str:
    """How many articles ``alerts`` are about: ``3 articles`` (``render.group_entries``)."""
    return count_label(len(group_entries(alerts)))


def group_subject(alerts: Sequence[Alert], digest: str | None = None) -> str:
    """``[news-monitor] 3 articles: rule-a, rule-b``; a digest: ``[news-monitor] Hourly
    digest: 3 articles``. Articles are counted, not alerts."""
    if digest:
        text = f"[news-monitor] {digest.capitalize()} digest: {_count(alerts)}"
    else:
        text = f"[news-monitor] {_count(alerts)}: {_rules(alerts)}"
    return truncate(header_value(text), SUBJECT_LIMIT)


def _summary(alerts: Sequence[Alert], digest: str | None) -> str:
    kind = f"{digest} digest" if digest else "news-monitor"
    return f"{kind}: {_count(alerts)} ({_rules(alerts)})"


def group_text_body(alerts: Sequence[Alert], digest: str | None = None) -> str:
    """The plain-text part of a group: a summary line, then every article (entry) laid out
    like a single alert, listing every rule that matched it."""
    entries = group_entries(alerts)
    lines = [_summary(alerts, digest)]
    for i, entry in enumerate(entries, 1):
        lines += ["", f"--- {i} of {len(entries)} ---", *_text_lines(entry)]
        lines += ["", _footer(entry)]
    lines += ["", "-- ", f"news-monitor, {_count(alerts)}"]
    return "\n".join(lines) + "\n"


def group_html_body(alerts: Sequence[Alert], digest: str | None = None) -> str:
    """The HTML part of a group: a summary heading, then every article (entry) laid out
    like a single alert."""
    sections = "<hr>\n".join(_html_section(entry) for entry in group_entries(alerts))
    heading = f'<h1 style="font-size:large">{html.escape(_summary(alerts, digest))}</h1>\n'
    return _HTML_START + heading + sections + _HTML_END


def _assemble(
    subject_: str,
    message_id_: str,
    text: str,
    markup: str,
    sender: str,
    to: Sequence[str],
    now: float,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_
    message["From"] = header_value(sender)
    message["To"] = ", ".join(header_value(address) for address in to)
    message["Date"] = format_datetime(datetime.fromtimestamp(now, UTC))
    message["Message-ID"] = message_id_
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(markup, subtype="html")
    return message


def build_message(alert: Alert, *, sender: str, to: Sequence[str], now: float) -> EmailMessage:
    """The complete message for ``alert``; ``now`` (epoch seconds) becomes the Date header."""
    return _assemble(
        subject(alert), message_id(alert), text_body(alert), html_body(alert), sender, to, now
    )


def build_group_message(
    alerts: Sequence[Alert],
    *,
    sender: str,
    to: Sequence[str],
    now: float,
    digest: str | None = None,
    templates: ChannelTemplates | None = None,
    channel: str = "",
) -> EmailMessage:
    """One message for ``alerts`` (oldest first).

    One alert, no digest and no templates: exactly ``build_message``. Raises
    TemplateRenderError when a template fails.
    """
    if not alerts:
        raise ValueError("a message needs at least one alert")
    first = alerts[0]
    if len(alerts) == 1 and not digest and not templates:
        return build_message(first, sender=sender, to=to, now=now)
    grouped = len(alerts) > 1 or digest is not None
    subject_ = group_subject(alerts, digest) if grouped else subject(first)
    text = group_text_body(alerts, digest) if grouped else text_body(first)
    markup = group_html_body(alerts, digest) if grouped else html_body(first)
    if templates:
        context = Context.of(alerts, channel=channel, digest=digest, snippet_width=SNIPPET_WIDTH)
        if "subject" in templates:
            # Rendered one line already; an empty subject falls back to the default one.
            subject_ = truncate(templates.render("subject", context), SUBJECT_LIMIT) or subject_
        if "text" in templates:
            text = templates.render("text", context).rstrip("\n") + "\n"
        if "html" in templates:
            markup = templates.render("html", context)
    msgid = group_message_id(alerts) if len(alerts) > 1 else message_id(first)
    return _assemble(subject_, msgid, text, markup, sender, to, now)


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """The client TLS context of every SMTP session: the server's certificate must chain to
    ``MONITOR_SMTP_CA_FILE`` (or the system CAs) and name ``MONITOR_SMTP_HOST``.

    Built here rather than left to aiosmtplib's defaults so that verification is visibly on
    and the CA bundle is ours to choose, for STARTTLS and implicit TLS alike.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.smtp_ca_file)
    # create_default_context already does this; stated so that no later edit loosens it quietly.
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    return context


def _cert_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind ``exc``, if any.

    STARTTLS raises it as is; implicit TLS gets it wrapped in aiosmtplib's SMTPConnectError.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


class EmailChannelConfig(ChannelConfig):
    """Email through the SMTP server of the process settings (MONITOR_SMTP_*)."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = tuple(TEMPLATE_FORMATS)

    type: Literal["email"]
    #: Recipient addresses.
    to: Annotated[list[str], Field(min_length=1)]
    #: Batch alerts into one email per hour or per day instead of sending them as they come.
    digest: Digest | None = None
    #: With ``digest: daily``: the time of day (UTC, HH:MM) the digest goes out.
    digest_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "00:00"

    @model_validator(mode="after")
    def _digest_at_needs_daily(self) -> Self:
        if "digest_at" in self.model_fields_set and self.digest != "daily":
            raise ValueError("digest_at applies only to digest: daily")
        return self

    def problems(self, name: str, settings: Settings) -> list[ChannelProblem]:
        """MONITOR_SMTP_HOST is set, to a bare host name or address (no scheme, port or
        path: ``smtp://mail.example.org`` or ``mail.example.org:587`` would never connect)."""
        host = settings.smtp_host
        if not host:
            return [ChannelProblem((), f"email channel '{name}' needs MONITOR_SMTP_HOST to be set")]
        problem = host_name_problem(host)
        if problem is None:
            return []
        hint = " (the port goes in MONITOR_SMTP_PORT)" if re.search(r":\d+$", host) else ""
        return [ChannelProblem((), f"email channel '{name}': MONITOR_SMTP_HOST {problem}{hint}")]

    def digest_schedule(self) -> tuple[Digest, float] | None:
        if self.digest is None:
            return None
        hours, minutes = self.digest_at.split(":")
        return self.digest, int(hours) * 3600.0 + int(minutes) * 60.0


class EmailChannel(GroupChannel):
    """Sends alerts by email through the SMTP server of the settings."""

    def __init__(
        self,
        name: str,
        to: Sequence[str],
        settings: Settings,
        clock: Clock,
        *,
        digest: str | None = None,
        templates: Mapping[str, str] | None = None,
        max_group: int | None = None,
    ) -> None:
        """``digest``: None, ``hourly`` or ``daily`` (names the messages; the worker does the
        timing). ``templates``: part (``subject``, ``text``, ``html``) -> Jinja2 source,
        compiled here (ValueError if bad). ``max_group``: 1 to ``group_cap(digest)``,
        default the cap."""
        cap = group_cap(digest)
        super().__init__(name, max_group=cap if max_group is None else max_group, cap=cap)
        self._to = [header_value(address) for address in to]
        self._settings = settings
        self._clock = clock
        self._digest = digest
        self._templates = compile_channel_templates(name, templates, TEMPLATE_FORMATS)

    @classmethod
    def from_config(
        cls,
        name: str,
        config: EmailChannelConfig,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> Self:
        """The channel ``name`` as ``config`` describes it (the registry's factory)."""
        return cls(
            name,
            config.to,
            settings,
            clock,
            digest=config.digest,
            templates=config.templates,
            max_group=config.alerts_per_message(group_cap(config.digest)),
        )

    def __repr__(self) -> str:
        return f"EmailChannel(name={self.name!r}, to={self._to!r})"

    def _result(self, alert: Alert, status: DeliveryStatus, detail: str) -> DeliveryResult:
        password = self._settings.smtp_password
        if password is not None and password.get_secret_value():
            detail = detail.replace(password.get_secret_value(), "[redacted]")
        return DeliveryResult(alert.id, self.name, status, detail)

    async def send_message(self, alerts: Sequence[Alert]) -> DeliveryResult:
        alert = alerts[0]  # the result speaks for the group under the first alert's id
        s = self._settings
        if not s.smtp_host:
            return self._result(alert, DeliveryStatus.PERMANENT, "MONITOR_SMTP_HOST is not set")
        try:
            message = build_group_message(
                alerts,
                sender=s.smtp_from,
                to=self._to,
                now=self._clock(),
                digest=self._digest,
                templates=self._templates,
                channel=self.name,
            )
        except TemplateRenderError as exc:  # the same template fails the same way every time
            return self._result(alert, PERMANENT, str(exc))
        timeout = s.delivery_timeout.total_seconds()
        tls = s.smtp_tls or s.smtp_starttls
        try:
            # Loading the CA certificates reads files: off the event loop, as aiosmtplib does.
            tls_context = await asyncio.to_thread(_tls_context, s) if tls else None
        except OSError as exc:
            # The settings check the CA file at startup, so it was removed or broken since.
            return self._result(alert, PERMANENT, f"MONITOR_SMTP_CA_FILE cannot be loaded: {exc}")
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
                    # Used for both; with it aiosmtplib ignores its own validate_certs and
                    # cert_bundle. Neither mode ever falls back to clear text on failure.
                    tls_context=tls_context,
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
            if cert := _cert_failure(exc):
                # Neither login nor message was sent: both only follow a verified handshake.
                # RETRY rather than PERMANENT: the usual causes (expired certificate, a CA or
                # host name not yet configured, a pool node with a stale certificate) are
                # fixed out of band, by the receiver renewing or us setting
                # MONITOR_SMTP_CA_FILE and restarting; a retried alert then arrives by
                # itself, a dead-lettered one waits for `alerts retry`. Every failed attempt
                # logs this detail, and the retries are bounded (max attempts / max age).
                reason = cert.verify_message or cert.reason or str(cert)
                detail = (
                    f"SMTP: TLS certificate of {s.smtp_host}:{s.smtp_port} could not be "
                    f"verified: {reason}"
                )
                return self._result(alert, DeliveryStatus.RETRY, detail)
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
