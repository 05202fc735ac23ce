"""A feed's ``language`` key in the watch config: tags kept as their base code, errors at
their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config.load import load_config
from tests.config.test_validation import errors_in, settings_for, write


def test_tags_are_kept_as_their_base_code(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """
        feeds:
          - {id: a, url: "https://a.example/rss"}
          - {id: b, url: "https://b.example/rss", language: es}
          - {id: c, url: "https://c.example/rss", language: pt-BR}
          - {id: d, url: "https://d.example/rss", language: DE}
          - {id: e, url: "https://e.example/rss", language: iw}
        """,
    )
    feeds = load_config(settings_for(tmp_path), env={}).config.feeds
    assert [f.language for f in feeds] == [None, "es", "pt", "de", "he"]


@pytest.mark.parametrize(
    ("line", "shown"),
    [("language: spanish", "'spanish'"), ("language: und", "'und'"), ("language: 12", "a int")],
)
def test_a_value_that_names_no_language_is_an_error_at_its_line(
    tmp_path: Path, line: str, shown: str
) -> None:
    errors = errors_in(
        tmp_path,
        f"""
        feeds:
          - id: a
            url: https://a.example/rss
            {line}
        """,
    )
    assert errors == [
        f"a.yaml:4: 'language': must be a language tag such as es, fr or pt-BR (ISO 639), "
        f"got {shown}"
    ]
