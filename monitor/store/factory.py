"""Choose and open the state store the settings ask for.

``MONITOR_REDIS_URL`` set: a :class:`RedisStore` under ``MONITOR_REDIS_PREFIX``
(no I/O yet; call ``ping()`` to fail fast). Unset: a :class:`SqliteStore` in
``MONITOR_DATA_DIR`` (created if missing), opened so a bad path fails here.
"""

from __future__ import annotations

from monitor.errors import StoreError
from monitor.settings import Settings
from monitor.store.base import StateStore
from monitor.store.redis import RedisStore
from monitor.store.sqlite import FILE_NAME, SqliteStore


async def open_store(settings: Settings) -> StateStore:
    """The store for ``settings``; the caller closes it."""
    if settings.redis_url is not None:
        return RedisStore.from_url(settings.redis_url.get_secret_value(), settings.redis_prefix)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create data directory {settings.data_dir}: {e}") from e
    return await SqliteStore.open(settings.data_dir / FILE_NAME)
