"""Differential test: our matcher against SQLite FTS5 on the BBC 2005 corpus.

What this file owns: the comparison of ``compile_rules(...).match`` with an
independent engine, SQLite's FTS5 (stdlib ``sqlite3``; tokenizer
``unicode61 remove_diacritics 2``), over the 2,225 BBC 2005 articles (title and
body as two columns), for the part of the language both engines speak:

======================  ==============================  ===============================
construct               ours                            FTS5
======================  ==============================  ===============================
exact word              ``"drones"`` (quoted: exact)    ``"drones"``
phrase                  ``"interest rates"``            ``"interest rates"``
AND, OR, implicit AND   ``(a AND b)``, ``a b``          ``(a AND b)``, ``a b``
NOT (inside an AND)     ``a AND NOT b``, ``a -b``       ``a NOT b`` (binary only)
NOT alone               ``NOT a``                       all rows EXCEPT ``a`` (in SQL)
prefix                  ``econom*``                     ``"econom"*``
field                   ``title:(...)``                 ``title : (...)``
proximity               ``a NEAR/n b``                  ``NEAR(a b, n-1)``
proximity of a group    ``(a OR b) NEAR/n c``           ``NEAR(a c, n-1) OR NEAR(b c, n-1)``
bare word (inflected)   ``sanction``                    ``("sanction" OR "sanctions" OR ...)``
======================  ==============================  ===============================

A few hundred random queries (seeded) over the corpus vocabulary and a hand
table (``HAND``) run on both engines; the sets of matching article ids must be
equal. The rule set is compiled once and every article matched once.

Where the engines differ, and how this test deals with it:

- Tokenization: none on this corpus. Both split on every non-alphanumeric
  character (apostrophes, hyphens, "£", "."), keep digits in words ("600m",
  "2005"), fold case and strip accents. ``test_tokenization_agrees`` checks it
  word by word over every title and body (through FTS5's ``fts5vocab``), which
  is what lets the other tests compare without normalising anything. Outside
  this corpus they differ (``TOKENIZER_DIFFERENCES``) on "_" (a word
  character for Python's ``\\w``, a separator for unicode61), on
  ``str.casefold`` (ß -> ss) and on compatibility forms, which we decompose
  (NFKD: the ligature ﬁ -> fi, x² -> x2) and unicode61 keeps.
- NEAR is spelt differently: ``a NEAR/n b`` (ours) holds when at most n - 1
  words stand between the two occurrences (n = 1: adjacent); FTS5's
  ``NEAR(a b, N)`` bounds the words between them by N, so N = n - 1. Both
  measure from the end of the first occurrence to the start of the second
  (phrases included), look within one column (field) only and accept either
  order. FTS5 allows no OR inside NEAR, so a group is expanded into an OR of
  NEARs.
- NEAR over overlapping occurrences differs, and is kept out of the random
  queries (the two sides never share a word): for us the two sides must be
  different, non-overlapping occurrences, so ``blair NEAR/3 blair`` needs two
  Blairs; FTS5 lets one occurrence serve both sides (and two overlapping
  phrases, "a b" and "b c" in "a b c"). ``KNOWN_DIFFERENT`` pins this down.
- FTS5 has no unary NOT: ``a AND NOT b`` is written ``a NOT b``, and a NOT on
  its own is computed in SQL as the complement of its operand.
- Inflections: FTS5 has no inflection folding, only the Porter stemmer, which
  also strips derivational suffixes and follows Porter's 1980 rules rather
  than the Porter2 inflectional steps we use. So a bare word is compared with
  an FTS5 OR over the corpus words that share its inflection key (our folding
  relation, stated; what FTS5 checks is everything else: the index, positions,
  the boolean evaluation). ``STEMMER_DIFFERENCES`` lists the word pairs where
  Porter and our folding disagree, and why; ``test_porter_differences`` checks
  them on both engines.
- Not compared: ``case:`` (unicode61 always folds case), ``@`` entities (FTS5
  has no catalog; the entity tests live with the engine), and the ``author:``,
  ``url:`` and ``source:`` fields (the corpus has none).

Apart from ``KNOWN_DIFFERENT``, no query of the random set or of the hand
table is excluded: every one must agree.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import pytest

from monitor.matching import RuleSpec, compile_rules
from monitor.matching.text import stem, words
from monitor.model import Article

TOKENIZER = "unicode61 remove_diacritics 2"
PORTER = "porter unicode61 remove_diacritics 2"
SEED = 20050101
RANDOM_QUERIES = 400


# -- the query tree both engines are written from -------------------------------------------


@dataclass(frozen=True)
class Exact:
    """A word matched exactly (after case and accent folding)."""

    word: str


@dataclass(frozen=True)
class Bare:
    """A word matched with its inflections (ours: the bare word)."""

    word: str


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]


@dataclass(frozen=True)
class Prefix:
    prefix: str


@dataclass(frozen=True)
class All:
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Any:
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Without:
    """``positive AND NOT negative``."""

    positive: Query
    negative: Query


@dataclass(frozen=True)
class Nowhere:
    """``NOT child`` on its own."""

    child: Query


@dataclass(frozen=True)
class Title:
    child: Query


@dataclass(frozen=True)
class Near:
    """Words or phrases within ``distance``; the left side may be an OR-group of them."""

    left: tuple[tuple[str, ...], ...]
    right: tuple[str, ...]
    distance: int


Query: TypeAlias = Exact | Bare | Phrase | Prefix | All | Any | Without | Nowhere | Title | Near


def quoted(ws: tuple[str, ...]) -> str:
    return '"' + " ".join(ws) + '"'


def ours(q: Query) -> str:
    """The query in our rule language."""
    match q:
        case Exact(word):
            return f'"{word}"'
        case Bare(word):
            return word
        case Phrase(ws):
            return '"' + " ".join(ws) + '"'
        case Prefix(prefix):
            return prefix + "*"
        case All(children):
            return "(" + " AND ".join(ours(c) for c in children) + ")"
        case Any(children):
            return "(" + " OR ".join(ours(c) for c in children) + ")"
        case Without(positive, negative):
            return f"({ours(positive)} AND NOT {ours(negative)})"
        case Nowhere(child):
            return f"NOT {ours(child)}"
        case Title(child):
            return f"title:({ours(child)})"
        case Near(left, right, distance):
            group = " OR ".join(quoted(ws) for ws in left)
            if len(left) > 1:
                group = f"({group})"
            return f"{group} NEAR/{distance} {quoted(right)}"
    raise TypeError(q)


def fts(q: Query, forms: dict[str, list[str]]) -> str:
    """The query in FTS5's syntax; ``forms`` maps an inflection key to its corpus words."""
    match q:
        case Exact(word):
            return f'"{word}"'
        case Bare(word):
            return "(" + " OR ".join(f'"{w}"' for w in forms.get(stem(word), [word])) + ")"
        case Phrase(ws):
            return '"' + " ".join(ws) + '"'
        case Prefix(prefix):
            return f'"{prefix}"*'
        case All(children):
            return "(" + " AND ".join(fts(c, forms) for c in children) + ")"
        case Any(children):
            return "(" + " OR ".join(fts(c, forms) for c in children) + ")"
        case Without(positive, negative):
            return f"({fts(positive, forms)} NOT {fts(negative, forms)})"
        case Title(child):
            return f"title : ({fts(child, forms)})"
        case Near(left, right, distance):
            nears = [f"NEAR({quoted(ws)} {quoted(right)}, {distance - 1})" for ws in left]
            return "(" + " OR ".join(nears) + ")"
        case Nowhere():
            raise ValueError("FTS5 has no unary NOT; see fts_ids")
    raise TypeError(q)


