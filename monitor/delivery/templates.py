"""Jinja2 message templates: checked when the config loads, compiled once per channel,
rendered per message into the format of the part they fill.

Templates come from config files, so they run in a bounded version of Jinja2's
immutable sandbox (``monitor.delivery.template_sandbox``: no route to Python
internals such as ``__class__``, no mutating the context, and caps on the
operations, time, output and value sizes of one render) with
``StrictUndefined`` (a misspelt variable is an error, not an empty string).
``check_template`` finds syntax errors, unknown filters and unknown variables
up front with the template line; ``trial_render`` renders each template once
with ``sample_alert`` (the config check does, for every channel); ``ChannelTemplates``
compiles a channel's parts once; ``ChannelTemplates.render`` turns any failure
while rendering, a limit reached included, into ``TemplateRenderError`` naming
channel, part and line, which the channel reports as a PERMANENT delivery
result.

Context of every template::

    alerts    list of alert views, oldest first (the whole message's alerts)
    alert     the alert being rendered: the first one, or for Slack ``body`` the first
              alert of each entry in turn
    count     len(alerts)
    entries   list of entry views: one per article, in order of first appearance
              (alerts about the same article, or the same story, from several rules
              are one entry); as many as ``alerts`` when no article repeats
    entry     the entry being rendered: the first one, or for Slack ``body`` each in turn
    channel   the channel's name in the config
    digest    None, "hourly" or "daily" (email digests)
    link(url, label)  a link in the part's own format; ``label`` alone when ``url``
                      is not http(s)

Each alert view has ``id``, ``title``, ``url`` (http(s) only, else ""),
``source`` (the feed id), ``feed`` (the feed's display name: its ``name:``,
else its id), ``feed_name`` (its ``name:``, "" when it has none),
``published`` (``2026-01-05 14:03 UTC`` or ``unknown``), ``rule``, ``query``,
``terms`` (the matched terms, a list of strings), ``snippet`` (plain text
around the first match), ``author`` ("" when unknown), ``fulltext`` (true
when the terms matched in the full article: its web page, read for a feed
with ``fulltext``), ``also_in`` (the
story's other copies, each with ``source``, ``url`` (http(s) only, else "")
and ``title``; at most ``ALSO_IN_LIMIT``, in arrival order; empty for most
alerts) and ``also_in_count`` (how many other copies there are, listed or
not). Text values are already one line, free of control characters and
bounded in length.

Each entry view has ``alert`` (the article as an alert view: its first
alert's, with ``terms``, ``snippet`` and ``also_in`` covering every rule of
the entry), ``alerts`` (the views of the entry's alerts, in message order),
``rules`` (one per distinct rule: ``id``, ``query``, ``terms`` and ``via``,
the feed of the other outlet's copy the rule matched, "" when it matched this
article) and ``ids`` (the entry's alert ids).

Escaping is the format's job, never the template author's, and feed text
cannot undo it: a ``Format`` escapes the value of every ``{{ }}`` (Slack
mrkdwn through ``finalize``; HTML through ``finalize`` and autoescape) while
the template's own literal text passes as written, so an author may use markup
and feed text may not. An HTML template is given every text value already
escaped (``Markup``), its ``|safe`` escapes what is not markup yet, and its
``finalize`` escapes inside ``{% autoescape false %}`` too, so no filter or
method can turn feed text back into markup. ``link()`` is the one helper whose
output is not escaped again: it escapes its label and accepts only http(s)
URLs itself.
"""

from __future__ import annotations

import dataclasses
import functools
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2 import meta, nodes
from markupsafe import Markup
from markupsafe import escape as html_escape

from monitor.delivery.render import (
    Entry,
    RuleMatch,
    feed_label,
    from_full_text,
    group_entries,
    one_line,
    published_label,
    safe_url,
    snippet,
    truncate,
)
from monitor.delivery.template_sandbox import BoundedSandbox, TemplateLimitError, render_bounded
from monitor.model import Alert, Article, Coverage, Hit

#: Names every template may use besides Jinja's own globals (``range``, ``namespace`` ...).
CONTEXT_NAMES = ("alert", "alerts", "channel", "count", "digest", "entries", "entry", "link")
#: Bounds on view values: a hostile feed must not make a template's output unbounded.
TITLE_LIMIT = 1000
SHORT_LIMIT = 200
QUERY_LIMIT = 1000
#: Most copies of a story an alert view lists in ``also_in``.
ALSO_IN_LIMIT = 20
DEFAULT_SNIPPET_WIDTH = 300
#: Characters of a render failure's reason kept in the delivery detail.
REASON_LIMIT = 300
#: Longest template source, in characters.
SOURCE_LIMIT = 100_000


