"""The console's pages over a filled MemoryStore: what each shows, the forms (with their
CSRF token), and hostile article content staying inert."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest

from monitor.model import Attempt
from tests.web.conftest import client_for
from tests.web.console_support import (
    DEAD,
    DRONES_SIEM,
    GRID,
    HOSTILE_ALERT,
    NOW,
    Console,
)

PAGES = (
    "/",
    "/feeds",
    "/alerts",
    "/dead-letters",
    "/channels",
    "/rules",
    "/playground",
    "/silences",
)
RAW = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_with_its_assets_and_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<link rel="stylesheet" href="/static/console.css">' in page
    for asset in re.findall(r'<(?:link|script|img)[^>]*(?:href|src)="([^"]+)"', page):
        assert asset.startswith("/static/"), asset  # every asset from the daemon, no CDN
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


async def test_the_assets_are_served_by_the_daemon(client: httpx.AsyncClient) -> None:
    css = await client.get("/static/console.css")
    assert css.status_code == 200 and "@media" in css.text
    js = await client.get("/static/playground.js")
    assert js.status_code == 200 and "fetch(" in js.text
    assert (await client.get("/static/favicon.svg")).status_code == 200


async def test_overview_counts(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert re.search(r'<span class="ok">2</span> up · <span class="bad">1</span> down', page)
    assert "1 not polled yet" in page
    assert "Dead letters" in page and ">1</p>" in page
    assert "BBC World" in page  # listed among the feeds down
    assert f"/alerts/{HOSTILE_ALERT.id}" in page  # the latest alerts


async def test_feeds_page_shows_health(client: httpx.AsyncClient) -> None:
    page = (await client.get("/feeds")).text
    assert 'class="badge s-failing">failing' in page
    assert "HTTP 503" in page and "(4 in a row)" in page
    assert "in 3m" in page  # Al Jazeera's next poll
    assert 'class="badge s-never_polled">never polled' in page


async def test_alerts_page_searches_and_pages(client: httpx.AsyncClient) -> None:
    page = (await client.get("/alerts", params={"rule": "ukraine-grid"})).text
    assert GRID.article.title in page
    assert DRONES_SIEM.article.title not in page
    assert '<option value="ukraine-grid" selected>' in page

    page = (await client.get("/alerts", params={"q": "chile earthquake"})).text
    assert "earthquake strikes off the coast of Chile" in page

    first = (await client.get("/alerts", params={"channel": "siem"})).text
    assert first.count('href="/alerts/alrt_') == 3
    assert 'rel="next"' not in first

    bad = await client.get("/alerts", params={"status": "lost"})
    assert bad.status_code == 422
    assert "status: expected one of" in bad.text


async def test_alerts_page_links_to_older_pages(
    client: httpx.AsyncClient, console: Console
) -> None:
    for n in range(60):
        alert = replace(GRID, id=f"alrt_many_{n:02d}")
        await console.store.record_history(
            [(alert, "delivered", Attempt(NOW - 10 - n, "queued"))], 86_400 * 30
        )
    page = (await client.get("/alerts")).text
    older = re.search(r'href="/alerts\?cursor=([^"]+)" rel="next"', page)
    assert older, page
    second = (await client.get(f"/alerts?cursor={older.group(1)}")).text
    assert "← Newest" in second


async def test_an_alert_page_shows_article_hits_outlets_and_events(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get(f"/alerts/{DRONES_SIEM.id}")).text
    assert "<mark>Iran</mark> and Russia agree to build attack <mark>drones</mark>" in page
    assert "BBC World" in page and "Iran, Russia drone deal" in page
    # A copy whose link is javascript: is shown as text, escaped, never as a link.
    assert "javascript:" not in page
    assert "Drone plant &lt;deal&gt;" in page
    assert "HTTP 503" in page  # the retried event
    assert "Retry</button>" not in page  # not a dead letter
    assert (await client.get("/alerts/alrt_nope")).status_code == 404


async def test_dead_letters_retry_with_the_form(
    client: httpx.AsyncClient, console: Console
) -> None:
    page = (await client.get("/dead-letters")).text
    assert f'action="/alerts/{DEAD.id}/retry"' in page
    assert "HTTP 400: bad payload" in page
    done = await client.post(
        f"/alerts/{DEAD.id}/retry",
        data={"csrf_token": csrf_of(page), "back": "/dead-letters"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/dead-letters"
    after = (await client.get("/dead-letters")).text
    assert f"Alert {DEAD.id} is queued again." in after
    assert "No dead letter" in after
    entry = await console.store.history_entry(DEAD.id)
    assert entry is not None and entry.events[-1] == Attempt(NOW, "requeued", "by web")


async def test_a_retry_may_not_send_you_elsewhere(client: httpx.AsyncClient) -> None:
    page = (await client.get("/dead-letters")).text
    done = await client.post(
        f"/alerts/{DEAD.id}/retry",
        data={"csrf_token": csrf_of(page), "back": "https://evil.example/"},
    )
    assert done.headers["location"] == "/"


async def test_rules_page_counts_and_links_to_the_playground(client: httpx.AsyncClient) -> None:
    page = (await client.get("/rules")).text
    assert 'href="/playground?q=Ukraine%20AND%20%28grid%20OR%20power%29"' in page
    row = page[page.index('id="rule-iran-drones"') :]
    assert re.search(r'<td class="num">2</td>\s*<td class="num">3</td>', row)


async def test_playground_shows_matches_highlights_and_explain(client: httpx.AsyncClient) -> None:
    page = (await client.get("/playground", params={"q": "Ukraine AND grid"})).text
    assert "<strong>1</strong> of 4 archived articles match" in page
    assert "<mark>Ukraine</mark> restores power after strikes on the <mark>grid</mark>" in page
    assert '<li class="held d1"><span class="mark">✓</span> Ukraine' in page
    assert '<script src="/static/playground.js" defer></script>' in page

    fragment = (await client.get("/playground/results", params={"q": "grid", "since": "7d"})).text
    assert "<html" not in fragment
    assert "<mark>grid</mark>" in fragment


async def test_playground_shows_a_syntax_error_with_a_caret(client: httpx.AsyncClient) -> None:
    fragment = (await client.get("/playground/results", params={"q": "Iran AND (drones"})).text
    assert 'class="query-error"' in fragment
    assert '<pre class="caret">Iran AND (drones\n         ^</pre>' in fragment
    unknown = (await client.get("/playground/results", params={"q": "@Atlantis"})).text
    assert "Atlantis" in unknown and "^</pre>" in unknown


async def test_hostile_titles_are_escaped_everywhere(client: httpx.AsyncClient) -> None:
    pages = {
        "/": await client.get("/"),
        "/alerts": await client.get("/alerts"),
        "alert": await client.get(f"/alerts/{HOSTILE_ALERT.id}"),
        "playground": await client.get("/playground", params={"q": "Iran", "since": "24h"}),
        "fragment": await client.get("/playground/results", params={"q": "Iran"}),
        "query": await client.get("/playground", params={"q": RAW}),
        "search": await client.get("/alerts", params={"q": RAW}),
    }
    for name, answer in pages.items():
        assert RAW not in answer.text, name
        assert "<img src=x" not in answer.text, name
        assert "<b>" not in answer.text, name
    for name in ("/", "/alerts", "alert", "playground", "fragment"):
        assert ESCAPED in pages[name].text, name
    assert "&lt;img src=x onerror=alert(2)&gt;" in pages["alert"].text
    assert f"{ESCAPED} <mark>Iran</mark> drones" in pages["fragment"].text


async def test_silences_are_created_and_expired_with_forms(
    client: httpx.AsyncClient, console: Console
) -> None:
    page = (await client.get("/silences")).text
    assert "sil_00000000000000aa" in page and "drill" in page
    token = csrf_of(page)
    made = await client.post(
        "/silences",
        data={
            "csrf_token": token,
            "kind": "story",
            "target": "aljazeera:1",
            "duration": "2h",
            "comment": "<i>noisy</i>",
        },
    )
    assert made.status_code == 303
    page = (await client.get("/silences")).text
    [silence] = [s for s in await console.store.list_silences(NOW) if s.kind == "story"]
    assert silence.created_by == "web" and silence.ends_at == NOW + 7200
    assert f"Silence {silence.id} added." in page
    assert "&lt;i&gt;noisy&lt;/i&gt;" in page

    expired = await client.post(f"/silences/{silence.id}/expire", data={"csrf_token": token})
    assert expired.status_code == 303
    [after] = [s for s in await console.store.list_silences(NOW) if s.id == silence.id]
    assert not after.active(NOW)
    assert f"Silence {silence.id} expired." in (await client.get("/silences")).text


async def test_a_bad_silence_form_is_shown_again_with_the_problem(
    client: httpx.AsyncClient,
) -> None:
    token = csrf_of((await client.get("/silences")).text)
    answer = await client.post(
        "/silences",
        data={"csrf_token": token, "kind": "rule", "target": "nope", "duration": "2h"},
    )
    assert answer.status_code == 422
    assert "no rule &#39;nope&#39;" in answer.text
    assert 'value="nope"' in answer.text


async def test_the_silence_form_is_prefilled_from_links(client: httpx.AsyncClient) -> None:
    page = (await client.get(f"/alerts/{DRONES_SIEM.id}")).text
    assert "/silences?kind=story&amp;target=aljazeera%3A1" in page
    form = (await client.get("/silences?kind=story&target=aljazeera%3A1")).text
    assert '<option value="story" selected>' in form
    assert 'value="aljazeera:1"' in form


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (f"/alerts/{DEAD.id}/retry", {}),
        ("/silences", {"kind": "rule", "target": "quakes", "duration": "2h"}),
        ("/silences/sil_00000000000000aa/expire", {}),
        ("/login", {"token": "x"}),
        ("/logout", {}),
    ],
)
async def test_a_form_without_the_csrf_token_is_403(
    client: httpx.AsyncClient, console: Console, path: str, data: dict[str, str]
) -> None:
    await client.get("/silences")  # the session has a CSRF token now
    missing = await client.post(path, data=data)
    assert missing.status_code == 403
    assert "expired" in missing.text
    wrong = await client.post(path, data={**data, "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert len(await console.store.dead_letters()) == 1
    assert [s.id for s in await console.store.list_silences(NOW)] == ["sil_00000000000000aa"]
    assert (await console.store.list_silences(NOW))[0].active(NOW)


async def test_a_form_from_another_session_is_403(console: Console) -> None:
    async with client_for(console) as mine, client_for(console) as theirs:
        token = csrf_of((await mine.get("/silences")).text)
        await theirs.get("/silences")
        stolen = await theirs.post(f"/alerts/{DEAD.id}/retry", data={"csrf_token": token})
        assert stolen.status_code == 403
