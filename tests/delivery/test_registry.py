"""The channel registry: every config type maps to its model and, through build_channel, to
its channel; the models' hooks; and delivery's place below the config in the layering."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Literal

import httpx
import pytest

import monitor.delivery
from monitor.delivery.channel_config import ChannelConfig, ChannelProblem
from monitor.delivery.channels import (
    REGISTRY,
    ConsoleChannel,
    ConsoleChannelConfig,
    EmailChannel,
    EmailChannelConfig,
    SlackChannel,
    SlackChannelConfig,
    WebhookChannel,
    WebhookChannelConfig,
    build_channel,
)
from tests.conftest import FrozenClock
from tests.delivery.support import HOOK_URL, SLACK_URL, WHSEC
from tests.factories import make_settings


async def test_build_channel_maps_every_config_type(clock: FrozenClock) -> None:
    settings = make_settings(smtp_host="smtp.example.org")
    async with httpx.AsyncClient() as http:
        built = {
            "s": build_channel(
                "s", SlackChannelConfig(type="slack", webhook_url=SLACK_URL), settings, http, clock
            ),
            "w": build_channel(
                "w", WebhookChannelConfig(type="webhook", url=HOOK_URL, secret=WHSEC),
                settings, http, clock,
            ),
            "e": build_channel(
                "e", EmailChannelConfig(type="email", to=["a@example.org"]), settings, http, clock
            ),
            "c": build_channel("c", ConsoleChannelConfig(type="console"), settings, http, clock),
        }  # fmt: skip
    assert isinstance(built["s"], SlackChannel)
    assert isinstance(built["w"], WebhookChannel)
    assert isinstance(built["e"], EmailChannel)
    assert isinstance(built["c"], ConsoleChannel)
    assert [c.name for c in built.values()] == ["s", "w", "e", "c"]
    for channel in built.values():
        assert "XXXXXXXX" not in repr(channel) and "SECRETTOKEN" not in repr(channel)
        assert "MfKQ9r8" not in repr(channel)


def test_the_registry_names_every_type_by_its_models_tag() -> None:
    assert list(REGISTRY) == ["slack", "email", "webhook", "console", "apprise"]
    for tag, channel_type in REGISTRY.items():
        assert channel_type.model.type_tag() == tag == channel_type.name
        assert issubclass(channel_type.model, ChannelConfig)
    # Only the types whose messages carry one alert each warn about max_group.
    assert [t for t, c in REGISTRY.items() if c.model.ONE_ALERT_PER_MESSAGE] == [
        "webhook",
        "console",
    ]


def test_build_channel_refuses_a_config_of_no_registered_type(clock: FrozenClock) -> None:
    class PagerChannelConfig(ChannelConfig):
        type: Literal["pager"]

    with pytest.raises(TypeError, match="channel 'p': PagerChannelConfig is no registered"):
        build_channel("p", PagerChannelConfig(type="pager"), make_settings(), None, clock)


def test_the_channel_hooks_report_what_stops_a_channel() -> None:
    mail = EmailChannelConfig(type="email", to=["a@example.org"])
    assert mail.problems("m", make_settings(smtp_host="smtp.example.org")) == []
    assert mail.problems("m", make_settings(smtp_host=None)) == [
        ChannelProblem((), "email channel 'm' needs MONITOR_SMTP_HOST to be set")
    ]
    assert ConsoleChannelConfig(type="console").problems("c", make_settings()) == []
    daily = EmailChannelConfig(type="email", to=["a@x.org"], digest="daily", digest_at="07:30")
    assert daily.digest_schedule() == ("daily", 27000.0)
    assert mail.digest_schedule() is None


def test_delivery_never_imports_the_config() -> None:
    """The layering: config imports delivery (the registry), never the other way round."""
    package = Path(monitor.delivery.__file__).parent
    offenders = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(
                name == "monitor.config" or name.startswith("monitor.config.") for name in names
            ):
                offenders.append(f"{path.relative_to(package)}:{node.lineno}")
    assert offenders == []
