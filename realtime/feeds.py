"""Feed names: the one place that defines them. Each unit has a feed; its board and inbox follow it. Each user
has an internal access feed that the API instances watch to re-check open streams."""

from __future__ import annotations

UNIT_FEED_PREFIX = "unit:"


def unit_feed(unit_id: str) -> str:
    return f"{UNIT_FEED_PREFIX}{unit_id}"


def unit_of_feed(feed: str) -> str | None:
    return feed[len(UNIT_FEED_PREFIX):] if feed.startswith(UNIT_FEED_PREFIX) else None


USER_FEED_PREFIX = "user:"


def user_feed(user_id: str) -> str:
    """A user's access feed: `UserAccessChanged` events for the API instances (never followed by clients)."""
    return f"{USER_FEED_PREFIX}{user_id}"
