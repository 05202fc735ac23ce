"""Languages in the engine: the case table in nine languages, ``lang:``, per-language
folding and indexes, CJK characters, the catalog's names in other languages, and English
matched exactly as before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.matching import Lang, RuleSpec, compile_rules, match_article, parse_query, render
from monitor.matching.entities import EntityCatalog, default_catalog
from monitor.matching.index import RuleIndex
from monitor.matching.languages import ENGLISH, MIN_STEMMED, folding, language_code
from monitor.model import Article
from tests.matching.multilingual_cases import CASES

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)


def article(text: str, language: str = "", title: str = "") -> Article:
    return Article(id="a1", feed_id="f", url="", title=title, text=text, language=language)


@pytest.mark.parametrize(("language", "text", "query", "expected"), CASES)
def test_case_table_one_query(language: str, text: str, query: str, expected: bool) -> None:
    assert (match_article(query, article(text, language)) is not None) is expected


def test_case_table_as_one_rule_set_indexed_and_not() -> None:
    """Every query of the table in one rule set: the per-language indexes fetch what each
    article matches, and agree with evaluating every rule."""
    specs = [RuleSpec(f"r{i}", query) for i, (_, _, query, _) in enumerate(CASES)]
    ruleset = compile_rules(specs)
    for i, (language, text, _, expected) in enumerate(CASES):
        item = article(text, language)
        matched = [m.rule_id for m in ruleset.match(item)]
        assert (f"r{i}" in matched) is expected, (language, text)
        assert matched == [m.rule_id for m in ruleset.match_all(item)]


def index_keys(index: RuleIndex) -> set[str]:
    keys = set(index.single)
    for first, inner in index.pairs.items():
        keys.add(first)
        keys.update(inner)
    return keys


def test_languages_are_compiled_when_their_first_article_comes() -> None:
    ruleset = compile_rules([RuleSpec("r", "drones AND @Iran")])
    ruleset.match(article("Iran flew drones", "en"))
    assert ruleset.languages() == [""]
    assert [m.rule_id for m in ruleset.match(article("Irán envió drones", "es"))] == ["r"]
    assert ruleset.languages() == ["", "es"]
    # The Spanish index holds Spanish keys; the English one English keys.
    assert "dron" in index_keys(ruleset.compiled("es").index)
    assert "drone" in index_keys(ruleset.compiled("").index)
    assert "drone" not in index_keys(ruleset.compiled("es").index)
    assert ruleset.compiled("es-MX") is ruleset.compiled("es")


def test_lang_decides_which_articles_a_rule_reads() -> None:
    ruleset = compile_rules(
        [
            RuleSpec("es", "lang:es AND drones"),
            RuleSpec("es-pt", "lang:(es OR pt) AND drones"),
            RuleSpec("not-en", "drones AND NOT lang:en"),
            RuleSpec("en", "lang:en AND drones"),
        ]
    )

    def ids(language: str) -> list[str]:
        return [m.rule_id for m in ruleset.match(article("drones", language))]

    assert ids("es") == ["es", "es-pt", "not-en"]
    assert ids("pt") == ["es-pt", "not-en"]
    assert ids("en") == ["en"]
    assert ids("") == ["not-en"]  # unknown is not English


def test_terms_fold_in_the_articles_language() -> None:
    """Spanish plural and singular meet; an English inflection key is not used there."""
    assert match_article("sanción", article("las sanciones", "es")) is not None
    assert match_article("Sanktion", article("die Sanktionen", "de")) is not None
    assert match_article("Sanktion", article("die Sanktionen")) is None  # read as English
    assert match_article("санкция", article("новые санкции", "ru")) is not None
    # A phrase stays exact in every language.
    assert match_article('"sanción"', article("las sanciones", "es")) is None


def test_folding_leaves_short_words_and_other_scripts_alone() -> None:
    spanish, russian = folding("es"), folding("ru")
    assert spanish.keys["sanciones"] == spanish.keys["sancion"]
    short = "m" * MIN_STEMMED
    assert spanish.keys[short] == short
    assert russian.keys["sanctions"] == "sanctions"  # a Latin word in a Russian article
    assert folding("zh").stemmed is False and folding("zh").keys["伊"] == "伊"
    assert folding("en") is ENGLISH and folding("") is ENGLISH
    assert language_code("pt-BR") == "pt" and language_code("EN") == ""


def test_cjk_text_is_matched_by_characters() -> None:
    text = "伊朗与俄罗斯签署协议"
    hits = match_article("伊朗 NEAR/3 俄罗斯", article(text, "zh"))
    assert hits is not None
    assert [text[h.start : h.end] for h in hits] == ["伊朗", "俄罗斯"]
    # Characters count as words for NEAR: 伊朗 and 协议 are 6 apart.
    assert match_article("伊朗 NEAR/3 协议", article(text, "zh")) is None
    assert match_article('"伊朗"', article(text)) is not None  # whatever the language


def test_names_of_other_languages_name_the_entity_but_stay_out_of_english() -> None:
    catalog = default_catalog()
    iran = catalog.get("Iran")
    assert iran is not None
    assert catalog.get("Irán") is iran and catalog.get("Иран") is iran
    assert catalog.get("伊朗") is iran
    assert all(not a.language for a in iran.aliases)
    assert {a.text for a in catalog.foreign_aliases(iran, "es")} >= {"Irán", "iraní", "Teherán"}
    # An override replaces the entity's names, in every language.
    custom = catalog.with_overrides({"Iran": ["Tehran"]})
    replaced = custom.get("Iran")
    assert replaced is not None and custom.foreign_aliases(replaced, "es") == ()
    assert match_article("@Iran", article("Teherán", "es")) is not None
    assert match_article("@Iran", article("Teherán", "es"), custom) is None


def test_a_name_of_the_articles_language_takes_its_case_rule() -> None:
    """Portuguese "Peru" is case-sensitive there (peru: a turkey), not in English."""
    assert match_article("@Peru", article("o peru assado", "pt")) is None
    assert match_article("@Peru", article("o Peru e a Bolívia", "pt")) is not None
    assert match_article("@Peru", article("the peru talks")) is not None


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("lang:spanish", "'spanish' is not a language code"),
        ("lang:(es OR)", "expected a language code"),
        ("lang:(es pt)", r"expected OR or '\)'"),
        ("lang: es", "right after lang:"),
        ("lang:es NEAR/3 x", "NEAR operands"),
    ],
)
def test_bad_lang(query: str, error: str) -> None:
    with pytest.raises(QuerySyntaxError, match=error):
        parse_query(query)


def test_lang_renders_back() -> None:
    for query in ("lang:es", "lang:(es OR pt) AND Irán", "NOT lang:en AND x"):
        assert parse_query(render(parse_query(query))) == parse_query(query)
    assert parse_query("lang:ES") == Lang(("es",))


# --- English exactly as before ---------------------------------------------------------

_WORDS = ["drone", "drones", "Iran", "Irán", "Tehran", "Teherán", "Russia", "Rusia", "gulf"]
_OPERANDS = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_WORDS).map(lambda w: f'"{w}"'),
    st.sampled_from(["@Iran", "@Russia", "@Spain", '@"United States"', "dro*", "title:gulf"]),
)
_QUERY = st.lists(_OPERANDS, min_size=1, max_size=3).map(" AND ".join)
_TEXT = st.lists(
    st.sampled_from([*_WORDS, "Madrid", "españoles", "Иран", "伊朗", "US", "the"]), max_size=10
).map(" ".join)
_ENGLISH_ONLY = EntityCatalog(default_catalog().entities())  # no names of other languages


@PROPERTY
@given(st.lists(_QUERY, min_size=1, max_size=8), _TEXT, _TEXT)
def test_english_articles_match_as_without_other_languages(
    queries: list[str], title: str, text: str
) -> None:
    """English and unknown articles: the same matches and hits as with a catalog that has
    no names in other languages, whether the language is "en" or unknown."""
    specs = [RuleSpec(f"r{i}", q) for i, q in enumerate(queries)]
    ours, bare = compile_rules(specs), compile_rules(specs, _ENGLISH_ONLY)
    for language in ("", "en"):
        item = article(text, language, title)
        found = [(m.rule_id, m.hits) for m in ours.match(item)]
        assert found == [(m.rule_id, m.hits) for m in bare.match(item)]
        assert found == [(m.rule_id, m.hits) for m in ours.match_all(item)]
    assert ours.languages() == [""]


@PROPERTY
@given(
    st.lists(_QUERY, min_size=1, max_size=8),
    _TEXT,
    st.sampled_from(["es", "de", "ru", "zh", "ar"]),
)
def test_other_languages_index_agrees_with_evaluating_every_rule(
    queries: list[str], text: str, language: str
) -> None:
    ruleset = compile_rules([RuleSpec(f"r{i}", q) for i, q in enumerate(queries)])
    item = article(text, language)
    assert [m.rule_id for m in ruleset.match(item)] == [m.rule_id for m in ruleset.match_all(item)]
