"""Apprise channel: alerts to Discord, Teams, Telegram, ntfy and a hundred more services.

Owns everything between an ``apprise`` channel config and the ``apprise``
library (an optional extra, ``pip install 'news-monitor[apprise]'``):

- the channel's config model (:class:`AppriseChannelConfig`), the lazy import,
  and the config problems it and the URLs can cause (:func:`config_problems`,
  reported by the model's ``problems`` hook, which the config check calls so
  that ``check`` and ``run`` refuse such a config with ``file:line``
  messages). A problem names the URL by its position (``urls[2]``), never by
  its text: Apprise URLs carry tokens;
- the plain-text title and body of one alert or of a group of up to
  ``max_group`` alerts, with ``@`` in feed text swapped for a look-alike so a
  title cannot ping ``@everyone`` on Discord; the source is the feed's display
  name (its ``name:``, else its id); a group is a numbered list with one item
  per article (``render.group_entries``), naming every rule that matched it;
  when other outlets carried the alert's story, its facts end with ``Also
  reported by: bbc-world, reuters (+3 more)``;
- one delivery attempt: Apprise's blocking ``notify`` runs in a worker
  thread, bounded by the delivery timeout. Apprise answers only True or False,
  so True is DELIVERED and False is RETRY, and the warnings Apprise logged
  during that call, with every URL piece redacted, become the result's
  detail (what ``news-monitor send-test`` prints).

Apprise logs through the stdlib logger ``apprise``, and some of its lines
quote URLs. A filter on that logger diverts every record made inside one of
our calls into that call's capture, so those lines reach the detail
(redacted) and never the process log. The capture is keyed by a context
variable, not by thread, because Apprise 2 runs a service in its own
executor thread (with the caller's context copied); concurrent sends of
different channels therefore never see each other's lines.

Templates: ``templates`` (parts ``title`` and ``body``, plain text; see
docs/templates.md) replace the default title and body of a notification. The
``@`` look-alike applies to every value a template prints, so feed text cannot
ping anyone through a template either; the template's own text is the
operator's and is sent as written.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Self
from urllib.parse import unquote

import httpx
from pydantic import Field, SecretStr

from monitor.delivery.base import GroupChannel
from monitor.delivery.channel_config import ChannelConfig, ChannelProblem
from monitor.delivery.channels._http import redact
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
    snippet,
    truncate,
)
from monitor.delivery.templates import (
    Context,
    Format,
    TemplateRenderError,
    compile_channel_templates,
)
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus
from monitor.settings import Settings

if TYPE_CHECKING:
    import apprise as apprise_lib

EXTRA_HINT = "pip install 'news-monitor[apprise]'"
MISSING_EXTRA = f"type apprise needs the apprise extra: {EXTRA_HINT}"
#: Most alerts in one notification: a list of ten still reads as one message.
MAX_GROUP = 10
TITLE_LIMIT = 200
SNIPPET_WIDTH = 300
QUERY_LIMIT = 300
#: The "Also reported by" line: at most this many outlets, each name cut to ALSO_NAME_LIMIT,
#: the line to ALSO_LIMIT characters.
ALSO_SHOWN = 10
ALSO_NAME_LIMIT = 100
ALSO_LIMIT = 400
#: Characters of Apprise's own explanation kept in a detail.
MAX_DETAIL_CHARS = 600
#: URL pieces shorter than this are not redacted (they would blank out ordinary words).
MIN_SECRET_CHARS = 4
#: Fullwidth commercial at: looks like ``@`` but no service reads it as a mention.
_AT_LOOKALIKE = "\uff20"
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
_PIECE_SEPARATORS = re.compile(r"[/:@?&=#,;+]")
_OVERFLOW_PARAM = re.compile(r"[?&]overflow=", re.IGNORECASE)

#: The lines Apprise logs during the current call; None outside our calls.
_capture: ContextVar[list[str] | None] = ContextVar("monitor_apprise_capture", default=None)


class _DivertCaptured(logging.Filter):
    """On the ``apprise`` logger: records made inside a capture go to it, and no further."""

    def filter(self, record: logging.LogRecord) -> bool:
        lines = _capture.get()
        if lines is None:
            return True
        if record.levelno >= logging.WARNING:
            try:
                lines.append(record.getMessage())
            except Exception:  # a malformed record must not break the notification
                lines.append(str(record.msg))
        # Dropped even below WARNING: Apprise's debug lines quote URLs and payloads.
        return False


_DIVERT = _DivertCaptured()


@contextmanager
def _captured() -> Iterator[list[str]]:
    """Collect (and keep out of the process log) what Apprise logs inside the block."""
    logging.getLogger("apprise").addFilter(_DIVERT)  # idempotent: the same object
    lines: list[str] = []
    token = _capture.set(lines)
    try:
        yield lines
    finally:
        _capture.reset(token)


def _have_apprise() -> bool:
    """Whether the apprise extra is installed (its import is cached after the first call)."""
    try:
        import apprise  # noqa: F401
    except ImportError:
        return False
    return True


def url_secrets(url: str) -> list[str]:
    """Substrings of an Apprise URL that must never appear in a detail, longest first.

    Apprise puts tokens anywhere (``tgram://BOT_TOKEN/CHAT``, ``discord://ID/TOKEN``,
    ``ntfys://user:pass@host/topic``, ``?token=``), so everything but the scheme
    and the query's parameter names counts as secret: the URL, what follows
    ``://``, every path segment, every piece between separators, and the
    percent-decoded form of each.
    """
    match = _SCHEME.match(url)
    rest = url[match.end() :] if match else url
    location, _, query = rest.partition("?")
    parts = {url, url.strip(), rest, location, query}
    for segment in location.split("/"):
        parts.add(segment)
        parts.update(_PIECE_SEPARATORS.split(segment))
    for pair in query.split("&"):
        _, _, value = pair.partition("=")
        parts.add(value)
        parts.update(_PIECE_SEPARATORS.split(value))
    parts |= {unquote(part) for part in parts}
    return sorted((p for p in parts if len(p) >= MIN_SECRET_CHARS), key=len, reverse=True)


@functools.cache
def _schemes() -> Mapping[str, tuple[str, str]]:
    """Every scheme Apprise knows, lowercase, to (service name, setup URL).

    Only asked once a URL failed (the catalogue takes Apprise half a second)."""
    import apprise

    out: dict[str, tuple[str, str]] = {}
    with _captured():
        details = apprise.Apprise().details()
    for schema in details.get("schemas", ()):
        named = (str(schema.get("service_name", "")), str(schema.get("setup_url", "")))
        for key in ("protocols", "secure_protocols"):
            for protocol in schema.get(key) or ():
                out.setdefault(str(protocol).lower(), named)
    return out


def _why_unusable(url: str) -> str:
    """Why Apprise could not build a service from ``url``, without quoting any of it
    but the scheme (which is never a secret)."""
    match = _SCHEME.match(url)
    if match is None:
        return "not an Apprise URL (expected scheme://..., e.g. discord://ID/TOKEN)"
    scheme = match.group(1).lower()
    known = _schemes()
    if known and scheme not in known:
        return f"Apprise has no service for the scheme {scheme}://"
    name, setup = known.get(scheme, ("", ""))
    what = f"a valid {name} URL" if name else f"a valid {scheme}:// URL"
    where = f" (see {setup})" if setup else ""
    return f"not {what}: a token is missing or malformed{where}"


def _instantiate(url: str, asset: apprise_lib.AppriseAsset) -> apprise_lib.NotifyBase | None:
    """The Apprise service for ``url``, or None; Apprise's log lines stay captured."""
    import apprise

    with _captured():
        return apprise.Apprise.instantiate(url, asset=asset)


def _asset() -> apprise_lib.AppriseAsset:
    """Settings shared by a channel's services."""
    import apprise

    # async_mode=False: several URLs of one channel are notified one after the other
    # in the calling thread, where the capture's context is (Apprise 1 would hand
    # them to a thread pool that does not copy it).
    return apprise.AppriseAsset(app_id="news-monitor", async_mode=False)


def config_problems(urls: Sequence[SecretStr]) -> list[tuple[int | None, str]]:
    """What stops an apprise channel with ``urls`` from working, as (index into
    ``urls``, or None for the whole channel, message); empty when it can work.

    Messages name a URL by position (``urls[2]``), never by content.
    """
    if not _have_apprise():
        return [(None, MISSING_EXTRA)]
    asset = _asset()
    problems: list[tuple[int | None, str]] = []
    for index, secret in enumerate(urls):
        url = secret.get_secret_value()
        if _instantiate(url, asset) is None:
            problems.append((index, f"urls[{index}]: {_why_unusable(url)}"))
    return problems


# --- rendering -------------------------------------------------------------------------------


def _text(text: str) -> str:
    """Feed text as one clean line that cannot mention anyone."""
    return one_line(text).replace("@", _AT_LOOKALIKE)


def _no_mentions(value: str) -> str:
    return value.replace("@", _AT_LOOKALIKE)


#: Template parts and their formats: plain text, every printed value unable to mention anyone.
TEMPLATE_FORMATS: dict[str, Format] = {
    "title": Format("Apprise title", escape=_no_mentions, single_line=True),
    "body": Format("Apprise text", escape=_no_mentions),
}


def _facts(entry: Entry) -> list[str]:
    """Link, source and matched terms of the entry's article, and every rule that matched
    it, one per line; then the story's other outlets, if any."""
    alert = entry.alert
    lines = []
    if url := safe_url(alert.article.url):
        lines.append(url)
    lines.append(f"Source: {_text(feed_label(alert))} | Published: {published_label(alert)}")
    terms = _text(matched_label(entry)) or "-"
    rules = ", ".join(
        _text(r.rule_id) + (f" (in {_text(r.via)})" if r.via else "") for r in entry.rules
    )
    lines.append(f"Matched: {terms} | {'Rules' if len(entry.rules) > 1 else 'Rule'}: {rules}")
    names = [(truncate(_text(o.feed_id), ALSO_NAME_LIMIT),) for o in other_outlets(alert)]
    if names:
        prefix = "Also reported by: "
        lines.append(prefix + join_within(names, ALSO_LIMIT - len(prefix), max_shown=ALSO_SHOWN))
    return lines


def default_title(alerts: Sequence[Alert]) -> str:
    """``[rule] Article title`` for one alert; a count of articles and the rules for a group."""
    if len(alerts) == 1:
        alert = alerts[0]
        title = _text(alert.article.title) or "(no title)"
        return truncate(f"[{_text(alert.rule_id)}] {title}", TITLE_LIMIT)
    rules = ", ".join(dict.fromkeys(_text(a.rule_id) for a in alerts))
    count = count_label(len(group_entries(alerts)))
    return truncate(f"news-monitor: {count} ({rules})", TITLE_LIMIT)


def default_body(alerts: Sequence[Alert]) -> str:
    """Plain text: one alert's link, facts, snippet and query; or a numbered list of
    a group's articles (title, link, facts with every rule; no snippets, to keep the
    message short)."""
    if len(alerts) == 1:
        alert = alerts[0]
        lines = _facts(entry_of([alert]))
        if excerpt := snippet(alert, SNIPPET_WIDTH):
            lines.append("")
            lines.append(excerpt.replace("@", _AT_LOOKALIKE))
        if query := truncate(_text(alert.query), QUERY_LIMIT):
            lines.append("")
            lines.append(f"Query: {query}")
        return "\n".join(lines)
    items = []
    for number, entry in enumerate(group_entries(alerts), 1):
        title = truncate(_text(entry.alert.article.title), TITLE_LIMIT) or "(no title)"
        items.append("\n".join([f"{number}. {title}", *(f"   {f}" for f in _facts(entry))]))
    return "\n\n".join(items)


# --- the channel -----------------------------------------------------------------------------


class AppriseChannelConfig(ChannelConfig):
    """Any service Apprise reaches (Discord, Teams, Telegram, ntfy ...); needs the apprise extra."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = tuple(TEMPLATE_FORMATS)

    type: Literal["apprise"]
    #: Apprise URLs, e.g. ``discord://id/token`` or ``ntfys://ntfy.sh/topic`` (secrets).
    urls: Annotated[list[SecretStr], Field(min_length=1)]

    def problems(self, name: str, settings: Settings) -> list[ChannelProblem]:
        """The extra is installed and every URL parses (:func:`config_problems`); a missing
        extra is reported at the channel's ``type``, a bad URL at its place in ``urls``."""
        return [
            ChannelProblem(
                ("type",) if index is None else ("urls", index), f"channel '{name}': {problem}"
            )
            for index, problem in config_problems(self.urls)
        ]


class AppriseChannel(GroupChannel):
    """Sends alerts through one or more Apprise URLs, up to ``MAX_GROUP`` per notification.

    Every URL gets every notification. Apprise reports one verdict for all of
    them, so when one of two URLs fails the attempt is retried for both and
    the other one sees the alert twice (delivery is at least once).
    """

    max_group = MAX_GROUP

    def __init__(
        self,
        name: str,
        urls: Sequence[SecretStr],
        *,
        timeout: float,
        templates: Mapping[str, str] | None = None,
        max_group: int = MAX_GROUP,
    ) -> None:
        """Build one Apprise service per URL. ``timeout`` bounds one attempt (seconds);
        ``templates`` (parts ``title``, ``body``) override the default text;
        ``max_group`` is 1 (one notification per alert) to ``MAX_GROUP``.

        Raises ValueError naming the channel and the problem (the extra is not
        installed; ``urls[2]`` is not a URL Apprise can use), never a URL.
        """
        super().__init__(name, max_group=max_group, cap=MAX_GROUP)
        if not _have_apprise():
            raise ValueError(f"channel '{name}': {MISSING_EXTRA}")
        if not urls:
            raise ValueError(f"channel '{name}': needs at least one URL")
        self._timeout = timeout
        #: Title/body template sources, as configured.
        self.templates: Mapping[str, str] = MappingProxyType(dict(templates or {}))
        self._compiled = compile_channel_templates(name, templates, TEMPLATE_FORMATS)
        self._secrets = sorted(
            {piece for url in urls for piece in url_secrets(url.get_secret_value())},
            key=len,
            reverse=True,
        )
        import apprise

        asset = _asset()
        with _captured():  # even the constructor logs (the locale it picked)
            self._apprise = apprise.Apprise(asset=asset)
        for index, secret in enumerate(urls):
            url = secret.get_secret_value()
            service = _instantiate(url, asset)
            if service is None:
                raise ValueError(f"channel '{name}': urls[{index}]: {_why_unusable(url)}")
            if not _OVERFLOW_PARAM.search(url):
                # Apprise's default hands an over-long message to the service as it is, and
                # Discord (2000 characters) refuses a group of ten alerts, on every retry.
                # Split it into several messages instead, unless the URL chose ?overflow=.
                service.overflow_mode = apprise.OverflowMode.SPLIT
            # A request that outlives our deadline would keep its thread busy after the
            # attempt was given up (and could deliver after being counted as a failure).
            service.socket_connect_timeout = min(service.socket_connect_timeout, timeout)
            service.socket_read_timeout = min(service.socket_read_timeout, timeout)
            self._apprise.add(service)
        self._count = len(urls)

    @classmethod
    def from_config(
        cls,
        name: str,
        config: AppriseChannelConfig,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> Self:
        """The channel ``name`` as ``config`` describes it (the registry's factory).

        ValueError without the apprise extra or for a URL Apprise cannot use; the config
        check (:meth:`AppriseChannelConfig.problems`) reports both before anything gets
        this far."""
        return cls(
            name,
            config.urls,
            timeout=settings.delivery_timeout.total_seconds(),
            templates=config.templates,
            max_group=config.alerts_per_message(MAX_GROUP),
        )

    def __repr__(self) -> str:
        return f"AppriseChannel(name={self.name!r}, urls={self._count})"

    def render_title(self, alerts: Sequence[Alert]) -> str:
        """The notification title for ``alerts`` (plain text); TemplateRenderError if a
        ``title`` template fails."""
        return self._render("title", alerts) or default_title(alerts)

    def render_body(self, alerts: Sequence[Alert]) -> str:
        """The notification body for ``alerts`` (plain text); TemplateRenderError if a
        ``body`` template fails."""
        return self._render("body", alerts) or default_body(alerts)

    def _render(self, part: str, alerts: Sequence[Alert]) -> str:
        """``part`` rendered by its template, "" when there is no template for it."""
        if self._compiled is None or part not in self._compiled:
            return ""
        return self._compiled.render(part, Context.of(list(alerts), channel=self.name))

    async def send_message(self, alerts: Sequence[Alert]) -> DeliveryResult:
        first = alerts[0].id
        try:
            title, body = self.render_title(alerts), self.render_body(alerts)
        except TemplateRenderError as exc:  # the same template fails the same way every time
            return self._result(first, DeliveryStatus.PERMANENT, str(exc))
        try:
            async with asyncio.timeout(self._timeout):
                ok, lines = await asyncio.to_thread(self._notify, title, body)
        except TimeoutError:
            return self._result(
                first,
                DeliveryStatus.RETRY,
                f"timed out after {self._timeout:g}s (Apprise may still deliver it late)",
            )
        except Exception as exc:  # a plugin bug must not escape as a crash of the worker
            return self._result(
                first, DeliveryStatus.RETRY, f"Apprise raised {type(exc).__name__}: {exc}"
            )
        said = "; ".join(one_line(line) for line in lines if line.strip())
        if ok:
            services = f"{self._count} Apprise URL" + ("s" if self._count != 1 else "")
            detail = f"sent to {services}" + (f" ({said})" if said else "")
            return self._result(first, DeliveryStatus.DELIVERED, detail)
        return self._result(
            first,
            DeliveryStatus.RETRY,
            f"Apprise: {said}" if said else "Apprise reported a failure without saying why",
        )

    def _notify(self, title: str, body: str) -> tuple[bool, list[str]]:
        """One blocking Apprise call (run in a worker thread): its verdict and log lines."""
        import apprise

        with _captured() as lines:
            # bool(): Apprise 1 returns a bool, Apprise 2 a result object that converts to one.
            ok = bool(
                self._apprise.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
            )
        return ok, lines

    def _result(self, alert_id: str, status: DeliveryStatus, detail: str) -> DeliveryResult:
        detail = truncate(redact(detail, self._secrets), MAX_DETAIL_CHARS)
        return DeliveryResult(alert_id, self.name, status, detail)
