"""A feed's request keys in the watch config: what is accepted, the ``file:line`` message
of what is not (never quoting a secret), and every secret registered so that no log
line carries it, in any form it is sent in."""

from __future__ import annotations

import base64
import io
import json
import textwrap
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.config.load import load_config
from monitor.config.models import FeedConfig
from monitor.errors import ConfigError
from monitor.log import configure_logging, get_logger, register_secrets
from tests.factories import make_settings

GOOD = """
feeds:
  - id: ft
    url: https://www.ft.example/rss/home
    user_agent: Mozilla/5.0 (compatible; news-monitor)
    headers:
      X-Api-Key: ${FT_KEY}
      Accept-Language: en-GB
    cookies:
      session: ${FT_SESSION}
    auth:
      type: basic
      username: desk
      password: ${FT_PASSWORD}
    proxy: http://proxyuser:${PROXY_PASSWORD}@proxy.example:3128
  - id: api
    url: https://api.example/feed.json
    auth: {type: bearer, token: "${API_TOKEN}"}
"""
ENV = {
    "FT_KEY": "ft-api-key-123",
    "FT_SESSION": "ft-session-456",
    "FT_PASSWORD": "ft-password-789",
    "PROXY_PASSWORD": "proxy-pass-000",
    "API_TOKEN": "api-token-abc",
}


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    (tmp_path / "a.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    try:
        load_config(make_settings(rules_dir=tmp_path), env=env if env is not None else ENV)
    except ConfigError as e:
        return [str(issue).removeprefix(f"{tmp_path}/") for issue in e.issues]
    return []


def test_the_request_keys_load_with_values_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    loaded = load_config(make_settings(rules_dir=tmp_path), env=ENV)
    ft, api = loaded.config.feeds
    assert ft.request is not None and api.request is not None
    assert dict(ft.request.headers) == {"X-Api-Key": "ft-api-key-123", "Accept-Language": "en-GB"}
    assert ft.request.cookie == "session=ft-session-456"
    assert ft.request.user_agent == "Mozilla/5.0 (compatible; news-monitor)"
    assert ft.request.proxy == "http://proxyuser:proxy-pass-000@proxy.example:3128"
    assert api.request.authorization == "Bearer api-token-abc"


def test_every_secret_is_registered_and_kept_out_of_log_lines(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    loaded = load_config(make_settings(rules_dir=tmp_path), env=ENV)
    register_secrets(loaded.secret_values())
    basic = base64.b64encode(b"desk:ft-password-789").decode()
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    get_logger("test").warning(
        "poll",
        feed="ft",
        headers={"X-Api-Key": "ft-api-key-123", "Authorization": f"Basic {basic}"},
        cookie="session=ft-session-456",
        proxy=loaded.config.feeds[0].request.proxy,  # type: ignore[union-attr]
        error="bearer api-token-abc refused",
    )
    line = stream.getvalue()
    assert json.loads(line)["feed"] == "ft"
    for secret in [*ENV.values(), basic]:
        assert secret not in line
    # Not one of them in what the config shows of itself either.
    shown = repr(loaded.config) + str(loaded.config)
    assert not [secret for secret in ENV.values() if secret in shown]


def test_a_header_value_that_is_not_a_secret_is_still_treated_as_one(tmp_path: Path) -> None:
    # Any header may carry a key; what the config cannot tell apart is redacted, whatever it is.
    (tmp_path / "a.yaml").write_text(GOOD)
    assert "en-GB" in load_config(make_settings(rules_dir=tmp_path), env=ENV).secret_values()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("headers: {Cookie: a=b}", "'headers': header 'Cookie' cannot be set here: use the "
         "feed's 'cookies' key"),
        ("headers: {User-Agent: x}", "'headers': header 'User-Agent' cannot be set here: use "
         "the feed's 'user_agent' key"),
        ("headers: {If-None-Match: x}", "'headers': header 'If-None-Match' is set by the "
         "fetcher and cannot be configured"),
        ("headers: {'X Key': v}", "'headers': 'X Key' is not a valid HTTP header name"),
        ("headers: {X-A: a, x-a: b}", "'headers': header 'x-a' is given twice (names ignore "
         "case)"),
        ('headers: {X-A: "line\\nbreak-s3cret"}', "'headers': the value of header 'X-A' "
         "contains a line break or control character (the value is not shown)"),
        ("headers: {X-A: 'clé-s3cret'}", "'headers': the value of header 'X-A' must be ASCII "
         "(the value is not shown: it may be secret)"),
        ("cookies: {sid: 'a;s3cret'}", "'cookies': the value of cookie 'sid' contains ';'"),
        ("user_agent: ''", "'user_agent': is empty (leave it out for MONITOR_USER_AGENT)"),
        ("auth: {type: basic, username: u}", "'auth': basic auth needs 'username' and "
         "'password'"),
        ("auth: {type: bearer, token: ''}", "'auth': bearer auth needs a non-empty 'token'"),
        ("auth: {type: bearer, token: t, password: p}", "'auth': bearer auth takes 'token', "
         "not 'username' or 'password'"),
        ("auth: {type: digest}", "'auth.type': Input should be 'basic' or 'bearer'"),
        ("proxy: socks5://u:s3cret@p.example:1080", "'proxy' must start with http:// or "
         "https://, got 'socks5://p.example:1080…' (SOCKS proxies are not supported)"),
        ("{auth: {type: bearer, token: t}, headers: {Authorization: x}}",
         "feed 'f': set either 'auth' or an Authorization header, not both"),
    ],
)  # fmt: skip
def test_bad_request_keys_are_named_at_their_line(tmp_path: Path, entry: str, message: str) -> None:
    if entry.startswith("{"):
        text = f"feeds:\n  - {{id: f, url: 'https://f.example/rss', {entry[1:-1]}}}\n"
        line = 2
    else:
        text = f"feeds:\n  - id: f\n    url: https://f.example/rss\n    {entry}\n"
        line = 4
    errors = load(tmp_path, text)
    assert errors == [f"a.yaml:{line}: {message}"]
    assert "s3cret" not in errors[0]


def test_an_unset_variable_is_reported_once(tmp_path: Path) -> None:
    errors = load(
        tmp_path,
        """
        feeds:
          - id: f
            url: https://f.example/rss
            headers: {X-Api-Key: "${NOT_SET}"}
        """,
        env={},
    )
    assert errors == [
        "a.yaml:4: environment variable NOT_SET is not set (set it, or write ${NOT_SET:-default})"
    ]


def test_a_feed_without_request_keys_has_no_request(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("feeds:\n  - {id: f, url: 'https://f.example/rss'}\n")
    [feed] = load_config(make_settings(rules_dir=tmp_path), env={}).config.feeds
    assert feed.request is None


def test_a_feed_config_in_a_log_event_shows_no_proxy_password() -> None:
    feed = FeedConfig(
        id="f", url="https://f.example/rss", proxy="http://u:pr0xy-s3cret@127.0.0.1:1"
    )
    with capture_logs() as logs:
        get_logger("test").info("config", feed=feed)
    assert "pr0xy-s3cret" not in repr(logs)
