"""Story-dedup benchmark: recall on edited reprints, false merges on a real corpus, cost.

Run (from the repository root, one core; Redis rows only if a server answers)::

    taskset -c 0 .venv/bin/python benchmarks/dedup.py [--data ../shared/data] [--redis URL]

Data: AG News ``test.csv`` (7,600 title + description rows from >100 outlets,
2004-05, wire copies of one story among them), cleaned of the dataset's escaping
debris (" #39;" -> "'", "&lt;A HREF...&gt;" tags dropped; the daemon's ingest
unescapes HTML the same way). Every row is one article, all in one window (the
worst case: the corpus has no dates, and the daemon only compares articles
within 24 h). BBC 2005 bodies (about 2 KB each) time the fingerprint on
full-length articles.

Tables:

1. Recall on reprints: each row is reprinted with a seeded edit (below), after
   every original is indexed; a reprint counts if it joins its original's story.
   "of member": the same, on the reprints of rows that joined an earlier row's
   story (issue 16; the all-pairs baselines compare with first articles only).
2. Merges among the original rows: every pair of rows a method puts in one
   story, classified with the ground truth below.
3. Cost: fingerprint, and story assignment per article on MemoryStore, SQLite,
   Redis, against comparing each article with every story (no LSH).
4. The LSH S-curve: probability that two texts of Jaccard J become candidates.

Edits (seeded per row and kind, ``random.Random("7:<kind>:<row>")``):
copy (verbatim, another outlet); dateline (outlet dateline added or dropped,
"(AP)" title suffix toggled); title (UPPER / Title / Sentence case, sometimes
"Update 1:"); words (1-3 words replaced, sometimes one dropped); sentences (two
sentences swapped, or one that is at most 40% of the text dropped; rows of 2+
sentences only); truncate (text cut to 60-85% of its words + "..."; rows of 10+
words); boilerplate (a trailer like "Click here for the full story." and
sometimes a dateline); mixed (two of the above at once: the strongest).

Ground truth for "same story" among the original rows: the pool of pairs whose
word-pair or word-triple shingle Jaccard is >= 0.3, or whose normalized titles
are equal (about 150 pairs), was read by hand. All are the same story except
:data:`DIFFERENT`: boilerplate teasers under unrelated headlines (ZDNet's "This
fourth priority's main focus...", "Most IT Managers won't question...", "The
Fine Print: ...") and generic column titles ("Transactions", "Today's schedule",
"Around the world"). A merged pair outside the pool is reported as unverified
(none is, for the methods below; pairs of J < 0.3 are taken to be different
stories, which undercounts loose rewrites of one event: the "natural copies"
column measures recall on the pool only). Limits: one annotator, no dates, and
"same story" read as "same news item" (an update of it counts; a follow-up
with new facts under a new headline would not).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import csv
import html
import itertools
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.matching.text import words  # noqa: E402
from monitor.model import Article, StoryMember, StoryProbe  # noqa: E402
from monitor.store.base import StateStore  # noqa: E402
from monitor.store.memory import MemoryStore  # noqa: E402
from monitor.store.redis import RedisStore  # noqa: E402
from monitor.store.sqlite import SqliteStore  # noqa: E402
from monitor.stories import DEFAULT_MIN_SIMILARITY, StoryDetector  # noqa: E402
from monitor.stories.minhash import (  # noqa: E402
    BANDS,
    ROWS,
    SHINGLE,
    anchors,
    candidate_probability,
    fingerprint,
    shingle_hashes,
)

DATA = ROOT.parent / "shared" / "data"
WINDOW = 1e9  # the whole corpus in one window
NOW = 1_800_000_000.0

_ZDNET = (1510, 1890, 2145, 2287, 2542, 2790, 3145, 3270)
_GENERIC_TITLES = (
    (354, 7595),  # "Around the world"
    (386, 1309),  # "SI.com"
    (1408, 2411, 3337),  # "Transactions"
    (1489, 1777),  # "SportsNetwork Game Preview"
    (1614, 3425, 4733, 5905),  # "Today's schedule"
    (1899, 3869),  # "#NAME?"
    (2815, 3321),  # "Around The Region"
    (3046, 3154),  # "ESPN.com news services"
    (5756, 7227),  # "Econ Edge: The Economic Week"
)
#: Pairs of the inspected pool (0-based rows of test.csv) that are different stories.
DIFFERENT = frozenset(
    itertools.chain(
        itertools.combinations(_ZDNET, 2),  # "This fourth priority's main focus ..." teaser
        [(2115, 2760), (4623, 4978)],  # "Most IT Managers ..."; "The Fine Print: ..."
        *(itertools.combinations(group, 2) for group in _GENERIC_TITLES),
    )
)
#: Pairs outside the pool, read by hand, that are the same story (met as transitive merges).
EXTRA_SAME = frozenset({(4105, 4195)})


# -- corpus ----------------------------------------------------------------------------


def clean(text: str) -> str:
    """Undo AG News' escaping debris, as the daemon's ingest would have."""
    text = text.replace("\\", " ")
    text = re.sub(r"\s?#(\d+);", lambda m: chr(int(m.group(1))), text)
    text = re.sub(r"\s?\b(quot|amp);", lambda m: {"quot": '"', "amp": "&"}[m.group(1)], text)
    text = re.sub(r"<[^>]*>", " ", html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


def load_ag_news(data: Path) -> list[tuple[str, str]]:
    with (data / "articles/ag-news/test.csv").open(encoding="utf-8", newline="") as f:
        return [(clean(r["title"]), clean(r["description"])) for r in csv.DictReader(f)]


_OUTLET = re.compile(r"\((AP|Reuters|AFP|CP|SPACE\.com|PC World)\)|^(AP|Reuters|AFP) -")


def outlet(title: str, text: str) -> str:
    """The outlet a row names (its feed id here), else "other"."""
    m = _OUTLET.search(text) or _OUTLET.search(title)
    return (m.group(1) or m.group(2)) if m else "other"


def articles(rows: Iterable[tuple[str, str]], prefix: str) -> list[Article]:
    return [Article(f"{prefix}{i}", outlet(t, x), "", t, x) for i, (t, x) in enumerate(rows)]


# -- reprints ----------------------------------------------------------------------------

_STRIP_OUTLET = re.compile(
    r"^(?:[A-Z][A-Za-z .,/'-]{0,40}\s)?\((?:AP|Reuters|AFP|CP)\)\s*-+\s*"
    r"|^(?:AP|Reuters|AFP)\s+-+\s+|^[A-Z][A-Z .,/'-]{2,30}(?:,\s[A-Z][a-z.]+)?\s+-+\s+"
)
_DATELINES = ("WASHINGTON (Reuters) - ", "NEW YORK (AP) - ", "AP - ", "LONDON (AFP) - ")
_TRAILERS = (
    "Copyright 2004 The Associated Press. All rights reserved.",
    "Click here for the full story.",
    "Reporting by Tom Smith; editing by Jane Doe.",
    "Read more at our website.",
)
_SENTENCE = re.compile(r'(?<=[.!?])\s+(?=[A-Z"])')
Edit = Callable[[random.Random, str, str, list[str]], tuple[str, str] | None]


def _copy(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    return title, text


def _dateline(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    stripped = _STRIP_OUTLET.sub("", text)
    if stripped == text or rng.random() >= 0.5:
        stripped = rng.choice(_DATELINES) + stripped
    text = stripped
    if title.endswith(")") and "(" in title:
        title = title[: title.rindex("(")].rstrip()
    elif rng.random() < 0.5:
        title += rng.choice((" (AP)", " (Reuters)", " (AFP)"))
    return title, text


def _title(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    title = rng.choice((title.upper(), title.title(), title[:1] + title[1:].lower()))
    if rng.random() < 0.5:
        title = rng.choice(("Update 1: ", "UPDATE 2-", "Breaking: ")) + title
    return title, text


def _words(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    ws = text.split()
    slots = [i for i in range(1, len(ws)) if len(ws[i]) >= 4]
    for i in rng.sample(slots, min(3, max(1, round(len(ws) / 20)), len(slots))):
        ws[i] = rng.choice(vocab)
    if rng.random() < 0.3 and len(ws) > 10:
        del ws[rng.randrange(1, len(ws))]
    return title, " ".join(ws)


def _sentences(
    rng: random.Random, title: str, text: str, vocab: list[str]
) -> tuple[str, str] | None:
    ss = [s for s in _SENTENCE.split(text) if s]
    if len(ss) < 2:
        return None
    total = len(text.split())
    droppable = [i for i in range(1, len(ss)) if len(ss[i].split()) <= 0.4 * total]
    if droppable and rng.random() < 0.5:
        del ss[rng.choice(droppable)]
    else:
        i = rng.randrange(len(ss) - 1)
        ss[i], ss[i + 1] = ss[i + 1], ss[i]
    return title, " ".join(ss)


def _truncate(
    rng: random.Random, title: str, text: str, vocab: list[str]
) -> tuple[str, str] | None:
    ws = text.split()
    if len(ws) < 10:
        return None
    return title, " ".join(ws[: round(len(ws) * rng.uniform(0.6, 0.85))]) + "..."


def _boilerplate(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    text = f"{text} {rng.choice(_TRAILERS)}"
    if rng.random() < 0.5:
        text = rng.choice(_DATELINES) + _STRIP_OUTLET.sub("", text)
    return title, text


_SINGLE: dict[str, Edit] = {
    "copy": _copy,
    "dateline": _dateline,
    "title": _title,
    "words": _words,
    "sentences": _sentences,
    "truncate": _truncate,
    "boilerplate": _boilerplate,
}


def _mixed(rng: random.Random, title: str, text: str, vocab: list[str]) -> tuple[str, str]:
    for kind in rng.sample(sorted(set(_SINGLE) - {"copy"}), 2):
        edited = _SINGLE[kind](rng, title, text, vocab)
        if edited is not None:
            title, text = edited
    return title, text


EDITS: dict[str, Edit] = {**_SINGLE, "mixed": _mixed}


def reprints(rows: list[tuple[str, str]], kind: str) -> list[tuple[int, str, str]]:
    """(original row, title, text) of each row the edit applies to."""
    vocab = sorted({w for _, t in rows[:2000] for w in t.split() if w.isalpha() and len(w) > 3})
    out = []
    for i, (title, text) in enumerate(rows):
        edited = EDITS[kind](random.Random(f"7:{kind}:{i}"), title, text, vocab)
        if edited is not None:
            out.append((i, *edited))
    return out


# -- methods ---------------------------------------------------------------------------


class Method:
    """Puts articles into stories in arrival order; a story is its first article's index.

    ``features`` is the per-article work (fingerprinting), done once per article and
    reused by every fresh index the evaluation builds; ``assign`` is the index step.
    """

    name = ""

    def features(self, title: str, text: str) -> Any:
        return title, text

    def assign(self, features: Any) -> int:
        raise NotImplementedError

    def snapshot(self) -> Method:
        """An independent copy of the index as it stands."""
        return copy.deepcopy(self)


class TitleMatch(Method):
    """Baseline: one story per normalized title."""

    name = "exact normalized title"

    def __init__(self) -> None:
        self.stories: dict[str, int] = {}
        self.n = 0

    def features(self, title: str, text: str) -> str:
        return " ".join(words(title))

    def assign(self, features: str) -> int:
        self.n += 1
        return self.stories.setdefault(features, self.n - 1)


#: Shingles in more stories than this do not make candidates for the all-pairs baseline.
COMMON = 100


class AllPairs(Method):
    """Baseline: exact shingle Jaccard with every story's first article (no LSH, no sketch).

    Stories sharing no shingle with the article have J = 0, and shingles carried by more
    than COMMON stories ("of the", "said on") cannot alone lift J to 0.5, so only the
    stories found through the other shingles are compared: the result of all pairs, in
    less time (:func:`all_pairs_cost` times the real thing).
    """

    def __init__(self, use_anchors: bool) -> None:
        self.name = "all pairs J>=0.5" + (" + anchors" if use_anchors else "")
        self.use_anchors = use_anchors
        self.seeds: list[tuple[set[int], set[str]]] = []
        self.index: dict[int, list[int]] = collections.defaultdict(list)
        self.n = 0

    def features(self, title: str, text: str) -> tuple[set[int], set[str]]:
        return shingle_hashes(title, text), set(anchors(title)) if self.use_anchors else set()

    def snapshot(self) -> AllPairs:
        other = copy.copy(self)
        other.seeds = list(self.seeds)  # the sets are never changed
        other.index = collections.defaultdict(list, {h: v.copy() for h, v in self.index.items()})
        return other

    def assign(self, features: tuple[set[int], set[str]]) -> int:
        mine, mine_anchors = features
        found: set[int] = set()
        for h in mine:
            stories = self.index.get(h, ())
            if len(stories) <= COMMON:
                found.update(stories)
        best: tuple[float, int] | None = None
        for story in sorted(found):
            theirs, their_anchors = self.seeds[story]
            if mine_anchors and their_anchors and mine_anchors.isdisjoint(their_anchors):
                continue
            j = len(mine & theirs) / len(mine | theirs)
            if j >= DEFAULT_MIN_SIMILARITY and (best is None or j > best[0]):
                best = (j, story)
        self.n += 1
        if best is not None:
            self.seeds.append((set(), set()))
            return best[1]
        self.seeds.append(features)
        for h in mine:
            self.index[h].append(self.n - 1)
        return self.n - 1


class Ours(Method):
    """The story detector's rule: ``fingerprint`` + ``MemoryStore.assign_story``."""

    def __init__(self, use_anchors: bool = True) -> None:
        self.name = f"ours: LSH {BANDS}x{ROWS} + sketch" + (" + anchors" if use_anchors else "")
        self.use_anchors = use_anchors
        self.store = MemoryStore()
        self.n = 0
        self.log: list[StoryProbe] = []

    def features(self, title: str, text: str) -> StoryProbe:
        probe = fingerprint(title, text)
        return probe if self.use_anchors else StoryProbe(probe.bands, probe.sketch, ())

    def snapshot(self) -> Ours:
        other = Ours(self.use_anchors)
        for features in self.log:  # replaying is faster than copying the store
            other.assign(features)
        return other

    def assign(self, features: StoryProbe) -> int:
        self.log.append(features)
        member = StoryMember(str(self.n), "feed")
        self.n += 1
        call = self.store.assign_story(member, features, DEFAULT_MIN_SIMILARITY, NOW, WINDOW)
        try:
            call.send(None)  # MemoryStore never awaits: the coroutine ends at once
        except StopIteration as done:
            return int(done.value.story_id)
        raise AssertionError("MemoryStore.assign_story awaited")