class TemplateRenderError(Exception):
    """A template failed while rendering (missing attribute, sandbox refusal, 1/0 ...)."""

    def __init__(self, channel: str, part: str, line: int | None, reason: str) -> None:
        where = f" at line {line}" if line is not None else ""
        super().__init__(f"channel '{channel}': template '{part}' failed{where}: {reason}")
        #: Channel name.
        self.channel = channel
        #: The template part (``title``, ``body``, ``subject`` ...).
        self.part = part
        #: Line of the template where it failed, when Jinja's traceback says.
        self.line = line


class _Raw(str):
    """Text already safe for its format (made only by ``link``): not escaped again."""

    __slots__ = ()


def _same(text: str) -> str:
    return text


def _text_link(url: str, label: str) -> str:
    return f"{label} <{url}>"


@dataclass(frozen=True, slots=True)
class Format:
    """How the output of one template part is made safe for where it goes."""

    #: Name, for messages.
    name: str
    #: Escapes the value of every ``{{ }}`` (ignored with ``html``: autoescape does it).
    escape: Callable[[str], str] = _same
    #: ``(safe http(s) url, label)`` -> a link in this format, label escaped by the function.
    link: Callable[[str, str], str] = _text_link
    #: HTML autoescaping instead of ``escape``.
    html: bool = False
    #: Collapse the rendered output to one clean line (subjects, console lines, headers).
    single_line: bool = False


def _html_link(url: str, label: str) -> str:
    return Markup('<a href="{}">{}</a>').format(url, label)


#: Plain text as written (an email's text part).
TEXT = Format("text")
#: One line of plain text: the rendered output goes through ``render.one_line``.
LINE = Format("one line", single_line=True)
#: HTML with every value escaped (an email's HTML part).
HTML = Format("html", html=True, link=_html_link)


@dataclass(frozen=True, slots=True)
class CoverageView:
    """What a template sees of another outlet's copy of an alert's story."""

    #: Feed id of the outlet that carried it.
    source: str
    #: The copy's URL when it is http(s), else "".
    url: str
    #: The copy's title, or "".
    title: str


@dataclass(frozen=True, slots=True)
class AlertView:
    """What a template sees of one alert: cleaned, bounded text only."""

    #: The alert id (also the webhook-id / Message-ID base).
    id: str
    #: Article title, or "" when it has none.
    title: str
    #: Article URL when it is http(s), else "".
    url: str
    #: Feed id the article came from.
    source: str
    #: The feed's display name: its ``name:`` in the watch config, else its id.
    feed: str
    #: The feed's ``name:``, or "" when it has none.
    feed_name: str
    #: ``2026-01-05 14:03 UTC``, or ``unknown``.
    published: str
    #: Rule id.
    rule: str
    #: The rule's query text.
    query: str
    #: Matched query terms, first-seen order.
    terms: tuple[str, ...]
    #: Plain-text excerpt around the first match.
    snippet: str
    #: Author, or "".
    author: str
    #: The terms matched in the full article (its page, read for a feed with ``fulltext``).
    fulltext: bool = False
    #: The story's other copies (other outlets), arrival order, at most ALSO_IN_LIMIT.
    also_in: tuple[CoverageView, ...] = ()
    #: How many other copies the story has (``also_in`` lists the first ALSO_IN_LIMIT).
    also_in_count: int = 0


def coverage_view(copy: Coverage) -> CoverageView:
    """The template view of one copy: cleaned and bounded like an alert's own fields."""
    return CoverageView(
        source=truncate(one_line(copy.feed_id), SHORT_LIMIT),
        url=safe_url(copy.url) or "",
        title=truncate(one_line(copy.title), TITLE_LIMIT),
    )


def view_of(alert: Alert, snippet_width: int = DEFAULT_SNIPPET_WIDTH) -> AlertView:
    """The template view of ``alert``."""
    article = alert.article
    return AlertView(
        id=alert.id,
        title=truncate(one_line(article.title), TITLE_LIMIT),
        url=safe_url(article.url) or "",
        source=truncate(one_line(article.feed_id), SHORT_LIMIT),
        feed=truncate(feed_label(alert), SHORT_LIMIT),
        feed_name=truncate(one_line(alert.feed_name), SHORT_LIMIT),
        published=published_label(alert),
        rule=truncate(one_line(alert.rule_id), SHORT_LIMIT),
        query=truncate(one_line(alert.query), QUERY_LIMIT),
        terms=tuple(truncate(one_line(t), SHORT_LIMIT) for t in alert.matched_terms),
        snippet=snippet(alert, snippet_width),
        author=truncate(one_line(article.author), SHORT_LIMIT),
        fulltext=from_full_text(alert),
        also_in=tuple(coverage_view(c) for c in alert.also_in[:ALSO_IN_LIMIT]),
        also_in_count=len(alert.also_in),
    )


