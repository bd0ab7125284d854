"""Brokers carry encoded envelopes between API instances: Redis pub/sub in production, in memory embedded.

A broker delivers every published message to every instance's `on_message` callback. Redis pub/sub keeps no
history: what an instance misses while Redis is away is caught up from the event log (`on_reconnect`), and
what was committed but not published is published by the relay. The reader task is supervised: a Redis error
never ends it, it reconnects with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("samplan.realtime.broker")
CHANNEL = "samplan:events"
OnMessage = Callable[[bytes], None]
OnReconnect = Callable[[], Awaitable[None]]


class Broker(Protocol):
    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None: ...
    async def publish(self, messages: Sequence[bytes]) -> None: ...
    async def stop(self) -> None: ...


class InMemoryBroker:
    """One process: publishing hands the message straight to this process's hub."""

    def __init__(self) -> None:
        self._on_message: OnMessage | None = None

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._on_message = on_message

    async def publish(self, messages: Sequence[bytes]) -> None:
        if self._on_message is not None:
            for message in messages:
                self._on_message(message)

    async def stop(self) -> None:
        self._on_message = None


class RedisBroker:
    def __init__(self, url: str, channel: str = CHANNEL, *, max_backoff: float = 2.0) -> None:
        self._url = url
        self._channel = channel
        self._max_backoff = max_backoff
        self._client = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10)
        self._reader: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._reader = asyncio.create_task(self._read_forever(on_message, on_reconnect), name="redis-broker-reader")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout=5)

    async def publish(self, messages: Sequence[bytes]) -> None:
        if len(messages) == 1:
            await self._client.publish(self._channel, messages[0])
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self._channel, message)
            await pipe.execute()

    async def _read_forever(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        backoff = 0.05
        first = True
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.connected.set()
                backoff = 0.05
                if not first:
                    log.info("redis broker reconnected; catching up from the event log")
                    await on_reconnect()
                first = False
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        on_message(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.connected.clear()
                log.warning("redis broker lost its connection (%s); retrying in %.2fs", type(exc).__name__, backoff)
            except Exception:  # keep the reader alive whatever a callback does
                log.exception("redis broker reader error")
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._client.aclose()
