"""``news-monitor match QUERY [FILE|-]``: test a query on a file, like grep.

A feed file (RSS, Atom, JSON Feed) is searched entry by entry, every field
(title, text, author, url, source), exactly as the daemon would see each
article. Anything else is read as plain text: the whole file is the text
field, the title is empty. Matching lines are printed with the hits
highlighted, then a summary of the terms that matched; ``--explain`` prints
the query tree with each clause marked ✓ or ✗. A query that may not mean what
it says (a lowercase ``and``/``or``/``not`` is a word, not an operator) gets
each warning once on standard error. Exit 0 on a match, 1 on none;
a bad query or an unknown ``@entity`` raises QuerySyntaxError, which the CLI
turns into exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from monitor.cli.common import SubParsers
from monitor.ingest import parse_feed
from monitor.matching import (
    Node,
    compile_query,
    explain,
    highlight,
    lint_query,
    match_article,
    parse_query,
)
from monitor.model import Article, Hit

ANSI = ("\x1b[1;31m", "\x1b[0m")
PLAIN = ("[", "]")


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


def _matching_lines(text: str, hits: Sequence[Hit], marks: tuple[str, str]) -> list[str]:
    """Each line of ``text`` holding a hit, numbered and highlighted."""
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
            shown = highlight(line.rstrip("\r\n"), inside, *marks)
            out.append(f"{number}: {shown}")
        offset = end
    return out


def _summary(hits: Sequence[Hit]) -> str:
    counts = Counter(h.term for h in hits)
    terms = ", ".join(f"{term} ×{n}" for term, n in counts.items())
    return f"match: {len(hits)} hit(s): {terms}" if hits else "match (by negation only)"


def _report_text(node: Node, text: str, marks: tuple[str, str], show_tree: bool) -> bool:
    article = Article(id="text", feed_id="file", url="", title="", text=text)
    hits = match_article(node, article)
    if show_tree:
        print(explain(node, article))
    if hits is None:
        return False
    for line in _matching_lines(text, [h for h in hits if h.field == "text"], marks):
        print(line)
    print(_summary(hits))
    return True


def _report_feed(
    node: Node, articles: list[Article], marks: tuple[str, str], show_tree: bool
) -> bool:
    matched = 0
    for article in articles:
        hits = match_article(node, article)
        if show_tree:
            print(f"# {article.title}")
            print(explain(node, article))
        if hits is None:
            continue
        matched += 1
        print(highlight(article.title, hits, *marks, field="title") or "(no title)")
        if article.url:
            print(f"  {article.url}")
        for line in _matching_lines(article.text, [h for h in hits if h.field == "text"], marks):
            print(f"  {line}")
        print(f"  {_summary(hits)}")
    print(f"{matched} of {len(articles)} entries match")
    return matched > 0


def run_match(query: str, source: str, *, explain: bool = False, color: bool = False) -> int:
    """Evaluate ``query`` on ``source`` (a path or ``-``); return the exit code."""
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
        found = _report_feed(node, articles, marks, explain)
    else:
        found = _report_text(node, body.decode("utf-8", errors="replace"), marks, explain)
    if not found:
        print("no match", file=sys.stderr)
    return 0 if found else 1


def add_match_parser(sub: SubParsers) -> None:
    """Add ``match QUERY [FILE|-] [--explain] [--color WHEN]``."""
    match = sub.add_parser("match", help="test a query on a text file or a feed file, like grep")
    match.add_argument("query", help="a query in the rule language, e.g. 'Iran AND drones'")
    match.add_argument(
        "file",
        nargs="?",
        default="-",
        help="text or feed file to search; '-' or nothing reads standard input",
    )
    match.add_argument(
        "--explain", action="store_true", help="print the query tree, marking which clauses held"
    )
    match.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="highlight hits with terminal colours (default: when a terminal)",
    )


def cmd_match(args: argparse.Namespace) -> int:
    """Run ``match``: exit 0 on a match, 1 on none."""
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    return run_match(args.query, args.file, explain=args.explain, color=color)
