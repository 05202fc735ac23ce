"""WebSub in the running daemon: subscribe to the hubs feeds name, answer their
verifications, take their pushes, renew leases, and slow the polling of pushed feeds.

:class:`WebSubManager` is built by :func:`websub_for` when ``MONITOR_PUBLIC_URL`` is set
and the HTTP server is on, and given to the pieces it works with:

- the poller calls :meth:`WebSubManager.observe_fetch` with each fetch (its
  ``on_fetched`` hook); a body that names a hub (``monitor.ingest.websub.discover_hub``)
  and has no subscription yet starts one: a record with a fresh callback token and
  ``hub.secret`` goes into the store (:mod:`monitor.store.websub`), then the request to the
  hub, through the feed client (the address policy applies to hubs as to feeds);
- the HTTP server's callback (:mod:`monitor.web.websub`) asks :meth:`verify` and
  :meth:`receive`: a verification is accepted only for a request still pending in the
  store; a push only with the callback's token and a valid signature, and its body goes
  through :func:`monitor.polling.push.process_pushed_body`, the poll's own path;
- :meth:`run` is the lease keeper: it renews each subscription once 85% of its lease has
  passed, asks again a hub that failed (backoff from 1 minute to 1 hour) or never
  verified (after :data:`VERIFY_WAIT`), and unsubscribes feeds the config no longer has
  (at a reload, or at a start after they were removed);
- :meth:`polled_as` makes a pushed feed poll at ``MONITOR_WEBSUB_POLL_INTERVAL``.

A stop does not unsubscribe: the records stay in the store, so a restart (or another
replica) carries on with the same callback and secret, and a daemon that never comes back
is dropped by the hub when its lease ends. Replicas share the records and each runs the
lease keeper; two renewals of one subscription are harmless (the hub verifies each).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx

from monitor.config.models import FeedConfig
from monitor.errors import StoreError
from monitor.ingest import redact_url
from monitor.ingest.websub import (
    callback_url,
    discover_hub,
    hub_form,
    new_secret,
    new_token,
    renew_at,
    retry_delay,
    send_hub_request,
    verify_signature,
)
from monitor.log import get_logger
from monitor.model import Clock, FetchOutcome, FetchStatus
from monitor.polling.poller import Poller
from monitor.polling.push import process_pushed_body
from monitor.polling.schedule import interval_for
from monitor.settings import Settings
from monitor.store import StateStore
from monitor.store.outage import OutageLog
from monitor.store.websub import (
    SUBSCRIBE,
    UNSUBSCRIBE,
    Subscription,
    SubscriptionStore,
)
from monitor.web.metrics import Metrics
from monitor.web.websub import PushResult

log = get_logger("monitor.websub")

#: Seconds a hub has to verify a request before it is asked again.
VERIFY_WAIT = 15 * 60.0
#: Seconds before asking again a hub that denied a subscription.
DENIED_RETRY = 86_400.0
#: Longest sleep of the lease keeper: how soon it sees what other replicas stored.
RECHECK = 60.0
#: Failed unsubscribe requests after which the record is dropped (the lease runs out).
MAX_UNSUBSCRIBE_ATTEMPTS = 3
#: Pushed bodies processed at once (each is one batch of store calls, as a poll's).
MAX_CONCURRENT_PUSHES = 4
#: Seconds the requests in flight get at a stop.
STOP_GRACE = 2.0
#: Longest lease kept, whatever a hub says (a typo of a century must not stop renewals).
MAX_LEASE = 366 * 86_400.0
#: Why a verification or push names no subscription of ours.
UNKNOWN_CALLBACK = "unknown callback"


class WebSubManager:
    """The daemon's WebSub subscriber: see the module docstring."""

    def __init__(
        self,
        *,
        public_url: str,
        store: SubscriptionStore,
        http: httpx.AsyncClient,
        poller: Poller,
        metrics: Metrics,
        feeds: Callable[[], Sequence[FeedConfig]],
        wake: Callable[[], None],
        clock: Clock,
        lease: float,
        poll_interval: timedelta,
        default_interval: timedelta,
        max_body: int,
        hub_timeout: float,
        outage: OutageLog | None = None,
    ) -> None:
        self.public_url = public_url
        self.store = store
        self.http = http
        self.poller = poller
        self.metrics = metrics
        self.feeds = feeds
        self.wake = wake
        self.clock = clock
        self.lease = lease
        self.poll_interval = poll_interval
        self.default_interval = default_interval
        #: Largest pushed body read (``WebSubReceiver.max_body``).
        self.max_body = max_body
        self.hub_timeout = hub_timeout
        self.outage = outage or OutageLog()
        #: The stored subscriptions as last read or written here (``polled_as`` reads it).
        self._known: dict[str, Subscription] = {}
        # A record is read, changed and written under its feed's lock, never across a
        # request to a hub: a hub may verify while we wait for its answer.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._busy: set[str] = set()  # feeds with a request being prepared or sent
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._pushes = asyncio.Semaphore(MAX_CONCURRENT_PUSHES)

    # -- polling -----------------------------------------------------------------

    def polled_as(self, feed: FeedConfig) -> FeedConfig:
        """``feed`` as it is polled now: at MONITOR_WEBSUB_POLL_INTERVAL while a hub pushes
        it (never more often than its own interval)."""
        known = self._known.get(feed.id)
        if known is None or not known.active(self.clock()):
            return feed
        if interval_for(feed, self.default_interval) >= self.poll_interval:
            return feed
        return feed.model_copy(update={"interval": self.poll_interval})

    def observe_fetch(self, feed: FeedConfig, outcome: FetchOutcome) -> None:
        """The poller's hook: subscribe when a fetched body names a hub not subscribed at."""
        if outcome.status is not FetchStatus.OK or feed.id in self._busy:
            return
        links = discover_hub(outcome.body, outcome.headers, feed.url)
        known = self._known.get(feed.id)
        if links is None or (
            known is not None
            and known.mode == SUBSCRIBE
            and (known.hub, known.topic) == (links.hub, links.topic)
        ):
            return  # no hub, or subscribed (or being): the lease keeper takes it from here
        now = self.clock()
        fresh = Subscription(
            feed.id,
            links.hub,
            links.topic,
            token=new_token(),
            secret=new_secret(),
            requested_at=now,
            due_at=now,
            allow_private=feed.allow_private_addresses,
        )
        self._spawn(feed.id, self._adopt(fresh))

    async def _adopt(self, fresh: Subscription) -> None:
        """Store a new subscription of a feed (or one to a new hub or topic) and send it."""
        async with self._locks[fresh.feed_id]:
            current = await self.store.get_subscription(fresh.feed_id)
            if current is None:
                current = await self.store.add_subscription(fresh)  # or a replica's
            elif current.mode != SUBSCRIBE or (current.hub, current.topic) != (
                fresh.hub,
                fresh.topic,
            ):
                # Another hub or topic: the old subscription's lease runs out by itself
                # (its callback token is gone: the old hub's pushes and calls get a 404).
                await self.store.put_subscription(fresh)
                current = fresh
            self._known[fresh.feed_id] = current
        if current == fresh:
            log.info(
                "websub_discovered",
                feed=fresh.feed_id,
                hub=redact_url(fresh.hub),
                topic=redact_url(fresh.topic),
            )
            await self._send(fresh)
        self._changed.set()

    # -- requests to hubs ----------------------------------------------------------

    async def _send(self, sub: Subscription) -> None:
        """Send ``sub``'s request (its mode) to its hub and record the answer."""
        feed_id = sub.feed_id
        now = self.clock()
        async with self._locks[feed_id]:
            current = await self.store.get_subscription(feed_id)
            if current is None or (current.token, current.mode) != (sub.token, sub.mode):
                return  # replaced or removed meanwhile
            # Pending before the request leaves: a hub may verify before it answers.
            # A retry (still awaiting a verification) keeps when the first request went out.
            since = current.pending_since if current.pending else None
            sending = replace(
                current,
                pending=True,
                requested_at=now,
                pending_since=since if since is not None else now,
                due_at=now + VERIFY_WAIT,
            )
            await self.store.put_subscription(sending)
            self._known[feed_id] = sending
        subscribe = sub.mode == SUBSCRIBE
        form = hub_form(
            sub.mode,
            sub.topic,
            callback_url(self.public_url, feed_id, sub.token),
            secret=sub.secret if subscribe else "",
            lease_seconds=round(self.lease) if subscribe else 0,
        )
        answer = await send_hub_request(
            self.http, sub.hub, form, deadline=self.hub_timeout, allow_private=sub.allow_private
        )
        self.metrics.websub_hub_requests.labels(
            sub.mode, "accepted" if answer.accepted else "failed"
        ).inc()
        async with self._locks[feed_id]:
            current = await self.store.get_subscription(feed_id)
            if current is None or (current.token, current.mode) != (sub.token, sub.mode):
                return
            if answer.accepted:
                updated = replace(current, failures=0, last_error="")
                log.info("websub_request", feed=feed_id, mode=sub.mode, hub=redact_url(sub.hub))
            else:
                failures = current.failures + 1
                due = self.clock() + retry_delay(failures)
                # A hub's error text may quote the form back: never log or keep our secrets.
                error = answer.error.replace(sub.secret, "***").replace(sub.token, "***")
                updated = replace(
                    current,
                    failures=failures,
                    last_error=error,
                    due_at=due if current.pending else current.due_at,
                )
                log.warning(
                    "websub_request",
                    feed=feed_id,
                    mode=sub.mode,
                    hub=redact_url(sub.hub),
                    status="failed",
                    error=error,
                    failures=failures,
                    retry_in=round(due - self.clock(), 1),
                )
            await self.store.put_subscription(updated)
            self._known[feed_id] = updated
        self._changed.set()

    def _spawn(self, feed_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` (a request for ``feed_id``) in the background, one per feed at once."""
        self._busy.add(feed_id)

        async def guarded() -> None:
            try:
                await work
            except StoreError as e:
                self.outage.failed(e, "websub")  # the lease keeper tries again
            except Exception:
                log.exception("websub_request", feed=feed_id, status="crashed")
            finally:
                self._busy.discard(feed_id)

        task = asyncio.create_task(guarded(), name=f"websub:{feed_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the callback (monitor.web.websub.WebSubReceiver) ------------------------------

    async def verify(self, feed_id: str, token: str, params: Mapping[str, str]) -> str | None:
        """Answer a hub's GET: the challenge of a pending request, "" for a denial, or
        None (404) for anything this daemon did not ask for."""
        mode = params.get("hub.mode", "")
        challenge = params.get("hub.challenge", "")
        topic = params.get("hub.topic", "")
        # Checked before taking the feed's lock: a lock per feed id anyone can put in a URL
        # would let them grow the table without end.
        refusal = _refusal(await self.store.get_subscription(feed_id), token, mode, topic, "-")
        if refusal == UNKNOWN_CALLBACK:
            log.warning("websub_verify", feed=feed_id[:100], mode=mode[:20], refused=refusal)
            return None
        async with self._locks[feed_id]:
            sub = await self.store.get_subscription(feed_id)
            refusal = _refusal(sub, token, mode, topic, challenge)
            if refusal or sub is None:
                log.warning("websub_verify", feed=feed_id, mode=mode[:20], refused=refusal)
                return None
            now = self.clock()
            if mode == UNSUBSCRIBE:
                await self.store.delete_subscription(feed_id)
                self._known.pop(feed_id, None)
                log.info("websub_verify", feed=feed_id, mode=mode, hub=redact_url(sub.hub))
                return challenge
            if mode == "denied":
                reason = " ".join(params.get("hub.reason", "").split())[:200]
                sub = replace(
                    sub,
                    pending=False,
                    pending_since=None,
                    expires_at=None,
                    due_at=now + DENIED_RETRY,
                    last_error=f"denied by the hub: {reason or 'no reason given'}",
                )
                log.warning("websub_denied", feed=feed_id, hub=redact_url(sub.hub), reason=reason)
                challenge = ""
            else:
                lease = _lease(params.get("hub.lease_seconds"), self.lease)
                sub = replace(
                    sub,
                    pending=False,
                    pending_since=None,
                    expires_at=now + lease,
                    lease_seconds=lease,
                    due_at=renew_at(now, lease),
                    failures=0,
                    last_error="",
                )
                log.info(
                    "websub_verify", feed=feed_id, mode=mode, hub=redact_url(sub.hub), lease=lease
                )
            await self.store.put_subscription(sub)
            self._known[feed_id] = sub
        self._changed.set()
        self._count_active()
        return challenge

    async def receive(
        self, feed_id: str, token: str, body: bytes, content_type: str, signature: str | None
    ) -> PushResult:
        """Check one push (callback token, signature) and process its body."""
        sub = await self.store.get_subscription(feed_id)
        if sub is None or not hmac.compare_digest(token.encode(), sub.token.encode()):
            log.warning("websub_push", feed=feed_id[:100], outcome="unknown")
            return PushResult("unknown")
        if sub.mode != SUBSCRIBE:
            return PushResult("ignored")
        if reason := verify_signature(signature, body, sub.secret):
            log.warning("websub_push", feed=feed_id, outcome="bad_signature", reason=reason)
            return PushResult("bad_signature")
        feed = next((f for f in self.feeds() if f.id == feed_id), None)
        if feed is None:  # removed by a reload; its unsubscribe is on its way
            return PushResult("ignored")
        async with self._pushes:
            report = await process_pushed_body(
                self.poller, feed, body, content_type, now=self.clock()
            )
        if report.error:
            log.warning("websub_push", feed=feed_id, outcome="not_a_feed", error=report.error)
            return PushResult("not_a_feed", report)
        if report.counts.alerts:
            self.wake()
        log.info(
            "websub_push",
            feed=feed_id,
            outcome="accepted",
            entries=report.entries,
            new=report.counts.new,
            alerts=report.counts.alerts,
        )
        return PushResult("accepted", report)

    # -- the lease keeper ------------------------------------------------------------

    def poke(self) -> None:
        """Look at the subscriptions now (the feed list changed)."""
        self._changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Renew, retry and unsubscribe when due, until ``stop`` is set."""
        while not stop.is_set():
            self._changed.clear()
            try:
                await self.check_due()
                self.outage.succeeded()
            except StoreError as e:
                self.outage.failed(e, "websub")
            except Exception:
                log.exception("websub", status="crashed")
            waits = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self._changed.wait()),
            ]
            await asyncio.wait(
                waits, timeout=self._next_wake(), return_when=asyncio.FIRST_COMPLETED
            )
            for waiter in waits:
                waiter.cancel()
        await self._finish()

    async def check_due(self) -> None:
        """One pass of the lease keeper: read the stored subscriptions (what replicas did
        too), unsubscribe removed feeds, send the renewals and retries that are due."""
        now = self.clock()
        records = await self.store.subscriptions()
        self._known = {sub.feed_id: sub for sub in records}
        configured = {feed.id for feed in self.feeds()}
        for sub in records:
            if sub.feed_id in self._busy:
                continue
            if sub.mode == SUBSCRIBE and sub.feed_id not in configured:
                log.info("websub_unsubscribe", feed=sub.feed_id, reason="feed removed")
                leaving = replace(
                    sub, mode=UNSUBSCRIBE, pending=True, pending_since=None, due_at=now, failures=0
                )
                await self.store.put_subscription(leaving)
                self._known[sub.feed_id] = leaving
                self._spawn(sub.feed_id, self._send(leaving))
            elif sub.due_at is not None and sub.due_at <= now:
                if sub.mode == UNSUBSCRIBE and sub.failures >= MAX_UNSUBSCRIBE_ATTEMPTS:
                    await self.store.delete_subscription(sub.feed_id)  # its lease runs out
                    self._known.pop(sub.feed_id, None)
                    continue
                self._spawn(sub.feed_id, self._send(sub))
        self._count_active()

    def _next_wake(self) -> float:
        """Seconds until the next renewal, retry or lease end (at most :data:`RECHECK`)."""
        now = self.clock()
        times = [s.due_at for s in self._known.values() if s.due_at is not None]
        times += [s.expires_at for s in self._known.values() if s.expires_at is not None]
        later = [t - now for t in times if t > now]
        return max(0.05, min([RECHECK, *later]))

    def _count_active(self) -> None:
        now = self.clock()
        active = sum(1 for sub in self._known.values() if sub.active(now))
        self.metrics.websub_subscriptions.set(active)

    async def settle(self) -> None:
        """Wait for the requests in flight (tests; a stop uses :meth:`_finish`)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _finish(self) -> None:
        """Give requests in flight a moment, then cut them off (their records say what to
        redo: a request not answered is asked again after VERIFY_WAIT)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _refusal(sub: Subscription | None, token: str, mode: str, topic: str, challenge: str) -> str:
    """Why a hub's GET is not for a request of ours ("" when it is)."""
    if sub is None or not hmac.compare_digest(token.encode(), sub.token.encode()):
        return UNKNOWN_CALLBACK
    if topic != sub.topic:
        return "another topic"
    if mode == "denied":
        return "" if sub.mode == SUBSCRIBE else "not subscribed"
    if mode not in (SUBSCRIBE, UNSUBSCRIBE):
        return "unknown mode"
    if sub.mode != mode or not sub.pending:
        return f"no {mode} request pending"
    return "" if challenge else "no challenge"


def _lease(value: str | None, default: float) -> float:
    """The lease a hub granted (``hub.lease_seconds``), or ``default`` if it says none."""
    try:
        seconds = float(value) if value else default
    except ValueError:
        return default
    return min(seconds, MAX_LEASE) if seconds >= 1 else default


def websub_for(
    settings: Settings,
    store: StateStore,
    poller: Poller,
    metrics: Metrics,
    *,
    feeds: Callable[[], Sequence[FeedConfig]],
    wake: Callable[[], None],
    clock: Clock,
    outage: OutageLog | None = None,
) -> WebSubManager | None:
    """The manager the settings ask for: None without ``MONITOR_PUBLIC_URL``, or without
    the HTTP server a hub would call (then said once in the log)."""
    if settings.public_url is None:
        return None
    if not settings.http_addr:
        log.warning(
            "websub",
            status="off",
            detail="MONITOR_PUBLIC_URL is set but MONITOR_HTTP_ADDR is empty: no server to "
            "take the hubs' calls, so feeds are only polled",
        )
        return None
    return WebSubManager(
        public_url=settings.public_url,
        store=store,  # a StateStore is its own SubscriptionStore
        http=poller.http,
        poller=poller,
        metrics=metrics,
        feeds=feeds,
        wake=wake,
        clock=clock,
        lease=settings.websub_lease.total_seconds(),
        poll_interval=settings.websub_poll_interval,
        default_interval=settings.poll_interval,
        max_body=settings.max_feed_bytes,
        hub_timeout=settings.fetch_timeout.total_seconds(),
        outage=outage,
    )
