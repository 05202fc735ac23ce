"""Story-level dedup: fingerprints (pure) and the StoryDetector on real and edited articles.

The store side (``assign_story`` atomicity, windows, ties) is in the contract suite;
here: what merges and what does not, on texts from ../shared/data.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import itertools
import json
import os
import random
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import pytest

from monitor.matching.text import words
from monitor.model import SKETCH_WORDS, Article
from monitor.store.base import StateStore
from monitor.store.memory import MemoryStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import SqliteStore
from monitor.store.story_rules import sketch_similarity
from monitor.stories import DEFAULT_WINDOW, StoryDetector, fingerprint
from monitor.stories.minhash import (
    BANDS,
    MIN_SHINGLES,
    SIGNATURE_WORDS,
    anchors,
    candidate_probability,
    shingle_hashes,
    signature,
)
from tests.conftest import ROOT, FrozenClock

# -- helpers -----------------------------------------------------------------------------


def article(article_id: str, title: str, text: str, feed_id: str = "feed") -> Article:
    return Article(article_id, feed_id, f"https://{feed_id}.example/{article_id}", title, text)


def similarity(a: Article, b: Article) -> float:
    shared, compared = sketch_similarity(
        fingerprint(a.title, a.text).sketch, fingerprint(b.title, b.text).sketch
    )
    return shared / compared


@pytest.fixture
def detector() -> StoryDetector:
    return StoryDetector(MemoryStore())


def seed_article(shared_data: Path) -> Article:
    """The project's seed article: title, then paragraphs, then the page's boilerplate."""
    lines = (shared_data / "articles/seed-iran-russia.txt").read_text().splitlines()
    paragraphs = [line for line in lines[3:] if line.strip()]
    return article("seed", lines[2], "\n\n".join(paragraphs), "outlet-a")


def bbc(shared_data: Path) -> dict[str, dict[str, str]]:
    path = shared_data / "articles/bbc-2005/bbc_news.jsonl"
    return {row["id"]: row for row in map(json.loads, path.open(encoding="utf-8"))}


def ag_news(shared_data: Path) -> list[tuple[str, str]]:
    with (shared_data / "articles/ag-news/test.csv").open(encoding="utf-8", newline="") as f:
        return [(r["title"], r["description"].replace("\\", " ")) for r in csv.DictReader(f)]


# -- fingerprint ------------------------------------------------------------------------------

_PROBE_SCRIPT = """
import json, sys
from monitor.stories import fingerprint
p = fingerprint(sys.argv[1], sys.argv[2])
print(json.dumps([list(p.bands), p.sketch.hex(), list(p.anchors)]))
"""


def test_fingerprint_is_the_same_in_every_process() -> None:
    title, text = "Iran and Russia sign a drone deal", "Tehran and Moscow agreed on drones. " * 5
    probe = fingerprint(title, text)
    mine = [list(probe.bands), probe.sketch.hex(), list(probe.anchors)]
    for seed in ("1", "2"):  # str hashing differs between these processes
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", _PROBE_SCRIPT, title, text],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(out.stdout) == mine


def test_fingerprint_golden_values() -> None:
    # Replicas (and the next release) must agree on these bytes to share one index:
    # changing the hashing means existing stories are not found for a window (24 h).
    probe = fingerprint("Iran shrugs off Western criticism", "Tehran says ties with Moscow grow.")
    assert probe.bands[0] == "0:67c54020223c70ce24d8725f92fd4a1c"
    assert probe.sketch[:8].hex() == "0b997c541c1645a7"
    assert probe.anchors == ("criticism", "iran", "shrug", "western")


def test_normalization_ignores_case_punctuation_and_spacing() -> None:
    a = fingerprint("Iran's drones: a deal", "Tehran  and Moscow, on Tuesday, agreed (again).")
    b = fingerprint("IRAN'S DRONES -- A DEAL", "tehran and moscow on tuesday agreed again")
    assert a == b


def test_shingle_hashes_match_the_definition() -> None:
    text = "the quick brown fox jumps over the lazy dog"
    ws = words(f"Title\n{text}")

    def part(word: str, j: int) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=16, person=b"nm-story").digest()
        return int.from_bytes(digest[8 * j : 8 * j + 8], "little")

    expected = {part(a, 0) ^ part(b, 1) for a, b in itertools.pairwise(ws)}
    assert shingle_hashes("Title", text) == expected
    assert len(shingle_hashes("", "one")) == 1  # shorter than a shingle: one padded shingle
    assert shingle_hashes("", " ... ") == set()


def test_signature_bins_agree_with_probability_jaccard() -> None:
    # One-permutation hashing with densification: per bin, P(equal) == J, for sets
    # far smaller than the 128 bins (most bins borrowed) as for larger ones.
    rng = random.Random(5)
    for size, jaccard in ((12, 0.5), (40, 0.5), (300, 0.3), (300, 0.8)):
        shared = round(2 * size * jaccard / (1 + jaccard))
        agree = []
        for _ in range(200):
            common = {rng.getrandbits(64) for _ in range(shared)}
            a = common | {rng.getrandbits(64) for _ in range(size - shared)}
            b = common | {rng.getrandbits(64) for _ in range(size - shared)}
            true_j = len(a & b) / len(a | b)
            sa, sb = signature(a), signature(b)
            equal = sum(x == y for x, y in zip(sa[::4], sb[::4], strict=True))
            agree.append(equal / SIGNATURE_WORDS - true_j)
        bias = sum(agree) / len(agree)
        assert abs(bias) < 0.03, (size, jaccard, bias)


def test_sketch_similarity_is_exact_for_short_texts() -> None:
    a = "Stocks rose on Tuesday as oil prices fell and investors bought technology shares"
    b = "Stocks rose on Tuesday as oil prices fell and investors sold bank shares"
    ha, hb = shingle_hashes("", a), shingle_hashes("", b)
    shared, compared = sketch_similarity(fingerprint("", a).sketch, fingerprint("", b).sketch)
    assert (shared, compared) == (len(ha & hb), len(ha | hb))


def test_sketch_similarity_rule() -> None:
    def sk(*values: int) -> bytes:
        return struct.pack(f">{len(values)}I", *sorted(values))

    assert sketch_similarity(sk(1, 2, 3, 4), sk(3, 4, 5, 6)) == (2, 6)
    assert sketch_similarity(b"", b"") == (0, 0)
    # Two full sketches: only the SKETCH_WORDS smallest words of the union count.
    a = sk(*range(0, 2 * SKETCH_WORDS, 2))  # evens
    b = sk(*range(0, SKETCH_WORDS))  # 0..127
    shared, compared = sketch_similarity(a, b)
    assert compared == SKETCH_WORDS
    assert shared == len([x for x in range(SKETCH_WORDS) if x % 2 == 0])


def test_lsh_s_curve() -> None:
    assert candidate_probability(0.5) == pytest.approx(0.873, abs=1e-3)
    assert candidate_probability(0.7) > 0.999
    assert candidate_probability(0.2) < 0.06
    assert candidate_probability(0.5, 16, 8) < 0.1  # longer bands: fewer candidates


def test_anchors_are_the_titles_content_words() -> None:
    assert anchors("UPDATE 2-Iran says it has NO drones for Russia") == (
        "drone",
        "iran",
        "russia",
    )
    assert anchors("The 2004 results") == ("result",)


def test_short_texts_match_only_exactly() -> None:
    short = fingerprint("Bush wins second term", "")
    assert short.bands and short.bands[0].startswith("x:")
    assert fingerprint("BUSH WINS SECOND TERM.", "") == short
    assert fingerprint("Bush wins a second term", "").bands != short.bands
    assert fingerprint("Sports briefs", "").bands == ()  # too short to merge at all
    long_enough = " ".join(f"w{i}" for i in range(MIN_SHINGLES + 1))
    assert len(fingerprint("", long_enough).bands) == BANDS


# -- detector: what merges -----------------------------------------------------------------


async def test_a_verbatim_copy_joins_and_lists_its_outlet(detector: StoryDetector) -> None:
    first = article(
        "r1",
        "Halliburton swings to loss",
        "HOUSTON - Oilfield services giant "
        "Halliburton Co. on Tuesday swung to a loss in the third quarter.",
        "reuters",
    )
    copy = article("a1", first.title, first.text, "ap")
    got = await detector.observe(first, 100.0)
    assert (got.story_id, got.is_new, got.outlets) == ("r1", True, ("reuters",))
    got = await detector.observe(copy, 160.0)
    assert (got.story_id, got.is_new, got.outlets) == ("r1", False, ("reuters", "ap"))
    assert [m.url for m in got.members] == [first.url, copy.url]
    # The same outlet again (a second feed of one site) is listed once among the outlets.
    got = await detector.observe(article("r2", first.title, first.text, "reuters"), 200.0)
    assert got.outlets == ("reuters", "ap") and len(got.members) == 3
    story = await detector.story("r1", 300.0)
    assert story is not None and story.outlets == ("reuters", "ap")


def _edits(seed: Article) -> dict[str, Article]:
    paragraphs = seed.text.split("\n\n")
    body = "\n\n".join(p for p in paragraphs if len(p.split()) > 4)  # page boilerplate gone
    swapped = body.replace("Sunday", "Monday").replace("stressed", "insisted")
    swapped = swapped.replace("drones", "UAVs", 1)
    straight = body.translate(str.maketrans("“”’", '""\''))
    return {
        "no boilerplate": article("e1", seed.title, body),
        "dateline": article("e2", seed.title, "TEHRAN (AFP) - " + body),
        "title case + prefix": article("e3", "UPDATE 1-" + seed.title.upper(), body),
        "words swapped": article("e4", seed.title, swapped),
        "quotes straightened": article("e5", seed.title, straight),
        "last paragraph dropped": article("e6", seed.title, "\n\n".join(paragraphs[:-5])),
        "first half only": article("e7", seed.title, body[: len(body) // 2] + "..."),
        "paragraphs reordered": article("e8", seed.title, "\n\n".join(reversed(paragraphs))),
        "new headline": article("e9", "Tehran rebuffs West over Russia ties", body),
    }


async def test_lightly_edited_reprints_join(detector: StoryDetector, shared_data: Path) -> None:
    seed = seed_article(shared_data)
    assert (await detector.observe(seed, 0.0)).is_new
    for name, edited in _edits(seed).items():
        got = await detector.observe(edited, 60.0)
        assert (got.story_id, got.is_new) == ("seed", False), (name, similarity(seed, edited))
    story = await detector.story("seed", 120.0)
    assert story is not None and len(story.members) == 1 + len(_edits(seed))


async def test_wire_copies_in_ag_news_join(detector: StoryDetector, shared_data: Path) -> None:
    rows = ag_news(shared_data)
    for a, b in ((3029, 3037), (5223, 5225), (4552, 4560), (1547, 1565)):  # Reuters/AP copies
        first = await detector.observe(article(f"ag{a}", *rows[a], "x"), 0.0)
        second = await detector.observe(article(f"ag{b}", *rows[b], "y"), 0.0)
        assert second.story_id == first.story_id == f"ag{a}", (rows[a][0], rows[b][0])


async def test_bbc_duplicate_with_edits_joins(detector: StoryDetector, shared_data: Path) -> None:
    rows = bbc(shared_data)
    a, b = rows["entertainment/079.txt"], rows["entertainment/331.txt"]  # one story, two versions
    await detector.observe(article("079", a["title"], a["body"]), 0.0)
    assert (await detector.observe(article("331", b["title"], b["body"]), 0.0)).story_id == "079"


# -- detector: what does not merge ---------------------------------------------------------


async def test_different_stories_on_one_topic_stay_apart(
    detector: StoryDetector, shared_data: Path
) -> None:
    rows = bbc(shared_data)
    pairs = [
        ("business/074.txt", "business/092.txt"),  # the Turkcell-Iran mobile deal, twice
        ("business/025.txt", "business/192.txt"),  # Yukos in a US bankruptcy court, twice
        ("business/083.txt", "business/164.txt"),  # Yukos lawsuits
        ("business/127.txt", "business/131.txt"),  # Yukos and Russia
    ]
    seed = seed_article(shared_data)  # Iran, Russia and drones: not any of these
    assert (await detector.observe(seed, 0.0)).is_new
    for a, b in pairs:
        first = article(a, rows[a]["title"], rows[a]["body"])
        second = article(b, rows[b]["title"], rows[b]["body"])
        assert (await detector.observe(first, 0.0)).story_id == a
        assert (await detector.observe(second, 0.0)).story_id == b
        assert similarity(first, second) < 0.25


async def test_a_shared_teaser_under_unrelated_headlines_is_not_one_story(
    detector: StoryDetector, shared_data: Path
) -> None:
    rows = ag_news(shared_data)
    # Same teaser text ("Most IT Managers won't question the importance of security..."),
    # different headlines: the anchor rule keeps them apart.
    a, b = rows[2115], rows[2760]
    assert a[1] == b[1] and a[0] != b[0]
    assert (await detector.observe(article("a", *a), 0.0)).is_new
    assert (await detector.observe(article("b", *b), 0.0)).is_new
    # The same text under a headline that shares a word is a copy.
    assert (
        await detector.observe(article("c", "JPEG viruses keep on growing", a[1]), 0.0)
    ).story_id == "a"


async def test_short_titles_merge_only_when_identical_and_specific(
    detector: StoryDetector,
) -> None:
    assert (await detector.observe(article("t1", "Putin signs Kyoto pact bill", ""), 0.0)).is_new
    got = await detector.observe(article("t2", "PUTIN SIGNS KYOTO PACT BILL", ""), 0.0)
    assert got.story_id == "t1"
    assert (await detector.observe(article("t3", "Putin signs Kyoto bill", ""), 0.0)).is_new
    assert (await detector.observe(article("s1", "Transactions", ""), 0.0)).is_new
    assert (await detector.observe(article("s2", "Transactions", ""), 0.0)).is_new


async def test_window_ends_and_a_new_story_starts(shared_data: Path) -> None:
    detector = StoryDetector(MemoryStore(), window=3600.0)
    seed = seed_article(shared_data)
    copy = article("copy", seed.title, seed.text, "outlet-b")
    later = article("later", seed.title, seed.text, "outlet-c")
    assert (await detector.observe(seed, 0.0)).until == 3600.0
    assert (await detector.observe(copy, 3599.0)).story_id == "seed"
    got = await detector.observe(later, 3600.0)
    assert (got.story_id, got.is_new, got.outlets) == ("later", True, ("outlet-c",))
    assert await detector.story("seed", 3600.0) is None


async def test_observe_is_idempotent(detector: StoryDetector, shared_data: Path) -> None:
    seed = seed_article(shared_data)
    copy = article("copy", seed.title, seed.text, "outlet-b")
    first = [await detector.observe(a, 0.0) for a in (seed, copy)]
    again = [await detector.observe(a, 5.0) for a in (seed, copy)]
    assert [(g.story_id, g.is_new) for g in again] == [("seed", True), ("seed", False)]
    assert again[1].members == first[1].members


def test_detector_checks_its_settings() -> None:
    with pytest.raises(ValueError, match="window"):
        StoryDetector(MemoryStore(), window=0)
    with pytest.raises(ValueError, match="min_similarity"):
        StoryDetector(MemoryStore(), min_similarity=1.5)
    assert StoryDetector(MemoryStore()).window == DEFAULT_WINDOW == 86_400.0


# -- several processes ---------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
async def two_handles(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[StateStore, StateStore]]:
    """Two handles on one shared state, as two processes would have."""
    if request.param == "sqlite":
        stores: list[StateStore] = [
            await SqliteStore.open(tmp_path / "state.sqlite3") for _ in range(2)
        ]
        yield stores[0], stores[1]
        for store in stores:
            await store.close()
        return
    if request.param == "fakeredis":
        server = fakeredis.FakeServer()
        clients = [fakeredis.FakeAsyncRedis(server=server) for _ in range(2)]
        yield RedisStore(clients[0], "nm"), RedisStore(clients[1], "nm")
        for client in clients:
            await client.aclose()
        return
    url = request.getfixturevalue("redis_server_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis_stores = [RedisStore.from_url(url, prefix) for _ in range(2)]
    yield redis_stores[0], redis_stores[1]
    redis_client = redis_stores[0]._client
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.delete(*keys)
    for store in redis_stores:
        await store.close()


async def test_two_processes_seeing_copies_at_once_make_one_story(
    two_handles: tuple[StateStore, StateStore], shared_data: Path
) -> None:
    seed = seed_article(shared_data)
    edits = [seed, *_edits(seed).values()]
    detectors = [StoryDetector(two_handles[0]), StoryDetector(two_handles[1])]
    clock = FrozenClock()
    got = await asyncio.gather(
        *(detectors[i % 2].observe(a, clock.now) for i, a in enumerate(edits))
    )
    assert sum(g.is_new for g in got) == 1
    assert len({g.story_id for g in got}) == 1
    story = await detectors[1].story(got[0].story_id, clock.now)
    assert story is not None and len(story.members) == len(edits)