def pool_pairs(rows: list[tuple[str, str]]) -> set[tuple[int, int]]:
    """The inspected pool: shingle Jaccard >= 0.3 (word pairs or triples), or equal titles."""
    pool: set[tuple[int, int]] = set(EXTRA_SAME)
    for k in (2, 3):
        sets = []
        for title, text in rows:
            ws = words(f"{title}\n{text}")
            sets.append({" ".join(ws[i : i + k]) for i in range(max(1, len(ws) - k + 1))})
        index: dict[str, list[int]] = collections.defaultdict(list)
        for i, s in enumerate(sets):
            for x in s:
                index[x].append(i)
        shared: collections.Counter[tuple[int, int]] = collections.Counter()
        for ids in index.values():
            if len(ids) <= 300:  # a shingle in > 300 rows ("of the") adds nothing to J >= 0.3
                shared.update(itertools.combinations(ids, 2))
        for (a, b), n in shared.items():
            if n / (len(sets[a]) + len(sets[b]) - n) >= 0.3:
                pool.add((a, b))
    titles: dict[str, list[int]] = collections.defaultdict(list)
    for i, (title, _) in enumerate(rows):
        titles[" ".join(words(title))].append(i)
    for ids in titles.values():
        pool.update(itertools.combinations(ids, 2))
    return pool


