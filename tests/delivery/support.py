"""What the channel tests share: URLs and secrets, a scripted HTTP receiver, groups of
alerts, and alerts whose story other outlets (some hostile) carried."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from monitor.model import Alert, Coverage
from tests.factories import make_alert, with_article, with_coverage

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX"
HOOK_URL = "https://receiver.example/hooks/alerts?token=SECRETTOKEN123"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVIL_TITLE = "<!channel> *bold* <http://evil.com|click>"


class Receiver:
    """A scripted HTTP receiver for httpx.MockTransport that records every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a JSON-like value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def group_of(count: int) -> list[Alert]:
    """``count`` alerts of two rules about ``count`` distinct articles (distinct alert ids,
    article ids and titles), so a grouped message has one entry per alert."""
    return [
        with_article(
            make_alert(id=f"alert-{i}", rule_id="rule-a" if i % 3 else "rule-b"),
            id=f"aljazeera:story-{i}",
            title=f"Story {i} about drones",
        )
        for i in range(count)
    ]


BBC_URL = "https://www.bbc.co.uk/news/world-67890"
REUTERS_URL = "https://www.reuters.com/world/iran-russia-drones/"


def covered(*copies: Coverage) -> Alert:
    """The default alert in a story that ``copies`` (default: bbc-world, reuters) also carry."""
    return with_coverage(make_alert(), *copies)


def outlets(count: int) -> tuple[Coverage, ...]:
    return tuple(Coverage(f"outlet-{i}", f"https://o{i}.example/s", f"t{i}") for i in range(count))


#: Copies that must never become markup, a mention, a link or a terminal escape.
HOSTILE_COPIES = (
    Coverage("<!channel>", "javascript:alert(1)", "<script>alert(1)</script>"),
    Coverage("<@U123> *b* _i_ ~s~ `c`", "https://ok.example/a|b>c?x=1&y=2", "@everyone <b>"),
    Coverage("evil\x1b[2J\r\nBcc: victim@example.org", "data:text/html,x", "\u202eevil"),
)


def huge_copies(count: int = 50) -> tuple[Coverage, ...]:
    """Copies with huge hostile names, titles and URLs; every other URL short enough to link."""
    huge = "&<>*_~`" * 2000 + EVIL_TITLE
    return tuple(
        Coverage(
            f"{i}-" + "f&<" * 1000,
            "https://evil.example/?" + ("&" * 30 if i % 2 else "&a=<b>|" * 500),
            huge,
        )
        for i in range(count)
    )
