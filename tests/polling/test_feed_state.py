"""What a poll records about a feed body: new entries, body hashes, URL rebase."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.model import FeedState, FeedValidators
from monitor.polling.feed_state import (
    MAX_TRACKED_ENTRIES,
    body_hash,
    count_new_entries,
    entry_hashes,
    rebase,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


def test_new_entries_are_counted_against_the_previous_body() -> None:
    first = entry_hashes(["a", "b", "c"])
    assert len(first) == 3 and len(set(first)) == 3
    assert entry_hashes(["a", "b", "c"]) == first, "stable across calls"
    assert count_new_entries((), first) == 3
    assert count_new_entries(first, entry_hashes(["d", "a", "b"])) == 1
    assert count_new_entries(first, entry_hashes(["a", "a"])) == 0
    assert len(entry_hashes(str(i) for i in range(5000))) == MAX_TRACKED_ENTRIES


def test_rebase_drops_marks_of_another_url() -> None:
    moved = FeedState(
        validators=FeedValidators(etag='"v"'),
        url="https://old.example/rss",
        moved_to="https://new.example/rss",
        disabled_reason="HTTP 410 Gone",
        disabled_at=NOW,
        consecutive_failures=1,
        items_seen=7,
    )
    assert rebase(moved, "https://old.example/rss") is moved
    fresh = rebase(moved, "https://edited.example/rss")
    assert fresh.url == "https://edited.example/rss"
    assert (fresh.moved_to, fresh.disabled, fresh.validators) == ("", False, FeedValidators())
    assert (fresh.items_seen, fresh.consecutive_failures) == (7, 1), "history stays"
    legacy = rebase(FeedState(validators=FeedValidators(etag='"v"'), items_seen=3), "https://a/")
    assert legacy.url == "https://a/" and legacy.validators == FeedValidators()


def test_body_hash_tells_identical_bodies_apart_from_changed_ones() -> None:
    body = b"<rss><channel><item><guid>1</guid></item></channel></rss>"
    assert body_hash(body) == body_hash(bytes(body)), "stable"
    assert body_hash(body) != body_hash(body + b" "), "one byte more is another body"
    assert len(body_hash(body)) == 32