def merged_pairs(stories: list[int]) -> set[tuple[int, int]]:
    groups: dict[int, list[int]] = collections.defaultdict(list)
    for row, story in enumerate(stories):
        groups[story].append(row)
    return {p for g in groups.values() for p in itertools.combinations(g, 2)}


def evaluate(
    make: Callable[[], Method],
    rows: list[tuple[str, str]],
    edited: dict[str, list[tuple[int, str, str]]],
) -> tuple[str, list[int], dict[str, tuple[int, int]]]:
    """(name, story of each row, recall per edit kind as (hits, reprints)).

    Recall is also counted apart (kind "of member") on the reprints of the rows that
    joined an earlier row's story: a reprint of a later member must find the story too.
    """
    method = make()
    originals = [method.features(t, x) for t, x in rows]
    stories = [method.assign(f) for f in originals]
    recall, later = {}, [0, 0]
    for kind, copies in edited.items():
        fresh = method.snapshot()  # the originals only: reprints of one kind never meet another's
        found = [fresh.assign(fresh.features(t, x)) == stories[i] for i, t, x in copies]
        recall[kind] = (sum(found), len(copies))
        member = [hit for hit, (i, _, _) in zip(found, copies, strict=True) if stories[i] != i]
        later = [later[0] + sum(member), later[1] + len(member)]
    return method.name, stories, {**recall, "of member": (later[0], later[1])}


