"""``channels:`` entries are validated against the models of the delivery registry."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from monitor.config.models import CHANNEL_TYPES, WatchConfig
from monitor.delivery.channels import REGISTRY, EmailChannelConfig, SlackChannelConfig


def test_channel_types_are_the_registrys() -> None:
    assert CHANNEL_TYPES == tuple(REGISTRY) == ("slack", "email", "webhook", "console", "apprise")


def test_each_entry_becomes_the_model_its_type_names() -> None:
    config = WatchConfig.model_validate(
        {
            "channels": {
                "s": {"type": "slack", "webhook_url": "https://hooks.slack.com/x"},
                "e": {"type": "email", "to": ["a@example.org"], "digest": "daily"},
            }
        }
    )
    assert isinstance(config.channels["s"], SlackChannelConfig)
    assert isinstance(config.channels["e"], EmailChannelConfig)
    assert config.channels["e"].digest_schedule() == ("daily", 0.0)


def test_errors_are_located_as_in_a_tagged_union() -> None:
    with pytest.raises(ValidationError) as info:
        WatchConfig.model_validate({"channels": {"s": {"type": "slack", "rate_limit": "x"}}})
    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [
        ("value_error", ("channels", "s", "slack", "rate_limit")),
        ("missing", ("channels", "s", "slack", "webhook_url")),
    ]
    with pytest.raises(ValidationError) as info:
        WatchConfig.model_validate({"channels": {"s": {"type": "pager"}}})
    assert [e["type"] for e in info.value.errors()] == ["union_tag_invalid"]
