"""Realistic watch rules generated from a news corpus, for the matching benchmark.

What this module owns: loading the BBC 2005 corpus as ``Article`` values, the
corpus statistics the rules are drawn from (``CorpusStats``), and a seeded,
deterministic rule generator (``RuleGenerator``) whose queries look like what
media analysts write: an *anchor* (what the rule is about) and one to four
*context* clauses, two to five clauses in all, over

- names as written in the text ("Blair", "Microsoft"), phrases cut from the
  text (two or three consecutive words of one sentence, first and last a
  content word: "interest rates", "Gordon Brown"), ``@`` entities from a fixed
  list of countries and organizations, ``case:`` acronyms seen in the corpus;
- terms drawn from the corpus vocabulary in proportion to their document
  frequency (so the Zipf spread of real text carries over: common words such
  as ``government`` or ``market`` come up often, rare ones rarely), never a
  stopword or a generic news word (``STOPWORDS``) on its own;
- ``NOT``/``-term``, ``NEAR/n``, prefix wildcards (a real word cut one to three
  letters short, at least four letters kept), ``title:`` fields and
  ``OR``-groups.

Every construct beyond plain terms, phrases and the boolean operators is a
*feature* that can be switched off (``BASIC_FEATURES``); a switched-off
construct is replaced by its nearest plain equivalent (``drone*`` -> ``drone``,
``A NEAR/5 B`` -> ``A AND B``, ``title:x`` -> ``x``, ``@Iran`` -> ``"Iran"``,
``case:US`` -> ``"US"``), so the shape of the rule set stays the same whichever
engine runs it. ``supported_features`` probes the engine for the ones it implements.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.matching import RuleSpec, compile_rules
from monitor.matching.text import tokenize
from monitor.model import Article

__all__ = [
    "ALL_FEATURES",
    "BASIC_FEATURES",
    "ENTITY_CANDIDATES",
    "STOPWORDS",
    "CorpusStats",
    "RuleGenerator",
    "load_corpus",
    "supported_features",
]

#: Constructs that can be switched off; the rest (terms, phrases, AND/OR/NOT,
#: ``-term``, parentheses, implicit AND) every version of the language has.
ALL_FEATURES = frozenset({"wildcard", "near", "field", "entity", "case"})
#: No optional construct: the language of the first matcher.
BASIC_FEATURES: frozenset[str] = frozenset()

#: One probe per feature: a query, an article (title, text) it must match and one it must
#: not. Probing by behaviour, not by parsing alone: an engine that does not know ``title:`` or
#: ``case:`` may still read them as plain words.
_PROBES: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "wildcard": ("drone*", ("", "Drones flew"), ("", "Dr one")),
    "near": ("Iran NEAR/5 drone", ("", "Iran sent a drone"), ("", "Iran " + "x " * 20 + "drone")),
    "field": ("title:Iran", ("Iran talks", ""), ("Talks", "Iran")),
    "entity": ("@Iran", ("", "Iran said"), ("", "Iraq said")),
    "case": ("case:US", ("", "the US said"), ("", "give us")),
}

#: Entities analysts watch: each is a list of spellings to try, in order of
#: preference; the first one the engine compiles is used (an unknown entity is
#: an error, so the catalog decides which of these exist).
ENTITY_CANDIDATES: tuple[tuple[str, ...], ...] = (
    ("@Iran",),
    ("@Russia",),
    ("@China",),
    ('@"United States"', "@United_States", "@UnitedStates", "@USA", "@US"),
    ('@"United Kingdom"', "@UK"),
    ("@France",),
    ("@Germany",),
    ("@EU", '@"European Union"'),
    ("@NATO",),
    ("@UN", '@"United Nations"'),
    ("@Israel",),
    ("@Ukraine",),
    ("@India",),
    ("@Japan",),
    ("@Iraq",),
    ("@Syria",),
    ("@Italy",),
    ("@Spain",),
    ("@Brazil",),
    ("@Australia",),
    ("@Pakistan",),
    ("@Afghanistan",),
    ('@"North Korea"', "@NorthKorea"),
    ("@Turkey",),
    ("@Ireland",),
    ("@OPEC",),
    ("@WTO",),
    ("@IMF",),
)

#: Function words, and the generic words of news writing (numbers, time words, reporting
#: verbs, all-purpose adjectives): no analyst writes one of them as a rule term on its own.
#: They may still occur inside phrases ("second half", "last year"). What is left is drawn
#: by document frequency: topical common words ("government", "market", "film") lead.
STOPWORDS = frozenset(
    """
    a about above across after again against ago all almost along already also although
    always am among an and another any anyone anything are around as at away back be became
    because become been before began being below best better between big both but by came
    can cannot come comes coming could day days did do does doing done down during each
    early eight either else end even ever every far few fifth first five for former four
    from further get gets getting give given go goes going gone good got great had has have
    having he her here hers herself high him himself his how however hundred i if in
    including into is it its itself just keep know known last late later least less like
    little long look made make makes making many may me might more most move mr mrs ms much
    must my myself near need neither never new next nine no nor not now of off often old on
    once one only or other others our ours ourselves out over own part per perhaps put
    quite rather really recent recently said same say saying says second see seen set
    seven several she should show since six so some something still such take taken ten
    than that the their theirs them themselves then there these they thing things think
    third this those though thousand three through thus time times to today told too took
    top two under until up upon us use used very via want wanted was way we week weeks well
    went were what when where whether which while who whom whose why will with within
    without would year years yesterday yet you your yours yourself yourselves added told
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday sir
    """.split()  # noqa: SIM905 - a word list reads better as text
)
#: Acronyms in more than this share of the articles are the corpus's own (BBC), not news.
_UBIQUITOUS = 0.10
#: Names in more than this share of the articles are the publisher's ("BBC"), not a subject.
_NAME_MAX_SHARE = 0.15
#: Capitals that are query operators, not acronyms ("AND" in a shouted headline).
_OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_SENTENCE_END = re.compile(r"[.!?:;\"\n]")
_WORD_OK = re.compile(r"[a-z]{3,}")
_NEAR_DISTANCES = (3, 5, 5, 10, 10, 20)


def load_corpus(path: Path) -> list[Article]:
    """The BBC 2005 articles (JSON lines: id, category, title, body) as Articles."""
    articles: list[Article] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            articles.append(
                Article(
                    id=str(row["id"]),
                    feed_id="bbc",
                    url=f"http://news.bbc.co.uk/{row['id']}",
                    title=str(row["title"]),
                    text=str(row["body"]),
                )
            )
    return articles


class _Weighted:
    """Items drawn at random in proportion to their weights (cumulative table + bisect)."""

    def __init__(self, weighted: Iterable[tuple[str, int]]) -> None:
        items = sorted(weighted, key=lambda kv: (-kv[1], kv[0]))
        if not items:
            raise ValueError("nothing to draw from")
        self.items = [item for item, _ in items]
        self.cumulative: list[int] = []
        total = 0
        for _, weight in items:
            total += weight
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random) -> str:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


@dataclass(frozen=True, slots=True)
class _Passage:
    """One field of one article, with its words' offsets, for cutting phrases."""

    text: str
    #: (folded word, start, end) of every word.
    words: tuple[tuple[str, int, int], ...]


