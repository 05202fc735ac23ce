"""Slack channel: Block Kit messages, one alert or a group of alerts each, posted to an
incoming webhook.

One alert: a header naming the rule; the article title linked to the article;
fields for source (the feed's display name: its ``name:``, else its id),
publication time, matched terms and rule; when other outlets
carried the same story, a context line ``Also reported by: bbc-world, reuters
(+3 more)`` (each name linked to that outlet's copy when its URL is http(s));
the snippet as a quote with the matched terms in bold; the rule's query as
context. A group (2 to ``MAX_GROUP`` alerts that arrived together): a header
``news-monitor: 3 articles · rule-a, rule-b`` and one compact section per
*article* (``render.group_entries``: alerts of several rules about one article,
or one story, are one entry): linked title; source, time and the terms of
every rule; ``Rules: rule-a (query a); rule-b (query b)``; the "also reported
by" line when there is one; a short snippet with every rule's terms in bold.
``text`` is the plain fallback shown in notifications.

Templates (``monitor.delivery.templates``): ``title`` replaces the header text
(plain text, as Slack headers are: it is shown as written, and escaped as a
whole where it becomes the notification fallback); ``body`` replaces each
entry's content with one mrkdwn section, rendered once per entry (article)
with ``entry`` bound to it, ``alert`` to its first alert and ``alerts`` the
whole group (when no article repeats, that is once per alert, as it always
was). In ``body`` every ``{{ }}`` value goes through ``escape`` while the
template's own text may use mrkdwn; ``link(url, label)`` makes a safe
``<url|label>``.

Feed text is hostile until escaped. Slack mrkdwn has no escape character, so
``escape`` turns ``& < >`` into entities (no ``<!channel>``, ``<@U123>`` or
``<http://evil|link>`` can survive) and swaps the formatting characters
``* _ ~ ` `` for look-alikes, so a title cannot bold, strike or code-format
anything. Only this module's own markup (and a template's literal text)
reaches Slack as markup. Every text object stays within Block Kit limits: the
built-in layouts by construction (``escape`` takes a limit on the *escaped*
length, so an entity is never cut in half; the budgets below add up), a
rendered template by ``clip_mrkdwn`` afterwards.

The webhook URL is a secret; ``_http.post`` keeps it out of every detail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, Self

import httpx
from pydantic import SecretStr, field_validator

from monitor.delivery.base import GroupChannel
from monitor.delivery.channel_config import ChannelConfig, check_http_url
from monitor.delivery.channels._http import post
from monitor.delivery.render import (
    ELLIPSIS,
    FULLTEXT_NOTE,
    Entry,
    RuleMatch,
    count_label,
    feed_label,
    from_full_text,
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
from monitor.delivery.templates import (
    LINE,
    ChannelTemplates,
    Context,
    Format,
    TemplateRenderError,
    compile_channel_templates,
)
from monitor.model import Alert, Clock, DeliveryResult, DeliveryStatus
from monitor.settings import Settings

#: Block Kit limits, in characters.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
#: Our own budgets, chosen so that every block stays under the limits above.
TITLE_BUDGET = 600
URL_BUDGET = 2000
SNIPPET_WIDTH = 400  # raw characters; escaped at most 5x (&amp;) + bold markers < SECTION_LIMIT
QUERY_BUDGET = 1000
FALLBACK_BUDGET = 1000
BLOCK_LIMIT = 50

#: Most alerts in one message. A group is a header plus one section per alert, so
#: 1 + 10 = 11 blocks of the 50 allowed, and at most ~27,000 characters of sections:
#: more would be a wall of text nobody reads in a channel, and Slack truncates long
#: messages. The assertion below keeps the block count honest if the layout grows.
MAX_GROUP = 10
GROUP_BLOCKS_PER_ALERT = 1
assert 1 + MAX_GROUP * GROUP_BLOCKS_PER_ALERT <= BLOCK_LIMIT
#: The "also reported by" line (other outlets of the alert's story): at most this many
#: escaped characters in all, outlet names cut to ALSO_NAME_BUDGET, a name linked only when
#: its escaped URL fits ALSO_URL_BUDGET, at most ALSO_SHOWN names (then ``(+N more)``).
#: A single alert's line is a context element (limit FIELD_LIMIT here, to be safe).
ALSO_PREFIX = "Also reported by: "
ALSO_BUDGET = 1500
ALSO_URL_BUDGET = 500
ALSO_NAME_BUDGET = 100
ALSO_SHOWN = 10
assert ALSO_BUDGET <= FIELD_LIMIT
#: Budgets of one entry's section in a group (escaped characters). Worst case: title link
#: 2 + 800 + 1 + 300 + 2 = 1,105; meta line 100 + 3 + 20 + 3 + 9 + 300 + 22 (the full-text
#: note) = 457 (+1 newline); with an "also reported by" line (1 + 400) the title's link gets
#: 600 instead of 800.
#: ``group_section_worst`` adds these fixed lines up. The rules line gets what is left, up
#: to GROUP_RULES_BUDGET, then the quote (at most 3 + 160 * 5 (every character an
#: ``&amp;``) + 2 * 160 bold markers = 1,123) comes at the widest of GROUP_SNIPPET_WIDTHS
#: that still fits, or not at all: a section never passes SECTION_LIMIT.
GROUP_TITLE_BUDGET = 300
GROUP_URL_BUDGET = 800
GROUP_NAME_BUDGET = 100
GROUP_TERMS_BUDGET = 300
GROUP_SNIPPET_WIDTH = 160
GROUP_SNIPPET_WIDTHS = (GROUP_SNIPPET_WIDTH, 80, 40)
GROUP_ALSO_BUDGET = 400
GROUP_ALSO_URL_BUDGET = 200
GROUP_ALSO_SHOWN = 5
GROUP_URL_BUDGET_WITH_ALSO = 600
#: The rules line of a section: at most this many characters, a rule's query cut to
#: GROUP_QUERY_BUDGET (a rule whose query does not fit is named alone).
GROUP_RULES_BUDGET = 1000
GROUP_QUERY_BUDGET = 200
#: Escaped characters of a published label (``2026-01-05 14:03 UTC``; ``unknown``).
_PUBLISHED_SIZE = 20


def group_section_worst(url_budget: int, also_budget: int) -> int:
    """The longest the fixed lines of a group section (title, meta, also) can be with these
    budgets, newlines included."""
    title = 2 + url_budget + 1 + GROUP_TITLE_BUDGET + 2  # *<url|title>*
    meta = 1 + GROUP_NAME_BUDGET + _PUBLISHED_SIZE + GROUP_TERMS_BUDGET
    meta += len(" · ") * 2 + len("matched: ") + len(f" {FULLTEXT_NOTE}")
    also = 1 + also_budget if also_budget else 0
    return title + meta + also


#: Room left for the rules line (and the quote) in the worst case: plenty for ten rules.
assert SECTION_LIMIT - group_section_worst(GROUP_URL_BUDGET, 0) > GROUP_RULES_BUDGET
assert (
    SECTION_LIMIT - group_section_worst(GROUP_URL_BUDGET_WITH_ALSO, GROUP_ALSO_BUDGET)
    > GROUP_RULES_BUDGET
)

_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "*": "\u2217",  # ∗ asterisk operator
    "_": "\u02cd",  # ˍ modifier letter low macron
    "~": "\u223c",  # ∼ tilde operator
    "`": "\u02cb",  # ˋ modifier letter grave accent
}


def escape(text: str, limit: int | None = None) -> str:
    """``text`` made inert for Slack mrkdwn, at most ``limit`` characters once escaped."""
    pieces = [_ESCAPES.get(char, char) for char in text]
    escaped = "".join(pieces)
    if limit is None or len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    size = 0
    for piece in pieces:  # cut between pieces, never inside an entity
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + ELLIPSIS


def escape_url(url: str) -> str:
    """An http(s) URL fit for ``<url|label>``: no ``|`` or space to end it early,
    ``& < >`` as entities."""
    url = url.replace("|", "%7C").replace(" ", "%20")
    return url.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _bold(text: str) -> str:
    return f"*{text}*"


def title_mrkdwn(
    alert: Alert, title_budget: int = TITLE_BUDGET, url_budget: int = URL_BUDGET
) -> str:
    """The title in bold, linked to the article when it has a usable http(s) URL."""
    title = escape(one_line(alert.article.title), title_budget) or "(no title)"
    url = safe_url(alert.article.url)
    link = escape_url(url) if url else ""
    if link and len(link) <= url_budget:
        return f"*<{link}|{title}>*"
    return f"*{title}*"


def mrkdwn_link(url: str, label: str) -> str:
    """``<url|label>`` for a template's ``link()``: ``url`` is already known to be http(s)."""
    link = escape_url(url)
    text = escape(one_line(label), TITLE_BUDGET)
    if len(link) > URL_BUDGET:
        return text
    return f"<{link}|{text}>" if text else f"<{link}>"