#: (query, why it is in the table).
HAND: list[tuple[Query, str]] = [
    (Exact("iran"), "a word; Iran's is the words iran + s in both engines"),
    (Phrase(("iran", "s")), '"Iran\'s": the apostrophe separates words'),
    (Phrase(("e", "mail")), '"e-mail": the hyphen separates words'),
    (Exact("600m"), "digits and letters make one word (£600m)"),
    (Exact("2005"), "a number is a word"),
    (Exact("cafe"), "accents fold: café"),
    (All((Phrase(("tony", "blair")), Exact("iraq"))), "phrase AND word"),
    (Without(Phrase(("tony", "blair")), Phrase(("gordon", "brown"))), "AND NOT"),
    (Nowhere(Exact("said")), "NOT alone: every article without 'said'"),
    (Title(Phrase(("world", "cup"))), "a phrase in the title only"),
    (Title(Any((Exact("oil"), Exact("gas")))), "a field on an OR-group"),
    (Title(Without(Exact("england"), Exact("rugby"))), "a field over AND NOT"),
    (Prefix("econom"), "economy, economic, economist, ..."),
    (Title(Prefix("elect")), "prefix in the title"),
    (Near((("interest",),), ("rates",), 1), "NEAR/1: adjacent, either order"),
    (Near((("blair",),), ("brown",), 5), "NEAR/5 = FTS5 NEAR(.., 4)"),
    (Near((("iraq",), ("iran",)), ("war",), 3), "an OR-group as a NEAR operand"),
    (Near((("prime", "minister"),), ("tony", "blair"), 2), "phrases as NEAR operands"),
    (Title(Near((("house",),), ("prices",), 3)), "NEAR inside a field"),
    (Bare("sanction"), "sanction, sanctions, sanctioned"),
    (Bare("elect"), "elect, elected, electing (not election)"),
    (Bare("raise"), "raise, raised, raises, raising"),
    (Bare("company"), "company, companies"),
    (Bare("run"), "run, runs, running (not ran: irregular forms are not folded)"),
    (All((Bare("minister"), Prefix("resign"), Exact("blair"))), "bare, prefix and exact"),
]


