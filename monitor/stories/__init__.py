"""Story-level dedup: the copies of one story from several outlets are one story.

Owns the near-duplicate detection: :mod:`monitor.stories.minhash` fingerprints an
article (word-pair shingles -> MinHash LSH bands, a bottom-k sketch, title
anchors; pure), :class:`StoryDetector` asks the state store to put it into a
story (``StoryIndex.assign_story``: atomic in every backend, so replicas sharing
Redis or one SQLite file agree). A story lives ``window`` seconds (24 h) from
its first article; a copy merges if it shares an LSH band with one of the
story's indexed members (its first article, and up to 7 later members that are
not near copies), their shingle sketches agree on at least ``min_similarity``
(0.5) of the union, and their titles share a content word. Joining through a
later member also needs a title word in common with the first article and
``0.6 * min_similarity`` (0.3) of agreement with it, so a chain of articles,
each close to the previous one, does not drift into another event (see
``StoryIndex.assign_story``).

How to use it (the poller and the alert rendering)::

    detector = StoryDetector(store, window=86_400.0)  # once, next to the store

    # per article, after claim_article() succeeded and before enqueueing alerts:
    story = await detector.observe(article, now)
    story.story_id   # the id of the story's first article: use it instead of
                     # article.id in alert ids, alert_id(rule, story.story_id, channel),
                     # so a rule alerts once per story and channel (enqueue ignores
                     # an id it already holds or delivered)
    story.is_new     # True: this article started the story (no earlier copy)
    story.outlets    # feed ids that carried it so far, arrival order, first one first
    story.members    # StoryMember(article_id, feed_id, url, title, seen_at) of each
                     # copy, arrival order (at most 50)

    # when rendering or sending, for the outlets that arrived since:
    current = await detector.story(story_id, now)  # None once the window ended

Notes for the integration:

- ``observe`` is idempotent per ``article.id`` while the story lives (a crash
  and a re-poll return the same story and the same ``is_new``), so it can sit
  between ``claim_article`` and ``mark_seen`` like the rest of the processing.
- A copy that matches a rule the first article did not match still alerts once
  for that rule (its alert id is new); a copy that matches the same rule makes
  the same alert id, which the outbox drops.
- Keep the delivered-record retention at least ``window``: a copy arriving after
  that record expired would alert again.
- Cost: 0.1-0.3 ms of CPU per article (fingerprint) plus one store call (one
  Lua script on Redis, one ``BEGIN IMMEDIATE`` transaction on SQLite); a story
  keeps at most 8 fingerprints (32 bands and a 512-byte sketch each).
- The fingerprint is stable across processes and releases (blake2b, no salted
  ``hash()``); ``tests/stories/test_stories.py`` pins it with golden values, because a
  change would make running replicas miss each other's stories for one window.

Measured precision and recall: ``benchmarks/dedup.py``.
"""

from monitor.model import StoryAssignment, StoryMember, StoryProbe
from monitor.stories.detector import (
    DEFAULT_MIN_SIMILARITY,
    DEFAULT_WINDOW,
    StoryDetector,
    coverage_of,
    refresh_coverage,
)
from monitor.stories.minhash import fingerprint

__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "DEFAULT_WINDOW",
    "StoryAssignment",
    "StoryDetector",
    "StoryMember",
    "StoryProbe",
    "coverage_of",
    "fingerprint",
    "refresh_coverage",
]
