"""A news site on loopback for the full-text tests: a feed of teasers and the pages it
links to, served by a threaded werkzeug server that records every request.

The pages look like news pages: navigation, the article, a "most read" sidebar, a
footer and a script. Words a test's rule looks for are only in the article's body (or
only in the sidebar, which extraction must leave out), never in the teaser.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug import Request, Response
from werkzeug.serving import make_server

from tests.servers import Item, rss

#: The article body of the Vienna story: "centrifuges" and "uranium" appear only here.
VIENNA_BODY = (
    "Negotiators from six countries returned to the table in Vienna on Monday, hoping to "
    "narrow the gaps that ended the last round in acrimony.",
    "According to a confidential report seen by reporters, inspectors found that the number "
    "of centrifuges spinning at the underground site had doubled since the spring.",
    "The report said the enrichment of uranium had reached levels that several delegations "
    "described as alarming, and it called for wider access for the inspectors.",
    "Officials close to the talks said a new proposal would be tabled before the end of the "
    "week, though few expected a breakthrough before the summer recess.",
    "Diplomats from the European delegation declined to comment on the report ahead of a "
    "closed session scheduled for Tuesday afternoon.",
)
#: A teaser of the story that names neither word.
VIENNA_TEASER = "Negotiators returned to the table in Vienna on Monday."
#: An unrelated story's body.
WEATHER_BODY = (
    "Forecasters expect a band of heavy rain to cross the northern hills overnight, with "
    "gusts strong enough to bring down branches and power lines in exposed places.",
    "Commuters were advised to allow extra time on Wednesday morning, when standing water "
    "is likely on the main roads into the city and some rail services may be reduced.",
    "Temperatures should recover by the weekend as the low pressure moves away to the east, "
    "leaving a mostly dry and bright Saturday for the long-awaited marathon.",
)
#: The "most read" sidebar of every page: a word only it carries ("penguins").
SIDEBAR = ("Penguins march on parliament", "Ten recipes for a rainy day", "Markets close higher")


def article_page(title: str, paragraphs: Iterable[str]) -> str:
    """A news page carrying ``paragraphs`` as its article, amid the usual boilerplate."""
    nav = "".join(f'<li><a href="/section/{s}">{s.title()}</a></li>' for s in _SECTIONS)
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    most_read = "".join(
        f'<li><a href="/news/x{i}">{html.escape(t)}</a></li>' for i, t in enumerate(SIDEBAR)
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} - Daily Example</title>"
        "<script>window.dataLayer = [{'section': 'world'}];</script></head><body>"
        f"<header><nav><ul>{nav}</ul></nav></header>"
        f"<main><article><h1>{html.escape(title)}</h1><p class='byline'>By a staff writer</p>"
        f"<div class='story-body'>{body}</div></article>"
        f"<aside class='most-read'><h2>Most read</h2><ol>{most_read}</ol></aside></main>"
        f"<footer><ul>{nav}</ul><p>Copyright Daily Example. All rights reserved.</p></footer>"
        "</body></html>"
    )


_SECTIONS = ("home", "world", "business", "sport", "culture", "weather")

#: What the site answers on one path: the request, then a response.
Answer = Callable[[Request], Response]


@dataclass
class Site:
    """A threaded loopback server answering from ``routes`` (404 elsewhere), recording
    every request's path and headers."""

    routes: dict[str, Answer]
    port: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.requests.append((request.full_path.rstrip("?"), dict(request.headers)))
        answer = self.routes.get(request.path)
        response = answer(request) if answer else Response("not found", status=404)
        return response(environ, start_response)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        """Every path asked, in order (with the query, if any)."""
        with self._lock:
            return [path for path, _ in self.requests]

    def headers_of(self, path: str) -> list[dict[str, str]]:
        """The headers of every request of ``path``."""
        with self._lock:
            return [headers for asked, headers in self.requests if asked == path]


@contextmanager
def serving(routes: Mapping[str, Answer] | None = None) -> Iterator[Site]:
    """A :class:`Site` on a free loopback port for the duration of the block."""
    site = Site(dict(routes or {}))
    server = make_server("127.0.0.1", 0, site, threaded=True)
    site.port = server.port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def page(text: str, content_type: str = "text/html; charset=utf-8") -> Answer:
    """An answer serving ``text`` as ``content_type``."""

    def answer(request: Request) -> Response:
        return Response(text, content_type=content_type)

    return answer


def teaser_feed(items: Iterable[tuple[str, str, str]]) -> Answer:
    """An RSS feed of ``(title, link, teaser)`` items, published a minute ago; ``items`` is
    read at each request, so a test can add to a list it passed."""

    def answer(request: Request) -> Response:
        now = datetime.now(UTC)
        body = rss([Item(title, link, teaser, now) for title, link, teaser in items])
        return Response(body, content_type="application/rss+xml")

    return answer
