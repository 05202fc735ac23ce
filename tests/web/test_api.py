"""The REST API under /api/v1, endpoint by endpoint, over a filled MemoryStore."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from monitor.model import Attempt
from monitor.store.memory import MemoryStore
from tests.web.conftest import client_for
from tests.web.console_support import (
    DAY,
    DEAD,
    DRONES,
    DRONES_SIEM,
    GRID,
    HOSTILE,
    HOSTILE_ALERT,
    NOW,
    QUAKE,
    RETENTION,
    Console,
    load_watch,
)


async def test_feeds_give_config_and_health(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/feeds")
    assert answer.status_code == 200
    feeds = {f["id"]: f for f in answer.json()["feeds"]}
    assert list(feeds) == ["aljazeera", "bbc-world", "reuters", "quiet"]
    assert feeds["aljazeera"]["status"] == "ok"
    assert feeds["aljazeera"]["name"] == "Al Jazeera"
    assert feeds["aljazeera"]["items_seen"] == 412
    assert feeds["aljazeera"]["next_poll_at"] == "2027-01-15T08:03:00Z"
    assert feeds["bbc-world"]["status"] == "failing"
    assert feeds["bbc-world"]["consecutive_failures"] == 4
    assert feeds["bbc-world"]["last_error"].endswith("HTTP 503")
    assert feeds["bbc-world"]["since"] == "2027-01-15T06:00:00Z"
    assert feeds["quiet"]["status"] == "never_polled"
    assert feeds["quiet"]["next_poll_at"] is None


async def test_rules_count_hits_in_24h_and_7d(client: httpx.AsyncClient, console: Console) -> None:
    old = replace(GRID, id=GRID.id + "-old", story_id="an-older-story")
    await console.store.record_history(
        [(old, "delivered", Attempt(NOW - 3 * DAY, "queued"))], RETENTION
    )
    rules = {r["id"]: r for r in (await client.get("/api/v1/rules")).json()["rules"]}
    assert list(rules) == ["iran-drones", "ukraine-grid", "quakes"]
    # iran-drones: one story on two channels (counted once) + the hostile one; the dead
    # letter is 2 days old (7 d only).
    assert rules["iran-drones"]["hits_24h"] == 2
    assert rules["iran-drones"]["hits_7d"] == 3
    assert rules["ukraine-grid"] == {
        "id": "ukraine-grid",
        "query": "Ukraine AND (grid OR power)",
        "notify": None,
        "feeds": None,
        "hits_24h": 1,
        "hits_7d": 2,
        "last_match_at": "2027-01-15T05:00:00Z",
    }
    assert rules["quakes"]["hits_24h"] == 1


async def test_a_rule_quiet_for_a_week_still_shows_its_last_match(
    client: httpx.AsyncClient, console: Console
) -> None:
    console.now = NOW + 8 * DAY
    rules = {r["id"]: r for r in (await client.get("/api/v1/rules")).json()["rules"]}
    assert (rules["quakes"]["hits_24h"], rules["quakes"]["hits_7d"]) == (0, 0)
    assert rules["quakes"]["last_match_at"] == "2027-01-15T00:00:00Z"


async def test_alerts_search_by_text_rule_channel_status_and_since(
    client: httpx.AsyncClient,
) -> None:
    every = (await client.get("/api/v1/alerts")).json()
    ids = [a["id"] for a in every["alerts"]]
    # Newest first.
    assert ids[0] == HOSTILE_ALERT.id
    assert set(ids[1:3]) == {DRONES.id, DRONES_SIEM.id}
    assert ids[3:] == [GRID.id, QUAKE.id, DEAD.id]
    assert every["next_cursor"] is None
    first = every["alerts"][0]
    assert set(first) >= {"id", "rule_id", "channel", "status", "title", "created_at", "also_in"}

    async def ids_for(**params: str) -> set[str]:
        answer = await client.get("/api/v1/alerts", params=params)
        assert answer.status_code == 200, answer.text
        return {a["id"] for a in answer.json()["alerts"]}

    assert await ids_for(q="earthquake chile") == {QUAKE.id}
    assert await ids_for(rule="ukraine-grid") == {GRID.id}
    assert await ids_for(channel="siem") == {DRONES_SIEM.id, HOSTILE_ALERT.id, DEAD.id}
    assert await ids_for(status="dead") == {DEAD.id}
    assert await ids_for(status="silenced") == {QUAKE.id}
    assert await ids_for(since="2h") == {DRONES.id, DRONES_SIEM.id, HOSTILE_ALERT.id}
    assert await ids_for(since="2027-01-15T04:30:00Z") == {
        DRONES.id,
        DRONES_SIEM.id,
        HOSTILE_ALERT.id,
        GRID.id,
    }
    assert await ids_for(rule="iran-drones", channel="siem", status="retrying") == {DRONES_SIEM.id}


async def test_alerts_page_with_a_cursor(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    for _ in range(5):
        page = (await client.get("/api/v1/alerts", params=params)).json()
        seen += [a["id"] for a in page["alerts"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"status": "lost"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
    ],
)
async def test_bad_search_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str], word: str
) -> None:
    answer = await client.get("/api/v1/alerts", params=params)
    assert answer.status_code == 422
    assert word in answer.text


async def test_one_alert_with_article_hits_outlets_and_events(client: httpx.AsyncClient) -> None:
    answer = await client.get(f"/api/v1/alerts/{DRONES_SIEM.id}")
    assert answer.status_code == 200
    alert = answer.json()
    assert alert["status"] == "retrying"
    assert alert["article"]["title"] == DRONES_SIEM.article.title
    assert alert["article"]["published"] == "2027-01-15T06:00:00Z"
    assert {"field": "title", "start": 0, "end": 4, "term": "Iran"} in alert["hits"]
    assert [o["feed_id"] for o in alert["outlets"]] == ["bbc-world", "reuters"]
    assert alert["also_in"] == 2
    assert [(e["outcome"], e["detail"]) for e in alert["events"]] == [
        ("queued", ""),
        ("retried", "HTTP 503"),
    ]
    assert alert["retryable"] is False
    assert alert["attempts"] is None

    dead = (await client.get(f"/api/v1/alerts/{DEAD.id}")).json()
    assert dead["status"] == "dead"
    assert dead["retryable"] is True
    assert dead["attempts"] == 1
    assert dead["last_error"] == "HTTP 400: bad payload"

    missing = await client.get("/api/v1/alerts/alrt_nope")
    assert missing.status_code == 404
    assert "alrt_nope" in missing.json()["detail"]


async def test_retry_requeues_a_dead_letter_and_records_it(
    client: httpx.AsyncClient, console: Console
) -> None:
    answer = await client.post(f"/api/v1/alerts/{DEAD.id}/retry")
    assert answer.status_code == 200
    assert answer.json() == {"id": DEAD.id, "status": "pending"}
    assert await console.store.dead_letters() == []
    assert DEAD.id in [e.alert.id for e in await console.store.pending()]
    assert console.woken == 1
    entry = await console.store.history_entry(DEAD.id)
    assert entry is not None
    assert entry.status == "pending"
    assert entry.events[-1] == Attempt(NOW, "requeued", "by api")

    again = await client.post(f"/api/v1/alerts/{DEAD.id}/retry")
    assert again.status_code == 404
    assert "dead-letter" in again.json()["detail"]
    assert (await client.post(f"/api/v1/alerts/{GRID.id}/retry")).status_code == 404


async def test_dead_letters_are_listed(client: httpx.AsyncClient) -> None:
    alerts = (await client.get("/api/v1/dead-letters")).json()["alerts"]
    assert [(a["id"], a["status"]) for a in alerts] == [(DEAD.id, "dead")]


async def test_match_runs_a_query_over_the_archive(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/match", json={"query": "Ukraine AND grid", "since": "24h"})
    assert answer.status_code == 200
    result = answer.json()
    assert result["searched"] == 4  # the fifth article was read 30 h ago
    assert result["matched"] == 1
    assert result["since_seconds"] == DAY
    [match] = result["matches"]
    assert match["article"]["id"] == "bbc-world:2"
    title = match["article"]["title"]
    assert {
        (h["field"], title[h["start"] : h["end"]]) for h in match["hits"] if h["field"] == "title"
    } == {
        ("title", "Ukraine"),
        ("title", "grid"),
    }
    assert match["explain"].splitlines()[0] == "✓ AND"
    assert "✓ Ukraine" in match["explain"]

    many = (await client.post("/api/v1/match", json={"query": "Iran", "limit": 1})).json()
    assert many["matched"] == 3
    assert len(many["matches"]) == 1
    assert many["matches"][0]["article"]["title"] == HOSTILE  # the newest first

    warned = (await client.post("/api/v1/match", json={"query": "iran and drones"})).json()
    assert warned["warnings"]


@pytest.mark.parametrize(
    ("query", "position"),
    [("Iran AND (drones", 9), ("Iran AND", 8), ("@Atlantis AND drones", 0), ("", 0)],
)
async def test_a_bad_query_is_422_with_its_position(
    client: httpx.AsyncClient, query: str, position: int
) -> None:
    answer = await client.post("/api/v1/match", json={"query": query})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "bad_query"
    assert body["query"] == query
    assert body["position"] == position
    assert body["message"]


async def test_match_rejects_a_bad_window(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/v1/match", json={"query": "Iran", "since": "soon"})
    assert answer.status_code == 422
    assert "since" in answer.json()["detail"]


async def test_silences_are_listed_created_and_expired(
    client: httpx.AsyncClient, console: Console
) -> None:
    listed = (await client.get("/api/v1/silences")).json()["silences"]
    assert [(s["id"], s["kind"], s["target"], s["active"]) for s in listed] == [
        ("sil_00000000000000aa", "rule", "quakes", True)
    ]
    made = await client.post(
        "/api/v1/silences",
        json={"kind": "channel", "target": "siem", "duration": "2h", "comment": "maintenance"},
    )
    assert made.status_code == 201
    silence = made.json()
    assert silence["id"].startswith("sil_") and len(silence["id"]) == 20
    assert silence["created_by"] == "api"
    assert silence["starts_at"] == "2027-01-15T08:00:00Z"
    assert silence["ends_at"] == "2027-01-15T10:00:00Z"
    assert silence["active"] is True
    stored = [s for s in await console.store.list_silences(NOW) if s.id == silence["id"]]
    assert stored and stored[0].comment == "maintenance"

    expired = await client.delete(f"/api/v1/silences/{silence['id']}")
    assert expired.status_code == 200
    assert expired.json()["active"] is False
    assert expired.json()["ends_at"] == "2027-01-15T08:00:00Z"
    assert (await client.delete("/api/v1/silences/sil_nope")).status_code == 404


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"kind": "rule", "target": "no-such-rule", "duration": "2h"}, "no rule"),
        ({"kind": "channel", "target": "pager", "duration": "2h"}, "no channel"),
        ({"kind": "story", "target": "s1", "duration": "forever"}, "duration"),
        ({"kind": "story", "target": "s1", "duration": "0"}, "duration"),
        ({"kind": "feed", "target": "s1", "duration": "2h"}, "kind"),
    ],
)
async def test_a_bad_silence_is_422(
    client: httpx.AsyncClient, body: dict[str, str], word: str
) -> None:
    answer = await client.post("/api/v1/silences", json=body)
    assert answer.status_code == 422
    assert word in answer.text


async def test_the_openapi_document_describes_every_endpoint(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    doc = answer.json()
    paths = doc["paths"]
    assert set(paths) == {
        "/api/v1/feeds",
        "/api/v1/rules",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}/retry",
        "/api/v1/dead-letters",
        "/api/v1/channels",
        "/api/v1/channels/{name}/enable",
        "/api/v1/match",
        "/api/v1/silences",
        "/api/v1/silences/{silence_id}",
    }
    assert set(paths["/api/v1/silences"]) == {"get", "post"}
    assert set(paths["/api/v1/silences/{silence_id}"]) == {"delete"}
    schemas = doc["components"]["schemas"]
    assert "hits_24h" in schemas["RuleOut"]["properties"]
    assert "next_cursor" in schemas["AlertPageOut"]["properties"]
    assert "position" in schemas["QueryErrorOut"]["properties"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    # No page is in the API's document, and no CDN-backed docs UI is served.
    assert not any(p.startswith("/alerts") for p in paths)
    assert (await client.get("/docs")).status_code == 404


async def test_with_history_off_a_dead_letter_is_still_shown(tmp_path: Path) -> None:
    store = MemoryStore()  # no history recorded, as with MONITOR_HISTORY_RETENTION=0
    await store.enqueue([DEAD], NOW - DAY)
    [claimed] = await store.claim_due(NOW - DAY, 60, 10)
    await store.dead_letter(DEAD.id, NOW - DAY, "HTTP 400", claim=claimed.claim)
    async with client_for(Console(load_watch(tmp_path), store)) as client:
        dead = await client.get(f"/api/v1/alerts/{DEAD.id}")
        assert dead.status_code == 200
        assert dead.json()["status"] == "dead"
        assert dead.json()["events"] == []
        assert dead.json()["retryable"] is True
        assert (await client.get("/api/v1/alerts")).json()["alerts"] == []
        assert (await client.post(f"/api/v1/alerts/{DEAD.id}/retry")).status_code == 200
