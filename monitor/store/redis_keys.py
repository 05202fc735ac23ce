"""The Redis key layout of the state store: every key name and what it holds.

This is the on-server format. Data written by an earlier version is read
through these names, so a name or a value format must not change (add new keys
instead); ``tests/store/test_redis_store.py`` pins them. Every key lives under
one prefix (``MONITOR_REDIS_PREFIX``), so deployments can share a server.

Records that expire keep their own end time, of the caller's clock (``"seen
1800000030.5"``, a delivered record's ``until`` field); the Redis TTL only
collects the garbage (see :mod:`monitor.store.redis`).
"""

from __future__ import annotations

__all__ = ["Keys"]


class Keys:
    """Every Redis key of the store, in one place."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        #: Sorted set: alert id -> due time (while claimed: lease end).
        self.outbox = f"{prefix}:outbox"
        #: Hash: alert id -> alert JSON (outbox and dead letters).
        self.alerts = f"{prefix}:alert"
        #: Hash: alert id -> failed attempts so far.
        self.attempts = f"{prefix}:attempts"
        #: Hash: alert id -> error of the last failed attempt.
        self.errors = f"{prefix}:error"
        #: Sorted set: alert id -> time it was dead-lettered.
        self.dead = f"{prefix}:dead"
        #: Sorted set: alert id -> its ``created_at`` (epoch seconds), for every alert in
        #: the outbox or the dead letters (one index for both, so neither ``dead_letter``
        #: nor ``requeue`` touches it): what ``outbox_summary`` finds the oldest queued
        #: alert by, without reading any alert. ``enqueue`` adds, ``ack`` removes. Data
        #: written before it existed (or by an older version) has no or a partial index:
        #: it is rebuilt from the alerts when its size is not the outbox's plus the dead
        #: letters' (``monitor.store.redis_outbox``).
        self.outbox_born = f"{prefix}:outbox_born"
        #: Sorted set: alert id -> time it was delivered (the newest, for listing only).
        self.delivered_log = f"{prefix}:delivered_log"
        #: Hash: alert id -> token of the claim that holds it (fencing).
        self.claims = f"{prefix}:claim"
        #: Sorted set: archive member (:meth:`archive_member`) -> when it was archived.
        #: Trimmed by age and to the newest MONITOR_ARCHIVE_MAX_ARTICLES at every write,
        #: and expires (with the two hashes below) when nothing was archived for a retention.
        self.archive = f"{prefix}:archive"
        #: Hash: archive member -> the article JSON (``codec.encode_archived_article``).
        self.archive_articles = f"{prefix}:archive_article"
        #: Hash: archive member -> the id of its story (members without a story: no field).
        self.archive_stories = f"{prefix}:archive_story"
        #: Hash: rule id -> its fingerprint, as last set (no TTL: one field per rule).
        self.rule_fingerprints = f"{prefix}:rule_fingerprint"
        #: The alert history (``monitor.store.redis_history``). Every history key expires
        #: a retention after the last ``record_history`` (history turned off: it goes).
        #: Sorted set: alert id -> created_at; the order of every search (newest first).
        self.history = f"{prefix}:history"
        #: Sorted set: alert id -> updated_at; what the retention drops first.
        self.history_updated = f"{prefix}:history_updated"
        #: Hash: alert id -> the alert JSON (``codec.encode_alert``).
        self.history_alerts = f"{prefix}:history_alert"
        #: Hash: alert id -> ``"<status index>\n<created_at>\n<updated_at>\n<coverage>\n
        #: <rule id>\n<channel>\n<story key>"`` (status index: in ``ALERT_STATUSES``;
        #: coverage: ``len(alert.also_in)``; the story key may hold newlines: it is last).
        self.history_meta = f"{prefix}:history_meta"
        #: Hash: alert id -> its events, one ``history_rules.encode_event`` line each.
        self.history_events = f"{prefix}:history_events"
        #: Sorted set: hour (``floor(created_at / 3600)``) -> hour, for each hour whose
        #: entries have a word block and a signature (below).
        self.history_hours = f"{prefix}:history_hours"
        #: Hash: hour -> how many live entries were created in it (at 0 its block goes).
        self.history_hour_live = f"{prefix}:history_hour_live"
        #: Sorted set: ``"<rule id>\0<story key>\0<alert id>"`` -> created_at, one per
        #: entry: what ``history_stats`` counts a rule's distinct stories from.
        self.history_stories = f"{prefix}:history_stories"
        #: String: scratch space of the history script (empty between calls).
        self.history_scratch = f"{prefix}:history_scratch"
        #: The start of the per-rule, per-channel, per-status and per-hour keys below (the
        #: history script names those of the entries it creates or drops from it).
        self.history_index = f"{prefix}:history_"
        #: Hash: silence id -> the silence JSON (``monitor.store.redis_history``).
        self.silences = f"{prefix}:silence"
        #: The shared feed schedule (``monitor.store.redis_schedule``), no TTL.
        #: Sorted set: feed id -> when it is due (caller's clock; while leased: lease end).
        self.schedule = f"{prefix}:schedule"
        #: Hash: feed id -> the token of the replica holding its lease (fencing); a field
        #: stays after its lease ends until the feed is claimed, finished or rescheduled.
        self.schedule_leases = f"{prefix}:schedule_lease"
        #: String: the store's generation, a random id written once; gone or changed means
        #: the server lost its data (restarted empty, flushed).
        self.generation = f"{prefix}:generation"
        #: Hash: channel name -> JSON ``{"channel", "since", "reason", "target"}`` of a
        #: channel disabled by its receiver's 410 Gone (``monitor.store.redis_channels``);
        #: no TTL: a record goes when the channel is enabled.
        self.channel_disabled = f"{prefix}:channel_disabled"
        #: Hash: feed id -> JSON of its WebSub subscription (``websub.encode``; the calls are
        #: ``monitor.store.redis_websub``'s); no TTL: a record goes when its subscription does.
        self.websub_subscriptions = f"{prefix}:websub_subscription"

    @staticmethod
    def archive_member(feed_id: str, article_id: str) -> str:
        """The member naming an archived article: ``<feed id>\\n<article id>``.

        Members of equal time sort by their bytes, so by feed id, then article id
        (feed ids are identifiers: none has a character below the newline).
        """
        return f"{feed_id}\n{article_id}"

    def history_rule(self, rule_id: str) -> str:
        """Sorted set: alert id -> created_at, for the history entries of one rule."""
        return f"{self.history_index}rule:{rule_id}"

    def history_channel(self, channel: str) -> str:
        """Sorted set: alert id -> created_at, for the history entries of one channel."""
        return f"{self.history_index}channel:{channel}"

    def history_status(self, status: str) -> str:
        """Sorted set: alert id -> created_at, for the history entries in one status."""
        return f"{self.history_index}status:{status}"

    def history_words(self, hour: int) -> str:
        """String: the words of the entries created in ``hour``, appended as each is
        created, one record each: ``<history_rules.search_text>\t<created_at>\t<alert id
        in hex>\n`` (what a text search scans; a dropped entry's record stays until the
        hour has no live entry)."""
        return f"{self.history_index}words:{hour}"

    def history_signature(self, hour: int) -> str:
        """String (a bitmap of ``redis_history.SIGNATURE_BITS``): one bit set per word
        prefix of the hour's entries (``redis_history.signature_bits``), so a text search
        skips the hours that cannot hold its words."""
        return f"{self.history_index}signature:{hour}"

    def feed(self, feed_id: str) -> str:
        """String: feed state JSON."""
        return f"{self.prefix}:feed:{feed_id}"

    def article(self, key: str) -> str:
        """String: "claim <until>" or "seen <until>" for one article dedup key."""
        return f"{self.prefix}:article:{key}"

    def delivered(self, alert_id: str) -> str:
        """Hash {until, at, detail[, alert, attempts]}: the alert was delivered."""
        return f"{self.prefix}:delivered:{alert_id}"

    def host_fetches(self, host: str) -> str:
        """Sorted set: token -> when its slot ends (caller's clock), one per fetch from
        ``host`` in flight on any replica (``monitor.store.redis_host_slots``); PEXPIRE'd
        a lease after the last slot was taken."""
        return f"{self.prefix}:host_fetches:{host}"

    def host_next_fetch(self, host: str) -> str:
        """String: the earliest time a fetch from ``host`` may start (MONITOR_HOST_DELAY);
        expires once that has passed."""
        return f"{self.prefix}:host_next_fetch:{host}"

    def send_slot(self, channel: str) -> str:
        """String: when the channel's next send slot opens (caller's clock)."""
        return f"{self.prefix}:send_slot:{channel}"

    @property
    def story_until(self) -> str:
        """Sorted set: story id -> when its window ends (caller's clock)."""
        return f"{self.prefix}:story_until"

    @property
    def story_sketch(self) -> str:
        """Hash: story id -> its first article's sketch (bytes)."""
        return f"{self.prefix}:story_sketch"

    @property
    def story_fingerprints(self) -> str:
        """Hash: story id -> the fingerprints its later members added to its index, in
        arrival order, each a ``story_rules.encode_fingerprint`` record (none: no field)."""
        return f"{self.prefix}:story_fingerprints"

    @property
    def story_fingerprints_until(self) -> str:
        """Sorted set: story id -> end of the story whose ``story_fingerprints`` field it is
        (purged on its own, so a field outlives no story, whichever version purged it)."""
        return f"{self.prefix}:story_fingerprints_until"

    @property
    def story_anchors(self) -> str:
        """Hash: story id -> its first article's anchors, one per line."""
        return f"{self.prefix}:story_anchors"

    @property
    def story_members(self) -> str:
        """Hash: story id -> its members, one JSON line each, in arrival order."""
        return f"{self.prefix}:story_members"

    def story_article(self, article_id: str) -> str:
        """String: id of the story the article joined (live while that story is)."""
        return f"{self.prefix}:story_article:{article_id}"

    def story_band(self, band: str) -> str:
        """Sorted set: story id -> end time, for the stories one of whose indexed
        fingerprints (the first article's, or a later member's) has this LSH band."""
        return f"{self.prefix}:story_band:{band}"
