"""``news-monitor match QUERY [FILE|-]``: test a query on a file, like grep.

A feed file (RSS, Atom, JSON Feed) is searched entry by entry, every field
(title, text, author, url, source), exactly as the daemon would see each
article. Anything else is read as plain text: the whole file is the text
field, the title is empty, and its language is detected (``--lang es`` says it instead;
a feed entry's is its feed's, else detected, as in the daemon): the query is matched
as in an article of that language (inflections folded in it, its entity names, ``lang:``).
Matching lines are printed with the hits
highlighted, then a summary of the terms that matched; ``--explain`` prints
the query tree with each clause marked ✓ or ✗, after a ``# language:`` line for an
article in another language than English (its terms then show their folded forms).
A query that may not mean what it says (a lowercase ``and``/``or``/``not`` is a word,
not an operator) gets each warning once on standard error. Exit 0 on a match, 1 on none;
a bad query or an unknown ``@entity`` raises QuerySyntaxError, which the CLI
turns into exit 2.

``news-monitor match QUERY --archive [--since 24h] [--rules-dir DIR]`` runs the
query over the articles the daemon archived (``ArticleArchive``) in the store the
settings name, with the entities of the watch config, and prints each match the
same way (plus its feed and published time; each text line cut to the parts
around its hits), oldest first, then a count line. ``--since`` defaults to the
whole ``MONITOR_ARCHIVE_RETENTION``. Exit 0 on a match, 1 on none or when the
store is unreachable (one ``error:`` line), 2 for a bad query, a bad
``--since`` or a usage error (``--since`` without ``--archive``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path

from monitor.cli.common import (
    EXIT_FAILURE,
    EXIT_NO_MATCH,
    EXIT_OK,
    EXIT_USAGE,
    SubParsers,
    add_rules_dir,
    prepare,
)
from monitor.errors import StoreError
from monitor.ingest import parse_feed
from monitor.ingest.language import declared_language, detect_language
from monitor.matching import (
    Node,
    RuleSpec,
    compile_query,
    compile_rules,
    explain,
    highlight,
    lint_query,
    match_article,
    parse_query,
)
from monitor.matching.highlight import clip
from monitor.model import ArchivedArticle, Article, Hit
from monitor.settings import Settings, parse_duration

ANSI = ("\x1b[1;31m", "\x1b[0m")
PLAIN = ("[", "]")
#: With ``--archive``: characters shown on each side of a hit (a feed's text is often one
#: long line); farther parts of the line are left out, marked "…".
SNIPPET_CONTEXT = 80


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def _feed_articles(body: bytes) -> list[Article]:
    """The entries of ``body`` if it is a feed, else an empty list."""
    head = body.lstrip()[:1]
    if head not in (b"<", b"{", b"\xef"):
        return []
    outcome = parse_feed("file", body, {}, fetched_at=time.time())
    return list(outcome.articles) if not outcome.error else []


def _matching_lines(
    text: str, hits: Sequence[Hit], marks: tuple[str, str], context: int | None = None
) -> list[str]:
    """Each line of ``text`` holding a hit, numbered and highlighted (with ``context``,
    only the parts of the line around its hits: :func:`~monitor.matching.highlight.clip`)."""
    out: list[str] = []
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        end = offset + len(line)
        inside = [
            Hit(h.field, h.start - offset, h.end - offset, h.term)
            for h in hits
            if h.start < end and h.end > offset
        ]
        if inside:
            shown = line.rstrip("\r\n")
            if context is not None:
                shown, inside = clip(shown, inside, context)
            out.append(f"{number}: {highlight(shown, inside, *marks)}")
        offset = end
    return out


def _summary(hits: Sequence[Hit]) -> str:
    counts = Counter(h.term for h in hits)
    terms = ", ".join(f"{term} ×{n}" for term, n in counts.items())
    return f"match: {len(hits)} hit(s): {terms}" if hits else "match (by negation only)"


def _language_line(article: Article) -> None:
    """``# language: es`` before the tree of an article that is not English (or unknown)."""
    if article.language not in ("", "en"):
        print(f"# language: {article.language}")


