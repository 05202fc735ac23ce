"""Translate feedparser's ``Expect:`` expressions into checks on our normalized Articles.

Every XML file of feedparser's suite states its expected result as a Python
expression over feedparser's result (``not bozo and entries[0]['title'] == 'x'``).
We never ``eval`` it: it is parsed with :mod:`ast`, split into its ``and``-clauses,
and each clause is either *mapped* onto a field our Article exposes, or recorded as
not applicable with the reason. A clause is mapped only when it compares entry
fields we expose with a literal:

=============================================  ==============================
feedparser                                     Article
=============================================  ==============================
``title``, ``title_detail.value``              ``title`` (plain text)
``summary``, ``description``,                  ``text`` (plain text of summary
``summary_detail.value``, ``content[i].value``  and content; must contain it)
``link``                                       ``url`` (canonical form)
``id``, ``guid``                               ``guid``
``author_detail.name``, ``authors[i].name``    ``author`` (comma separated)
``published_parsed``                           ``published``
``updated_parsed`` (entry with no published)   ``published``
=============================================  ==============================

The expected value is translated the way our normalizer would treat it: an HTML value
(feedparser's ``*_detail.type``) becomes its visible text, a plain one has its
whitespace collapsed, a link its canonical form, a date a UTC datetime.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.ingest.normalize import (
    article_from_entry,
    canonical_url,
    collapse_whitespace,
    html_to_text,
)
from monitor.model import Article, ParseOutcome
from tests.corpus_support import FETCHED_AT

#: feedparser's suite served its HTTP cases from this origin; ours has another port.
SUITE_ORIGIN = "http://127.0.0.1:8097"
_EXPECT = re.compile(rb"^\s*Expect:\s*(.*?)\s*(?:-->)?\s*$", re.MULTILINE)

STAND_IN = "stand-in title"
_AUTHOR_EMAIL = re.compile(r"\s*\([^()\s]+@[^()\s]+\)$")


@dataclass(frozen=True)
class Clause:
    """One ``and``-clause of an expectation."""

    source: str
    #: Article field it maps to ("title", "text", "url", "guid", "author", "published"),
    #: or "" when it does not apply.
    field: str = ""
    #: Why it does not apply (a category name), "" when it does.
    not_applicable: str = ""
    #: Entry index and feedparser key path, for mapped clauses.
    index: int = 0
    path: tuple[str | int, ...] = ()
    #: The literal it is compared with.
    expected: Any = None


@dataclass
class Verdict:
    """Our output against one file's expectation."""

    rel: str
    expect: str
    clauses: list[Clause]
    failures: list[str] = field(default_factory=list)
    #: Clauses checked on an entry we skip by design (no guid, link, title or text).
    stand_ins: int = 0

    @property
    def applies(self) -> bool:
        return any(c.field for c in self.clauses)


def expectation(body: bytes) -> str:
    """The ``Expect:`` expression of a feedparser test file, or ""."""
    match = _EXPECT.search(body[:4096])
    return match.group(1).decode("utf-8", "replace").strip() if match else ""


def clauses(expect: str) -> list[Clause]:
    """The ``and``-clauses of an expectation, each mapped or marked not applicable.

    ``entries[0]['link'] == entries[1]['link'] == x`` becomes one clause per entry.
    """
    try:
        tree = ast.parse(expect, mode="eval").body
    except SyntaxError:
        return [Clause(expect, not_applicable="unparsable expectation")]
    parts = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
    return [clause for part in parts for clause in _clauses(part)]


def _clauses(node: ast.expr) -> list[Clause]:
    source = ast.unparse(node)
    if isinstance(node, ast.Name) and node.id == "bozo":
        return [Clause(source, not_applicable="bozo (well-formedness flag)")]
    negated = node.operand if isinstance(node, ast.UnaryOp) else None
    if isinstance(negated, ast.Name) and negated.id == "bozo":
        return [Clause(source, not_applicable="bozo (well-formedness flag)")]
    if isinstance(node, ast.Constant):  # "Expect: 1": parsing must not crash
        return [Clause(source, not_applicable="must not crash (the corpus run checks that)")]
    if (no_link := _no_link(node)) is not None:
        return [Clause(source, "url", index=no_link, path=("link",), expected="")]
    if not (isinstance(node, ast.Compare) and all(isinstance(op, ast.Eq) for op in node.ops)):
        return [Clause(source, not_applicable=_category(node, "other expression"))]
    operands = [_unwrap_ord(operand) for operand in [node.left, *node.comparators]]
    literals = [v for v in map(_literal, operands) if v is not _NOT_LITERAL]
    if node.left is not operands[0]:  # ord(...) == number
        literals = [chr(v) if isinstance(v, int) else v for v in literals]
    paths = [p for p in map(_path, operands) if p is not None]
    if len(literals) != 1 or len(paths) != len(operands) - 1:
        return [Clause(source, not_applicable=_category(node, "comparison of two fields"))]
    mapped = [_field(p) for p in paths]
    if "" in mapped:
        return [Clause(source, not_applicable=_category(node, "field we do not expose"))]
    return [
        Clause(source, name, index=int(path[1]), path=path[2:], expected=literals[0])
        for name, path in zip(mapped, paths, strict=True)
    ]