#: The format of a ``body`` template: every ``{{ }}`` value mrkdwn-escaped.
MRKDWN = Format("Slack mrkdwn", escape=escape, link=mrkdwn_link)
#: Template parts and their formats; ``title`` is a plain_text header.
TEMPLATE_FORMATS: dict[str, Format] = {"title": LINE, "body": MRKDWN}

_PARTIAL_ENTITY = re.compile(r"&[A-Za-z#0-9]*$")


def clip_mrkdwn(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters without leaving half an entity or an open ``<...``.

    For rendered templates, whose length nothing bounds in advance. A cut can at
    worst lose the tail of a link or unbalance an author's ``*``: it never
    un-escapes anything, since every ``<`` it keeps was closed.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    cut = _PARTIAL_ENTITY.sub("", cut)
    return cut.rstrip() + ELLIPSIS


def build_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body posted to the incoming webhook."""
    article = alert.article
    header = truncate(f"news-monitor: {one_line(alert.rule_id)}", HEADER_LIMIT)
    fields = [
        ("Source", escape(feed_label(alert), 200)),
        ("Published", escape(published_label(alert))),
        ("Matched", escape(matched_label(alert), 1000) or "-"),
        ("Rule", escape(one_line(alert.rule_id), 200)),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header}},
        {"type": "section", "text": {"type": "mrkdwn", "text": title_mrkdwn(alert)}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in fields],
        },
    ]
    if also := also_mrkdwn(alert):
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": also}]})
    quote = snippet_of(alert, SNIPPET_WIDTH).render(escape, _bold)
    if quote:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"> {quote}"}})
    if query := escape(one_line(alert.query), QUERY_BUDGET):
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Query: {query}"}]}
        )
    fallback = escape(one_line(f"[{alert.rule_id}] {article.title}"), FALLBACK_BUDGET)
    url = safe_url(article.url)
    if url and len(url) <= URL_BUDGET:
        fallback += f" {escape_url(url)}"
    return {"text": fallback, "blocks": blocks}


def group_header(alerts: Sequence[Alert]) -> str:
    """``news-monitor: 3 articles · rule-a, rule-b``, counting articles (``render.
    group_entries``), not alerts; ``, +N more`` when the rules do not fit."""
    rules = list(dict.fromkeys(one_line(a.rule_id) for a in alerts))
    head = f"news-monitor: {count_label(len(group_entries(alerts)))} · "
    for shown in range(len(rules), 0, -1):
        more = f", +{len(rules) - shown} more" if shown < len(rules) else ""
        text = head + ", ".join(rules[:shown]) + more
        if len(text) <= HEADER_LIMIT:
            return text
    return truncate(f"{head}{count_label(len(rules), 'rule')}", HEADER_LIMIT)


def _rule_forms(rule: RuleMatch) -> tuple[str, ...]:
    """A rule as the rules line shows it, best first: with its query, then its id alone."""
    name = escape(one_line(rule.rule_id), GROUP_NAME_BUDGET)
    via = f" in {escape(rule.via, GROUP_NAME_BUDGET)}" if rule.via else ""
    query = escape(one_line(rule.query), GROUP_QUERY_BUDGET)
    return (f"{name} ({query}){via}", f"{name}{via}") if query else (f"{name}{via}",)


def rules_mrkdwn(entry: Entry, budget: int = GROUP_RULES_BUDGET) -> str:
    """``Rules: rule-a (query a); rule-b (query b)`` (``Rule:`` for one), every rule of the
    entry with its query while they fit ``budget``, then ``(+N more)``; "" if not even that."""
    prefix = "Rule: " if len(entry.rules) == 1 else "Rules: "
    forms = [_rule_forms(rule) for rule in entry.rules]
    listed = join_within(forms, budget - len(prefix), max_shown=len(forms), sep="; ")
    return prefix + listed if listed else ""


def group_section(entry: Entry) -> str:
    """One entry's compact mrkdwn section in a group: the article once, every rule that
    matched it; within SECTION_LIMIT by its budgets."""
    alert = entry.alert
    source = escape(feed_label(alert), GROUP_NAME_BUDGET)
    terms = escape(", ".join(one_line(t) for t in entry.matched_terms), GROUP_TERMS_BUDGET)
    note = f" {FULLTEXT_NOTE}" if from_full_text(entry) else ""
    also = also_mrkdwn(alert, GROUP_ALSO_BUDGET, GROUP_ALSO_URL_BUDGET, GROUP_ALSO_SHOWN)
    url_budget = GROUP_URL_BUDGET_WITH_ALSO if also else GROUP_URL_BUDGET
    lines = [
        title_mrkdwn(alert, GROUP_TITLE_BUDGET, url_budget),
        f"{source} · {escape(published_label(alert))} · matched: {terms or '-'}{note}",
    ]
    if also:
        lines.append(also)
    room = SECTION_LIMIT - len("\n".join(lines)) - 1
    if rules := rules_mrkdwn(entry, min(GROUP_RULES_BUDGET, room)):
        lines.insert(2, rules)
    room = SECTION_LIMIT - len("\n".join(lines)) - 1
    for width in GROUP_SNIPPET_WIDTHS:
        quote = snippet_of(alert, width).render(escape, _bold)
        if quote and len(quote) + 2 <= room:
            lines.append(f"> {quote}")
            break
    return "\n".join(lines)


def also_mrkdwn(
    alert: Alert,
    budget: int = ALSO_BUDGET,
    url_budget: int = ALSO_URL_BUDGET,
    shown: int = ALSO_SHOWN,
) -> str:
    """``Also reported by: <url|bbc-world>, reuters (+3 more)``: the other outlets of the
    alert's story, names escaped, each linked to its copy when the URL is http(s) and fits
    ``url_budget``; at most ``budget`` characters. "" when there are none."""
    entries: list[tuple[str, ...]] = []
    for outlet in other_outlets(alert):
        name = escape(outlet.feed_id, ALSO_NAME_BUDGET)
        link = escape_url(outlet.url) if outlet.url else ""
        if link and len(link) <= url_budget:
            entries.append((f"<{link}|{name}>", name))
        else:
            entries.append((name,))
    if not entries:
        return ""
    return ALSO_PREFIX + join_within(entries, budget - len(ALSO_PREFIX), max_shown=shown)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def build_group_payload(
    alerts: Sequence[Alert], templates: ChannelTemplates | None = None, *, channel: str = ""
) -> dict[str, Any]:
    """The JSON body for ``alerts`` (1 to MAX_GROUP) as one message.

    One alert without templates is exactly ``build_payload``. Raises
    TemplateRenderError when a template fails.
    """
    if not 1 <= len(alerts) <= MAX_GROUP:
        raise ValueError(f"a Slack message carries 1 to {MAX_GROUP} alerts, got {len(alerts)}")
    single = len(alerts) == 1
    if single and not templates:
        return build_payload(alerts[0])
    context = Context.of(alerts, channel=channel, snippet_width=SNIPPET_WIDTH)
    title = ""
    if templates and "title" in templates:
        title = truncate(templates.render("title", context), HEADER_LIMIT)
    if templates and "body" in templates:
        bodies = [
            clip_mrkdwn(templates.render("body", context, i), SECTION_LIMIT)
            for i in range(len(context.entries))
        ]
        # An empty section is invalid Block Kit: a body that renders nothing drops that entry.
        content = [_section(b) for b in bodies if b.strip()]
    elif single:
        content = build_payload(alerts[0])["blocks"][1:]
    else:
        content = [_section(group_section(e)) for e in group_entries(alerts)]
    # A header needs text: an empty rendered title falls back to the default.
    header = title or (
        truncate(f"news-monitor: {one_line(alerts[0].rule_id)}", HEADER_LIMIT)
        if single
        else group_header(alerts)
    )
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": header}}, *content]
    if title:
        fallback = escape(title, FALLBACK_BUDGET)
    elif single:
        fallback = build_payload(alerts[0])["text"]
    else:
        fallback = escape(header, FALLBACK_BUDGET)
    return {"text": fallback, "blocks": blocks}


def _check_ok(body: bytes, content_type: str) -> str | None:
    """Slack answers a good post with the text ``ok`` (the Web API: JSON ``{"ok": true}``).

    Like Alertmanager, anything else on a 2xx is not a success we can trust
    and not a failure a retry would fix: probably not Slack at that URL.
    """
    text = body.decode("utf-8", "replace").strip()
    if text == "ok":
        return None
    if "json" in content_type:
        try:
            if json.loads(text).get("ok") is True:
                return None
        except (ValueError, AttributeError):
            pass
    return f"the answer was not 'ok': {one_line(text)[:200]!r}"


class SlackChannelConfig(ChannelConfig):
    """Slack incoming webhook."""

    TEMPLATE_PARTS: ClassVar[tuple[str, ...]] = tuple(TEMPLATE_FORMATS)
    #: Slack allows about one message per second per incoming webhook and answers 429 above.
    DEFAULT_MIN_GAP: ClassVar[float] = 1.0

    type: Literal["slack"]
    #: https://hooks.slack.com/services/... (a secret).
    webhook_url: SecretStr

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        check_http_url(value.get_secret_value())  # the error shows only scheme and host
        return value


class SlackChannel(GroupChannel):
    """Posts alerts to a Slack incoming webhook, up to ``max_group`` per message."""

    def __init__(
        self,
        name: str,
        webhook_url: SecretStr,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        user_agent: str,
        clock: Clock,
        templates: Mapping[str, str] | None = None,
        max_group: int = MAX_GROUP,
    ) -> None:
        """``templates``: part (``title``, ``body``) -> Jinja2 source, compiled here
        (ValueError if bad). ``max_group``: 1 (one message per alert) to MAX_GROUP."""
        super().__init__(name, max_group=max_group, cap=MAX_GROUP)
        self._url = webhook_url
        self._http = http
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock
        self._templates = compile_channel_templates(name, templates, TEMPLATE_FORMATS)

    @classmethod
    def from_config(
        cls,
        name: str,
        config: SlackChannelConfig,
        settings: Settings,
        http: httpx.AsyncClient,
        clock: Clock,
    ) -> Self:
        """The channel ``name`` as ``config`` describes it (the registry's factory)."""
        return cls(
            name,
            config.webhook_url,
            http,
            timeout=settings.delivery_timeout.total_seconds(),
            user_agent=settings.user_agent,
            clock=clock,
            templates=config.templates,
            max_group=config.alerts_per_message(MAX_GROUP),
        )

    def __repr__(self) -> str:
        return f"SlackChannel(name={self.name!r}, webhook_url={self._url!r})"

    async def send_message(self, alerts: Sequence[Alert]) -> DeliveryResult:
        try:
            payload = build_group_payload(alerts, self._templates, channel=self.name)
        except TemplateRenderError as exc:
            # The same template fails the same way on every retry.
            return DeliveryResult(alerts[0].id, self.name, DeliveryStatus.PERMANENT, str(exc))
        body = json.dumps(payload).encode("ascii")
        headers = {"content-type": "application/json", "user-agent": self._user_agent}
        return await post(
            self._http,
            self._url,
            body,
            headers,
            alert=alerts[0],
            channel=self.name,
            timeout=self._timeout,
            clock=self._clock,
            check_body=_check_ok,
        )
