"""The rendering every channel shares: snippets, cleaning, labels, safe URLs and the
story's other outlets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.delivery.render import (
    clean,
    join_within,
    other_outlets,
    published_label,
    safe_url,
    snippet,
    snippet_of,
)
from monitor.model import Coverage, Hit
from tests.delivery.support import covered
from tests.factories import make_alert, make_article


def test_snippet_centres_on_the_first_text_hit_and_marks_cuts() -> None:
    text = "Filler words here. " * 30 + "Then Iran announced drones. " + "More filler. " * 30
    alert = make_alert(article=make_article(text=text))
    out = snippet(alert, width=120)
    assert len(out) <= 120
    assert "Iran announced drones" in out
    assert out.startswith("…")
    assert out.endswith("…")


def test_snippet_cuts_between_words() -> None:
    text = "alpha beta gamma delta " * 40 + "Iran " + "epsilon zeta eta theta " * 40
    out = snippet(make_alert(article=make_article(text=text)), width=100)
    words = set(text.split())
    assert all(word in words for word in out.strip("…").split())


def test_snippet_without_text_hit_starts_at_the_beginning() -> None:
    text = "The ministry published a report. " * 20
    alert = make_alert(article=make_article(title="Iran Russia drones", text=text))
    assert all(h.field == "title" for h in alert.hits)
    out = snippet(alert, width=80)
    assert out.startswith("The ministry published a report.")
    assert out.endswith("…")
    assert len(out) <= 80


def test_short_text_is_the_whole_snippet_whitespace_collapsed() -> None:
    alert = make_alert(article=make_article(text="  Iran\n\nand  Russia\tdrones  "))
    assert snippet(alert) == "Iran and Russia drones"


def test_snippet_of_splits_out_matched_terms() -> None:
    parts = snippet_of(make_alert(), width=300).parts
    marked = [text for text, hit in parts if hit]
    assert marked[:3] == ["drones", "Iran", "Russia"]  # text order, as they appear in TEXT
    rendered = snippet_of(make_alert()).render(mark=lambda s: f"[{s}]")
    assert "[Iran] will supply designs while [Russia] builds" in rendered


def test_snippet_ignores_hits_outside_the_text() -> None:
    bad = (Hit("text", 5, 10_000, "x"), Hit("text", -3, 2, "y"), Hit("text", 9, 4, "z"))
    alert = make_alert(hits=bad)
    assert all(not hit for _, hit in snippet_of(alert).parts)
    assert snippet(alert).startswith("Tehran and Moscow")


@given(
    words=st.lists(
        st.sampled_from(["Iran", "and", "the", "drones", "\n", "  ", "x" * 30, "é", "\x1b"]),
        max_size=300,
    ),
    width=st.integers(min_value=60, max_value=400),
)
def test_snippet_is_bounded_and_shows_the_first_hit(words: list[str], width: int) -> None:
    alert = make_alert(article=make_article(text=" ".join(words)), terms=("Iran", "drones"))
    excerpt = snippet_of(alert, width)
    rendered = excerpt.render()
    assert len(rendered) <= width
    assert "\x1b" not in rendered and "\n" not in rendered
    if any(h.field == "text" for h in alert.hits):
        assert any(hit for _, hit in excerpt.parts)


def test_clean_removes_controls_and_bidi_overrides() -> None:
    assert clean("a\x1b[31mred\x00 \u202eevil\u202c\r\nend") == "a[31mred evil end"


def test_published_label() -> None:
    assert published_label(make_alert()) == "2026-01-05 14:03 UTC"
    assert published_label(make_alert(article=make_article(published=None))) == "unknown"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.org/a?b=c", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("https://exa mple.org/", False),
        ("//example.org/x", False),
        ("", False),
    ],
)
def test_safe_url(url: str, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


# --- story coverage: the other outlets of an alert's story (Alert.also_in) -----------------


def test_other_outlets_one_per_feed_without_the_alerts_own() -> None:
    alert = covered(
        Coverage("bbc-world", "https://bbc.example/1", "first"),
        Coverage("aljazeera", "https://aljazeera.example/2", "another copy from its own feed"),
        Coverage("bbc-world", "https://bbc.example/3", "second bbc copy"),
        Coverage("reuters\n", "javascript:alert(1)", "r"),
        Coverage(" \x00", "https://blank.example/", "no name"),
    )
    assert other_outlets(alert) == [
        Coverage("bbc-world", "https://bbc.example/1", "first"),
        Coverage("reuters", "", "r"),
    ]
    assert other_outlets(make_alert()) == []


@given(
    st.lists(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=3), max_size=40),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=12),
)
def test_join_within_never_exceeds_its_budget(
    entries: list[list[str]], budget: int, shown: int
) -> None:
    out = join_within(entries, budget, max_shown=shown)
    assert len(out) <= budget
    if entries and budget >= 20:
        assert out  # at least the count of what was left out


def test_join_within_prefers_the_first_form_that_fits_and_counts_the_rest() -> None:
    entries = [("<long link|a>", "a"), ("b",), ("c",), ("d",)]
    assert join_within(entries, 100, max_shown=10) == "<long link|a>, b, c, d"
    assert join_within(entries, 100, max_shown=2) == "<long link|a>, b (+2 more)"
    assert join_within(entries, 16, max_shown=10) == "a, b (+2 more)"
    assert join_within(entries, 10, max_shown=10) == "(+4 more)"
    assert join_within([], 100, max_shown=10) == ""