# -- the corpus in both engines -------------------------------------------------------------


@dataclass(eq=False)
class Corpus:
    articles: list[Article]
    #: FTS5 database: table ``docs(title, text)`` with rowid = index in ``articles``.
    db: sqlite3.Connection
    #: Folded words of each article (title then body), for drawing queries.
    words: list[list[str]]
    #: Folded words of each title.
    titles: list[list[str]]
    #: Document frequency of every folded word.
    df: collections.Counter[str]
    #: Inflection key -> the corpus words that have it.
    forms: dict[str, list[str]]

    def fts_ids(self, q: Query) -> set[str]:
        if isinstance(q, Nowhere):
            return {a.id for a in self.articles} - self.fts_ids(q.child)
        rows = self.db.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (fts(q, self.forms),))
        return {self.articles[rowid].id for (rowid,) in rows}


@functools.cache
def load(data: Path) -> Corpus:
    """The corpus in both engines, built once per process (the fixture is per test)."""
    path = data / "articles" / "bbc-2005" / "bbc_news.jsonl"
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    articles = [Article(str(r["id"]), "bbc", "", r["title"], r["body"]) for r in rows]
    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(title, text, tokenize='{TOKENIZER}')")
    except sqlite3.OperationalError as e:  # pragma: no cover - depends on the sqlite build
        pytest.fail(f"this sqlite3 ({sqlite3.sqlite_version}) has no FTS5: {e}")
    db.executemany(
        "INSERT INTO docs(rowid, title, text) VALUES (?, ?, ?)",
        [(i, a.title, a.text) for i, a in enumerate(articles)],
    )
    texts = [words(a.title) + words(a.text) for a in articles]
    df = collections.Counter(w for ws in texts for w in set(ws))
    forms: dict[str, list[str]] = collections.defaultdict(list)
    for word in sorted(df):
        forms[stem(word)].append(word)
    titles = [words(a.title) for a in articles]
    return Corpus(articles, db, texts, titles, df, dict(forms))


@pytest.fixture
def corpus(shared_data: Path) -> Corpus:
    return load(shared_data)


# -- random queries -------------------------------------------------------------------------


