"""The story detector: which story an article belongs to, shared by every process.

Fingerprints the article (:mod:`monitor.stories.minhash`, pure) and asks the
state store to put it into a story (:meth:`StoryIndex.assign_story`, atomic in
every backend), so several replicas sharing one Redis or one SQLite file agree
on the stories.
"""

from __future__ import annotations

from dataclasses import replace

from monitor.model import Alert, Article, Coverage, StoryAssignment, StoryMember, StoryProbe
from monitor.store.base import StoryIndex
from monitor.stories.minhash import fingerprint

__all__ = [
    "DEFAULT_MIN_SIMILARITY",
    "DEFAULT_WINDOW",
    "StoryDetector",
    "coverage_of",
    "refresh_coverage",
]

#: Seconds a story stays open to copies after its first article: 24 h.
DEFAULT_WINDOW = 86_400.0
#: Shingle Jaccard similarity (estimated by the sketches) above which a candidate merges.
DEFAULT_MIN_SIMILARITY = 0.5


class StoryDetector:
    """Groups the copies of one story from several outlets within a window."""

    def __init__(
        self,
        store: StoryIndex,
        window: float = DEFAULT_WINDOW,
        *,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        if not 0.0 < min_similarity <= 1.0:
            raise ValueError("min_similarity must be in (0, 1]")
        self.store = store
        self.window = window
        self.min_similarity = min_similarity

    @staticmethod
    def probe(article: Article) -> StoryProbe:
        """The article's fingerprint (pure; about 0.2 ms for 2 KB of text)."""
        return fingerprint(article.title, article.text)

    async def observe(self, article: Article, now: float) -> StoryAssignment:
        """Put ``article`` into its story (joining a live one, or starting one) and return it.

        Idempotent per ``article.id`` while the story lives: observing the same article
        again returns the same story and the same ``is_new``, and lists it once.
        """
        member = StoryMember(article.id, article.feed_id, article.url, article.title, now)
        return await self.store.assign_story(
            member, self.probe(article), self.min_similarity, now, self.window
        )

    async def story(self, story_id: str, now: float) -> StoryAssignment | None:
        """The story as it stands now (its outlets so far), or None once its window ended."""
        return await self.store.get_story(story_id, now)


def coverage_of(story: StoryAssignment, article_id: str) -> tuple[Coverage, ...]:
    """The story's copies other than ``article_id``, in arrival order, as an alert lists them."""
    return tuple(
        Coverage(m.feed_id, m.url, m.title) for m in story.members if m.article_id != article_id
    )


async def refresh_coverage(store: StoryIndex, alert: Alert, now: float) -> Alert:
    """``alert`` with the copies of its story known at ``now`` (unchanged without a story,
    or once the story's window has ended)."""
    if not alert.story_id:
        return alert
    story = await store.get_story(alert.story_id, now)
    if story is None:
        return alert
    return replace(alert, also_in=coverage_of(story, alert.article.id))
