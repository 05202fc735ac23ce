"""The apprise channel against a real receiver on loopback, and its config errors.

Apprise's ``json://HOST:PORT/PATH`` service POSTs ``{"title", "message", ...}``
with ``requests``; a pytest-httpserver (a real werkzeug server) receives it.
So every test here goes through the real Apprise library, its real HTTP
client and a real socket: nothing of Apprise is mocked. The missing-extra
tests hide the installed library the way a missing install does: an import
of ``apprise`` raises ImportError.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.delivery.channels import AppriseChannel, build_channel, build_delivery_client
from monitor.delivery.channels.apprise import (
    MAX_GROUP,
    AppriseChannelConfig,
    config_problems,
    default_body,
    default_title,
)
from monitor.errors import ConfigError
from monitor.model import Coverage, DeliveryStatus
from monitor.settings import Settings
from tests.conftest import free_port
from tests.factories import make_alert, make_settings, with_article, with_coverage

#: A path segment standing in for the token real Apprise URLs carry.
TOKEN = "tok3n-9f8e7d6c5b4a"
HOOK_PATH = f"/hook/{TOKEN}"
MISSING = "type apprise needs the apprise extra: pip install 'news-monitor[apprise]'"


def json_url(server: HTTPServer, path: str = HOOK_PATH) -> str:
    return f"json://{server.host}:{server.port}{path}"


def channel(*urls: str, timeout: float = 5.0, max_group: int = MAX_GROUP) -> AppriseChannel:
    secrets = [SecretStr(u) for u in urls]
    return AppriseChannel("team", secrets, timeout=timeout, max_group=max_group)


def write_config(directory: Path, text: str) -> Path:
    path = directory / "watch.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def config_errors(directory: Path) -> list[str]:
    settings = Settings(_env_file=None, rules_dir=directory)
    with pytest.raises(ConfigError) as info:
        load_config(settings, env={})
    return [str(issue) for issue in info.value.issues]


@pytest.fixture
def no_apprise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The apprise extra is not installed: ``import apprise`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "apprise", None)


# --- delivery --------------------------------------------------------------------------------


async def test_title_and_body_arrive(httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    alert = make_alert()
    result = await channel(json_url(httpserver)).send(alert)
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert (result.alert_id, result.channel) == (alert.id, "team")
    ((request, _),) = httpserver.log
    payload = request.get_json()
    assert payload["title"] == "[iran-russia-drones] Iran and Russia agree to build drones together"
    assert payload["message"] == default_body([alert])
    message = payload["message"]
    assert alert.article.url in message
    assert "Matched: Iran, Russia, drones" in message
    assert "Tehran and Moscow have signed" in message  # the snippet
    assert "Query: Iran AND Russia AND drones" in message


async def test_a_group_of_three_is_one_notification(httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    alerts = [
        with_article(
            make_alert(id=f"a{i}"),
            id=f"art-{i}",
            title=f"Drone story {i}",
            url=f"https://ex.org/{i}",
        )
        for i in range(1, 4)
    ]
    result = await channel(json_url(httpserver)).send_group(alerts)
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    assert result.alert_id == "a1"  # the result speaks for the group under the first id
    ((request, _),) = httpserver.log  # one request for three alerts
    payload = request.get_json()
    assert payload["title"] == "news-monitor: 3 articles (iran-russia-drones)"
    message = payload["message"]
    for i in range(1, 4):
        assert f"{i}. Drone story {i}\n   https://ex.org/{i}\n" in message
    assert "Tehran" not in message  # no snippets in a group: it stays short


async def test_a_500_is_retried_with_apprise_s_reason_and_no_secret(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("boom", status=500)
    url = json_url(httpserver)
    with caplog.at_level(logging.DEBUG):
        result = await channel(url).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert "Failed to send JSON POST notification" in result.detail
    assert "500" in result.detail
    assert TOKEN not in result.detail and url not in result.detail
    # Apprise's own lines went into the detail, not into the process log.
    assert not [r for r in caplog.records if r.name.startswith("apprise")]


async def test_a_refused_connection_is_retried_and_the_host_redacted() -> None:
    url = f"json://127.0.0.1:{free_port()}{HOOK_PATH}"
    result = await channel(url).send(make_alert())
    assert result.status is DeliveryStatus.RETRY
    assert "Connection error" in result.detail
    # Apprise names the host it could not reach; in general a host can be a token.
    assert "127.0.0.1" not in result.detail and TOKEN not in result.detail
    assert "[redacted]" in result.detail


async def test_a_silent_receiver_is_cut_off_by_the_delivery_timeout(
    httpserver: HTTPServer,
) -> None:
    def slow(request: Request) -> Response:
        time.sleep(2)
        return Response("late")

    httpserver.expect_request(HOOK_PATH).respond_with_handler(slow)
    started = time.monotonic()
    result = await channel(json_url(httpserver), timeout=0.5).send(make_alert())
    assert time.monotonic() - started < 1.5
    assert result.status is DeliveryStatus.RETRY
    assert "timed out after 0.5s" in result.detail


async def test_concurrent_channels_keep_their_own_apprise_lines(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/good", method="POST").respond_with_data("ok")
    httpserver.expect_request("/bad", method="POST").respond_with_data("no", status=503)
    good = channel(json_url(httpserver, "/good"))
    bad = channel(json_url(httpserver, "/bad"))
    results = await asyncio.gather(*(c.send(make_alert()) for c in [good, bad] * 5))
    for result in results[0::2]:
        assert result.status is DeliveryStatus.DELIVERED
        assert "503" not in result.detail
    for result in results[1::2]:
        assert result.status is DeliveryStatus.RETRY
        assert "503" in result.detail


async def test_feed_text_cannot_mention_anyone(httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    alert = with_article(
        make_alert(), title="@everyone Iran Russia drones", text="ping @here about drones"
    )
    await channel(json_url(httpserver)).send(alert)
    ((request, _),) = httpserver.log
    payload = request.get_json()
    assert "@" not in payload["title"] and "@" not in payload["message"]
    assert "\uff20everyone" in payload["title"]


async def test_templates_shape_the_notification_and_cannot_mention(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    templates = {
        "title": "{{ count }} new: {{ alert.title }}",
        "body": "{% for a in alerts %}- {{ a.title }} ({{ a.source }}) @ops\n{% endfor %}",
    }
    team = AppriseChannel(
        "team", [SecretStr(json_url(httpserver))], timeout=5.0, templates=templates
    )
    alerts = [
        with_article(make_alert(id="a1"), title="@everyone Iran drones"),
        with_article(make_alert(id="a2"), title="Russia drones"),
    ]
    result = await team.send_group(alerts)
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    ((request, _),) = httpserver.log
    payload = request.get_json()
    assert payload["title"] == "2 new: \uff20everyone Iran drones"
    assert payload["message"].splitlines() == [
        "- \uff20everyone Iran drones (aljazeera) @ops",  # the template's own @ is kept
        "- Russia drones (aljazeera) @ops",
    ]


async def test_a_failing_template_is_permanent(httpserver: HTTPServer) -> None:
    team = AppriseChannel(
        "team", [SecretStr(json_url(httpserver))], timeout=5.0, templates={"body": "{{ 1 / 0 }}"}
    )
    result = await team.send(make_alert())
    assert result.status is DeliveryStatus.PERMANENT
    assert "template 'body'" in result.detail
    assert httpserver.log == []


def test_default_rendering_is_plain_text() -> None:
    alerts = [make_alert(), make_alert(id="b")]
    assert default_title(alerts[:1]).startswith("[iran-russia-drones] ")
    for text in (default_body(alerts[:1]), default_body(alerts)):
        assert "*" not in text and "<" not in text and "](" not in text


def test_the_body_names_the_other_outlets_and_cannot_mention() -> None:
    alert = with_coverage(
        make_alert(),
        Coverage("bbc-world", "https://www.bbc.co.uk/news/1", "t"),
        Coverage("@everyone", "https://evil.example/", "@here"),
        *(Coverage(f"outlet-{i}", "", "") for i in range(12)),
    )
    expected = (
        "Also reported by: bbc-world, \uff20everyone, "
        + ", ".join(f"outlet-{i}" for i in range(8))
        + " (+4 more)"
    )
    single = default_body([alert]).splitlines()
    assert single[:4] == [*default_body([make_alert()]).splitlines()[:3], expected]
    group = default_body([alert, with_article(make_alert(id="b"), id="another-article")])
    assert f"   {expected}\n\n2. " in group
    assert "@" not in single and "@" not in group
    assert default_title([alert]) == default_title([make_alert()])


async def test_the_other_outlets_arrive(httpserver: HTTPServer) -> None:
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    result = await channel(json_url(httpserver)).send(with_coverage(make_alert()))
    assert result.status is DeliveryStatus.DELIVERED, result.detail
    ((request, _),) = httpserver.log
    assert "\nAlso reported by: bbc-world, reuters\n" in request.get_json()["message"]


def test_without_other_outlets_the_body_is_unchanged() -> None:
    in_a_story = with_coverage(make_alert(), Coverage("aljazeera", "https://x.example/", "own"))
    for alerts in ([in_a_story], [in_a_story, make_alert(id="b")]):
        plain = [make_alert(), make_alert(id="b")][: len(alerts)]
        assert default_body(alerts) == default_body(plain)


async def test_max_group_is_capped_and_configurable() -> None:
    url = "json://127.0.0.1:9/hook"
    assert channel(url).max_group == MAX_GROUP == 10
    assert channel(url, max_group=1).max_group == 1
    with pytest.raises(ValueError, match="max_group"):
        channel(url, max_group=MAX_GROUP + 1)
    config = AppriseChannelConfig(type="apprise", urls=[SecretStr(url)], max_group=3)
    settings = make_settings()
    async with build_delivery_client(settings) as http:
        built = build_channel("team", config, settings, http, time.time)
    assert isinstance(built, AppriseChannel) and built.max_group == 3


def test_send_test_prints_what_went_wrong(
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    httpserver.expect_request(HOOK_PATH, method="POST").respond_with_data("nope", status=500)
    url = json_url(httpserver)
    write_config(tmp_path, f"channels:\n  team:\n    type: apprise\n    urls: ['{url}']\n")
    assert main(["send-test", "team", "--rules-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("team (apprise): failed (would be retried): Apprise: ")
    assert "error=500" in captured.out
    assert TOKEN not in captured.out
    # The receiver's own access log (werkzeug's) shows the path; nothing else may.
    ours = [line for line in captured.err.splitlines() if "HTTP/1.1" not in line]
    assert not [line for line in ours if TOKEN in line]


# --- config errors ---------------------------------------------------------------------------


def test_an_unusable_url_is_a_config_error_that_never_quotes_it(tmp_path: Path) -> None:
    secret = "webhookid-only-0123456789"
    path = write_config(
        tmp_path,
        f"""
        channels:
          team:
            type: apprise
            urls:
              - json://127.0.0.1:9/hook
              - ntfys://ntfy.sh/topic
              - discord://{secret}
              - "not a url {secret}"
              - discrod://{secret}/abc
        """,
    )
    errors = config_errors(tmp_path)
    # The setup page is Apprise's own (its address differs between Apprise versions).
    errors[0] = re.sub(r"\(see https://\S+\)$", "(see SETUP)", errors[0])
    assert errors == [
        f"{path}:7: channel 'team': urls[2]: not a valid Discord URL: a token is missing "
        "or malformed (see SETUP)",
        f"{path}:8: channel 'team': urls[3]: not an Apprise URL "
        "(expected scheme://..., e.g. discord://ID/TOKEN)",
        f"{path}:9: channel 'team': urls[4]: Apprise has no service for the scheme discrod://",
    ]
    with pytest.raises(ValueError) as info:
        channel("json://127.0.0.1:9/hook", f"discord://{secret}")
    assert str(info.value).startswith("channel 'team': urls[1]: not a valid Discord URL")
    assert all(secret not in text for text in [*errors, str(info.value)])


def test_url_problems_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    secret = "nosuchscheme://abcdefgh-secret"
    with caplog.at_level(logging.DEBUG):
        assert [i for i, _ in config_problems([SecretStr(secret)])] == [0]
    assert "abcdefgh-secret" not in caplog.text


@pytest.mark.usefixtures("no_apprise")
def test_without_the_extra_the_config_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path,
        """
        channels:
          team:
            type: apprise
            urls: [json://127.0.0.1:9/hook]
        """,
    )
    assert config_errors(tmp_path) == [f"{path}:3: channel 'team': {MISSING}"]
    assert main(["check", "--rules-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"channel 'team': {MISSING}" in err
    assert "nothing started" in err


@pytest.mark.usefixtures("no_apprise")
def test_without_the_extra_the_channel_cannot_be_built() -> None:
    assert config_problems([SecretStr("json://127.0.0.1:9/hook")]) == [(None, MISSING)]
    with pytest.raises(ValueError, match=r"^channel 'team': type apprise needs the apprise extra"):
        channel("json://127.0.0.1:9/hook")


def test_the_urls_are_registered_as_secrets(tmp_path: Path) -> None:
    url = f"discord://1234567890/{TOKEN}"
    write_config(tmp_path, f"channels:\n  team: {{type: apprise, urls: ['{url}']}}\n")
    settings = Settings(_env_file=None, rules_dir=tmp_path)
    assert url in load_config(settings, env={}).secret_values()
