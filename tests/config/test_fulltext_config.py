"""A feed's ``fulltext`` keys in the watch config: values, defaults, errors at their line,
and warnings about keys their ``fulltext`` ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from tests.config.test_validation import errors_in, settings_for, write


def feeds_of(tmp_path: Path, text: str) -> tuple[list[FeedConfig], list[str]]:
    write(tmp_path, "a.yaml", text)
    loaded = load_config(settings_for(tmp_path), env={})
    warnings = [
        str(w).removeprefix(f"{tmp_path}/") for w in loaded.warnings if ": feed '" in str(w)
    ]
    return list(loaded.config.feeds), warnings


def test_values_and_defaults(tmp_path: Path) -> None:
    feeds, warnings = feeds_of(
        tmp_path,
        """
        feeds:
          - {id: a, url: "https://a.example/rss"}
          - {id: b, url: "https://b.example/rss", fulltext: true}
          - {id: c, url: "https://c.example/rss", fulltext: auto, fulltext_min_chars: 300}
          - {id: d, url: "https://d.example/rss", fulltext: yes, fulltext_max_per_poll: 3}
          - {id: e, url: "https://e.example/rss", fulltext: Auto}
        """,
    )
    got = [(f.fulltext, f.fulltext_min_chars, f.fulltext_max_per_poll) for f in feeds]
    assert got == [
        (False, 500, 10),
        (True, 500, 10),
        ("auto", 300, 10),
        (True, 500, 3),
        ("auto", 500, 10),
    ]
    assert warnings == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fulltext: always", "'fulltext': must be true, false or auto, got 'always'"),
        ("fulltext: 1", "'fulltext': must be true, false or auto, got a number"),
        ("fulltext:", "'fulltext': must be true, false or auto, got nothing"),
        (
            "fulltext_min_chars: 0",
            "'fulltext_min_chars': Input should be greater than or equal to 1",
        ),
        (
            "fulltext_max_per_poll: 0",
            "'fulltext_max_per_poll': Input should be greater than or equal to 1",
        ),
        (
            "fulltext_max_per_poll: 1000",
            "'fulltext_max_per_poll': Input should be less than or equal to 100",
        ),
        ("fulltxt: true", "unknown key 'fulltxt' in feed 'a'; did you mean 'fulltext'?"),
    ],
)
def test_bad_values_are_errors_at_their_line(tmp_path: Path, line: str, message: str) -> None:
    errors = errors_in(
        tmp_path,
        f"""
        feeds:
          - id: a
            url: https://a.example/rss
            {line}
        """,
    )
    assert errors == [f"a.yaml:4: {message}"]


def test_keys_the_feeds_fulltext_ignores_are_warned_about(tmp_path: Path) -> None:
    _, warnings = feeds_of(
        tmp_path,
        """
        feeds:
          - id: a
            url: https://a.example/rss
            fulltext_min_chars: 300
            fulltext_max_per_poll: 5
          - id: b
            url: https://b.example/rss
            fulltext: true
            fulltext_min_chars: 300
          - id: c
            url: https://c.example/rss
            fulltext: auto
            fulltext_min_chars: 300
            fulltext_max_per_poll: 5
        """,
    )
    assert warnings == [
        "a.yaml:4: feed 'a': fulltext_min_chars only applies with fulltext: auto",
        "a.yaml:5: feed 'a': fulltext_max_per_poll has no effect without fulltext",
        "a.yaml:9: feed 'b': fulltext_min_chars only applies with fulltext: auto",
    ]