def _report_text(
    node: Node, text: str, marks: tuple[str, str], show_tree: bool, language: str | None
) -> bool:
    if language is None:
        language = detect_language("", text)
    article = Article(id="text", feed_id="file", url="", title="", text=text, language=language)
    hits = match_article(node, article)
    if show_tree:
        _language_line(article)
        print(explain(node, article))
    if hits is None:
        return False
    for line in _matching_lines(text, [h for h in hits if h.field == "text"], marks):
        print(line)
    print(_summary(hits))
    return True


def _print_match(
    article: Article,
    hits: Sequence[Hit],
    marks: tuple[str, str],
    *,
    about: str = "",
    context: int | None = None,
) -> None:
    """One matching article: its title, ``about`` (a line on where it is from), its url,
    its text lines holding a hit, and the summary of the hits; all highlighted."""
    print(highlight(article.title, hits, *marks, field="title") or "(no title)")
    if about:
        print(f"  {about}")
    if article.url:
        print(f"  {article.url}")
    text_hits = [h for h in hits if h.field == "text"]
    for line in _matching_lines(article.text, text_hits, marks, context):
        print(f"  {line}")
    print(f"  {_summary(hits)}")


def _report_feed(
    node: Node, articles: list[Article], marks: tuple[str, str], show_tree: bool
) -> bool:
    matched = 0
    for article in articles:
        hits = match_article(node, article)
        if show_tree:
            print(f"# {article.title}")
            _language_line(article)
            print(explain(node, article))
        if hits is None:
            continue
        matched += 1
        _print_match(article, hits, marks)
    print(f"{matched} of {len(articles)} entries match")
    return matched > 0


def run_match(
    query: str,
    source: str,
    *,
    explain: bool = False,
    color: bool = False,
    language: str | None = None,
) -> int:
    """Evaluate ``query`` on ``source`` (a path or ``-``); return the exit code.

    ``language``: the language of the text (or of every entry of a feed), else detected
    (a feed entry: its feed's)."""
    node = parse_query(query)
    compile_query(query)  # an unknown @entity is a bad query, reported before any reading
    # Each remark once, however often the word occurs ("a and b and c": one warning).
    for remark in dict.fromkeys(lint_query(query)):
        print(f"warning: {remark}", file=sys.stderr)
    try:
        body = _read(source)
    except OSError as e:
        print(f"error: cannot read {source}: {e.strerror or e}", file=sys.stderr)
        return 2
    marks = ANSI if color else PLAIN
    articles = _feed_articles(body)
    if articles:
        if language is not None:
            articles = [replace(a, language=language) for a in articles]
        found = _report_feed(node, articles, marks, explain)
    else:
        text = body.decode("utf-8", errors="replace")
        found = _report_text(node, text, marks, explain, language)
    if not found:
        print("no match", file=sys.stderr)
    return 0 if found else 1


# -- the archive ------------------------------------------------------------------


def _duration_text(span: timedelta) -> str:
    """A duration as MONITOR_* settings write it: 7d, 1d12h, 30m, 45s."""
    left, parts = int(span.total_seconds()), []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


def _about(article: Article, names: dict[str, str]) -> str:
    """Where an archived article is from: its feed (with its display name) and when."""
    feed = article.feed_id
    if names.get(feed, feed) != feed:
        feed = f"{names[feed]} ({feed})"
    published = article.published
    when = published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if published else "no date"
    return f"{feed} · {when}"


async def _read_archive(settings: Settings, since: float) -> list[ArchivedArticle]:
    from monitor.store.factory import open_store  # imports redis: only when the command runs

    store = await open_store(settings)
    try:
        await store.ping()
        return await store.archived_articles(since)
    finally:
        await store.close()


