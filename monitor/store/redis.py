"""Redis state store, shared by every replica: the :class:`StateStore` on a Redis server.

Owns the calls (which script or command each contract method sends, with
which keys and arguments), the decoding of replies, the connection pool and
error translation. The key layout is :mod:`monitor.store.redis_keys`; every
operation that changes several keys at once is a Lua script of
:mod:`monitor.store.redis_scripts`, so it is atomic on the server.

Times come from the caller, never from Redis ``TIME``. Each record stores its
own end time ("seen 1800000030.5", a delivered record's ``until`` field) and is
compared with the caller's ``now``; the Redis TTL (the record's duration plus
:data:`TTL_GRACE_MS`, in real time) only collects the garbage. So a frozen test
clock far from real time behaves exactly like the real one.

The article archive is a sorted set (member by archived time) beside two hashes
(the article JSON, the story id), all written and trimmed (by age and to the
newest ``max_articles``) by one script per ``archive_articles``, each key with a
TTL of the retention: it is bounded while written to and expires once not.

The outbox (its calls; its delivered records, bounded by :data:`DELIVERED_LOG_LIMIT`;
the index its summary reads) is :mod:`monitor.store.redis_outbox`'s; the alert history
and the silences (their calls and scripts), :mod:`monitor.store.redis_history`'s; the
disabled channels, :mod:`monitor.store.redis_channels`'s; the WebSub subscriptions,
:mod:`monitor.store.redis_websub`'s.

Redis exceptions become :class:`~monitor.errors.StoreError` at this boundary,
with the password of the URL, if any, redacted from the message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from monitor.errors import StoreError
from monitor.model import (
    MAX_STORY_MEMBERS,
    SKETCH_WORDS,
    ArchivedArticle,
    ClaimResult,
    FeedState,
    StoryAssignment,
    StoryMember,
    StoryProbe,
)
from monitor.store import redis_scripts as lua
from monitor.store.base import StateStore, per_key
from monitor.store.codec import (
    decode_archived_article,
    decode_feed_state,
    encode_archived_article,
    encode_feed_state,
)
from monitor.store.redis_channels import RedisChannels
from monitor.store.redis_connect import RedisOptions, check_prefix, make_client, url_password
from monitor.store.redis_history import RedisHistory
from monitor.store.redis_keys import Keys
from monitor.store.redis_outbox import RedisOutbox
from monitor.store.redis_schedule import RedisSchedule
from monitor.store.redis_scripts import TTL_GRACE_MS as TTL_GRACE_MS  # named here too
from monitor.store.redis_scripts import num, ttl_ms
from monitor.store.redis_websub import RedisSubscriptions
from monitor.store.story_rules import (
    FIRST_FLOOR,
    MAX_STORY_FINGERPRINTS,
    NEAR_COPY,
    decode_story_members,
    encode_fingerprint,
    encode_story_member,
)

#: Connections a store made by ``RedisStore.from_url`` opens at most (the poller keeps at
#: most half of them busy: ``monitor.polling.poller.DEFAULT_ACTIVE_POLLS``).
MAX_CONNECTIONS = 32
#: Seconds a call waits for a free connection before failing.
POOL_TIMEOUT = 20.0
#: How many delivered alerts ``recent_deliveries`` can reach back (the newest are kept).
DELIVERED_LOG_LIMIT = 10_000
#: Ended stories one ``assign_story`` call purges at most (it creates at most one).
STORY_PURGE_LIMIT = 16
#: Archived articles read per HMGET when listing the archive.
ARCHIVE_PAGE = 500
#: Longest TTL given to the archive keys (a retention of years is not a TTL of years).
_ARCHIVE_TTL_CAP = 400 * 86_400.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStore(RedisOutbox, RedisHistory, RedisChannels, RedisSubscriptions, StateStore):
    """A :class:`StateStore` in Redis, safe for any number of replicas.

    ``client`` may decode responses or not. A client passed in stays the
    caller's to close; one made by :meth:`from_url` is closed by :meth:`close`.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str = "news-monitor",
        *,
        delivered_log_limit: int = DELIVERED_LOG_LIMIT,
    ) -> None:
        self._client = client
        self._log_limit = max(delivered_log_limit, 1)
        self._owns_client = False
        self.keys = Keys(prefix)
        pool = getattr(client, "connection_pool", None)  # a RedisCluster has a pool per node
        password = pool.connection_kwargs.get("password") if pool is not None else None
        self._secret = password if isinstance(password, str) and password else None
        script = client.register_script
        self._claim_articles = script(lua.CLAIM_ARTICLES)
        self._release_article = script(lua.RELEASE_ARTICLE)
        self._register_outbox_scripts()
        self._reserve_send = script(lua.RESERVE_SEND)
        self._assign_story = script(lua.ASSIGN_STORY)
        self._archive_articles = script(lua.ARCHIVE_ARTICLES)

    @classmethod
    def from_url(
        cls,
        url: str,
        prefix: str = "news-monitor",
        *,
        max_connections: int = MAX_CONNECTIONS,
        pool_timeout: float = POOL_TIMEOUT,
        options: RedisOptions | None = None,
        **client_kwargs: Any,
    ) -> RedisStore:
        """A store on a new client for ``url`` (no I/O until the first call).

        ``url`` may name one server, a Sentinel-managed master or a Cluster, with TLS
        (``options``: CA and client certificate files, the sentinels' password); see
        :mod:`monitor.store.redis_connect`. ValueError for a bad URL, or a Cluster URL
        with a ``prefix`` that has no hash tag.

        Defaults: 5 s connect timeout, 10 s socket timeout, 3 quick retries
        (at most about half a second), so a dead server fails fast. At most
        ``max_connections`` connections, and a caller beyond them waits for
        one (up to ``pool_timeout``) instead of failing. The pool does not
        serve its waiters in turn (a freed connection goes to whichever call
        asks first, often the next call of the task that freed it), so a
        crowd of callers can starve some of them: callers are kept fewer
        than the connections (the poller bounds its active polls) rather
        than queued.
        """
        client_kwargs.setdefault("socket_connect_timeout", 5.0)
        client_kwargs.setdefault("socket_timeout", 10.0)
        client_kwargs.setdefault(
            "retry", Retry(ExponentialWithJitterBackoff(cap=0.25, base=0.05), 3)
        )
        check_prefix(url, prefix)
        client = make_client(
            url,
            options,
            max_connections=max_connections,
            pool_timeout=pool_timeout,
            **client_kwargs,
        )
        store = cls(client, prefix)
        store._owns_client = True
        store._secret = url_password(url) or store._secret
        return store

    @contextlib.contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Translate Redis exceptions into StoreError, without leaking the password."""
        try:
            yield
        except RedisError as e:
            message = f"redis {operation} failed: {type(e).__name__}: {e}"
            if self._secret:
                message = message.replace(self._secret, "**********")
            raise StoreError(message) from e

    # -- feeds ---------------------------------------------------------------

    async def get_feed_state(self, feed_id: str) -> FeedState | None:
        with self._errors("get_feed_state"):
            value = await self._client.get(self.keys.feed(feed_id))
        return None if value is None else decode_feed_state(value)

    async def put_feed_state(self, feed_id: str, state: FeedState) -> None:
        with self._errors("put_feed_state"):
            await self._client.set(self.keys.feed(feed_id), encode_feed_state(state))

    # -- articles ------------------------------------------------------------

    async def claim_articles(
        self, articles: Sequence[Sequence[str]], now: float, lease: float
    ) -> list[ClaimResult]:
        if not articles:
            return []
        keys = [self.keys.article(k) for article in articles for k in article]
        args: list[str | int] = [num(now), f"claim {num(now + lease)}", ttl_ms(lease)]
        args += [len(article) for article in articles]
        with self._errors("claim_articles"):
            codes = await self._claim_articles(keys=keys, args=args)
        return [lua.CLAIM_CODES[int(code)] for code in codes]

    async def mark_seen(
        self, keys: Sequence[str], now: float, retention: float | Sequence[float]
    ) -> None:
        with self._errors("mark_seen"):
            async with self._client.pipeline(transaction=True) as pipe:
                for key, keep in zip(keys, per_key(retention, len(keys)), strict=True):
                    pipe.set(self.keys.article(key), f"seen {num(now + keep)}", px=ttl_ms(keep))
                await pipe.execute()

    async def release_article(self, keys: Sequence[str]) -> None:
        with self._errors("release_article"):
            await self._release_article(keys=[self.keys.article(k) for k in keys])

    async def is_seen(self, key: str, now: float) -> bool:
        with self._errors("is_seen"):
            value = await self._client.get(self.keys.article(key))
        if value is None:
            return False
        kind, _, until = _text(value).partition(" ")
        return kind == "seen" and float(until) > now

    # -- send slots (the outbox is redis_outbox's) ---------------------------

    async def reserve_send(self, channel: str, now: float, interval: float) -> float | None:
        with self._errors("reserve_send"):
            opens = await self._reserve_send(
                keys=[self.keys.send_slot(channel)],
                args=[num(now), num(now + interval), ttl_ms(interval)],
            )
        text = _text(opens) if opens is not None else ""
        return float(text) if text else None

    # -- stories -------------------------------------------------------------

    async def assign_story(
        self,
        member: StoryMember,
        probe: StoryProbe,
        min_similarity: float,
        now: float,
        window: float,
    ) -> StoryAssignment:
        k = self.keys
        bands = list(dict.fromkeys(probe.bands))
        with self._errors("assign_story"):
            story_id, members, until = await self._assign_story(
                keys=[
                    k.story_until,
                    k.story_sketch,
                    k.story_anchors,
                    k.story_members,
                    k.story_article(member.article_id),
                    k.story_fingerprints,
                    k.story_fingerprints_until,
                ]
                + [k.story_band(b) for b in bands],
                args=[
                    num(now),
                    member.article_id,
                    encode_story_member(member),
                    probe.sketch,
                    "\n".join(probe.anchors),
                    num(min_similarity),
                    num(now + window),
                    ttl_ms(window),
                    MAX_STORY_MEMBERS,
                    SKETCH_WORDS,
                    STORY_PURGE_LIMIT,
                    num(min_similarity * FIRST_FLOOR),
                    num(NEAR_COPY),
                    MAX_STORY_FINGERPRINTS,
                    encode_fingerprint(probe.sketch, probe.anchors),
                ],
            )
        story_id = _text(story_id)
        return StoryAssignment(
            story_id,
            story_id == member.article_id,
            decode_story_members(members),
            float(until),
        )

    async def get_story(self, story_id: str, now: float) -> StoryAssignment | None:
        k = self.keys
        with self._errors("get_story"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zscore(k.story_until, story_id)
                pipe.hget(k.story_members, story_id)
                until, members = await pipe.execute()
        if until is None or float(until) <= now or members is None:
            return None
        return StoryAssignment(story_id, False, decode_story_members(members), float(until))

    # -- archive -------------------------------------------------------------

    async def archive_articles(
        self, entries: Sequence[ArchivedArticle], now: float, retention: float, max_articles: int
    ) -> None:
        if retention <= 0 or max_articles <= 0:
            return
        k = self.keys
        args: list[str | int] = [
            num(now - retention),
            max_articles,
            ttl_ms(min(retention, _ARCHIVE_TTL_CAP)),
        ]
        for e in entries:
            member = k.archive_member(e.article.feed_id, e.article.id)
            args += [member, num(e.archived_at), e.story_id, encode_archived_article(e.article)]
        with self._errors("archive_articles"):
            await self._archive_articles(
                keys=[k.archive, k.archive_articles, k.archive_stories], args=args
            )

    async def archived_articles(
        self, since: float, limit: int | None = None
    ) -> list[ArchivedArticle]:
        if limit is not None and limit <= 0:
            return []
        k = self.keys
        out: list[ArchivedArticle] = []
        with self._errors("archived_articles"):
            if limit is None:
                reply = await self._client.zrangebyscore(
                    k.archive, num(since), "+inf", withscores=True
                )
            else:  # the newest `limit`: ZREVRANGEBYSCORE orders ties by member, descending
                reply = await self._client.zrevrangebyscore(
                    k.archive, "+inf", num(since), start=0, num=limit, withscores=True
                )
            scored = cast(list[tuple[bytes | str, float]], reply)  # WITHSCORES: pairs
            if limit is not None:
                scored = scored[::-1]
            # A page at a time; an entry trimmed since the range was read is skipped.
            for start in range(0, len(scored), ARCHIVE_PAGE):
                page = scored[start : start + ARCHIVE_PAGE]
                members = [member for member, _ in page]
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.hmget(k.archive_articles, members)
                    pipe.hmget(k.archive_stories, members)
                    articles, stories = await pipe.execute()
                for (_, at), article, story in zip(page, articles, stories, strict=True):
                    if article is not None:
                        text = decode_archived_article(article)
                        out.append(ArchivedArticle(text, float(at), _text(story or "")))
        return out

    async def rule_fingerprints(self) -> dict[str, str]:
        with self._errors("rule_fingerprints"):
            stored = await self._client.hgetall(self.keys.rule_fingerprints)
        return {_text(rule): _text(value) for rule, value in stored.items()}

    async def set_rule_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        key = self.keys.rule_fingerprints
        with self._errors("set_rule_fingerprints"):
            async with self._client.pipeline(transaction=True) as pipe:  # MULTI: atomic
                pipe.delete(key)
                if fingerprints:
                    fields: dict[FieldT, EncodableT] = {r: f for r, f in fingerprints.items()}
                    pipe.hset(key, mapping=fields)
                await pipe.execute()

    # -- the shared feed schedule ---------------------------------------------

    def feed_schedule(self) -> RedisSchedule:
        """The feed schedule replicas share (:mod:`monitor.store.redis_schedule`), on this
        store's client and prefix; it fails like the store (StoreError)."""
        return RedisSchedule(self._client, self.keys, self._errors)

    # -- lifecycle -----------------------------------------------------------

    async def ping(self) -> None:
        with self._errors("ping"):
            await self._client.ping()

    async def close(self) -> None:
        if self._owns_client:
            with self._errors("close"):
                await self._client.aclose()