class CorpusStats:
    """What rules are drawn from: document frequencies, names, acronyms, passages."""

    def __init__(self, articles: Sequence[Article]) -> None:
        df: collections.Counter[str] = collections.Counter()
        acronyms: collections.Counter[str] = collections.Counter()
        # Inside a sentence (not its first word): how often a word is written capitalised.
        capitalised: collections.Counter[str] = collections.Counter()
        inside: collections.Counter[str] = collections.Counter()
        spelling: dict[str, str] = {}
        passages: list[_Passage] = []
        for article in articles:
            seen: set[str] = set()
            for text in (article.title, article.text):
                tokens = tokenize(text)
                passages.append(_Passage(text, tuple((t.norm, t.start, t.end) for t in tokens)))
                seen.update(t.norm for t in tokens)
                acronyms.update({text[t.start : t.end] for t in tokens} & _acronyms_of(text))
                if text is article.title:
                    continue  # titles capitalise every word
                for before, token in itertools.pairwise(tokens):
                    if _SENTENCE_END.search(text, before.end, token.start):
                        continue
                    inside[token.norm] += 1
                    if text[token.start].isupper():
                        capitalised[token.norm] += 1
                        spelling.setdefault(token.norm, text[token.start : token.end])
            df.update(seen)
        #: Document frequency of every folded word.
        self.df = df
        #: Content words (3+ ASCII letters, no stopword), drawn by document frequency.
        self.terms = _Weighted((w, n) for w, n in df.items() if _is_content(w))
        #: Words long enough to cut a wildcard prefix from (6+ letters).
        self.stems = _Weighted((w, n) for w, n in df.items() if _is_content(w) and len(w) >= 6)
        #: All-capital words of 2-5 letters in at least 5 articles, but not in most of them
        #: (US, UK, EU, NHS; not BBC).
        most = _UBIQUITOUS * len(articles)
        self.acronyms = _Weighted(
            (w, n) for w, n in acronyms.items() if 5 <= n <= most and w not in _OPERATORS
        )
        #: Names: content words written capitalised inside sentences (nearly) always
        #: ("Blair", "Microsoft", "Chelsea"), as written, drawn by document frequency.
        self.names = _Weighted(
            (spelling[w], df[w])
            for w, n in capitalised.items()
            if n >= 2
            and n >= 0.9 * inside[w]
            and df[w] <= _NAME_MAX_SHARE * len(articles)
            and _is_content(w)
            and spelling[w].isalpha()
        )
        #: Every title and body with its words, for phrases.
        self.passages = [p for p in passages if len(p.words) >= 3]
        self._passage_weights = _Weighted(
            (str(i), len(p.words)) for i, p in enumerate(self.passages)
        )

    def phrase(self, rng: random.Random) -> str:
        """Two or three consecutive words of one sentence, as written, first and last a
        content word. Drawn uniformly over the word positions of the corpus, so frequent
        phrases come up often."""
        while True:
            passage = self.passages[int(self._passage_weights.draw(rng))]
            length = 2 if rng.random() < 0.7 else 3
            i = rng.randrange(len(passage.words) - length + 1)
            chunk = passage.words[i : i + length]
            if not (_is_content(chunk[0][0]) and _is_content(chunk[-1][0])):
                continue
            if not all(_WORD_OK.fullmatch(w) for w, _, _ in chunk):
                continue
            # Words separated by single spaces only: no sentence or clause boundary between.
            if any(passage.text[a[2] : b[1]] != " " for a, b in itertools.pairwise(chunk)):
                continue
            return passage.text[chunk[0][1] : chunk[-1][2]]