class QueryMaker:
    """Seeded random queries: words drawn from one article (so that ANDs can hold) or from
    the whole vocabulary by document frequency, common words included."""

    def __init__(self, corpus: Corpus, seed: int) -> None:
        self.corpus = corpus
        self.rng = random.Random(seed)
        self.vocabulary = sorted(corpus.df)
        self.weights = list(itertools.accumulate(corpus.df[w] for w in self.vocabulary))

    def article_words(self) -> tuple[list[str], list[str]]:
        """The words of a random article, and those of its title."""
        i = self.rng.randrange(len(self.corpus.words))
        return self.corpus.words[i], self.corpus.titles[i]

    def word(self, source: list[str] | None = None) -> str:
        if source and self.rng.random() < 0.9:
            return self.rng.choice(source)
        (w,) = self.rng.choices(self.vocabulary, cum_weights=self.weights)
        return w

    def alpha_word(self, source: list[str], min_len: int = 3) -> str:
        while True:
            w = self.word(source)
            if w.isalpha() and w.isascii() and len(w) >= min_len:
                return w

    def phrase(self, source: list[str]) -> Phrase:
        if len(source) < 3:
            source = self.article_words()[0]
        length = self.rng.choice((2, 2, 3))
        i = self.rng.randrange(max(1, len(source) - length))
        return Phrase(tuple(source[i : i + length]))

    def prefix(self, source: list[str]) -> Prefix:
        w = self.alpha_word(source, 4)
        return Prefix(w[: self.rng.randint(3, len(w) - 1)])

    def leaf(self, source: list[str]) -> Query:
        roll = self.rng.random()
        if roll < 0.45:
            return Exact(self.word(source))
        if roll < 0.65:
            return Bare(self.alpha_word(source))
        if roll < 0.85:
            return self.phrase(source)
        return self.prefix(source)

    def near(self, source: list[str]) -> Near:
        """Two words or phrases of one article, a few words apart, so that NEAR holds
        sometimes. The two sides share no word: see ``KNOWN_DIFFERENT`` for why."""
        if len(source) < 3:
            source = self.article_words()[0]
        while True:
            i = self.rng.randrange(len(source) - 1)
            left = tuple(source[i : i + self.rng.choice((1, 1, 2))])
            j = min(len(source) - 1, i + len(left) + self.rng.randint(0, 8))
            right = tuple(source[j : j + self.rng.choice((1, 1, 2))])
            group = (left,) if self.rng.random() < 0.7 else (left, (self.word(source),))
            used = {w for ws in group for w in ws}
            if len(used) == sum(map(len, group)) and not used & set(right):
                return Near(group, right, self.rng.randint(1, 10))

    def query(self) -> Query:
        source, title = self.article_words()
        leaf = self.leaf
        shape = self.rng.randrange(10)
        if shape == 0:
            return leaf(source)
        if shape == 1:
            return All(tuple(leaf(source) for _ in range(self.rng.randint(2, 4))))
        if shape == 2:
            return Any(tuple(leaf(source) for _ in range(self.rng.randint(2, 4))))
        if shape == 3:
            return Without(All((leaf(source), leaf(source))), leaf(source))
        if shape == 4:
            if self.rng.random() < 0.5:
                return Title(leaf(title))
            return Title(Any((leaf(title), self.leaf_any())))
        if shape == 5:
            return self.near(source)
        if shape == 6:
            return All((Title(leaf(title)), leaf(source)))
        if shape == 7:
            return Any((All((leaf(source), leaf(source))), Without(leaf(source), leaf(source))))
        if shape == 8:
            return Title(self.near(title)) if self.rng.random() < 0.3 else self.near(source)
        return Nowhere(Any((leaf(source), leaf(source))))

    def leaf_any(self) -> Query:
        return self.leaf(self.article_words()[0])


def random_queries(corpus: Corpus) -> tuple[Query, ...]:
    maker = QueryMaker(corpus, SEED)
    return tuple(maker.query() for _ in range(RANDOM_QUERIES))


