"""Case-sensitive entity aliases in text written in capitals (wire headlines), and the
historical names of the catalog (docs/rules.md, Entities). With the shipped catalog, on
real-shaped text; the engine is also checked against the reference evaluator of
``test_rule_language`` on random text in capitals."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.matching import (
    Case,
    Entity,
    Node,
    Phrase,
    RuleSpec,
    Term,
    compile_rules,
    explain,
    match_article,
    parse_query,
    render,
)
from monitor.matching.document import CAPS_CONTEXT, CAPS_WINDOW
from monitor.matching.entities import COMMON_WORD_NAMES, default_catalog
from monitor.model import Article
from tests.matching.test_rule_language import (
    CATALOG,
    FIELD_NAMES,
    PROPERTY,
    _leaf_spans,
    reference,
)
from tests.strategies import query_trees


def article(text: str = "", title: str = "") -> Article:
    return Article(id="a1", feed_id="feed", url="", title=title, text=text, author="")


def hits(query: str, text: str = "", title: str = "") -> list[tuple[str, str]] | None:
    """(field, text hit) of each hit, or None when the query does not match."""
    item = article(text, title)
    found = match_article(query, item)
    if found is None:
        return None
    fields = {"title": item.title, "text": item.text}
    return [(h.field, fields[h.field][h.start : h.end]) for h in found]


def entity_query(key: str) -> str:
    return f'@"{key}"'


#: (entity key, alias) of every case-sensitive shipped alias with a lower-case letter: the
#: ones the allowance for capitals is about (China, Turkey, Polish, Kiwis, CoE, East Germany).
CASE_SENSITIVE = sorted(
    (entity.key, alias.text)
    for entity in default_catalog().entities()
    for alias in entity.aliases
    if alias.case_sensitive and alias.text != alias.text.upper()
)


def test_the_rule_is_the_documented_one() -> None:
    assert (CAPS_WINDOW, CAPS_CONTEXT) == (3, 2)
    keys = {key for key, alias in CASE_SENSITIVE if alias == key}
    assert {"China", "Turkey", "Chad", "Chile", "Guinea", "Panama", "East Germany"} <= keys
    assert {alias.casefold() for _, alias in CASE_SENSITIVE} >= COMMON_WORD_NAMES


# --- every case-sensitive alias, in a headline in capitals ---------------------------------------


@pytest.mark.parametrize(("key", "alias"), CASE_SENSITIVE)
def test_a_case_sensitive_alias_matches_its_headline_in_capitals(key: str, alias: str) -> None:
    caps = alias.upper()
    assert hits(entity_query(key), title=f"{caps} RAISES TARIFFS ON STEEL IMPORTS") == [
        ("title", caps)
    ]
    # A lead in capitals at the start of the text, then ordinary sentences.
    lead = f"BREAKING: {caps} AND ALLIES SIGN DEAL. The ministry said on Monday."
    assert hits(entity_query(key), lead) == [("text", caps)]
    # Ending the lead: the window stops at the end of the sentence.
    lead = f"EUROPE SIGNS TRADE DEAL WITH {caps}. The ministry said on Monday."
    assert hits(entity_query(key), lead) == [("text", caps)]
    # Its exact case still matches anywhere.
    assert hits(entity_query(key), f"Officials from {alias} met on Monday.") == [("text", alias)]


@pytest.mark.parametrize(("key", "alias"), CASE_SENSITIVE)
def test_a_case_sensitive_alias_does_not_match_otherwise(key: str, alias: str) -> None:
    query = entity_query(key)
    # The common word, in ordinary text.
    assert hits(query, f"Officials said the {alias.lower()} was sold on Monday.") is None
    # One word in capitals amid ordinary text (emphasis), or amid few capitals.
    assert hits(query, f"Officials said the {alias.upper()} was sold on Monday.") is None
    assert hits(query, f"Officials said the BIG {alias.upper()} SALE was on.") is None
    assert hits(query, f"We ate well. {alias.upper()}! It was on Monday.") is None


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # Acronyms are exact: nothing changes for them.
        ('@"United States"', "Tell us what you think", None),
        ('@"United States"', "TELL US WHAT YOU THINK", [("text", "US")]),
        ("@WHO", "who said what, and when", None),
        ("@WHO", "The WHO said on Monday", [("text", "WHO")]),
        ("@Turkey", "Roast the turkey for three hours.", None),
        ("@China", "She sold the fine china plates at auction.", None),
        ("@Poland", "Please polish the silver before dinner.", None),
        ("@Poland", "POLISH FARMERS BLOCK BORDER CROSSINGS", [("text", "POLISH")]),
        # Two cased words are needed around it: a two-word title is too short to tell.
        ("@China", "CHINA TARIFFS", None),
        ("@China", "CHINA RAISES TARIFFS", [("text", "CHINA")]),
        # Numbers have no case: they neither count nor break.
        ("@China", "CHINA 2025 TARIFFS", None),
        ("@China", "IN 2025 CHINA RAISED TARIFFS", [("text", "CHINA")]),
        # Only the words of its sentence count: not the capitals of the sentence before ...
        ("@Turkey", "TRADE WAR LOOMS. Markets fell as TURKEY did", None),
        # ... nor ordinary words further than three cased words away.
        ("@Turkey", "we hear that NEW TALKS WITH TURKEY BEGIN AT ONCE today", [("text", "TURKEY")]),
        ("@Turkey", "we hear NEW TALKS WITH TURKEY BEGIN AT today", None),
        # A line break ends a sentence; "U.S." does not.
        ("@Turkey", "Talks went well\nTURKEY AND GREECE AGREE", [("text", "TURKEY")]),
        ("@China", "Trade talks. U.S. AND CHINA", [("text", "CHINA")]),
        ("@China", "TALKS BETWEEN THE U.S. AND CHINA. More to come", [("text", "CHINA")]),
        # Title and text are separate: a title in capitals does not lend its case.
        ("@China", "CHINA. Tariffs rose.", None),
        # An explicit case: keeps its case exactly.
        ("case:China", "CHINA RAISES TARIFFS", None),
        ("case:China", "China raises tariffs", [("text", "China")]),
        ('case:"CHINA"', "CHINA RAISES TARIFFS", [("text", "CHINA")]),
    ],
)
def test_headlines_and_sentences(
    query: str, text: str, expected: list[tuple[str, str]] | None
) -> None:
    assert hits(query, text) == expected


def _doc_section(title: str) -> str:
    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    return text.split(f"#### {title}\n", 1)[1].split("\n#", 1)[0]


def test_the_examples_of_the_docs_hold() -> None:
    rows = re.findall(r"^\| \*(.+?)\* \| (✓|✗)", _doc_section("Text in capitals"), re.M)
    assert len(rows) == 7
    for text, mark in rows:
        assert (hits("@China", text.replace(" ...", "")) is not None) is (mark == "✓"), text


def test_the_docs_state_the_catalog_counts() -> None:
    catalog = default_catalog()
    kinds = Counter(entity.kind for entity in catalog.entities())
    aliases = sum(len(entity.aliases) for entity in catalog.entities())
    stated = (
        f"{kinds['country']} countries, {kinds['territory']} territories, {kinds['former']} "
        f"former states and {kinds['organization']} international organizations ({aliases:,} "
        "aliases)"
    )
    docs = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert stated in " ".join(docs.split())  # the docs' lines joined


def test_a_title_in_capitals_does_not_reach_the_text() -> None:
    assert hits("@China", "CHINA. Tariffs", title="TRADE WAR LOOMS AGAIN") is None
    assert hits("@China", "Tariffs rose.", title="CHINA RAISES TARIFFS") == [("title", "CHINA")]


# --- shadows, NEAR, hits and explain agree --------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("@Sudan", "SOUTH SUDAN CLASHES ERUPT", None),
        ("@Sudan", "SUDAN AND SOUTH SUDAN CLASH", [("text", "SUDAN")]),
        ("@Guinea", "PAPUA NEW GUINEA VOTES TODAY", None),
        ("@Guinea", "GUINEA-BISSAU ELECTION RESULTS DUE", None),
        ("@Guinea", "GUINEA ELECTION RESULTS DUE", [("text", "GUINEA")]),
        # A case-sensitive shadow in capitals shadows too.
        ("@Germany", "EAST GERMANY BUILDS A WALL", None),
        ('@"East Germany"', "EAST GERMANY BUILDS A WALL", [("text", "EAST GERMANY")]),
        ("@Germany", "GERMANY AND EAST GERMANY TALK", [("text", "GERMANY")]),
        # ... but not where its capitals are no headline.
        ("@Germany", "the EAST GERMANY team", [("text", "GERMANY")]),
    ],
)
def test_shadows_in_capitals(query: str, text: str, expected: list[tuple[str, str]] | None) -> None:
    assert hits(query, text) == expected


def test_near_sees_the_occurrence_in_capitals() -> None:
    assert hits("@China NEAR/2 tariffs", "CHINA RAISES TARIFFS") == [
        ("text", "CHINA"),
        ("text", "TARIFFS"),
    ]
    assert hits("@China NEAR/5 tariffs", "Roast it in a CHINA dish. Tariffs are up.") is None
    assert hits("@Sudan NEAR/3 army", "SOUTH SUDAN ARMY MOVES NORTH") is None


def test_explain_counts_the_occurrences_in_capitals() -> None:
    item = article("CHINA RAISES TARIFFS. China confirmed it; fine china was spared.")
    assert explain(parse_query("@China AND tariffs"), item) == "\n".join(
        ["✓ AND", "  ✓ @China ×2 (China ×2)", "  ✓ tariffs ×1"]
    )
    assert explain(parse_query("case:China"), item) == "✓ case:China ×1"
    south = article("SOUTH SUDAN CLASHES ERUPT")
    assert explain(parse_query("@Sudan"), south) == "✗ @Sudan (not counted: ×1 inside South Sudan)"


# --- the indexed engine, the full scan and the reference agree ------------------------------

HEADLINES = [
    "CHINA RAISES TARIFFS ON US GOODS",
    "BREAKING: TURKEY AND POLAND SIGN DEAL. The ministry said talks went well.",
    "POLISH FARMERS BLOCK BORDER WITH UKRAINE",
    "SOUTH SUDAN CLASHES ERUPT NEAR BORDER",
    "PAPUA NEW GUINEA VOTES; GUINEA-BISSAU WAITS",
    "EAST GERMANY AND WEST GERMANY SIGN BASIC TREATY",
    "KIWIS WIN THE RUGBY AGAIN",
    "Roast the turkey, polish the silver and set out the china.",
    "We ate TURKEY. It was fine.",
    "Tell us: who won?",
    "CHINA TARIFFS",
    "PENTAGON SAYS CHAD TROOPS ARRIVED",
]


def test_the_index_agrees_with_the_full_scan_on_headlines_in_capitals() -> None:
    catalog = default_catalog()
    specs = [RuleSpec(f"e{i}", entity_query(key)) for i, key in enumerate(catalog.keys())]
    specs += [
        RuleSpec("near", "@China NEAR/3 tariffs"),
        RuleSpec("title", "title:@Turkey AND text:deal"),
        RuleSpec("not", "@Poland -@Ukraine"),
    ]
    ruleset = compile_rules(specs, catalog)
    matched = 0
    for text in HEADLINES:
        for title in ("", text):
            item = article(text, title)
            found = ruleset.match(item)
            assert [m.rule_id for m in found] == [m.rule_id for m in ruleset.match_all(item)]
            for match in found:
                for hit in match.hits:
                    field = item.title if hit.field == "title" else item.text
                    assert re.fullmatch(r"\w[\w\W]*\w|\w", field[hit.start : hit.end])
            matched += len(found)
    assert matched > 20
    keys = {
        catalog.keys()[int(m.rule_id[1:])]
        for m in ruleset.match(article(HEADLINES[0]))
        if m.rule_id.startswith("e")
    }
    assert keys == {"China", "United States"}


# Random text with runs of capitals, against the reference evaluator (its stub catalog has
# Turkey, a case-sensitive alias, shadowed by the case-sensitive "New Turkey").
_CAPS_WORDS = ["TURKEY", "Turkey", "turkey", "NEW", "New", "TIES", "US", "SAYS", "A", "U.S."]
_CAPS_SEPARATORS = [" ", " ", " ", ", ", ". ", "\n", "! ", " 7 ", "-", "'s "]
_caps_text = st.lists(
    st.tuples(st.sampled_from(_CAPS_WORDS), st.sampled_from(_CAPS_SEPARATORS)), max_size=12
).map(lambda pairs: "".join(w + s for w, s in pairs))
_caps_leaves = st.one_of(
    st.sampled_from(["Turkey", "United States", "Iran"]).map(Entity),
    st.sampled_from(["Turkey", "TURKEY", "New Turkey"]).map(Case),
    st.sampled_from(["ties", "says"]).map(Term),
    st.sampled_from(["new turkey", "turkey ties"]).map(Phrase.of),
)
_caps_queries = query_trees(
    _caps_leaves, st.sampled_from(["title", "text"]), max_distance=3, max_children=3, max_leaves=4
)


@PROPERTY
@given(st.lists(_caps_queries, min_size=1, max_size=4), _caps_text, _caps_text)
def test_the_engine_agrees_with_the_reference_on_capitals(
    queries: list[Node], title: str, text: str
) -> None:
    item = article(text, title)
    ruleset = compile_rules([RuleSpec(f"r{i}", render(q)) for i, q in enumerate(queries)], CATALOG)
    found = [m.rule_id for m in ruleset.match(item)]
    assert found == [m.rule_id for m in ruleset.match_all(item)]
    for i, query in enumerate(queries):
        assert (f"r{i}" in found) is reference(query, item), render(query)


@PROPERTY
@given(
    st.sampled_from(["@Turkey", "case:Turkey", "title:@Turkey", "(@Turkey OR Iran)"]),
    st.sampled_from(["says", "ties", '@"United States"', "new"]),
    st.integers(1, 4),
    _caps_text,
    _caps_text,
)
def test_near_agrees_with_the_reference_on_capitals(
    left: str, right: str, distance: int, title: str, text: str
) -> None:
    item = article(text, title)
    query = parse_query(f"{left} NEAR/{distance} {right}")
    assert (match_article(query, item, CATALOG) is not None) is reference(query, item)


@PROPERTY
@given(_caps_text)
def test_entity_hits_are_the_reference_occurrences(text: str) -> None:
    item = article(text)
    words = list(re.finditer(r"\w+", text))
    expected = [
        (words[s].start(), words[e - 1].end())
        for s, e in sorted(_leaf_spans(Entity("Turkey"), "text", item))
    ]
    found = match_article("@Turkey", item, CATALOG)
    assert [(h.start, h.end) for h in found or ()] == expected
    assert (found is not None) is bool(expected)
    assert all(h.field in FIELD_NAMES for h in found or ())


def test_the_random_text_reaches_both_outcomes() -> None:
    # The property tests above are not vacuous: capitals amid capitals count, alone not.
    assert reference(Entity("Turkey"), article("A NEW TURKEY TIES US. TURKEY SAYS US"))
    assert reference(Entity("Turkey"), article("US TURKEY SAYS"))
    assert not reference(Entity("Turkey"), article("US TURKEY. turkey SAYS New TURKEY"))
    assert not reference(Entity("Turkey"), article("TURKEY 7 TIES"))


# --- historical names ---------------------------------------------------------------------------

#: Former names that are aliases of their successor, as a user or an archive writes them.
SUCCESSORS = [
    ("Burma", "Myanmar"),
    ("Zaire", "DR Congo"),
    ("Ceylon", "Sri Lanka"),
    ("Siam", "Thailand"),
    ("Persia", "Iran"),
    ("Swaziland", "Eswatini"),
    ("Macedonia", "North Macedonia"),
    ("FYROM", "North Macedonia"),
    ("Former Yugoslav Republic of Macedonia", "North Macedonia"),
    ("West Germany", "Germany"),
    ("Dahomey", "Benin"),
    ("Upper Volta", "Burkina Faso"),
    ("Bechuanaland", "Botswana"),
    ("Basutoland", "Lesotho"),
    ("Nyasaland", "Malawi"),
    ("Northern Rhodesia", "Zambia"),
    ("Rhodesia", "Zimbabwe"),
    ("East Pakistan", "Bangladesh"),
    ("Kampuchea", "Cambodia"),
    ("Byelorussia", "Belarus"),
    ("Peking", "China"),
]
#: Former states, entities of their own (kind ``former``), by one of their names.
FORMER = [
    ("USSR", "Soviet Union"),
    ("Union of Soviet Socialist Republics", "Soviet Union"),
    ("Soviets", "Soviet Union"),
    ("Yugoslavia", "Yugoslavia"),
    ("SFRY", "Yugoslavia"),
    ("Czechoslovakia", "Czechoslovakia"),
    ("Czechoslovak", "Czechoslovakia"),
    ("East Germany", "East Germany"),
    ("GDR", "East Germany"),
    ("German Democratic Republic", "East Germany"),
]


@pytest.mark.parametrize(("name", "key"), SUCCESSORS)
def test_a_former_name_is_an_alias_of_its_successor(name: str, key: str) -> None:
    entity = default_catalog().get(name)
    assert entity is not None and entity.key == key and entity.kind == "country"
    found = hits(entity_query(key), f"Archive: in 1960 {name} signed the treaty.")
    assert found is not None and ("text", name) in found  # with the aliases inside it


@pytest.mark.parametrize(("name", "key"), FORMER)
def test_a_former_state_is_an_entity_of_its_own(name: str, key: str) -> None:
    entity = default_catalog().get(name)
    assert entity is not None and entity.key == key and entity.kind == "former"
    found = hits(entity_query(key), f"Archive: in 1960 {name} signed the treaty.")
    assert found is not None and ("text", name) in found


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # A successor does not claim the name of a state that split or was absorbed ...
        ("@Russia", "The Soviet Union collapsed in 1991.", None),
        ("@Serbia", "Yugoslavia broke apart in the 1990s.", None),
        ('@"Czech Republic"', "The Czech and Slovak Federative Republic split.", None),
        ("@Slovakia", "The Czech and Slovak Federative Republic split.", None),
        ("@Czechoslovakia", "The Czech and Slovak Federative Republic split.", [
            ("text", "Czech and Slovak Federative Republic")
        ]),
        ("@Germany", "East German leader Erich Honecker", None),
        ('@"East Germany"', "East German leader Erich Honecker", [("text", "East German")]),
        # ... and a place inside a successor's former name is not that place.
        ("@Pakistan", "Floods hit East Pakistan in 1970.", None),
        ("@Bangladesh", "Floods hit East Pakistan in 1970.", [("text", "East Pakistan")]),
        ("@Zimbabwe", "Northern Rhodesia became Zambia.", None),
        ("@Yugoslavia", "the Former Yugoslav Republic of Macedonia", None),
        # East Germany's names are case-sensitive: the region of today's Germany is Germany.
        ("@Germany", "Voters in east Germany went to the polls.", [("text", "Germany")]),
        ('@"East Germany"', "Voters in east Germany went to the polls.", None),
        ("@Germany", "West Germany won the World Cup in 1990.", [
            ("text", "West Germany"), ("text", "Germany")
        ]),
        # Persian is left out: the gulf, the language, cats.
        ("@Iran", "Tankers crossed the Persian Gulf.", None),
        ('@"Soviet Union"', "Soviet-era tanks", [("text", "Soviet")]),
        ('@"Soviet Union"', "SOVIET UNION COLLAPSES", [
            ("text", "SOVIET"), ("text", "SOVIET UNION")
        ]),
        ('@"East Germany"', "BERLIN WALL FALLS: EAST GERMANY OPENS BORDER", [
            ("text", "EAST GERMANY")
        ]),
    ],
)  # fmt: skip
def test_historical_names_in_text(
    query: str, text: str, expected: list[tuple[str, str]] | None
) -> None:
    assert hits(query, text) == expected