def _acronyms_of(text: str) -> set[str]:
    return {m.group() for m in re.finditer(r"\b[A-Z]{2,5}\b", text)}


def _is_content(word: str) -> bool:
    return _WORD_OK.fullmatch(word) is not None and word not in STOPWORDS


def supported_features() -> frozenset[str]:
    """The optional constructs the current engine implements, found by probing it."""
    supported: set[str] = set()
    for feature, (query, hit, miss) in _PROBES.items():
        try:
            ruleset = compile_rules([RuleSpec("probe", query)])
        except Exception:
            continue
        if ruleset.match(_probe_article(*hit)) and not ruleset.match(_probe_article(*miss)):
            supported.add(feature)
    return frozenset(supported)


def _probe_article(title: str, text: str) -> Article:
    return Article(id="probe", feed_id="probe", url="", title=title, text=text)


def _usable_entities(features: frozenset[str]) -> list[str]:
    """The first spelling of each candidate entity that compiles, in candidate order."""
    if "entity" not in features:
        return []
    usable: list[str] = []
    for spellings in ENTITY_CANDIDATES:
        for spelling in spellings:
            try:
                compile_rules([RuleSpec("probe", spelling)])
            except Exception:
                continue
            usable.append(spelling)
            break
    return usable


class RuleGenerator:
    """Deterministic realistic queries: the same seed and features give the same rules.

    The shapes follow how analysts write: most rules have an *anchor* (what the
    rule is about: a name, a phrase from the news, an entity, an acronym, or a
    plain term) and one to four *context* clauses (terms by document frequency,
    OR-groups, wildcards, exclusions). ``features`` says which optional
    constructs to write (``ALL_FEATURES`` by default); the others are written
    in their plain equivalent.
    """

    def __init__(
        self,
        stats: CorpusStats,
        *,
        seed: int = 2005,
        features: frozenset[str] = ALL_FEATURES,
    ) -> None:
        self.stats = stats
        self.features = features
        self.rng = random.Random(seed)
        self.entities = _usable_entities(features)
        # (weight, shape): query shapes in the proportions analysts write them.
        shapes: list[tuple[int, Callable[[], str]]] = [
            (14, self._anchor_and_term),
            (12, self._anchor_and_or_group),
            (10, self._anchor_and_two_terms),
            (8, self._anchor_and_not),
            (8, self._anchor_near),
            (8, self._names_or_and_term),
            (6, self._title_anchor_and_term),
            (8, self._entity_and_terms),
            (4, self._entity_near),
            (4, self._case_and_term),
            (4, self._phrase_alone),
            (6, self._three_terms),
            (5, self._four_or_five_clauses),
            (3, self._or_of_ands),
        ]
        self._shapes = [shape for _, shape in shapes]
        self._shape_weights = [weight for weight, _ in shapes]

    def rules(self, count: int, prefix: str = "r") -> list[RuleSpec]:
        """``count`` rules with ids ``{prefix}0``, ``{prefix}1``, ..."""
        return [RuleSpec(f"{prefix}{i}", self.query()) for i in range(count)]

    def query(self) -> str:
        """One query."""
        (shape,) = self.rng.choices(self._shapes, weights=self._shape_weights)
        return shape()

    # -- operands -------------------------------------------------------------------------

    def term(self) -> str:
        """A content word, by document frequency."""
        return self.stats.terms.draw(self.rng)

    def name(self) -> str:
        """A name as written ("Blair", "Microsoft"), by document frequency."""
        return self.stats.names.draw(self.rng)

    def phrase(self) -> str:
        return '"' + self.stats.phrase(self.rng) + '"'

    def wildcard(self) -> str:
        word = self.stats.stems.draw(self.rng)
        if "wildcard" not in self.features:
            return word
        # What analysts truncate: a stem, a few letters short of a word (sanction*, nucle*).
        keep = max(4, len(word) - self.rng.randint(1, 3))
        return word[:keep] + "*"

    def entity(self) -> str:
        if self.entities:
            return self.rng.choice(self.entities)
        name = self.rng.choice(ENTITY_CANDIDATES)[0].lstrip("@")
        return name if name.startswith('"') else f'"{name}"'

    def acronym(self) -> str:
        word = self.stats.acronyms.draw(self.rng)
        return f"case:{word}" if "case" in self.features else f'"{word}"'

    def anchor(self) -> str:
        """What a rule is about: a name, a phrase from the text, or a term."""
        roll = self.rng.random()
        if roll < 0.45:
            return self.name()
        if roll < 0.75:
            return self.phrase()
        return self.term()

    def context(self) -> str:
        """A term most of the time, else a phrase or a wildcard."""
        roll = self.rng.random()
        if roll < 0.7:
            return self.term()
        if roll < 0.85:
            return self.phrase()
        return self.wildcard()

    def or_group(self, size: int | None = None) -> str:
        n = size or self.rng.randint(2, 4)
        return "(" + " OR ".join(self.context() for _ in range(n)) + ")"

    def near(self, left: str, right: str) -> str:
        if "near" not in self.features:
            return f"{left} AND {right}"
        return f"{left} NEAR/{self.rng.choice(_NEAR_DISTANCES)} {right}"

    def title(self, operand: str) -> str:
        return f"title:{operand}" if "field" in self.features else operand

    def negation(self) -> str:
        negated = self.context()
        return f"-{negated}" if self.rng.random() < 0.4 else f"NOT {negated}"

    def and_(self, *clauses: str) -> str:
        # Analysts write AND and leave it out about equally often.
        joiner = " AND " if self.rng.random() < 0.5 else " "
        return joiner.join(clauses)

    # -- shapes ---------------------------------------------------------------------------

    def _anchor_and_term(self) -> str:
        return self.and_(self.anchor(), self.context())

    def _anchor_and_or_group(self) -> str:
        return self.and_(self.anchor(), self.or_group())

    def _anchor_and_two_terms(self) -> str:
        return self.and_(self.anchor(), self.context(), self.context())

    def _anchor_and_not(self) -> str:
        return self.and_(self.anchor(), self.context(), self.negation())

    def _anchor_near(self) -> str:
        right = self.or_group(2) if self.rng.random() < 0.3 else self.context()
        return self.near(self.anchor(), right)

    def _names_or_and_term(self) -> str:
        names = " OR ".join(self.name() for _ in range(self.rng.randint(2, 3)))
        return self.and_(f"({names})", self.context())

    def _title_anchor_and_term(self) -> str:
        roll = self.rng.random()
        first = self.title(self.anchor() if roll < 0.8 else f"({self.anchor()} OR {self.anchor()})")
        return self.and_(first, self.context())

    def _entity_and_terms(self) -> str:
        clauses = [self.entity(), self.context()]
        if self.rng.random() < 0.4:
            clauses.append(self.entity() if self.rng.random() < 0.5 else self.wildcard())
        return self.and_(*clauses)

    def _entity_near(self) -> str:
        other = self.wildcard() if self.rng.random() < 0.5 else self.term()
        return self.near(self.entity(), other)

    def _case_and_term(self) -> str:
        return self.and_(self.acronym(), self.context())

    def _phrase_alone(self) -> str:
        return self.phrase()

    def _three_terms(self) -> str:
        return self.and_(self.term(), self.context(), self.term())

    def _four_or_five_clauses(self) -> str:
        clauses = [self.anchor(), self.or_group(), self.context(), self.term()]
        if self.rng.random() < 0.5:
            clauses.append(f"NOT {self.context()}")
        return self.and_(*clauses)

    def _or_of_ands(self) -> str:
        return f"({self.anchor()} AND {self.term()}) OR ({self.anchor()} AND {self.context()})"
