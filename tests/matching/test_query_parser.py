"""The query language: parse trees, canonical text, syntax errors and lint warnings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.matching import (
    And,
    Case,
    Entity,
    Field,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    lint_query,
    parse_query,
    render,
)
from monitor.matching.ast import OPERATORS, is_near
from tests.strategies import query_trees

# Deterministic examples: a property failure is then a bug in the code, never a lucky draw.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)

a, b, c = Term("a"), Term("b"), Term("c")
iran, russia = Term("Iran"), Term("Russia")


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("Iran", iran),
        ('"White House"', Phrase(("white", "house"), "White House")),
        ('"Iran"', Phrase(("iran",), "Iran")),
        ("Iran AND Russia", And((iran, russia))),
        ("Iran Russia", And((iran, russia))),  # side by side means AND
        ("Iran AND Russia AND drones", And((iran, russia, Term("drones")))),
        ("Iran OR Russia", Or((iran, russia))),
        ("NOT Iran", Not(iran)),
        ("-Iran", Not(iran)),
        ("Iran -Russia", And((iran, Not(russia)))),
        ('-"White House"', Not(Phrase(("white", "house"), "White House"))),
        ("-(a OR b)", Not(Or((a, b)))),
        ("NOT NOT a", Not(Not(a))),
        # Precedence: NOT > AND > OR.
        ("a OR b AND c", Or((a, And((b, c))))),
        ("a AND b OR c", Or((And((a, b)), c))),
        ("NOT a AND b", And((Not(a), b))),
        ("NOT a OR b", Or((Not(a), b))),
        ("NOT (a OR b)", Not(Or((a, b)))),
        ("(a OR b) c", And((Or((a, b)), c))),
        ("(a)", a),
        # Parentheses keep their group: only a chain written at one level is flattened.
        ("a AND (b AND c)", And((a, And((b, c))))),
        # Operators are upper case only; in any other case they are words.
        ("a and b", And((a, Term("and"), b))),
        ("a or not b", And((a, Term("or"), Term("not"), b))),
        ("a Or b", And((a, Term("Or"), b))),
        ("ANDROID", Term("ANDROID")),
        ("near", Term("near")),
        # A bare word holding several words is the phrase of them.
        ("Iran's", Phrase(("iran", "s"), "Iran's")),
        ("e-mail", Phrase(("e", "mail"), "e-mail")),
        # Punctuation around a word is kept for display and ignored for matching.
        ("OPEC+", Term("OPEC+")),
        # Inside quotes, reserved characters and operators are literal.
        ('"drone* AND"', Phrase(("drone", "and"), "drone* AND")),
        ('a"b"', And((a, Phrase(("b",), "b")))),
        ("  a\tOR\n b  ", Or((a, b))),
        ("Téhéran", Term("Téhéran")),
        # Wildcards, case:, entities.
        ("drone*", Prefix("drone*")),
        ("Dro*", Prefix("Dro*")),
        ('"drone*"', Phrase(("drone",), "drone*")),  # quoted: a literal word
        ("case:US", Case("US")),
        ('case:"WHO"', Case("WHO")),
        ('case:"U.S. Army"', Case("U.S. Army")),
        ("@Iran", Entity("Iran")),
        ('@"United States"', Entity("United States")),
        ("e@mail", Phrase(("e", "mail"), "e@mail")),  # an @ inside a word separates words
        ("10:30", Phrase(("10", "30"), "10:30")),  # not a field name: words
        # NEAR: binds tighter than AND, looser than NOT; either side may be an OR-group.
        ("a NEAR/5 b", Near(a, b, 5)),
        ("a NEAR/5 b c", And((Near(a, b, 5), c))),
        ("c a NEAR/5 b", And((c, Near(a, b, 5)))),
        ("a OR b NEAR/2 c", Or((a, Near(b, c, 2)))),
        ("(a OR b) NEAR/2 c", Near(Or((a, b)), c, 2)),
        ("NOT (a NEAR/2 b)", Not(Near(a, b, 2))),
        ('@Iran NEAR/10 "drone strike"', Near(Entity("Iran"), Phrase.of("drone strike"), 10)),
        ("title:a NEAR/3 bbb*", Near(Field("title", a), Prefix("bbb*"), 3)),
        # Fields apply to the operand right after them, a group included.
        ("title:Iran", Field("title", iran)),
        ("title:(Iran AND drones)", Field("title", And((iran, Term("drones"))))),
        ("-title:opinion", Not(Field("title", Term("opinion")))),
        ("title:text:a", Field("title", Field("text", a))),
        ('url:"bbc.co.uk"', Field("url", Phrase.of("bbc.co.uk"))),
        (
            "source:bbc author:smith",
            And((Field("source", Term("bbc")), Field("author", Term("smith")))),
        ),
        ("title:@Iran", Field("title", Entity("Iran"))),
        ("title:case:US", Field("title", Case("US"))),
    ],
)
def test_parse(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


def test_term_keeps_its_text_and_folds_its_word() -> None:
    term = parse_query("Téhéran")
    assert isinstance(term, Term)
    assert (term.text, term.word) == ("Téhéran", "teheran")


def test_precedence_equals_explicit_grouping() -> None:
    assert parse_query("a OR b AND c") == parse_query("a OR (b AND c)")
    assert parse_query("a OR b AND c") != parse_query("(a OR b) AND c")


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("a b", "a AND b"),
        ("-a", "NOT a"),
        ("a OR (b AND c)", "a OR b AND c"),
        ("(a OR b) AND c", "(a OR b) AND c"),
        ("NOT (a AND b)", "NOT (a AND b)"),
        ("NOT a AND b", "NOT a AND b"),
        ("a AND (b AND c)", "a AND (b AND c)"),
        ("a OR (b OR c)", "a OR (b OR c)"),
        ("NOT NOT a", "NOT NOT a"),
        ("((a))", "a"),
        ("Iran's", '"Iran\'s"'),
        ('"White House" -x', '"White House" AND NOT x'),
    ],
)
def test_render(query: str, canonical: str) -> None:
    tree = parse_query(query)
    assert render(tree) == canonical
    assert parse_query(canonical) == tree


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("Iran AND", 8, "expected a term, phrase, wildcard, entity or '(' after AND"),
        ("Iran OR", 7, "expected a term, phrase, wildcard, entity or '(' after OR"),
        ("Iran AND OR Russia", 9, "expected a term, phrase, wildcard, entity or '(' after AND"),
        ("a OR (b AND", 11, "expected a term, phrase, wildcard, entity or '(' after AND"),
        ("NOT", 3, "expected a term, phrase, wildcard, entity or '(' after NOT"),
        ("a AND )", 6, "expected a term, phrase, wildcard, entity or '(' after AND"),
        ("AND Iran", 0, "expected a term, phrase, wildcard, entity or '(' before AND"),
        ("(OR a)", 1, "expected a term, phrase, wildcard, entity or '(' before OR"),
        ("Iran -", 5, "expected a term, phrase, wildcard, entity or '(' right after '-'"),
        ("(Iran", 0, "unclosed '('"),
        ("a (b (c)", 2, "unclosed '('"),
        ("Iran)", 4, "unbalanced ')'"),
        ("(a OR b))", 8, "unbalanced ')'"),
        (") a", 0, "unbalanced ')'"),
        ("()", 1, "empty parentheses"),
        ('"open', 0, "unclosed quote"),
        ('Iran "open', 5, "unclosed quote"),
        ('""', 0, "empty phrase"),
        ('"..."', 0, "empty phrase"),
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("+++", 0, "'+++' has no letters or digits to match"),
        # Wildcards: at least three letters of one word, the star only at the end.
        ("dr*", 2, "a wildcard needs at least 3 letters of one word before *"),
        ("*", 0, "a wildcard needs at least 3 letters"),
        ("e-ma*", 4, "a wildcard needs at least 3 letters of one word before *"),
        ("dro*ne", 3, "a wildcard * may only end a word"),
        # NEAR needs its distance and operands it can measure.
        ("a NEAR b", 2, "expected NEAR/n with n from 1 to 1000"),
        ("a NEAR/0 b", 2, "expected NEAR/n with n from 1 to 1000"),
        ("a NEAR/x b", 2, "expected NEAR/n"),
        ("a NEAR/5", 8, "expected a term, phrase, wildcard, entity or '(' after NEAR"),
        ("NEAR/5 a", 0, "expected a term, phrase, wildcard, entity or '(' before NEAR"),
        ("(a AND b) NEAR/5 c", 0, "NEAR operands may be terms, phrases, wildcards, entities"),
        ("a NEAR/5 -b", 9, "NEAR operands may be"),
        ("NOT a NEAR/5 b", 0, "NEAR operands may be"),
        ("a NEAR/5 b NEAR/5 c", 11, "NEAR operands may be terms, phrases, wildcards, entities"),
        # Fields, case: and entities take their operand right after the colon or the @.
        ("title: Iran", 6, "expected a term, phrase, wildcard, entity or '(' right after title:"),
        ("title:", 6, "expected a term, phrase, wildcard, entity or '(' right after title:"),
        ("(title:)", 7, "expected a term, phrase, wildcard, entity or '(' right after title:"),
        ("title:-x", 6, "expected a term, phrase, wildcard, entity or '(' right after title:"),
        ("case:", 5, "expected a word or a quoted phrase right after case:"),
        ("case:drone*", 5, "expected a word or a quoted phrase right after case:"),
        ("case:(a)", 5, "expected a word or a quoted phrase right after case:"),
        ("@", 1, "expected an entity name"),
        ("@ Iran", 1, "expected an entity name"),
        ("@(Iran)", 1, "expected an entity name"),
        ('@""', 1, "expected an entity name"),
        ("(" * 101 + "a" + ")" * 101, 100, "query nested too deeply"),
        ("NOT " * 101 + "a", 400, "query nested too deeply"),
    ],
)
def test_syntax_errors(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert info.value.message.startswith(message)
    assert info.value.position == position
    assert info.value.query == query


def test_error_pretty_points_at_the_problem() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("Iran AND (Russia")
    assert info.value.pretty() == "unclosed '('\n  Iran AND (Russia\n           ^"


def test_deep_nesting_within_the_limit_parses() -> None:
    assert parse_query("(" * 100 + "a" + ")" * 100) == a


@pytest.mark.parametrize(
    ("query", "warnings"),
    [
        ("Iran AND Russia", []),
        (
            "iran and russia",
            ["lowercase 'and' is matched as a word; write AND for the operator"],
        ),
        (
            "a Or b not c",
            [
                "mixed-case 'Or' is matched as a word; write OR for the operator",
                "lowercase 'not' is matched as a word; write NOT for the operator",
            ],
        ),
        ('"bread and butter"', []),  # quoted: plainly meant as words
        ("10:30 Iran", []),
        ("title:Iran", []),
        (
            "Title:Iran",
            [
                "'Title:Iran' is matched as the words 'title iran'; 'Title' is not a field "
                "(fields: title, text, author, url, source, in lower case)"
            ],
        ),
        ("near Iran", []),  # "near" is an everyday word; NEAR needs its /n anyway
    ],
)
def test_lint(query: str, warnings: list[str]) -> None:
    assert lint_query(query) == warnings


@pytest.mark.parametrize("query", ["NOT Iran", "-Iran", "a OR NOT b", "NOT (a AND b)"])
def test_lint_flags_queries_satisfied_by_negation_alone(query: str) -> None:
    assert any("satisfied by a NOT alone" in w for w in lint_query(query))


@pytest.mark.parametrize("query", ["a -b", "NOT NOT a", "a AND (b OR NOT c)"])
def test_lint_accepts_negation_next_to_a_required_term(query: str) -> None:
    assert lint_query(query) == []


def test_lint_raises_on_invalid_query() -> None:
    with pytest.raises(QuerySyntaxError):
        lint_query("Iran AND")


# --- properties ------------------------------------------------------------------------------

_LETTERS = "abcdeiknorsxyzAIRNDOTéÉàçßø"
_term_texts = (
    st.tuples(st.text(_LETTERS, min_size=1, max_size=8), st.sampled_from(["", "+", ",", "."]))
    .map("".join)
    .filter(lambda t: t not in OPERATORS and not is_near(t))
)
_phrase_texts = st.text(_LETTERS + " '-*()", min_size=1, max_size=20).filter(
    lambda t: any(ch.isalpha() for ch in t)
)
_prefix_texts = st.text("abcdeéßAIR", min_size=3, max_size=6).map(lambda t: t + "*")
_leaves = st.one_of(
    st.builds(Term, _term_texts),
    st.builds(Phrase.of, _phrase_texts),
    st.builds(Prefix, _prefix_texts),
    st.builds(Case, st.one_of(_term_texts, _phrase_texts)),
    st.builds(Entity, st.one_of(_term_texts, _phrase_texts.map(str.strip)).filter(bool)),
)
_fields = st.sampled_from(["title", "text", "author", "url", "source"])
_trees = query_trees(_leaves, _fields, max_distance=1000, max_children=4, max_leaves=12)


@PROPERTY
@given(_trees)
def test_render_parse_round_trip(tree: Node) -> None:
    assert parse_query(render(tree)) == tree


_query_pieces = st.sampled_from(
    [
        *("Iran", "and", "AND", "OR", "NOT", "NEAR", "NEAR/3", "/", "(", ")", '"', "-", "*", "@"),
        *(" ", "é", "'s", ":", "title:", "case:", "url:", "drone*", "ab*", "@Iran", "9"),
    ]
)


@PROPERTY
@given(st.one_of(st.text(max_size=40), st.lists(_query_pieces, max_size=12).map("".join)))
def test_parser_raises_only_query_syntax_errors(query: str) -> None:
    try:
        tree = parse_query(query)
    except QuerySyntaxError as e:
        assert 0 <= e.position <= len(query)
        return
    # Whatever parses has a canonical text that parses to the same tree, and lints cleanly.
    assert parse_query(render(tree)) == tree
    assert isinstance(lint_query(query), list)


def test_lint_with_a_catalog_checks_entities() -> None:
    from monitor.matching import UnknownEntityError
    from tests.matching.test_rule_language import CATALOG

    assert lint_query("@Iran AND drones", CATALOG) == []
    with pytest.raises(UnknownEntityError) as info:
        lint_query('drones @"Middle Earth"', CATALOG)
    assert info.value.position == 7
    assert lint_query("@Atlantis") == []  # without a catalog, entities are not looked up
