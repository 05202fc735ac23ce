"""The query language: parse trees, canonical text, syntax errors and lint warnings."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QuerySyntaxError
from monitor.matching import And, Node, Not, Or, Phrase, Term, lint_query, parse_query, render
from monitor.matching.ast import OPERATORS, is_near

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
        ("Iran AND", 8, "expected a term, phrase or '(' after AND"),
        ("Iran OR", 7, "expected a term, phrase or '(' after OR"),
        ("Iran AND OR Russia", 9, "expected a term, phrase or '(' after AND"),
        ("a OR (b AND", 11, "expected a term, phrase or '(' after AND"),
        ("NOT", 3, "expected a term, phrase or '(' after NOT"),
        ("a AND )", 6, "expected a term, phrase or '(' after AND"),
        ("AND Iran", 0, "expected a term, phrase or '(' before AND"),
        ("(OR a)", 1, "expected a term, phrase or '(' before OR"),
        ("Iran -", 5, "expected a term, phrase or '(' right after '-'"),
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
        ("drone*", 5, "wildcards (*) are not supported yet"),
        ("@Iran", 0, "entity queries (@) are not supported yet"),
        ("Iran NEAR/10 drones", 5, "NEAR is not supported yet"),
        ("a NEAR b", 2, "NEAR is not supported yet"),
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
        (
            "title:Iran",
            [
                "'title:Iran' is matched as the words 'title iran'; "
                "field queries (title:...) are not supported yet"
            ],
        ),
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
_leaves = st.one_of(st.builds(Term, _term_texts), st.builds(Phrase.of, _phrase_texts))
_trees: st.SearchStrategy[Node] = st.recursive(
    _leaves,
    lambda kids: st.one_of(
        st.builds(Not, kids),
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: And(tuple(xs))),
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=12,
)


@PROPERTY
@given(_trees)
def test_render_parse_round_trip(tree: Node) -> None:
    assert parse_query(render(tree)) == tree


_query_pieces = st.sampled_from(
    ["Iran", "and", "AND", "OR", "NOT", "NEAR", "(", ")", '"', "-", "*", "@", " ", "é", "'s", ":"]
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
