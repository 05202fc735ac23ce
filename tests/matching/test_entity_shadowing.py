"""An alias of a place inside a longer name of another entity does not count for the place:
``@Sudan`` is not South Sudan (docs/rules.md, Entities). With the shipped catalog."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from monitor.matching import RuleSpec, compile_rules, explain, match_article, parse_query
from monitor.matching.entities import default_catalog
from monitor.model import Article


def article(text: str, title: str = "") -> Article:
    return Article(id="a1", feed_id="feed", url="", title=title, text=text, author="")


def hits(query: str, text: str, title: str = "") -> list[tuple[str, str]] | None:
    """(field, text hit) of each hit, or None when the query does not match."""
    item = article(text, title)
    found = match_article(query, item)
    if found is None:
        return None
    fields = {"title": item.title, "text": item.text}
    return [(h.field, fields[h.field][h.start : h.end]) for h in found]


CASES = [
    # (query, text, the entity hits, or None for no match)
    ("@Sudan", "South Sudan's army", None),
    ('@"South Sudan"', "South Sudan's army", [("text", "South Sudan")]),
    ("@Sudan", "Sudan and South Sudan", [("text", "Sudan")]),
    ("@Sudan", "SOUTH SUDAN CLASHES", None),  # the shadow's case rule: any case
    ("@Sudan", "the Republic of South Sudan", None),
    ("@Guinea", "Papua New Guinea", None),
    ("@Guinea", "Equatorial Guinea and Guinea-Bissau", None),
    ("@Guinea", "Guinea's junta", [("text", "Guinea")]),
    ('@"Papua New Guinea"', "Papua New Guinea", [("text", "Papua New Guinea")]),
    ("@Ireland", "Northern Ireland", None),
    ("@Ireland", "Ireland", [("text", "Ireland")]),
    ("@Ireland", "Northern Ireland and Ireland", [("text", "Ireland")]),
    ('@"Northern Ireland"', "Northern Ireland", [("text", "Northern Ireland")]),
    ("@Cyprus", "Northern Cyprus", None),
    ("@Spain", "Port of Spain", None),
    ("@Spain", "Spain", [("text", "Spain")]),
    # Organizations keep every occurrence: the UN Security Council is the UN's.
    ("@UN", "UN Security Council", [("text", "UN")]),
]


@pytest.mark.parametrize(("query", "text", "expected"), CASES)
def test_shadowed_aliases_do_not_count(
    query: str, text: str, expected: list[tuple[str, str]] | None
) -> None:
    assert hits(query, text) == expected


def test_a_shadow_in_the_title_leaves_the_text_alone() -> None:
    assert hits("@Sudan", "Sudan said", title="South Sudan") == [("text", "Sudan")]
    assert hits("@Sudan", "South Sudan said", title="South Sudan") is None


def test_near_does_not_see_a_shadowed_occurrence() -> None:
    assert hits("@Sudan NEAR/3 army", "South Sudan army") is None
    assert hits("@Sudan NEAR/3 army", "Sudan army") == [("text", "Sudan"), ("text", "army")]
    # Sudan is in the text, but only inside South Sudan near the army.
    assert hits("@Sudan NEAR/3 army", "Sudan talks. In South Sudan army units moved") is None


def test_shadowed_occurrences_are_no_hits_of_a_matching_rule() -> None:
    found = hits("@Sudan AND army", "South Sudan army; Sudan mediates")
    assert found == [("text", "army"), ("text", "Sudan")]


def test_the_index_fetches_the_rule_and_evaluation_rejects_it() -> None:
    rules = compile_rules(
        [RuleSpec("sudan", "@Sudan"), RuleSpec("south", '@"South Sudan"')],
        default_catalog(),
    )
    south = article("South Sudan's army")
    # The presearch query of @Sudan holds the key "sudan": the rule is fetched ...
    assert rules.fetched_ids(south) == ["sudan", "south"]
    # ... and evaluates to no match.
    assert [m.rule_id for m in rules.match(south)] == ["south"]
    assert [m.rule_id for m in rules.match_all(south)] == ["south"]
    both = article("Sudan and South Sudan")
    assert [m.rule_id for m in rules.match(both)] == ["sudan", "south"]
    [sudan, _] = rules.match(both)
    assert [(h.term, h.start, h.end) for h in sudan.hits] == [("@Sudan", 0, 5)]


def test_explain_says_what_was_not_counted() -> None:
    assert explain(parse_query("@Sudan"), article("South Sudan's army")) == (
        "✗ @Sudan (not counted: ×1 inside South Sudan)"
    )
    assert explain(parse_query("@Sudan"), article("Sudan and South Sudan")) == (
        "✓ @Sudan ×1 (Sudan ×1; not counted: ×1 inside South Sudan)"
    )
    assert explain(parse_query("@Sudan NEAR/3 army"), article("South Sudan army")) == (
        "✗ NEAR/3\n  ✗ @Sudan (not counted: ×1 inside South Sudan)\n  ✓ army ×1"
    )
    assert explain(parse_query("@Ireland"), article("Ireland")) == "✓ @Ireland ×1 (Ireland ×1)"


# --- catalogs without shadows (the engine needs only .get) -------------------------------------


@dataclass(frozen=True)
class Alias:
    text: str
    case_sensitive: bool = False


@dataclass(frozen=True)
class Place:
    key: str
    aliases: tuple[Alias, ...]
    kind: str = "country"


class GetOnly:
    """A catalog with ``get`` and no ``shadows``: nothing is shadowed."""

    def get(self, name: str) -> Place | None:
        return {"sudan": Place("Sudan", (Alias("Sudan"),))}.get(name.casefold())


class WithShadows(GetOnly):
    def shadows(self, entity: Place) -> tuple[Alias, ...]:
        return (Alias("South Sudan"),)


def test_a_catalog_without_shadows_shadows_nothing() -> None:
    assert match_article("@Sudan", article("South Sudan"), GetOnly()) is not None


def test_a_stub_catalog_with_shadows_is_followed_for_places_only() -> None:
    assert match_article("@Sudan", article("South Sudan"), WithShadows()) is None
    assert match_article("@Sudan", article("Sudan, South Sudan"), WithShadows()) is not None

    class Organizations(WithShadows):
        def get(self, name: str) -> Place | None:
            found = super().get(name)
            return None if found is None else Place(found.key, found.aliases, "organization")

    assert match_article("@Sudan", article("South Sudan"), Organizations()) is not None