@functools.cache
def our_ids(corpus: Corpus, queries: tuple[Query, ...]) -> list[set[str]]:
    """Article ids matched by each query: one rule set, every article matched once."""
    ruleset = compile_rules([RuleSpec(str(i), ours(q)) for i, q in enumerate(queries)])
    found: list[set[str]] = [set() for _ in queries]
    for article in corpus.articles:
        for m in ruleset.match(article):
            found[int(m.rule_id)].add(article.id)
    return found


def disagreements(corpus: Corpus, queries: tuple[Query, ...]) -> list[str]:
    out: list[str] = []
    for q, mine in zip(queries, our_ids(corpus, queries), strict=True):
        theirs = corpus.fts_ids(q)
        if mine != theirs:
            out.append(
                f"{ours(q)!r}: only ours {sorted(mine - theirs)[:3]} ({len(mine - theirs)}), "
                f"only FTS5 {sorted(theirs - mine)[:3]} ({len(theirs - mine)})"
            )
    return out


#: Queries on which the engines differ by design: (query, why). For each, FTS5 finds a
#: strict superset of ours, and the extra articles are exactly those where a single
#: occurrence (or two overlapping ones) would have to serve both sides of the NEAR.
KNOWN_DIFFERENT: list[tuple[Near, str]] = [
    (
        Near((("blair",),), ("blair",), 3),
        "the same word on both sides: FTS5 matches any article with one 'blair'",
    ),
    (
        Near((("prime", "minister"),), ("minister", "tony"), 1),
        "overlapping phrases: FTS5 matches 'prime minister tony' alone",
    ),
]


def overlap_only(corpus: Corpus, q: Near) -> set[str]:
    """Articles where q's sides occur close enough only by sharing words (FTS5's reading).

    Computed from the folded words directly: within one field, an occurrence of
    a left phrase and one of the right phrase within the distance that overlap,
    while no non-overlapping pair is close enough.
    """
    found: set[str] = set()
    for article in corpus.articles:
        overlapping = separate = False
        for text in (article.title, article.text):
            ws = words(text)
            for left in q.left:
                for a in phrase_starts(ws, left):
                    for b in phrase_starts(ws, q.right):
                        a_end, b_end = a + len(left), b + len(q.right)
                        gap = max(a, b) - min(a_end, b_end)
                        if a_end <= b or b_end <= a:
                            separate |= gap < q.distance
                        else:
                            overlapping = True
        if overlapping and not separate:
            found.add(article.id)
    return found


def phrase_starts(ws: list[str], phrase: tuple[str, ...]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(ws) - n + 1) if tuple(ws[i : i + n]) == phrase]


# -- tests ----------------------------------------------------------------------------------


def test_tokenization_agrees(corpus: Corpus) -> None:
    """Every title and body splits into the same folded words in both engines."""
    corpus.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(docs, instance)")
    theirs: dict[tuple[int, str], list[tuple[int, str]]] = collections.defaultdict(list)
    for term, doc, column, offset in corpus.db.execute("SELECT term, doc, col, offset FROM vocab"):
        theirs[(doc, column)].append((offset, term))
    differing = []
    for i, article in enumerate(corpus.articles):
        for column, text in (("title", article.title), ("text", article.text)):
            if words(text) != [term for _, term in sorted(theirs[(i, column)])]:
                differing.append(f"{article.id} {column}")
    assert differing == []


#: Texts (none in the corpus) that the two tokenizers split or fold differently:
#: (text, our words, FTS5's words).
TOKENIZER_DIFFERENCES = [
    ("foo_bar", ["foo_bar"], ["foo", "bar"]),
    ("Straße", ["strasse"], ["straße"]),
    ("\ufb01ne", ["fine"], ["\ufb01ne"]),
    ("x\u00b2", ["x2"], ["x\u00b2"]),
]