@dataclass(frozen=True, slots=True)
class RuleView:
    """What a template sees of one rule that matched an entry's article."""

    #: Rule id.
    id: str
    #: The rule's query text.
    query: str
    #: The terms it matched, first-seen order.
    terms: tuple[str, ...]
    #: Display name of the other outlet's copy it matched, "" when it matched this article.
    via: str = ""


@dataclass(frozen=True, slots=True)
class EntryView:
    """What a template sees of one article of a message and the rules that matched it."""

    #: The article as an alert view: the first alert's, terms and snippet of every rule.
    alert: AlertView
    #: Views of the entry's alerts, in message order.
    alerts: tuple[AlertView, ...]
    #: One per distinct rule, in message order.
    rules: tuple[RuleView, ...]
    #: The entry's alert ids, in message order.
    ids: tuple[str, ...]


def _rule_view(rule: RuleMatch) -> RuleView:
    return RuleView(
        id=truncate(one_line(rule.rule_id), SHORT_LIMIT),
        query=truncate(one_line(rule.query), QUERY_LIMIT),
        terms=tuple(truncate(one_line(t), SHORT_LIMIT) for t in rule.matched_terms),
        via=truncate(rule.via, SHORT_LIMIT),
    )


def _entry_view(entry: Entry, views: Mapping[int, AlertView], snippet_width: int) -> EntryView:
    alerts = tuple(views[id(a)] for a in entry.alerts)
    shown = alerts[0]
    if len(entry.alerts) > 1:  # the article with every rule's terms and highlights
        shown = view_of(entry.alert, snippet_width)
        terms = tuple(truncate(one_line(t), SHORT_LIMIT) for t in entry.matched_terms)
        shown = replace(shown, terms=terms)
    return EntryView(shown, alerts, tuple(_rule_view(r) for r in entry.rules), entry.ids)


@dataclass(frozen=True, slots=True)
class Context:
    """The data of one message, from which each part's template variables are made."""

    #: Views of the message's alerts, oldest first (never empty).
    alerts: tuple[AlertView, ...]
    #: Channel name.
    channel: str
    #: ``hourly`` / ``daily`` for an email digest, else None.
    digest: str | None = None
    #: One per article, in order of first appearance (empty: one per alert).
    entries: tuple[EntryView, ...] = ()

    @classmethod
    def of(
        cls,
        alerts: Sequence[Alert],
        *,
        channel: str,
        digest: str | None = None,
        snippet_width: int = DEFAULT_SNIPPET_WIDTH,
    ) -> Context:
        if not alerts:
            raise ValueError("a message needs at least one alert")
        views = tuple(view_of(a, snippet_width) for a in alerts)
        by_alert = {id(a): v for a, v in zip(alerts, views, strict=True)}
        entries = tuple(_entry_view(e, by_alert, snippet_width) for e in group_entries(alerts))
        return cls(views, channel, digest, entries)

    @property
    def entry_views(self) -> tuple[EntryView, ...]:
        """``entries``, or one entry per alert when none were given."""
        if self.entries:
            return self.entries
        return tuple(
            EntryView(v, (v,), (RuleView(v.rule, v.query, v.terms),), (v.id,)) for v in self.alerts
        )

    def variables(self, current: int = 0) -> dict[str, Any]:
        """Template variables with ``entry`` bound to ``entry_views[current]`` and ``alert``
        to that entry's first alert."""
        entries = self.entry_views
        return {
            "alerts": list(self.alerts),
            "alert": entries[current].alerts[0],
            "count": len(self.alerts),
            "entries": list(entries),
            "entry": entries[current],
            "channel": self.channel,
            "digest": self.digest,
        }