def run_archive_match(
    query: str, since: str | None, rules_dir: Path | None, *, color: bool = False
) -> int:
    """Evaluate ``query`` on the archived articles (those of the last ``since``, default the
    whole retention) of the store the settings name; return the exit code."""
    span: timedelta | None = None
    if since is not None:
        try:
            span = parse_duration(since)
        except ValueError as e:
            print(f"error: --since: {e}", file=sys.stderr)
            return EXIT_USAGE
        if span <= timedelta(0):
            print(f"error: --since must be longer than 0, not {since!r}", file=sys.stderr)
            return EXIT_USAGE
    parse_query(query)  # a bad query is reported before the config is read
    settings, loaded = prepare(rules_dir)
    catalog = loaded.catalog  # the shipped entities with the config's ``entities:``
    compile_query(query, catalog)  # an unknown @entity is a bad query
    for remark in dict.fromkeys(lint_query(query, catalog)):
        print(f"warning: {remark}", file=sys.stderr)
    ruleset = compile_rules([RuleSpec("query", query)], catalog)
    if settings.archive_retention <= timedelta(0) or settings.archive_max_articles <= 0:
        print(
            "warning: the archive is off (MONITOR_ARCHIVE_RETENTION or "
            "MONITOR_ARCHIVE_MAX_ARTICLES is 0): the daemon archives nothing",
            file=sys.stderr,
        )
    if span is None and settings.archive_retention > timedelta(0):
        span = settings.archive_retention
    if span is None:  # the archive is off: whatever it still holds
        label = "whole archive"
    else:
        label = f"since {since.strip() if since is not None else _duration_text(span)}"
    start = time.time() - span.total_seconds() if span is not None else float("-inf")
    try:
        entries = asyncio.run(_read_archive(settings, start))
    except StoreError as e:
        print(f"error: state store unavailable: {e}", file=sys.stderr)
        return EXIT_FAILURE
    names = {feed.id: feed.name for feed in loaded.config.feeds if feed.name}
    marks = ANSI if color else PLAIN
    matched = 0
    for entry in entries:
        for found in ruleset.match(entry.article):
            matched += 1
            about = _about(entry.article, names)
            _print_match(entry.article, found.hits, marks, about=about, context=SNIPPET_CONTEXT)
    print(f"{matched:,} of {len(entries):,} archived articles match ({label})")
    if not matched:
        print("no match", file=sys.stderr)
    return EXIT_OK if matched else EXIT_NO_MATCH


# -- CLI wiring ---------------------------------------------------------------------


def add_match_parser(sub: SubParsers) -> None:
    """Add ``match QUERY [FILE|-] [--explain] [--color WHEN]`` and
    ``match QUERY --archive [--since SPAN] [--rules-dir DIR]``."""
    match = sub.add_parser(
        "match",
        help="test a query on a text file or a feed file, like grep, or on the archive",
    )
    match.add_argument("query", help="a query in the rule language, e.g. 'Iran AND drones'")
    match.add_argument(
        "file",
        nargs="?",
        default=None,
        help="text or feed file to search; '-' or nothing reads standard input",
    )
    match.add_argument(
        "--archive",
        action="store_true",
        help="search the articles the daemon archived (MONITOR_ARCHIVE_RETENTION) instead",
    )
    match.add_argument(
        "--since",
        metavar="SPAN",
        help="with --archive: only articles archived in the last SPAN (30m, 24h, 7d); "
        "default: the whole archive",
    )
    add_rules_dir(match)
    match.add_argument(
        "--explain", action="store_true", help="print the query tree, marking which clauses held"
    )
    match.add_argument(
        "--lang",
        metavar="CODE",
        help="the language of FILE (es, ru, zh...): its inflections and entity names; "
        "default: detected (a feed: its declared language)",
    )
    match.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="highlight hits with terminal colours (default: when a terminal)",
    )


def _usage_error(args: argparse.Namespace) -> str:
    """What is wrong with the combination of options, or ""."""
    if args.archive:
        if args.file is not None:
            return "--archive searches the archive, not a FILE"
        if args.explain:
            return "--explain works on a FILE, not with --archive"
        if args.lang is not None:
            return "--lang is for a FILE: archived articles keep their own language"
        return ""
    if args.since is not None:
        return "--since needs --archive"
    if args.rules_dir is not None:
        return "--rules-dir needs --archive (a FILE is matched with the shipped entities)"
    return ""


def cmd_match(args: argparse.Namespace) -> int:
    """Run ``match``: exit 0 on a match, 1 on none, 2 on a usage error."""
    if problem := _usage_error(args):
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    if args.archive:
        return run_archive_match(args.query, args.since, args.rules_dir, color=color)
    language = None
    if args.lang is not None:
        language = declared_language(args.lang)
        if not language:
            print(
                f"error: --lang: {args.lang!r} is not a language code (es, ru, zh)", file=sys.stderr
            )
            return EXIT_USAGE
    return run_match(
        args.query, args.file or "-", explain=args.explain, color=color, language=language
    )