_NOT_LITERAL = object()


def _no_link(node: ast.expr) -> int | None:
    """``not entries[i].has_key('link')``: the entry index, else None."""
    if not (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return None
    call = node.operand
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    path = _path(call.func.value)
    if call.func.attr != "has_key" or path is None or len(path) != 2 or path[0] != "entries":
        return None
    if [_literal(a) for a in call.args] != ["link"] or not isinstance(path[1], int):
        return None
    return path[1]


def _unwrap_ord(node: ast.expr) -> ast.expr:
    """``ord(x) == 8230`` compares ``x`` with the character: ``ord(x)`` becomes ``x``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "ord"
        and len(node.args) == 1
    ):
        return node.args[0]
    return node


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return _NOT_LITERAL
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _NOT_LITERAL


def _path(node: ast.expr) -> tuple[str | int, ...] | None:
    """``entries[0]['a'][1].b`` as ('entries', 0, 'a', 1, 'b'); None for anything else."""
    steps: list[str | int] = []
    while True:
        if isinstance(node, ast.Subscript):
            key = _literal(node.slice)
            if not isinstance(key, str | int):
                return None
            steps.append(key)
            node = node.value
        elif isinstance(node, ast.Attribute):
            steps.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            steps.append(node.id)
            return tuple(reversed(steps))
        else:
            return None


def _field(path: tuple[str | int, ...]) -> str:
    if len(path) < 3 or path[0] != "entries" or not isinstance(path[1], int):
        return ""
    rest = path[2:]
    match rest:
        case ("title",) | ("title_detail", "value"):
            return "title"
        case ("summary" | "description",) | ("summary_detail", "value"):
            return "text"
        case ("content", int(), "value"):
            return "text"
        case ("link",):
            return "url"
        case ("id" | "guid",):
            return "guid"
        case ("author",) | ("author_detail", "name") | ("authors", int(), "name"):
            return "author"
        case ("published_parsed",):
            return "published"
        case ("updated_parsed",):
            return "updated"
    return ""


def _category(node: ast.expr, default: str) -> str:
    """A short name for what a clause that does not apply is about."""
    for sub in ast.walk(node):
        path = _path(sub) if isinstance(sub, ast.Subscript | ast.Attribute) else None
        if path is None:
            continue
        root = path[0]
        if root == "entries" and len(path) > 2 and isinstance(path[2], str):
            key = path[2]
            if key in _KEY_CATEGORIES:
                return f"entry {_KEY_CATEGORIES[key]}"
            if key.startswith(_EXTENSION_PREFIXES):
                return "entry extension elements (iTunes, Media RSS, GeoRSS, ...)"
            return "entry elements of no known namespace"
        if isinstance(root, str) and root in _RESULT_KEYS:
            return _RESULT_KEYS[root]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in _RESULT_KEYS:
            return _RESULT_KEYS[sub.id]
        if isinstance(sub, ast.Constant) and sub.value in ("etag", "modified"):
            return "HTTP headers"
    return default


_EXTENSION_PREFIXES = (
    "itunes_", "media_", "psc_", "wfw_", "thr_", "georss", "where", "gml", "dc_", "slash_",
    "image", "license", "comments", "source", "rights", "copyright", "language", "subtitle",
)  # fmt: skip
_RESULT_KEYS = {
    "bozo_exception": "bozo (well-formedness flag)",
    "feedparser": "bozo (well-formedness flag)",
    "encoding": "encoding (detected charset)",
    "version": "version (format name)",
    "headers": "HTTP headers",
    "etag": "HTTP headers",
    "modified": "HTTP headers",
    "modified_parsed": "HTTP headers",
    "namespaces": "namespaces",
    "feed": "feed-level metadata",
    "entries": "entry count or shape",
}
# Entry keys that do not map, grouped into a few categories for the report.
_KEY_CATEGORIES = {
    **dict.fromkeys(
        ("title_detail", "summary_detail", "content", "subtitle_detail", "rights_detail"),
        "content type, language or xml:base of a text construct",
    ),
    **dict.fromkeys(("tags", "category"), "categories"),
    **dict.fromkeys(("get", "has_key", "guidislink"), "feedparser's entry dictionary itself"),
    **dict.fromkeys(("enclosures", "links", "media_content", "media_thumbnail"), "links/media"),
    **dict.fromkeys(("published", "updated", "created", "created_parsed", "expired",
                     "expired_parsed", "date", "date_parsed", "issued", "modified"),
                    "raw date strings or dates we do not use"),
    **dict.fromkeys(("author", "author_detail", "authors", "contributors", "publisher",
                     "publisher_detail"), "author e-mail/URL or contributors"),
}  # fmt: skip


def _type_of(raw: Mapping[str, Any], path: tuple[str | int, ...]) -> str:
    """feedparser's content type of the text construct ``path`` names."""
    key = path[0]
    detail: Any = None
    if key == "title" or key == "title_detail":
        detail = raw.get("title_detail")
    elif key in ("summary", "description", "summary_detail"):
        detail = raw.get("summary_detail")
    elif key == "content":
        contents = raw.get("content") or []
        index = path[1]
        if isinstance(index, int) and index < len(contents):
            detail = contents[index]
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    return kind if isinstance(kind, str) else "text/html"


def _as_text(value: str, kind: str) -> str:
    return html_to_text(value) if "html" in kind else collapse_whitespace(value)


def raw_entries(body: bytes, headers: Mapping[str, str]) -> list[Any]:
    """feedparser's entries as parse_feed gets them (for content types, dates, skipped entries)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=lowered,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    return list(result.get("entries") or [])


def has_identity(entry: Mapping[str, Any]) -> bool:
    """Whether our normalizer keeps this entry (it skips one with no guid, link, title or text)."""
    try:
        article_from_entry("f", entry, FETCHED_AT)
    except ValueError:
        return False
    return True


def check(
    rel: str,
    body: bytes,
    headers: Mapping[str, str],
    outcome: ParseOutcome,
    origin: str,
) -> Verdict:
    """Our outcome against the file's expectation, clause by mapped clause."""
    expect = expectation(body)
    verdict = Verdict(rel, expect, clauses(expect) if expect else [])
    mapped = [c for c in verdict.clauses if c.field]
    if not mapped:
        return verdict
    raw = raw_entries(body, headers)
    aligned = outcome.skipped == 0 and len(outcome.articles) == len(raw)
    for clause in mapped:
        if clause.index >= len(raw):
            verdict.failures.append(f"{clause.source}: feedparser itself has no such entry")
            continue
        entry = raw[clause.index]
        article = outcome.articles[clause.index] if aligned else _find(outcome.articles, entry)
        if article is None and not has_identity(entry):
            # We skip an entry with nothing to identify or match it by (policy; see
            # test_an_entry_that_cannot_be_normalized_is_skipped_and_counted). The field
            # is still checked: on the normalizer, given the same entry and a stand-in title.
            verdict.stand_ins += 1
            article = article_from_entry(rel, {**entry, "title": STAND_IN}, FETCHED_AT)
            if clause.field == "title":
                article = None
        problem = _compare(clause, entry, article, origin)
        if problem:
            verdict.failures.append(f"{clause.source}: {problem}")
    return verdict


def _find(articles: Sequence[Article], entry: Mapping[str, Any]) -> Article | None:
    """The article made from ``entry`` when some entries were skipped (matched by guid or link)."""
    guid = str(entry.get("id") or "").strip()
    url = canonical_url(str(entry.get("link") or ""))
    for article in articles:
        if (guid and article.guid == guid) or (not guid and url and article.url == url):
            return article
    return None


def _compare(clause: Clause, entry: Mapping[str, Any], article: Article | None, origin: str) -> str:
    expected = clause.expected
    if clause.field == "updated":
        if entry.get("published_parsed"):
            return ""  # our published is the entry's published date, not its update
        clause_field = "published"
    else:
        clause_field = clause.field
    if clause_field in ("title", "text"):
        if not isinstance(expected, str):
            return f"unexpected literal {expected!r}"
        want = _as_text(expected, _type_of(entry, clause.path))
        got = getattr(article, clause_field, "") if article else ""
        ok = want == got if clause_field == "title" else (want in got if want else got == "")
        return "" if ok else f"want {want!r}, got {got!r}"
    if clause_field == "url":
        want = canonical_url(str(expected).replace(SUITE_ORIGIN, origin))
        got = article.url if article else ""
        return "" if want == got else f"want {want!r}, got {got!r}"
    if clause_field == "guid":
        want = str(expected).replace(SUITE_ORIGIN, origin).strip()
        got = article.guid if article else ""
        return "" if want == got else f"want {want!r}, got {got!r}"
    if clause_field == "author":
        # feedparser's ``author`` is "name (e-mail)" when both are given; we keep names only.
        want = collapse_whitespace(_AUTHOR_EMAIL.sub("", str(expected)))
        got_names = article.author.split(", ") if article and article.author else []
        ok = want in got_names or (not want and not got_names)
        return "" if ok else f"want {want!r} among {got_names!r}"
    if clause_field == "published":
        want_dt = None
        if expected:
            year, month, day, hour, minute, second = expected[:6]
            want_dt = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        got_dt = article.published if article else None
        return "" if want_dt == got_dt else f"want {want_dt}, got {got_dt}"
    return f"unhandled field {clause_field}"
