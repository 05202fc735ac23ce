"""Full-text extraction benchmark: time per page, and what the extracted text keeps.

Run (from the repository root, one core)::

    taskset -c 0 .venv/bin/python benchmarks/fulltext.py [--data ../shared/data]

Times :func:`monitor.ingest.fulltext.extract_text` (decode, parse with lxml, count
the elements, trafilatura) on four page sets, one page at a time:

1. ``feed-validator``: the 21 real HTML pages of the W3C Feed Validator's test
   suite (documentation pages: navigation, tables of contents, short texts).
2. ``bbc-in-template``: the 2,225 BBC News bodies (2004-05), each put into a news
   page of about 80 KB: navigation (60 links twice), a "related" list of 25 other
   BBC headlines, 30 reader comments, 20 inline scripts and a style sheet. The data
   has no real article pages, so the boilerplate is generated; it is heavier than
   most real pages, which makes the times an upper estimate. Also measured: how many
   of the body's words the text keeps (recall) and how many related headlines leak
   into it (each one a chance of a false alert).
3. ``feed-article-markup``: the real article HTML of the feeds in the data
   (``content:encoded`` and Atom content of at least 2,000 characters: TechCrunch,
   blogs), in the same page template: publishers' own markup (figures, lists, embeds).
4. ``hostile``: pages at the caps: 25,000 elements (``MAX_ELEMENTS``) of short
   paragraphs, of spans, and 2 MiB (``MONITOR_FULLTEXT_MAX_BYTES``) of text.

The time printed is wall time per page on one core; tests never assert on it.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import feedparser  # noqa: E402

from monitor.ingest.fulltext import MAX_ELEMENTS, PageUnreadable, extract_text  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def news_page(title: str, body_html: str, related: list[str], rnd: random.Random) -> str:
    """A heavy news page around ``body_html``."""
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(60))
    links = "".join(
        f'<li><a href="/news/{rnd.randint(1, 99999)}">{html.escape(t)}</a></li>' for t in related
    )
    script = "<script>var config = " + json.dumps({"k": "v" * 2000}) + ";</script>"
    comments = "".join(
        f'<div class="comment"><p>Reader {i}: thanks for this report.</p></div>' for i in range(30)
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"{script * 20}<style>{'.a{color:red}' * 2000}</style></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header><main><article>"
        f"<h1>{html.escape(title)}</h1><div class='byline'>By a staff writer</div>"
        f"<div class='story-body'>{body_html}</div></article>"
        f"<aside><h2>Related</h2><ul>{links}</ul></aside>"
        f"<section class='comments'>{comments}</section></main>"
        f"<footer>{nav}<p>Copyright</p></footer></body></html>"
    )


def feed_validator_pages(data: Path) -> list[tuple[str, bytes, dict[str, object]]]:
    pages = sorted((data / "feeds/feed-validator").rglob("*.html"))
    return [(str(p), p.read_bytes(), {}) for p in pages]


def bbc_pages(data: Path) -> list[tuple[str, bytes, dict[str, object]]]:
    rows = [json.loads(line) for line in (data / "articles/bbc-2005/bbc_news.jsonl").open()]
    rnd = random.Random(7)
    pages = []
    for row in rows:
        paragraphs = [p for p in row["body"].split("\n") if p.strip()]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        related = [r["title"] for r in rnd.sample(rows, 25)]
        page = news_page(row["title"], body, related, rnd)
        pages.append((row["id"], page.encode(), {"body": row["body"], "related": related}))
    return pages


def feed_markup_pages(data: Path) -> list[tuple[str, bytes, dict[str, object]]]:
    rnd = random.Random(7)
    pages = []
    for path in sorted((data / "feeds").rglob("*.xml")):
        if "feedparser-tests" in path.parts or "feed-validator" in path.parts:
            continue  # conformance snippets, not articles
        parsed = feedparser.parse(path.read_bytes())
        for entry in parsed.entries:
            for content in entry.get("content", []):
                value = content.get("value", "")
                if len(value) >= 2000 and "html" in content.get("type", ""):
                    title = entry.get("title", "")
                    pages.append((f"{path.name}", news_page(title, value, [], rnd).encode(), {}))
    return pages


def hostile_pages() -> list[tuple[str, bytes, dict[str, object]]]:
    n = MAX_ELEMENTS - 10
    paras = "".join(f"<p>Paragraph {i} about the talks in Vienna.</p>" for i in range(n))
    spans = "<span>word</span>" * n
    text = "The talks in Vienna went on. " * (2 * 1024 * 1024 // 29)
    return [
        ("25k paragraphs", f"<html><body><article>{paras}</article></body></html>".encode(), {}),
        ("25k spans", f"<html><body><article>{spans}</article></body></html>".encode(), {}),
        (
            "2 MiB of text",
            f"<html><body><article><p>{text}</p></article></body></html>".encode(),
            {},
        ),
    ]


def words(text: str) -> set[str]:
    return {w.strip(".,;:'\"()").casefold() for w in text.split()} - {""}


def run(name: str, pages: list[tuple[str, bytes, dict[str, object]]]) -> None:
    if not pages:
        print(f"{name:<22} (no pages)")
        return
    times, sizes, chars, recalls, leaks, refused = [], [], [], [], 0, 0
    for _, body, meta in pages:
        started = time.perf_counter()
        try:
            text = extract_text(body, "text/html; charset=utf-8")
        except PageUnreadable:
            text, refused = "", refused + 1
        times.append(time.perf_counter() - started)
        sizes.append(len(body))
        chars.append(len(text))
        if isinstance(meta.get("body"), str):
            source = words(str(meta["body"]))
            recalls.append(len(source & words(text)) / max(len(source), 1))
            related = meta.get("related")
            assert isinstance(related, list)
            leaks += sum(1 for t in related if t in text)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    recall = f"{statistics.mean(recalls):.1%}" if recalls else "-"
    leaked = f"{leaks}" if recalls else "-"
    print(
        f"{name:<22}{len(pages):>6}{statistics.mean(sizes) / 1024:>9.0f}"
        f"{statistics.mean(ms):>9.1f}{statistics.median(ms):>8.1f}{p95:>8.1f}{ms[-1]:>9.1f}"
        f"{statistics.mean(chars):>9.0f}{recall:>9}{leaked:>8}{refused:>8}"
    )


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(list(argv) if argv is not None else None)
    extract_text(b"<html><body><p>warm up: import trafilatura</p></body></html>")
    sets: list[tuple[str, Callable[[], list[tuple[str, bytes, dict[str, object]]]]]] = [
        ("feed-validator", lambda: feed_validator_pages(args.data)),
        ("bbc-in-template", lambda: bbc_pages(args.data)),
        ("feed-article-markup", lambda: feed_markup_pages(args.data)),
        ("hostile", hostile_pages),
    ]
    print(
        f"{'pages':<22}{'count':>6}{'KB avg':>9}{'ms avg':>9}{'p50':>8}{'p95':>8}{'max':>9}"
        f"{'chars':>9}{'recall':>9}{'leaked':>8}{'refused':>8}"
    )
    for name, load in sets:
        run(name, load())
    for name, body, _ in hostile_pages():
        started = time.perf_counter()
        try:
            out = f"{len(extract_text(body, 'text/html'))} chars"
        except PageUnreadable as exc:
            out = f"refused: {exc}"
        print(f"  hostile {name:<16}{(time.perf_counter() - started) * 1000:>8.0f} ms  {out}")


if __name__ == "__main__":
    main()
