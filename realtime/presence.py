"""Presence: who is viewing or editing a case right now. Ephemeral (TTL), never written to the event log.

Each connection refreshes its entry with a heartbeat; an entry not refreshed within the TTL disappears. Redis
keeps the entries for all API instances (a hash per case, expired entries filtered on read); in memory for
the embedded single process.
"""

from __future__ import annotations

import time
from typing import Protocol

import msgspec
import redis.asyncio as aioredis

from realtime.protocol import Viewer

_viewer = msgspec.json.Decoder(tuple[float, Viewer])
_encode = msgspec.json.Encoder().encode


class PresenceStore(Protocol):
    async def update(self, case_id: str, connection_id: str, viewer: Viewer | None) -> list[Viewer]:
        """Set (or with None remove) one connection's entry; returns the case's live viewers."""
        ...

    async def close(self) -> None: ...


class InMemoryPresence:
    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._cases: dict[str, dict[str, tuple[float, Viewer]]] = {}

    async def update(self, case_id: str, connection_id: str, viewer: Viewer | None) -> list[Viewer]:
        now = time.monotonic()
        entries = self._cases.setdefault(case_id, {})
        if viewer is None:
            entries.pop(connection_id, None)
        else:
            entries[connection_id] = (now + self._ttl, viewer)
        live = {k: v for k, v in entries.items() if v[0] > now}
        if live:
            self._cases[case_id] = live
        else:
            self._cases.pop(case_id, None)
        return [v for _, v in live.values()]

    async def close(self) -> None:
        self._cases.clear()


class RedisPresence:
    def __init__(self, url: str, ttl: float) -> None:
        self._ttl = ttl
        self._client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    async def update(self, case_id: str, connection_id: str, viewer: Viewer | None) -> list[Viewer]:
        key = f"samplan:presence:{case_id}"
        now = time.time()
        async with self._client.pipeline(transaction=True) as pipe:
            if viewer is None:
                pipe.hdel(key, connection_id)
            else:
                pipe.hset(key, connection_id, _encode((now + self._ttl, viewer)))
                pipe.expire(key, int(self._ttl) + 1)
            pipe.hgetall(key)
            results = await pipe.execute()
        entries = {k: _viewer.decode(v) for k, v in results[-1].items()}
        expired = [k for k, (until, _) in entries.items() if until <= now]
        if expired:
            await self._client.hdel(key, *expired)
        return [v for k, (until, v) in entries.items() if until > now]

    async def close(self) -> None:
        await self._client.aclose()
