"""One contract suite for every StateStore backend (memory, sqlite, fakeredis, real Redis).

The contract is ``monitor/store/base.py``: a protocol per role, and
``StateStore``, every role at once. The suite has a file per role, and each
test runs against every backend (the ``backend`` and ``store`` fixtures of
``conftest.py``; shared helpers in ``support.py``):

* ``test_feed_state_store.py``: FeedStateStore
* ``test_seen_store.py``: SeenStore
* ``test_outbox.py``: Outbox
* ``test_send_slots.py``: SendSlots
* ``test_story_index.py``: StoryIndex
* ``test_article_archive.py``: ArticleArchive

This file: the StateStore as a whole (every role's state survives reopening;
the factory). What one backend does on its own (key layout, schema and
migrations, purges, error translation) is in ``test_redis_store.py`` and
``test_sqlite_store.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.model import DeliveryRecord, FeedState, FeedValidators, OutboxEntry
from monitor.settings import Settings
from monitor.store.factory import open_store
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore
from tests.conftest import FrozenClock
from tests.store.support import DAY, PERSISTENT, Backend, claim, make_alert


@pytest.mark.parametrize("backend", PERSISTENT, indirect=True)
async def test_state_survives_reopening(backend: Backend, clock: FrozenClock) -> None:
    store = await backend.open()
    state = FeedState(FeedValidators(etag='"v1"'), first_polled_at=clock.now, last_success_at=1.5)
    await store.put_feed_state("feed-1", state)
    await store.mark_seen(["id:seen"], clock.now, retention=DAY)
    assert await store.claim_article(["id:claimed"], clock.now, lease=600)
    await store.enqueue([make_alert(n) for n in (1, 2, 3)], clock.now)
    claims = await claim(store, clock, lease=600, limit=2)
    await store.ack("alert-001", clock.now, detail="ok", retention=DAY)
    await store.dead_letter("alert-002", clock.now, error="gone", claim=claims["alert-002"])
    await store.close()
    delivered = [DeliveryRecord(make_alert(1), delivered_at=clock.now, detail="ok", attempts=1)]

    reopened = await backend.open()
    assert await reopened.get_feed_state("feed-1") == state
    assert await reopened.is_seen("id:seen", clock.now)
    assert not await reopened.claim_article(["id:claimed"], clock.now, lease=600)
    assert await reopened.is_delivered("alert-001", clock.now)
    assert await reopened.pending() == [OutboxEntry(make_alert(3), attempts=0, due_at=clock.now)]
    assert await reopened.dead_letters() == [
        OutboxEntry(make_alert(2), attempts=1, due_at=clock.now, last_error="gone")
    ]
    assert await reopened.recent_deliveries(clock.now, limit=10) == delivered
    assert await reopened.requeue("alert-002", clock.now)


# -- factory ---------------------------------------------------------------------------


async def test_open_store_without_redis_url_uses_sqlite(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    store = await open_store(Settings(_env_file=None, data_dir=data_dir, redis_url=None))
    try:
        assert isinstance(store, SqliteStore)
        assert (data_dir / FILE_NAME).is_file()
    finally:
        await store.close()


async def test_open_store_with_redis_url_uses_redis() -> None:
    settings = Settings(
        _env_file=None, redis_url="redis://:pw@127.0.0.1:1/0", redis_prefix="deploy-a"
    )
    store = await open_store(settings)
    try:
        assert isinstance(store, RedisStore)
        assert store.keys.outbox == "deploy-a:outbox"
    finally:
        await store.close()
