"""Rate limits of one stream connection: a token bucket per kind of frame (subscribe, presence)."""

from __future__ import annotations

import time


class TokenBucket:
    """At most `per_minute` frames in a burst, refilled evenly over a minute; 0 = no limit."""

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._tokens = float(per_minute)
        self._last = time.monotonic()

    def take(self) -> bool:
        """Take one token if there is one (False: over the limit)."""
        if self._capacity <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._per_second)
        self._last = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
