"""Choose and open the state store the settings ask for.

``MONITOR_REDIS_URL`` set: a :class:`RedisStore` under ``MONITOR_REDIS_PREFIX``
(no I/O yet; call ``ping()`` to fail fast), on one server, a Sentinel-managed master or a
Cluster, over TLS or not, as the URL and ``MONITOR_REDIS_*`` say
(:mod:`monitor.store.redis_connect`). Unset: a :class:`SqliteStore` in
``MONITOR_DATA_DIR`` (created if missing), opened so a bad path fails here.
"""

from __future__ import annotations

from monitor.errors import StoreError
from monitor.settings import Settings
from monitor.store.base import StateStore
from monitor.store.redis import RedisStore
from monitor.store.redis_connect import options_from
from monitor.store.sqlite import FILE_NAME, SqliteStore


async def open_store(settings: Settings) -> StateStore:
    """The store for ``settings``; the caller closes it."""
    if settings.redis_url is not None:
        try:
            return RedisStore.from_url(
                settings.redis_url.get_secret_value(),
                settings.redis_prefix,
                options=options_from(settings),
            )
        except ValueError as e:  # a URL the client cannot use: the message has no password
            raise StoreError(f"MONITOR_REDIS_URL: {e}") from e
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"cannot create data directory {settings.data_dir}: {e}") from e
    return await SqliteStore.open(settings.data_dir / FILE_NAME)
