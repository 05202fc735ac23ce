"""Where a feed's secrets may go (``FeedRequest.sends_to``) and how one hop gets them."""

from __future__ import annotations

import httpx
import pytest

from monitor.ingest.request import FeedRequest

REQUEST = FeedRequest.build(
    "http://news.example/rss",
    headers={"X-Key": "k3y", "Accept": "application/atom+xml"},
    user_agent="UA/1",
    cookies={"sid": "c00kie"},
    bearer="t0ken",
)
DEFAULTS = httpx.Headers({"Accept": "application/rss+xml", "User-Agent": "news-monitor"})


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("http://news.example/rss", True),
        ("http://NEWS.example:80/other/path?q=1", True),
        ("https://news.example/rss", True),  # the https upgrade of the origin
        ("https://news.example:8443/rss", False),
        ("http://news.example:8080/rss", False),
        ("http://cdn.news.example/rss", False),
        ("http://evil.example/news.example", False),
    ],
)
def test_secrets_go_to_the_configured_origin_only(url: str, sent: bool) -> None:
    assert REQUEST.sends_to(httpx.URL(url)) is sent


def test_a_downgrade_is_not_the_same_origin() -> None:
    secure = FeedRequest.build("https://news.example/rss", bearer="t0ken")
    assert not secure.sends_to(httpx.URL("http://news.example/rss"))


def test_a_hop_elsewhere_gets_the_user_agent_and_the_default_headers_back() -> None:
    hop = httpx.Request("GET", "https://cdn.example/rss", headers=DEFAULTS)
    hop.headers.update({"X-Key": "k3y", "Accept": "application/atom+xml", "Authorization": "x"})
    REQUEST.apply(hop, DEFAULTS)
    sent = {name: value for name, value in hop.headers.items() if name != "host"}
    assert sent == {"accept": "application/rss+xml", "user-agent": "UA/1"}


def test_a_hop_to_the_origin_gets_everything_and_keeps_the_servers_cookies() -> None:
    hop = httpx.Request("GET", "http://news.example/next", headers={"Cookie": "jar=1"})
    REQUEST.apply(hop, DEFAULTS)
    assert hop.headers["X-Key"] == "k3y"
    assert hop.headers["Authorization"] == "Bearer t0ken"
    assert hop.headers["Cookie"] == "sid=c00kie; jar=1"


def test_repr_shows_no_secret() -> None:
    shown = repr(REQUEST)
    assert "X-Key" in shown
    assert not any(secret in shown for secret in ("k3y", "c00kie", "t0ken"))
