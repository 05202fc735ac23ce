"""Slack channel: one Block Kit message per alert, posted to an incoming webhook.

Message layout: a header naming the rule; the article title linked to the
article; fields for source, publication time, matched terms and rule; the
snippet as a quote with the matched terms in bold; the rule's query as
context. ``text`` is the plain fallback shown in notifications.

Feed text is hostile until escaped. Slack mrkdwn has no escape character, so
``escape`` turns ``& < >`` into entities (no ``<!channel>``, ``<@U123>`` or
``<http://evil|link>`` can survive) and swaps the formatting characters
``* _ ~ ` `` for look-alikes, so a title cannot bold, strike or code-format
anything. Only this module's own markup reaches Slack as markup. Every text
object stays within Block Kit limits by construction (``escape`` takes a limit
on the *escaped* length, so an entity is never cut in half).

The webhook URL is a secret; ``_http.post`` keeps it out of every detail.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import SecretStr

from monitor.delivery.base import Channel
from monitor.delivery.channels._http import post
from monitor.delivery.render import (
    ELLIPSIS,
    one_line,
    published_label,
    safe_url,
    snippet_of,
    truncate,
)
from monitor.types import Alert, Clock, DeliveryResult

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


def title_mrkdwn(alert: Alert) -> str:
    """The title in bold, linked to the article when it has a usable http(s) URL."""
    title = escape(one_line(alert.article.title), TITLE_BUDGET) or "(no title)"
    url = safe_url(alert.article.url)
    link = escape_url(url) if url else ""
    if link and len(link) <= URL_BUDGET:
        return f"*<{link}|{title}>*"
    return f"*{title}*"


def build_payload(alert: Alert) -> dict[str, Any]:
    """The JSON body posted to the incoming webhook."""
    article = alert.article
    header = truncate(f"news-monitor: {one_line(alert.rule_id)}", HEADER_LIMIT)
    fields = [
        ("Source", escape(one_line(article.feed_id), 200)),
        ("Published", escape(published_label(alert))),
        ("Matched", escape(", ".join(one_line(t) for t in alert.matched_terms), 1000) or "-"),
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


class SlackChannel(Channel):
    """Posts alerts to a Slack incoming webhook."""

    def __init__(
        self,
        name: str,
        webhook_url: SecretStr,
        http: httpx.AsyncClient,
        *,
        timeout: float,
        user_agent: str,
        clock: Clock,
    ) -> None:
        super().__init__(name)
        self._url = webhook_url
        self._http = http
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock

    def __repr__(self) -> str:
        return f"SlackChannel(name={self.name!r}, webhook_url={self._url!r})"

    async def send(self, alert: Alert) -> DeliveryResult:
        body = json.dumps(build_payload(alert)).encode("ascii")
        headers = {"content-type": "application/json", "user-agent": self._user_agent}
        return await post(
            self._http,
            self._url,
            body,
            headers,
            alert=alert,
            channel=self.name,
            timeout=self._timeout,
            clock=self._clock,
            check_body=_check_ok,
        )
