"""MONITOR_HTTP_TOKEN: bearer on the API, a login on the pages, the probes left open."""

from __future__ import annotations

import re

import httpx
import pytest

from monitor.log import redact_text, register_secrets
from monitor.settings import Settings
from tests.web.conftest import TOKEN, client_for
from tests.web.console_support import Console

API = (
    ("GET", "/api/v1/feeds"),
    ("GET", "/api/v1/rules"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/alrt_x"),
    ("POST", "/api/v1/alerts/alrt_x/retry"),
    ("GET", "/api/v1/dead-letters"),
    ("POST", "/api/v1/match"),
    ("GET", "/api/v1/silences"),
    ("POST", "/api/v1/silences"),
    ("DELETE", "/api/v1/silences/sil_x"),
)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize(("method", "path"), API)
async def test_every_api_call_needs_the_bearer_token(
    locked: httpx.AsyncClient, method: str, path: str
) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = await locked.request(method, path, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "bearer token" in answer.json()["detail"]


async def test_the_right_bearer_token_opens_the_api(locked: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert (await locked.get("/api/v1/feeds", headers=headers)).status_code == 200
    match = await locked.post("/api/v1/match", json={"query": "Iran"}, headers=headers)
    assert match.status_code == 200
    # A logged-in page session is not an API credential.
    token = csrf_of((await locked.get("/login")).text)
    await locked.post("/login", data={"csrf_token": token, "token": TOKEN, "next": "/"})
    assert (await locked.get("/")).status_code == 200
    assert (await locked.get("/api/v1/rules")).status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/static/console.css"])
async def test_probes_and_assets_stay_open(locked: httpx.AsyncClient, path: str) -> None:
    assert (await locked.get(path)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/feeds",
        "/alerts?q=iran",
        "/alerts/alrt_x",
        "/dead-letters",
        "/rules",
        "/playground",
        "/playground/results?q=Iran",
        "/silences",
    ],
)
async def test_every_page_needs_a_login(locked: httpx.AsyncClient, path: str) -> None:
    answer = await locked.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/")
    assert "Iran" not in answer.text


async def test_the_login_flow(locked: httpx.AsyncClient) -> None:
    sent = await locked.get("/alerts?q=iran")
    assert sent.headers["location"] == "/login?next=/alerts%3Fq%3Diran"
    form = await locked.get(sent.headers["location"])
    assert form.status_code == 200
    assert 'type="password" name="token"' in form.text
    assert 'name="next" value="/alerts?q=iran"' in form.text
    assert 'href="/dead-letters"' not in form.text  # no navigation before the login
    token = csrf_of(form.text)

    wrong = await locked.post(
        "/login", data={"csrf_token": token, "token": "guess", "next": "/alerts?q=iran"}
    )
    assert wrong.status_code == 401
    assert "Wrong token." in wrong.text
    assert (await locked.get("/")).status_code == 303

    right = await locked.post(
        "/login", data={"csrf_token": token, "token": TOKEN, "next": "/alerts?q=iran"}
    )
    assert right.status_code == 303
    assert right.headers["location"] == "/alerts?q=iran"
    cookie = right.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert TOKEN not in cookie
    page = await locked.get("/alerts?q=iran")
    assert page.status_code == 200
    assert "Log out" in page.text

    # A fresh CSRF token comes with the login (the one of the login form is gone).
    assert csrf_of(page.text) != token
    out = await locked.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await locked.get("/")).status_code == 303


async def test_login_goes_only_to_pages_of_this_site(locked: httpx.AsyncClient) -> None:
    token = csrf_of((await locked.get("/login")).text)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        done = await locked.post(
            "/login", data={"csrf_token": token, "token": TOKEN, "next": target}
        )
        assert done.headers["location"] == "/", target
        token = csrf_of((await locked.get("/feeds")).text)
        await locked.post("/logout", data={"csrf_token": token})
        token = csrf_of((await locked.get("/login")).text)


async def test_a_session_of_another_token_is_not_accepted(console: Console) -> None:
    async with client_for(console, TOKEN) as first:
        token = csrf_of((await first.get("/login")).text)
        await first.post("/login", data={"csrf_token": token, "token": TOKEN, "next": "/"})
        assert (await first.get("/")).status_code == 200
        cookies = first.cookies
    async with client_for(console, "another-token-entirely") as second:
        second.cookies = cookies
        assert (await second.get("/")).status_code == 303


async def test_without_a_token_there_is_no_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/")).status_code == 200
    assert "Log out" not in (await client.get("/")).text
    assert (await client.get("/login")).status_code == 303
    assert (await client.get("/api/v1/feeds")).status_code == 200


def test_the_token_is_a_secret_redacted_from_logs() -> None:
    settings = Settings(_env_file=None, http_token=TOKEN)  # type: ignore[call-arg]
    assert TOKEN in settings.secret_values()
    assert TOKEN not in repr(settings)
    register_secrets(settings.secret_values())
    assert TOKEN not in redact_text(f"login with {TOKEN}")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "192.168.1.5:8080"])
async def test_an_open_console_answers_only_to_a_loopback_host(
    client: httpx.AsyncClient, host: str
) -> None:
    # A page of evil.example whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing.
    for path in ("/", "/alerts", "/api/v1/alerts", "/static/console.css"):
        answer = await client.get(path, headers={"Host": host})
        assert answer.status_code == 403, path
        assert "MONITOR_HTTP_TOKEN" in answer.text
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await client.get(path, headers={"Host": host})).status_code == 200
    for loopback in ("localhost:8080", "[::1]:8080", "127.0.0.1"):
        assert (await client.get("/", headers={"Host": loopback})).status_code == 200


async def test_a_console_with_a_token_answers_to_any_host(locked: httpx.AsyncClient) -> None:
    headers = {"Host": "monitor.example.org", "Authorization": f"Bearer {TOKEN}"}
    assert (await locked.get("/api/v1/feeds", headers=headers)).status_code == 200


async def test_an_open_api_refuses_changes_from_another_site(client: httpx.AsyncClient) -> None:
    # A cross-site form can POST without a preflight: its Origin gives it away.
    foreign = {"Origin": "https://evil.example"}
    answer = await client.post("/api/v1/alerts/alrt_x/retry", headers=foreign)
    assert answer.status_code == 403
    own = {"Origin": "http://127.0.0.1:8080"}
    assert (await client.post("/api/v1/alerts/alrt_x/retry", headers=own)).status_code == 404
    assert (await client.get("/api/v1/feeds", headers=foreign)).status_code == 200
