"""Article identity on the whole corpus is pinned: a parser change must not re-alert old articles.

The store knows an article by its id (and its URL, title and date feed its other keys),
so a parser, a parser version or a normalizer change that gives an old entry another
id, URL, title or date alerts on it again. tests/fixtures/corpus_identity.json holds,
for every file under ../shared/data/feeds that gives articles, a digest of the identity
fields (Article.id, url, title, published) of all its articles in feed order; only
digests are committed, never the third-party data. The test recomputes them from the
shared corpus run (tests/corpus_support.py) and fails on any file whose digest changed,
appeared or disappeared.

The fetched files are parsed again with the loopback origin in their Content-Location
replaced by a fixed one: relative links resolve against it, so the URL and the id of
such an article would otherwise depend on the test server's port.

To re-pin after a deliberate change of identity (never for a parser swap), run
``.venv/bin/python -m tests.ingest.test_corpus_identity`` and say in the commit why
old articles may alert again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from monitor.ingest import parse_feed
from monitor.model import Article
from tests.conftest import SHARED_DATA
from tests.corpus_support import FETCHED_AT, CorpusRun, run_corpus

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "corpus_identity.json"
#: Stands for the loopback origin the corpus run served its fetched files from.
ORIGIN = "http://corpus.test"
COMMENT = (
    "Digests of the identity fields (Article.id, url, title, published) of the articles "
    "parse_feed makes of each file under ../shared/data/feeds that gives any, by folder "
    "and file name: the first 16 hex digits of the sha256 of the compact JSON list "
    "[[id, url, title, published ISO 8601 or null], ...] in feed order. Produced by "
    "`.venv/bin/python -m tests.ingest.test_corpus_identity` (fetched files parsed with "
    "Content-Location on http://corpus.test); checked by tests/ingest/test_corpus_identity.py."
)


def identity_digest(articles: Iterable[Article]) -> str:
    """The digest of the identity fields of ``articles``, in order."""
    rows = [
        [a.id, a.url, a.title, a.published.isoformat() if a.published else None] for a in articles
    ]
    text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def identities(corpus: CorpusRun) -> dict[str, str]:
    """File under feeds/ -> digest, for every corpus file that gives articles."""
    digests = {}
    for rel, run in corpus.runs.items():
        outcome = run.outcome
        if run.url:  # fetched: its Content-Location names the server's random port
            headers = {k: v.replace(corpus.origin, ORIGIN) for k, v in run.headers.items()}
            outcome = parse_feed(rel, run.file.body, headers, fetched_at=FETCHED_AT)
        if outcome.articles:
            digests[rel] = identity_digest(outcome.articles)
    return digests


def pinned() -> dict[str, str]:
    """The committed digests, by file under feeds/."""
    folders: dict[str, dict[str, str]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["files"]
    return {f"{folder}/{name}": d for folder, names in folders.items() for name, d in names.items()}


@pytest.fixture
def corpus(shared_data: Path) -> CorpusRun:
    return run_corpus(shared_data / "feeds")  # cached: one run for all corpus tests


def test_article_identity_on_the_whole_corpus_is_unchanged(corpus: CorpusRun) -> None:
    want, got = pinned(), identities(corpus)
    changed = sorted(rel for rel in want.keys() | got.keys() if want.get(rel) != got.get(rel))
    lines = [
        f"{rel}: " + ("no articles now" if rel not in got else "articles now" if rel not in want
                      else "the identity of its articles differs")
        for rel in changed
    ]  # fmt: skip
    assert not changed, (
        f"{len(changed)} corpus files changed their articles' identity (old articles would "
        "alert again):\n" + "\n".join(lines)
    )
    assert len(got) > 1800


def test_the_digest_notices_a_changed_identity_field(corpus: CorpusRun) -> None:
    [article] = corpus.runs["feed-rs/rss2/rss_2.0_bbc.xml"].outcome.articles
    digest = identity_digest([article])
    for changed in [
        dataclasses.replace(article, title="Marcus Antonius"),
        dataclasses.replace(article, url="http://x.test/"),
        dataclasses.replace(article, id="0"),
        dataclasses.replace(article, published=None),
    ]:
        assert identity_digest([changed]) != digest, changed
    assert identity_digest([dataclasses.replace(article, text="other")]) == digest  # not identity


def main() -> None:
    """Write the fixture from the current code (see the module docstring)."""
    digests = identities(run_corpus(SHARED_DATA / "feeds"))
    folders: dict[str, dict[str, str]] = {}
    for rel in sorted(digests):
        folder, name = rel.rsplit("/", 1)
        folders.setdefault(folder, {})[name] = digests[rel]
    doc = {"_comment": COMMENT, "files": folders}
    FIXTURE.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(digests)} files written to {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()
