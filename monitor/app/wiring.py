"""The parts of a running Monitor that come from the watch config, built so a reload can
swap them whole: compiled rules, their routes, channels and their pacing policies.

:func:`wire` builds a :class:`Wiring` from a :class:`~monitor.config.load.LoadedConfig`.
Given the wiring it replaces, it keeps every channel whose config did not change
(the same object, so a send in flight and a channel's open connection are not
disturbed) and names the channels that are retired (removed, or replaced by a
changed config), for the caller to close once their sends are over.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from monitor.config.load import LoadedConfig
from monitor.delivery.base import Channel
from monitor.delivery.channel_config import ChannelConfig
from monitor.delivery.channels import build_channel
from monitor.delivery.policy import ChannelPolicy, policy_for
from monitor.matching import RuleSet, RuleSpec, compile_rules
from monitor.model import Clock
from monitor.polling.articles import Routes
from monitor.settings import Settings
from monitor.store import StateStore
from monitor.stories import StoryDetector


def stories_for(settings: Settings, store: StateStore) -> StoryDetector | None:
    """The story detector the settings ask for, or None when story dedup is off."""
    window = settings.story_window.total_seconds()
    if window <= 0:
        return None
    # A copy arriving after the first alert's delivered record expired would alert again.
    window = min(window, settings.seen_retention.total_seconds())
    return StoryDetector(store, window, min_similarity=settings.story_similarity)


def build_ruleset(loaded: LoadedConfig) -> RuleSet:
    """Compile and index every rule of the config, entities resolved through its catalog."""
    specs = [
        RuleSpec(r.id, r.query, frozenset(r.feeds) if r.feeds is not None else None)
        for r in loaded.config.rules
    ]
    ruleset = compile_rules(specs, catalog=loaded.catalog)
    # The compiled rules live until the next reload: move them (and everything else alive
    # now) out of the collector's generations, so that the collections that matching
    # triggers never traverse a million rule objects. (Cheap insurance: in the matching
    # benchmark the gain at 100k rules was within noise, but a daemon that keeps more
    # objects alive than the benchmark pays for every full collection.)
    gc.freeze()
    return ruleset


@dataclass(frozen=True)
class Wiring:
    """Everything built from one version of the watch config."""

    loaded: LoadedConfig
    ruleset: RuleSet
    routes: Routes
    channels: Mapping[str, Channel]
    policies: Mapping[str, ChannelPolicy]
    #: Channel configs the channels were built from (to tell which changed on a reload).
    channel_configs: Mapping[str, ChannelConfig] = field(default_factory=dict)
    #: Channels of the previous wiring this one does not use (closed by the caller).
    retired: tuple[Channel, ...] = ()


def wire(
    loaded: LoadedConfig,
    settings: Settings,
    delivery_http: httpx.AsyncClient,
    clock: Clock,
    previous: Wiring | None = None,
    ruleset: RuleSet | None = None,
) -> Wiring:
    """Build the rules (unless ``ruleset`` is given: compiled already), routes and channels
    of ``loaded``, reusing ``previous``'s unchanged channels. Nothing of ``previous`` is
    modified; on an exception nothing new is kept open (a channel's constructor opens
    nothing: connections are made on the first send)."""
    config = loaded.config
    old_channels = previous.channels if previous is not None else {}
    old_configs = previous.channel_configs if previous is not None else {}
    channels: dict[str, Channel] = {}
    for name, channel_config in config.channels.items():
        if name in old_channels and old_configs.get(name) == channel_config:
            channels[name] = old_channels[name]
        else:
            channels[name] = build_channel(name, channel_config, settings, delivery_http, clock)
    kept = {id(c) for c in channels.values()}
    retired = tuple(c for c in old_channels.values() if id(c) not in kept)
    if ruleset is None:
        ruleset = build_ruleset(loaded)
    routes = {
        r.id: (r.query, tuple(r.notify if r.notify is not None else config.channels))
        for r in config.rules
    }
    return Wiring(
        loaded=loaded,
        ruleset=ruleset,
        routes=routes,
        channels=channels,
        policies={name: policy_for(c) for name, c in config.channels.items()},
        channel_configs=dict(config.channels),
        retired=retired,
    )
