"""``news-monitor feeds add URL`` end to end, against a real loopback HTTP server.

The site is served locally: a real web page from the shared corpus (Mark Pilgrim's
"dive into mark" home page, whose RSS autodiscovery link is pointed at the local server;
the W3C Feed Validator's test-case index, a page that names no feed) and a real feed
(the feed-rs corpus's BBC "In Our Time" RSS). Each run writes into a rules directory
that already holds feeds, comments and rules, and the result must load with the loader
``news-monitor check`` uses.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.cli.feeds_add import Ask, add_feed
from monitor.cli.main import main
from monitor.config.load import load_config
from tests.factories import make_settings

EXISTING = """\
# Feeds we read every day.
feeds:
  - id: reuters   # the wire
    url: https://reuters.example/rss

  # - id: paused
  #   url: https://paused.example/rss

# Rules come last.
rules:
  - id: drones
    query: Iran AND drones
"""


@pytest.fixture
def feed_body(shared_data: Path) -> bytes:
    return (shared_data / "feeds/feed-rs/rss2/rss_2.0_bbc.xml").read_bytes()


@pytest.fixture
def page(shared_data: Path, httpserver: HTTPServer) -> bytes:
    """The corpus's dive-into-mark page, its RSS link pointed at the local server."""
    body = (shared_data / "feeds/feed-validator/testcases/rss/must/missing_rss2.xml").read_bytes()
    assert b'href="http://example.com/xml/rss.xml"' in body
    return body.replace(b"http://example.com/xml/rss.xml", b"/xml/rss.xml")


@pytest.fixture
def plain_page(shared_data: Path) -> bytes:
    return (shared_data / "feeds/feed-validator/testcases/atom/index.html").read_bytes()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "feeds.yaml").write_text(EXISTING)
    (directory / "channels.yaml").write_text("channels:\n  out: {type: console}\n")
    return directory


def add(
    rules: Path,
    url: str,
    *,
    ask: Ask | None = None,
    settings_overrides: dict[str, object] | None = None,
    **options: object,
) -> tuple[int, str, str]:
    args = argparse.Namespace(url=url, feed_id=None, output=None, pick=None)
    for name, value in options.items():
        setattr(args, name, value)
    out, err = io.StringIO(), io.StringIO()
    settings = make_settings(rules_dir=rules, **(settings_overrides or {}))
    code = add_feed(args, settings, out, err, ask=ask)
    return code, out.getvalue(), err.getvalue()


def feed_ids(rules: Path) -> list[str]:
    return [feed.id for feed in load_config(make_settings(rules_dir=rules)).config.feeds]


def test_a_page_with_a_feed_link_adds_that_feed(
    httpserver: HTTPServer, rules: Path, page: bytes, feed_body: bytes
) -> None:
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/xml/rss.xml").respond_with_data(
        feed_body, content_type="application/rss+xml"
    )
    code, out, err = add(rules, httpserver.url_for("/"))
    assert (code, err) == (0, "")
    feed_url = httpserver.url_for("/xml/rss.xml")
    assert out.splitlines() == [
        f"{httpserver.url_for('/')} is a web page; its feeds:",
        f"  1. RSS (RSS) {feed_url}",
        f"added feed 'in-our-time' ({feed_url}) to {rules / 'feeds.yaml'}",
    ]
    text = (rules / "feeds.yaml").read_text()
    # Appended after the last feed, before the commented-out one and the rules: the rest
    # of the file is exactly as it was.
    assert text == EXISTING.replace(
        "    url: https://reuters.example/rss\n",
        "    url: https://reuters.example/rss\n"
        "  - id: in-our-time\n"
        "    name: In Our Time\n"
        f"    url: {feed_url}\n"
        f"    # site: {httpserver.url_for('/')}\n",
    )
    assert feed_ids(rules) == ["reuters", "in-our-time"]


def test_the_address_of_a_feed_is_offered_as_it_is(
    httpserver: HTTPServer, rules: Path, feed_body: bytes
) -> None:
    httpserver.expect_request("/podcast.rss").respond_with_data(feed_body)
    url = httpserver.url_for("/podcast.rss")
    code, out, _ = add(rules, url, feed_id="bbc-iot")
    assert code == 0
    assert out.splitlines()[0] == f"{url} is a feed: In Our Time (RSS)"
    assert feed_ids(rules) == ["reuters", "bbc-iot"]
    assert "# site:" not in (rules / "feeds.yaml").read_text()