def test_tokenizer_differences_outside_the_corpus() -> None:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE d USING fts5(t, tokenize='{TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(d, instance)")
    for i, (text, mine, theirs) in enumerate(TOKENIZER_DIFFERENCES):
        db.execute("INSERT INTO d(rowid, t) VALUES (?, ?)", (i, text))
        rows = db.execute("SELECT term FROM v WHERE doc = ? ORDER BY offset", (i,))
        assert (words(text), [term for (term,) in rows]) == (mine, theirs), text


def test_hand_table_agrees(corpus: Corpus) -> None:
    queries = tuple(q for q, _ in HAND)
    assert disagreements(corpus, queries) == []
    # The table is not vacuous: each query matches something, and not everything.
    for q, mine in zip(queries, our_ids(corpus, queries), strict=True):
        assert 0 < len(mine) < len(corpus.articles), ours(q)


def test_known_differences_are_only_overlaps(corpus: Corpus) -> None:
    queries = tuple(q for q, _ in KNOWN_DIFFERENT)
    for q, mine in zip(queries, our_ids(corpus, queries), strict=True):
        theirs = corpus.fts_ids(q)
        assert mine < theirs, ours(q)
        assert theirs - mine == overlap_only(corpus, q), ours(q)


def test_random_queries_agree(corpus: Corpus) -> None:
    queries = random_queries(corpus)
    assert disagreements(corpus, queries) == []


def test_random_queries_are_not_trivial(corpus: Corpus) -> None:
    """Most random queries match some articles but not all, so agreement says something."""
    queries = random_queries(corpus)
    sizes = [len(ids) for ids in our_ids(corpus, queries)]
    informative = sum(0 < n < len(corpus.articles) for n in sizes)
    assert informative >= 0.8 * len(queries)


#: (query word, article word, same for us, same for Porter, why).
STEMMER_DIFFERENCES: list[tuple[str, str, bool, bool, str]] = [
    ("drone", "drones", True, True, "a plural: both fold"),
    ("sanction", "sanctioned", True, True, "-ed: both fold"),
    ("study", "studies", True, True, "-ies: both fold"),
    ("unit", "united", True, True, "-ed: both fold, a false friend of 'United States'"),
    ("elect", "election", False, True, "Porter strips the derivational -ion"),
    ("nation", "national", False, True, "Porter strips -al"),
    ("universe", "university", False, True, "Porter strips -ity: universiti/univers -> univers"),
    ("organ", "organization", False, True, "Porter strips -ization"),
    ("busy", "business", False, True, "Porter strips -ness"),
    ("general", "generous", False, True, "Porter: both 'gener'"),
    ("new", "news", False, True, "news is invariant in Porter2's exceptions, not in Porter's"),
    ("us", "uses", False, True, "Porter strips -es: uses -> us"),
    ("even", "evening", False, True, "we keep evening apart (not the -ing form of even)"),
    ("die", "dying", True, False, "Porter2's exceptional form; Porter 1980 gives 'dy'"),
    ("sky", "skies", True, False, "Porter2's exceptional form; Porter 1980 gives 'ski'"),
    ("run", "ran", False, False, "irregular forms are folded by neither"),
    ("woman", "women", False, False, "irregular plurals are folded by neither"),
    ("gas", "gases", False, False, "neither: gases -> 'gase' in both stemmers"),
]


def test_porter_differences(corpus: Corpus) -> None:
    """Our inflection folding against FTS5's Porter stemmer, pair by pair as tabulated."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE w USING fts5(text, tokenize='{PORTER}')")
    db.executemany(
        "INSERT INTO w(rowid, text) VALUES (?, ?)",
        [(i, article_word) for i, (_, article_word, *_) in enumerate(STEMMER_DIFFERENCES)],
    )
    observed = []
    for i, (query_word, article_word, *_rest) in enumerate(STEMMER_DIFFERENCES):
        ruleset = compile_rules([RuleSpec("r", query_word)])
        mine = bool(ruleset.match(Article("a", "f", "", "", article_word)))
        rows = db.execute("SELECT rowid FROM w WHERE w MATCH ?", (f'"{query_word}"',))
        porter = i in {rowid for (rowid,) in rows}
        observed.append((query_word, article_word, mine, porter))
    assert observed == [row[:4] for row in STEMMER_DIFFERENCES]