def _html_escaped(value: Any, done: dict[int, Any]) -> Any:
    """``value`` with every string in it HTML-escaped into Markup (views, lists, tuples):
    what an HTML template is given, so that feed text is escaped before the template sees
    it and ``|safe`` has nothing left to undo. ``done``: views escaped already, by id."""
    if isinstance(value, str):
        return html_escape(value)
    if isinstance(value, list | tuple):
        return type(value)(_html_escaped(item, done) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if id(value) not in done:
            changes = {
                f.name: _html_escaped(getattr(value, f.name), done)
                for f in dataclasses.fields(value)
            }
            done[id(value)] = replace(value, **changes)
        return done[id(value)]
    return value


def _finalizer(escape: Callable[[str], str]) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if value is None:  # {{ digest }} outside a digest: nothing, not "None"
            return ""
        if isinstance(value, _Raw):
            return value
        return escape(str(value))  # str() of a StrictUndefined raises, as it should

    return finalize


def _html_finalize(value: Any) -> Markup:
    """Every value printed into HTML, escaped: also inside ``{% autoescape false %}``."""
    if value is None:  # {{ digest }} outside a digest: nothing, not "None"
        return Markup("")
    return html_escape(value)  # Markup stays as it is; str() of a StrictUndefined raises


def _html_safe(value: Any) -> Markup:
    """``|safe`` in HTML: markup made by the template (a macro, ``link()``) stays markup,
    anything else is escaped, so no text can be turned into markup."""
    return html_escape(value)


@functools.cache
def environment(fmt: Format) -> BoundedSandbox:
    """The bounded sandbox of ``fmt`` (one per format, shared by every channel)."""
    if fmt.html:
        env = BoundedSandbox(
            undefined=jinja2.StrictUndefined, autoescape=True, finalize=_html_finalize
        )
        env.set_filter("safe", _html_safe)
    else:
        env = BoundedSandbox(
            undefined=jinja2.StrictUndefined, autoescape=False, finalize=_finalizer(fmt.escape)
        )
    raw: Callable[[str], str] = _same if fmt.html else _Raw

    def link(url: object, label: object) -> str:
        if fmt.html:  # values arrive escaped (Markup): the URL is used as the text it stands for
            address = url.unescape() if isinstance(url, Markup) else str(url)
            text = label if isinstance(label, Markup) else str(label)
        else:
            address, text = str(url), str(label)
        safe = safe_url(address)
        if safe is None:
            return Markup.escape(text) if fmt.html else _Raw(fmt.escape(text))
        return raw(fmt.link(safe, text))

    env.globals["link"] = link
    return env


def _line_of(source_ast: nodes.Template, name: str) -> int:
    for node in source_ast.find_all(nodes.Name):
        if node.name == name and node.ctx == "load":
            return int(node.lineno)
    return 1


def check_template(source: str, part: str = "template") -> None:
    """Raise ValueError naming ``part`` and the line if ``source`` is not a usable template.

    Catches syntax errors, unknown filters and tests, and variables that are
    not in the context (``aler.title``). A missing attribute (``alert.titel``)
    only shows when rendering, where it is a TemplateRenderError.
    """
    compile_template(source, TEXT, part)


def compile_template(source: str, fmt: Format, part: str = "template") -> jinja2.Template:
    """``source`` compiled for ``fmt``; ValueError as ``check_template`` says."""
    if len(source) > SOURCE_LIMIT:
        raise ValueError(
            f"template '{part}' is {len(source):,} characters long; at most {SOURCE_LIMIT:,}"
        )
    env = environment(fmt)
    try:
        source_ast = env.parse(source)
        undeclared = meta.find_undeclared_variables(source_ast)  # compiles: unknown filters
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template '{part}', line {exc.lineno}: {exc.message}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"template '{part}' is nested too deeply") from None
    known = set(CONTEXT_NAMES) | set(env.globals)
    unknown = sorted(undeclared - known)
    if unknown:
        name = unknown[0]
        raise ValueError(
            f"template '{part}', line {_line_of(source_ast, name)}: unknown variable "
            f"'{name}' (known: {', '.join(CONTEXT_NAMES)})"
        )
    try:
        return env.from_string(env.instrument(source_ast))
    except jinja2.TemplateSyntaxError as exc:
        raise ValueError(f"template '{part}', line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # Python's compiler on what Jinja made: too many nested blocks ...
        reason = truncate(one_line(f"{type(exc).__name__}: {exc}"), REASON_LIMIT)
        raise ValueError(f"template '{part}' cannot be compiled: {reason}") from None


def _failed_line(exc: BaseException) -> int | None:
    """The template line an exception came from: Jinja names template frames ``<template>``."""
    lines = [
        f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<template>"
    ]
    return lines[-1] if lines else None


class ChannelTemplates:
    """One channel's templates, compiled once, each in the format of its part."""

    def __init__(
        self, channel: str, sources: Mapping[str, str], formats: Mapping[str, Format]
    ) -> None:
        """Compile ``sources`` (part -> template); ValueError for a bad one or an unknown part."""
        unknown = sorted(set(sources) - set(formats))
        if unknown:
            raise ValueError(
                f"channel '{channel}': unknown template part(s) {', '.join(unknown)}; "
                f"this channel has: {', '.join(formats) or 'none'}"
            )
        self.channel = channel
        self._formats = dict(formats)
        self._compiled = {
            part: compile_template(source, formats[part], part) for part, source in sources.items()
        }

    def __contains__(self, part: object) -> bool:
        return part in self._compiled

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def __repr__(self) -> str:
        return f"ChannelTemplates(channel={self.channel!r}, parts={sorted(self._compiled)!r})"

    def render(self, part: str, context: Context, current: int = 0) -> str:
        """Render ``part`` with ``entry`` = ``context.entry_views[current]`` and ``alert`` its
        first alert.

        Raises TemplateRenderError for any failure inside the template: the
        template is user code, and whatever it trips on must become a delivery
        result, not a crash of the worker.
        """
        variables = context.variables(current)
        if self._formats[part].html:
            done: dict[int, Any] = {}
            variables = {name: _html_escaped(value, done) for name, value in variables.items()}
        try:
            output = render_bounded(self._compiled[part], variables)
        except Exception as exc:  # user code: anything it raises is a failed message
            # Bounded and one line: the message may quote feed text, and it ends up in logs.
            text = (
                str(exc) if isinstance(exc, TemplateLimitError) else f"{type(exc).__name__}: {exc}"
            )
            reason = truncate(one_line(text), REASON_LIMIT)
            raise TemplateRenderError(self.channel, part, _failed_line(exc), reason) from exc
        return one_line(output) if self._formats[part].single_line else output


def compile_channel_templates(
    channel: str, sources: Mapping[str, str] | None, formats: Mapping[str, Format]
) -> ChannelTemplates | None:
    """``ChannelTemplates`` for ``sources``, or None when there are none."""
    if not sources:
        return None
    return ChannelTemplates(channel, sources, formats)


_SAMPLE_TITLE = "news-monitor test alert: Iran, Russia and drones"
_SAMPLE_TEXT = (
    "This is a test alert sent by news-monitor send-test. If you can read it, the channel "
    "works. Sample text: Iran supplied Russia with drones, officials said."
)


def sample_alert(channel: str, now: float, *, ident: str = "sample") -> Alert:
    """A realistic alert for ``channel`` (``send-test`` sends it, ``check`` renders every
    template with it): real hit offsets, ids ending in ``ident``."""
    published = datetime.fromtimestamp(now, UTC)
    article = Article(
        id=f"test-{ident}",
        feed_id="news-monitor-test",
        url="https://example.org/news-monitor/test-alert",
        title=_SAMPLE_TITLE,
        text=_SAMPLE_TEXT,
        published=published,
        author="news-monitor",
    )
    hits = tuple(
        Hit(field, start, start + len(term), term)
        for field, value in (("title", _SAMPLE_TITLE), ("text", _SAMPLE_TEXT))
        for term in ("Iran", "Russia", "drones")
        if (start := value.find(term)) >= 0
    )
    return Alert(
        id=f"alrt_test_{ident}",
        channel=channel,
        rule_id="send-test",
        query="Iran AND Russia AND drones",
        article=article,
        hits=tuple(sorted(hits, key=lambda h: (h.field != "title", h.start))),
        created_at=published,
    )


def trial_render(
    channel: str,
    sources: Mapping[str, str],
    formats: Mapping[str, Format],
    *,
    digest: str | None = None,
) -> dict[str, str]:
    """Render each template of ``channel`` once with a sample alert, within the render
    limits; part -> why it failed, for each part that did (a template that does not compile
    is not tried: the config check reports that already)."""
    context = Context.of([sample_alert(channel, 1767621780.0)], channel=channel, digest=digest)
    failures: dict[str, str] = {}
    for part, source in sources.items():
        fmt = formats.get(part, TEXT)
        try:
            templates = ChannelTemplates(channel, {part: source}, {part: fmt})
        except ValueError:
            continue
        try:
            templates.render(part, context)
        except TemplateRenderError as exc:
            failures[part] = str(exc)
    return failures