def test_a_page_naming_no_feed_is_searched_at_the_usual_paths(
    httpserver: HTTPServer, rules: Path, plain_page: bytes, feed_body: bytes
) -> None:
    httpserver.expect_request("/about/").respond_with_data(plain_page, content_type="text/html")
    httpserver.expect_request("/feed").respond_with_data(
        "", status=301, headers={"Location": "/feed.xml"}
    )
    httpserver.expect_request("/feed.xml").respond_with_data(feed_body)
    httpserver.expect_request("/rss").respond_with_data(feed_body)  # the same body again
    code, out, _ = add(rules, httpserver.url_for("/about/"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("it names no feed; found at the usual feed paths of its site:")
    assert lines[1:-1] == [f"  1. In Our Time (RSS) {httpserver.url_for('/feed')}"]
    assert feed_ids(rules) == ["reuters", "in-our-time"]


@pytest.fixture
def two_feeds(httpserver: HTTPServer, feed_body: bytes) -> str:
    links = (
        '<link rel="alternate" type="application/rss+xml" title="News" href="/news.xml">'
        '<link rel="alternate" type="application/atom+xml" title="Sport" href="/sport.xml">'
    )
    httpserver.expect_request("/").respond_with_data(
        f"<!DOCTYPE html><html><head>{links}</head><body>Home</body></html>",
        content_type="text/html",
    )
    for path in ("/news.xml", "/sport.xml"):
        httpserver.expect_request(path).respond_with_data(feed_body)
    return httpserver.url_for("/")


def test_with_several_feeds_the_first_is_taken_with_a_note(two_feeds: str, rules: Path) -> None:
    code, out, err = add(rules, two_feeds)
    assert code == 0
    assert "  1. News (RSS)" in out and "  2. Sport (Atom)" in out
    assert err == "note: 2 feeds found; adding the first (choose with --pick N)\n"
    assert "news.xml" in (rules / "feeds.yaml").read_text()


def test_pick_chooses_another(two_feeds: str, rules: Path) -> None:
    assert add(rules, two_feeds, pick=2)[0] == 0
    assert "sport.xml" in (rules / "feeds.yaml").read_text()
    code, _, err = add(rules, two_feeds, pick=3)
    assert code == 2 and "--pick 3: choose 1 to 2" in err


def test_on_a_terminal_the_user_is_asked(two_feeds: str, rules: Path) -> None:
    answers = iter(["7\n", "x\n", "2\n"])
    questions: list[str] = []

    def ask(question: str) -> str | None:
        questions.append(question)
        return next(answers)

    code, _, err = add(rules, two_feeds, ask=ask)
    assert code == 0
    assert questions == ["add which feed? [1-2, Enter for 1] "] * 3
    assert err.count("a number from 1 to 2, please") == 2
    assert "sport.xml" in (rules / "feeds.yaml").read_text()
    before = (rules / "feeds.yaml").read_text()
    code, _, err = add(rules, two_feeds, ask=lambda _: None)  # end of input
    assert code == 2 and "no feed chosen; nothing written" in err
    assert (rules / "feeds.yaml").read_text() == before


def test_nothing_found_exits_1_and_writes_nothing(
    httpserver: HTTPServer, rules: Path, plain_page: bytes
) -> None:
    httpserver.expect_request("/").respond_with_data(plain_page, content_type="text/html")
    code, _, err = add(rules, httpserver.url_for("/"))
    assert code == 1
    assert "a web page that names no feed" in err and "/feed, /rss, /rss.xml" in err
    assert (rules / "feeds.yaml").read_text() == EXISTING


def test_an_address_that_fails_exits_1(httpserver: HTTPServer, rules: Path) -> None:
    code, _, err = add(rules, httpserver.url_for("/gone"))
    assert code == 1
    assert err == f"error: {httpserver.url_for('/gone')}: HTTP 500 INTERNAL SERVER ERROR\n"
    httpserver.expect_request("/png").respond_with_data(b"\x89PNG\r\n\x1a\n" + bytes(64))
    code, _, err = add(rules, httpserver.url_for("/png"))
    assert code == 1 and "neither a feed nor a web page" in err


def test_a_chosen_link_that_is_no_feed_exits_1(httpserver: HTTPServer, rules: Path) -> None:
    httpserver.expect_request("/").respond_with_data(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/broken">'
        "</head></html>",
        content_type="text/html",
    )
    code, _, err = add(rules, httpserver.url_for("/"))
    assert code == 1
    assert f"{httpserver.url_for('/broken')} is not a usable feed: HTTP 500" in err
    assert (rules / "feeds.yaml").read_text() == EXISTING


def test_the_address_policy_applies(httpserver: HTTPServer, rules: Path) -> None:
    code, _, err = add(
        rules, httpserver.url_for("/"), settings_overrides={"allow_private_addresses": False}
    )
    assert code == 1
    assert "refused: localhost is 127.0.0.1, a loopback address" in err
    assert httpserver.log == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "ftp://files.example/rss"}, "is not a site or feed address"),
        ({"feed_id": "Reuters"}, "--id Reuters: a feed in"),
        ({"feed_id": "two words"}, "--id 'two words': an id is letters"),
        ({"output": "feeds.txt"}, "the file must end in .yaml or .yml"),
        ({"output": "missing/feeds.yaml"}, "does not exist"),
        ({"output": "flow.yaml"}, "is a one-line [...] list; add the feed by hand"),
    ],
)
def test_usage_errors_exit_2_before_any_request(
    httpserver: HTTPServer, rules: Path, options: dict[str, str], message: str
) -> None:
    (rules / "flow.yaml").write_text("feeds: [{id: a, url: 'https://a.example/'}]\n")
    if "output" in options:
        options = {**options, "output": rules / options["output"]}  # type: ignore[dict-item]
    url = options.pop("url", httpserver.url_for("/"))
    code, _, err = add(rules, url, **options)
    assert code == 2
    assert message in err
    assert httpserver.log == []
    assert (rules / "feeds.yaml").read_text() == EXISTING


