"""Every file under ../shared/data/feeds through fetch -> parse -> normalize: no crash, no hang,
bounded memory.

The run itself (which files are fetched over a loopback HTTP server and why, how time
and memory are measured) is in tests/corpus_support.py; it is shared with the golden
tests. The bounds are deliberately loose, a tripwire for a hang or a blow-up (entity
expansion, quadratic text handling), not a benchmark: the largest feed (1.6 MB, 730
items) takes about 0.6-0.8 s and up to 14 MB here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.corpus_support import SAMPLE_STRIDE, CorpusRun, PeakRss, run_corpus

MB = 1024 * 1024


def time_bound(size: int) -> float:
    """Seconds parse_feed may take on a body of ``size`` bytes (a hang detector, not a target)."""
    return 1.0 + 2.0 * size / MB


def memory_bound(size: int) -> int:
    """Bytes parse_feed may grow the process by on a body of ``size`` bytes."""
    return 32 * MB + 16 * size


@pytest.fixture
def corpus(shared_data: Path) -> CorpusRun:
    return run_corpus(shared_data / "feeds")  # cached: one run for all corpus tests


@pytest.mark.timeout(90)
def test_every_corpus_file_parses_without_crash_hang_or_blowup(corpus: CorpusRun) -> None:
    runs = list(corpus.runs.values())
    assert len(runs) > 4000
    fetched = [r for r in runs if r.url]
    assert len(fetched) > 400

    crashed = [f"{r.file.rel}: {r.crash}" for r in runs if r.crash]
    assert not crashed, "parse_feed raised:\n" + "\n".join(crashed)
    slow = [
        f"{r.file.rel}: {r.seconds:.2f}s for {len(r.file.body)} bytes"
        for r in runs
        if r.seconds > time_bound(len(r.file.body))
    ]
    assert not slow, "\n".join(slow)
    measured = [r for r in runs if r.peak_bytes is not None]
    # Peak RSS measures every file; the tracemalloc fallback (no /proc) a sample.
    assert len(measured) >= (len(runs) if corpus.memory_method == "rss" else len(runs) // 20)
    heavy = [
        f"{r.file.rel}: {r.peak_bytes / MB:.1f} MB for {len(r.file.body)} bytes"
        for r in measured
        if r.peak_bytes is not None and r.peak_bytes > memory_bound(len(r.file.body))
    ]
    assert not heavy, "\n".join(heavy)

    as_feeds = articles = 0
    for run in runs:
        outcome, rel = run.outcome, run.file.rel
        assert outcome.feed_id == rel
        assert outcome.skipped >= 0
        if outcome.error:
            assert not outcome.articles, rel
            continue
        as_feeds += 1
        articles += len(outcome.articles)
        for article in outcome.articles:
            assert len(article.id) == 32, rel
            assert article.url == "" or article.url.startswith(("http://", "https://")), rel
            assert article.published is None or article.published.tzinfo is not None, rel
            assert article.title or article.text or article.url or article.guid, rel
            assert "\n\n" not in article.text and article.text == article.text.strip(), rel
    # Most of the corpus is feeds; the rest is expected JSON, schemas, HTML and OPML.
    assert as_feeds > 3500
    assert articles > 3000

    slowest = max(runs, key=lambda r: r.seconds)
    heaviest = max(measured, key=lambda r: r.peak_bytes or 0)
    print(
        f"\ncorpus: {len(runs)} files ({len(fetched)} fetched over HTTP), {as_feeds} feeds, "
        f"{articles} articles in {corpus.seconds:.1f}s; slowest {slowest.file.rel} "
        f"{slowest.seconds:.2f}s; memory ({corpus.memory_method}) peak "
        f"{(heaviest.peak_bytes or 0) / MB:.1f} MB on {heaviest.file.rel}"
    )


def test_the_sample_fetched_over_http_covers_what_fetching_changes(corpus: CorpusRun) -> None:
    fetched = {rel for rel, run in corpus.runs.items() if run.url}
    for rel, run in corpus.runs.items():
        name = rel.rsplit("/", 1)[-1]
        if run.file.headers or name.startswith("http") or rel.startswith("feed-rs/"):
            assert rel in fetched, rel
    assert len(fetched) < len(corpus.runs) // SAMPLE_STRIDE * 4  # a sample, not everything


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS is read from /proc")
def test_the_memory_meter_sees_an_allocation() -> None:
    if not PeakRss.available():
        pytest.skip("/proc/self/clear_refs is not writable here; the run uses tracemalloc")
    with PeakRss() as meter:
        block = bytearray(64 * MB)
        block[::4096] = b"\1" * len(block[::4096])  # touch every page
        del block
    assert meter.peak >= 48 * MB
