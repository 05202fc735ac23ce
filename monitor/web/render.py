"""How the console's pages are rendered: the Jinja2 environment (autoescape on for every
template: articles are hostile input) and its filters.

Filters that make markup (:func:`marked`, :func:`passages`) escape the text themselves
and mark only the hit spans, so a ``<script>`` in a title stays text. Links to articles
go through :func:`safe_url` (only http and https: a ``javascript:`` link is dropped).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import jinja2
from markupsafe import Markup, escape

from monitor.ingest.fetch import redact_url
from monitor.matching.highlight import clip, highlight
from monitor.model import Hit
from monitor.polling.health import span

#: Characters shown on each side of a hit in a passage (as ``match --archive``).
PASSAGE_CONTEXT = 80
#: Most passages of a text shown for one match.
MAX_PASSAGES = 6


def _escape(text: str) -> str:
    return str(escape(text))


def marked(text: str, hits: Sequence[Hit], field: str) -> Markup:
    """``text`` escaped, with the hits of ``field`` wrapped in ``<mark>``."""
    return Markup(highlight(text, hits, "<mark>", "</mark>", field=field, escape=_escape))


def passages(text: str, hits: Sequence[Hit]) -> list[Markup]:
    """The paragraphs of ``text`` that hold a text hit, cut to the parts around the hits,
    escaped and highlighted (at most :data:`MAX_PASSAGES`)."""
    out: list[Markup] = []
    offset = 0
    text_hits = [h for h in hits if h.field == "text"]
    for line in text.splitlines(keepends=True):
        end = offset + len(line)
        inside = [
            Hit(h.field, h.start - offset, h.end - offset, h.term)
            for h in text_hits
            if h.start < end and h.end > offset
        ]
        if inside:
            shown, moved = clip(line.rstrip("\r\n"), inside, PASSAGE_CONTEXT)
            out.append(marked(shown, moved, "text"))
            if len(out) >= MAX_PASSAGES:
                break
        offset = end
    return out


def safe_url(url: str) -> str:
    """``url`` if it is an http(s) link, else "" (hostile feeds send ``javascript:``)."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""
    return url.strip() if scheme in ("http", "https") else ""


def host(url: str) -> str:
    """The host name of ``url`` (a WebSub hub, shown short), else ``url`` redacted."""
    try:
        name = urlsplit(url).hostname
    except ValueError:
        name = None
    return name or redact_url(url)


def when(value: float | datetime | None) -> str:
    """A time as ``2026-01-05 14:03 UTC``; "" for None."""
    if value is None:
        return ""
    at = value if isinstance(value, datetime) else datetime.fromtimestamp(value, tz=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(value: float | None, now: float) -> str:
    """``5m ago``, ``in 3m``, ``just now``; "never" for None."""
    if value is None:
        return "never"
    delta = now - value
    if abs(delta) < 1:
        return "just now"
    return f"{span(delta)} ago" if delta > 0 else f"in {span(-delta)}"


def explain_lines(tree: str) -> list[tuple[int, bool, str]]:
    """The lines of an ``explain`` tree as (depth, held, text)."""
    out = []
    for line in tree.splitlines():
        stripped = line.lstrip(" ")
        depth = (len(line) - len(stripped)) // 2
        held = stripped.startswith("✓")
        out.append((depth, held, stripped[1:].strip() if stripped[:1] in "✓✗" else stripped))
    return out


def query_string(params: dict[str, str | None], **changes: str | None) -> str:
    """``?a=1&b=2`` of ``params`` with ``changes``, empty values left out."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v}
    return "?" + urlencode(kept) if kept else "?"


def environment() -> jinja2.Environment:
    """The templates of ``monitor/web/templates``, autoescaped, with the filters above."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        marked=marked,
        passages=passages,
        safe_url=safe_url,
        host=host,
        redact=redact_url,
        when=when,
        ago=ago,
        explain_lines=explain_lines,
        span=span,
    )
    env.globals.update(query_string=query_string)
    return env
