"""Adding a feed entry to a config file's text (``monitor.config.feed_append``): every
layout a hand-written file may have, the rest of the file kept byte for byte."""

from __future__ import annotations

import pytest
import yaml

from monitor.config.feed_append import AppendError, append_feed, entry_lines, scalar

ENTRY = {"id": "new", "name": "Site: news # 1", "url": "https://x.example/rss?a=1&b=2"}
ITEM = (
    '- id: new\n  name: "Site: news # 1"\n  url: https://x.example/rss?a=1&b=2\n'
    "  # site: https://x.example/\n"
)


def indented(prefix: str, newline: str = "\n") -> str:
    return "".join(prefix + line + newline for line in ITEM.splitlines())


CASES = [
    ("empty file", "", "feeds:\n" + indented("  ")),
    ("comments only", "# mine\n", "# mine\n\nfeeds:\n" + indented("  ")),
    (
        "no feeds key, no final newline",
        "rules:\n  - {id: r, query: a}",
        "rules:\n  - {id: r, query: a}\n\nfeeds:\n" + indented("  "),
    ),
    ("feeds: with nothing", "feeds:\nrules: []\n", "feeds:\n" + indented("  ") + "rules: []\n"),
    (
        "feeds: [] with a comment",
        "feeds: []  # none yet\nrules: []\n",
        "feeds:  # none yet\n" + indented("  ") + "rules: []\n",
    ),
    (
        "block list, comments and keys after it",
        "feeds:\n  - id: a  # first\n    url: https://a/\n\n  # - id: off\n\n# rules\nrules: []\n",
        "feeds:\n  - id: a  # first\n    url: https://a/\n"
        + indented("  ")
        + "\n  # - id: off\n\n# rules\nrules: []\n",
    ),
    (
        "items at column 0",
        "feeds:\n- id: a\n  url: https://a/\n",
        "feeds:\n- id: a\n  url: https://a/\n" + indented(""),
    ),
    (
        "a block scalar last",
        "feeds:\n  - id: a\n    url: https://a/\n    name: |\n      two\n      lines\nrules: []\n",
        "feeds:\n  - id: a\n    url: https://a/\n    name: |\n      two\n      lines\n"
        + indented("  ")
        + "rules: []\n",
    ),
    (
        "CRLF line ends",
        "feeds:\r\n  - id: a\r\n    url: https://a/\r\n",
        "feeds:\r\n  - id: a\r\n    url: https://a/\r\n" + indented("  ", "\r\n"),
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_entry_lands_in_the_feeds_list(name: str, text: str, expected: str) -> None:
    lines = entry_lines(ENTRY, {"site": "https://x.example/"})
    assert append_feed(text, lines, ENTRY) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [{id: a, url: 'https://a/'}]\n", "one-line [...] list"),
        ("feeds: ~\n", "is not a list"),
        ("feeds: {a: 1}\n", "is not a list"),
        ("- a\n", "not a mapping"),
        ("feeds: [\n", "not valid YAML"),
    ],
)
def test_files_that_cannot_take_an_entry(text: str, message: str) -> None:
    with pytest.raises(AppendError, match=message.replace("[", r"\[").replace(".", r"\.")):
        append_feed(text, entry_lines(ENTRY), ENTRY)


@pytest.mark.parametrize(
    "value", ["yes", "2024", "null", "a: b", "x # y", " padded", "it's", 'say "hi"', "é ü"]
)
def test_scalars_read_back_as_the_same_string(value: str) -> None:
    assert yaml.safe_load(f"key: {scalar(value)}") == {"key": value}