# -- cost ------------------------------------------------------------------------------


def best_cpu(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


async def index_cost(store: StateStore, items: list[Article]) -> float:
    """Wall seconds per article to observe every article once."""
    detector = StoryDetector(store, WINDOW)
    start = time.perf_counter()
    for article in items:
        await detector.observe(article, NOW)
    return (time.perf_counter() - start) / len(items)


def all_pairs_cost(rows: list[tuple[str, str]], sample: int = 100) -> float:
    """CPU seconds per article to compare it with the first article of all 7,600 stories."""
    seeds = [shingle_hashes(t, x) for t, x in rows]

    def run() -> None:
        for t, x in rows[:sample]:
            mine = shingle_hashes(t, x)
            for theirs in seeds:
                _ = len(mine & theirs) / len(mine | theirs)

    return best_cpu(run, repeat=1) / sample


# -- main ------------------------------------------------------------------------------


def pct(hits: int, n: int) -> str:
    return f"{100 * hits / n:.1f}" if n else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data directory")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="'' to skip Redis")
    args = parser.parse_args()

    rows = load_ag_news(args.data)
    edited = {kind: reprints(rows, kind) for kind in EDITS}
    pool = pool_pairs(rows)
    same = pool - DIFFERENT
    methods: list[Callable[[], Method]] = [
        TitleMatch,
        lambda: AllPairs(False),
        lambda: AllPairs(True),
        lambda: Ours(False),
        Ours,
    ]
    results = [evaluate(make, rows, edited) for make in methods]

    print(
        f"AG News test.csv: {len(rows)} rows, word {SHINGLE}-shingles, "
        f"min similarity {DEFAULT_MIN_SIMILARITY}; recall on reprints (%)"
    )
    kinds = list(EDITS)
    print(
        f"{'method':<38}" + "".join(f"{k[:11]:>12}" for k in kinds) + f"{'all':>8}{'of member':>16}"
    )
    print(f"{'(reprints)':<38}" + "".join(f"{len(edited[k]):>12}" for k in kinds))
    for name, _, recall in results:
        total = [sum(recall[k][i] for k in kinds) for i in (0, 1)]
        cells = "".join(f"{pct(*recall[k]):>12}" for k in kinds)
        member = f"{pct(*recall['of member'])} ({recall['of member'][1]})"
        print(f"{name:<38}{cells}{pct(*total):>8}{member:>16}")

    print()
    print(
        f"Merges among the {len(rows)} original rows (ground truth: {len(same)} same-story pairs)"
    )
    print(
        f"{'method':<38}{'merged':>8}{'same':>8}{'false':>8}{'unverified':>12}"
        f"{'natural copies found':>22}"
    )
    unverified_pairs = []
    for name, stories, _ in results:
        pairs = merged_pairs(stories)
        true, false, unknown = pairs & same, pairs & DIFFERENT, pairs - pool
        unverified_pairs += [(name, p) for p in sorted(unknown)]
        print(
            f"{name:<38}{len(pairs):>8}{len(true):>8}{len(false):>8}{len(unknown):>12}"
            f"{pct(len(true), len(same)):>21}%"
        )
    for name, (a, b) in unverified_pairs:
        print(f"  unverified ({name}): {a} {rows[a][0]!r} / {b} {rows[b][0]!r}")

    print()
    bbc = [json.loads(line) for line in (args.data / "articles/bbc-2005/bbc_news.jsonl").open()]
    bbc_len = sum(len(r["body"]) for r in bbc) / len(bbc)
    ag_fp = best_cpu(lambda: [fingerprint(t, x) for t, x in rows]) / len(rows)
    bbc_fp = best_cpu(lambda: [fingerprint(r["title"], r["body"]) for r in bbc]) / len(bbc)
    print(f"{'cost per article':<52}{'us':>10}")
    print(f"{'fingerprint, AG News (title + ~40 words)':<52}{ag_fp * 1e6:>10.1f}")
    print(f"{f'fingerprint, BBC 2005 (~{bbc_len / 1000:.1f} KB body)':<52}{bbc_fp * 1e6:>10.1f}")
    items = articles(rows, "ag:")
    print(
        f"{'observe (fingerprint + index), MemoryStore':<52}"
        f"{asyncio.run(index_cost(MemoryStore(), items)) * 1e6:>10.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:

        async def sqlite_cost() -> float:
            store = await SqliteStore.open(Path(tmp) / "state.sqlite3")
            try:
                return await index_cost(store, items)
            finally:
                await store.close()

        print(f"{'observe, SQLite (one file, WAL)':<52}{asyncio.run(sqlite_cost()) * 1e6:>10.1f}")
    if args.redis:

        async def redis_cost() -> float | None:
            prefix = f"nm-bench-{random.randrange(1 << 30):x}"
            store = RedisStore.from_url(args.redis, prefix)
            try:
                try:
                    await store.ping()
                except Exception:
                    return None
                return await index_cost(store, items)
            finally:
                client = store._client
                keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
                for start in range(0, len(keys), 1000):
                    await client.delete(*keys[start : start + 1000])
                await store.close()

        cost = asyncio.run(redis_cost())
        label = "observe, Redis (local server, one round trip)"
        print(f"{label:<52}{cost * 1e6 if cost else float('nan'):>10.1f}")
    naive = all_pairs_cost(rows)
    print(f"{f'baseline: exact Jaccard vs all {len(rows)} stories':<52}{naive * 1e6:>10.1f}")

    print()
    print("LSH S-curve: P(two texts of Jaccard J share a band); chosen: 32 bands x 4 rows")
    shapes = ((BANDS, ROWS), (16, 8), (64, 2), (42, 3))
    print(f"{'J':>6}" + "".join(f"{f'{b}x{r}':>10}" for b, r in shapes))
    for j in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        print(f"{j:>6.1f}" + "".join(f"{candidate_probability(j, b, r):>10.3f}" for b, r in shapes))


if __name__ == "__main__":
    main()