def test_a_feed_already_configured_is_not_added_twice(
    httpserver: HTTPServer, rules: Path, feed_body: bytes
) -> None:
    httpserver.expect_request("/rss").respond_with_data(feed_body)
    assert add(rules, httpserver.url_for("/rss"))[0] == 0
    after_first = (rules / "feeds.yaml").read_text()
    code, out, _ = add(rules, httpserver.url_for("/rss"))
    assert code == 0
    assert "is already configured (feed 'in-our-time' in feeds.yaml); nothing written" in out
    assert (rules / "feeds.yaml").read_text() == after_first


def test_a_config_that_would_not_load_is_not_written(
    httpserver: HTTPServer, rules: Path, feed_body: bytes
) -> None:
    httpserver.expect_request("/rss").respond_with_data(feed_body)
    (rules / "watch.yaml").write_text("rules:\n  - id: r\n    query: x\n    notify: [pager]\n")
    code, _, err = add(rules, httpserver.url_for("/rss"))
    assert code == 2
    assert f"{rules / 'watch.yaml'}:4: rule 'r' notifies unknown channel 'pager'" in err
    assert "would not be valid with this feed (1 problem(s)); nothing written" in err
    assert (rules / "feeds.yaml").read_text() == EXISTING


def test_a_new_file_is_created(httpserver: HTTPServer, rules: Path, feed_body: bytes) -> None:
    httpserver.expect_request("/rss").respond_with_data(feed_body)
    code, _, _ = add(rules, httpserver.url_for("/rss"), output=rules / "more.yaml")
    assert code == 0
    assert (rules / "more.yaml").read_text().startswith("feeds:\n  - id: in-our-time\n")
    assert feed_ids(rules) == ["reuters", "in-our-time"]  # feeds.yaml sorts first


def test_from_the_command_line(
    httpserver: HTTPServer,
    rules: Path,
    page: bytes,
    feed_body: bytes,
    capsys: pytest.CaptureFixture[str],
) -> None:
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    httpserver.expect_request("/xml/rss.xml").respond_with_data(feed_body)
    argv = ["feeds", "add", httpserver.url_for("/"), "--id", "mark", "--rules-dir", str(rules)]
    assert main(argv) == 0
    assert "added feed 'mark'" in capsys.readouterr().out
    assert main(["check", "--rules-dir", str(rules)]) == 0
    assert feed_ids(rules) == ["reuters", "mark"]
    # -o before the URL, and the rules dir given to "feeds" itself.
    other = ["feeds", "--rules-dir", str(rules), "add", "-o", str(rules / "x.yaml")]
    assert main([*other, httpserver.url_for("/xml/rss.xml")]) == 0
    assert "already configured (feed 'mark' in feeds.yaml)" in capsys.readouterr().out


def test_a_crlf_file_keeps_its_line_ends(
    httpserver: HTTPServer, rules: Path, feed_body: bytes
) -> None:
    httpserver.expect_request("/rss").respond_with_data(feed_body)
    (rules / "feeds.yaml").write_bytes(EXISTING.replace("\n", "\r\n").encode())
    assert add(rules, httpserver.url_for("/rss"))[0] == 0
    written = (rules / "feeds.yaml").read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n")
    assert b"  - id: in-our-time\r\n" in written
    assert feed_ids(rules) == ["reuters", "in-our-time"]
