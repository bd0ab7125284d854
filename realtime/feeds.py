"""Feed names: the one place that defines them. Each unit has a feed; its board and inbox follow it."""

from __future__ import annotations

UNIT_FEED_PREFIX = "unit:"


def unit_feed(unit_id: str) -> str:
    return f"{UNIT_FEED_PREFIX}{unit_id}"


def unit_of_feed(feed: str) -> str | None:
    return feed[len(UNIT_FEED_PREFIX):] if feed.startswith(UNIT_FEED_PREFIX) else None
