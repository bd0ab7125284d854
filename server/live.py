"""The live pipeline of one API process: publish after commit, the relay, the broker and the stream hub."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from realtime import protocol
from realtime.broker import Broker, InMemoryBroker, RedisBroker
from realtime.envelope import encode
from realtime.hub import Hub
from realtime.metrics import METRICS
from realtime.presence import InMemoryPresence, PresenceStore, RedisPresence
from realtime.relay import Relay
from server.persistence.event_log import StoredEvent
from server.persistence.outbox import LogEventSource, LogOutbox
from server.settings import Settings

log = logging.getLogger("samplan.live")
MARK_DELAY = 0.2  # seconds; the relay's grace (2 s) must be well above it


class LivePipeline:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.broker: Broker = RedisBroker(settings.redis_url) if settings.redis_url else InMemoryBroker()
        self.presence: PresenceStore = (RedisPresence(settings.redis_url, ttl=settings.presence_ttl_seconds)
                                        if settings.redis_url else InMemoryPresence(ttl=settings.presence_ttl_seconds))
        self.outbox = LogOutbox(sessions)
        self.hub = Hub(LogEventSource(sessions), queue_size=settings.stream_queue_size,
                       max_replay=settings.stream_max_replay)
        self.relay = Relay(self.outbox, self.broker, interval=settings.relay_interval_seconds)
        self._to_mark: list[int] = []  # published after commit, to be marked in the next batch
        self._marking: asyncio.Task[None] | None = None
        self._publish_timeout = settings.publish_timeout_seconds
        self.connections: Counter[str] = Counter()  # open stream connections of this process, by user id

    async def start(self) -> None:
        await self.broker.start(self.hub.dispatch, self.hub.catch_up)
        self.relay.start()

    async def stop(self) -> None:
        await self.relay.stop()
        if self._marking is not None:
            await asyncio.gather(self._marking, return_exceptions=True)
        await self.broker.stop()
        await self.presence.close()

    async def publish(self, stored: Sequence[StoredEvent]) -> None:
        """After commit: hand the frames to the broker. A failure loses nothing: the relay publishes later.

        Bounded in time: a broker that hangs (not refusing, just silent) must not hold up the request that
        committed. After the time limit the events stay unpublished and the relay takes them."""
        frames = [protocol.event_frame(encode(e)) for item in stored for e in item.envelopes]
        try:
            await asyncio.wait_for(self.broker.publish(frames), self._publish_timeout)
        except Exception as exc:
            METRICS.publish_failures.inc()
            log.warning("publish after commit failed (%s); the relay will publish", type(exc).__name__)
            return
        METRICS.published.inc(len(frames))
        self._to_mark.extend(item.pk for item in stored)
        if self._marking is None:
            self._marking = asyncio.create_task(self._mark_batch())

    async def _mark_batch(self) -> None:
        """Mark what was published in one UPDATE per `MARK_DELAY` instead of one per request: less database
        work on the loop that also fans out. Well inside the relay's grace, so the relay does not republish."""
        try:
            await asyncio.sleep(MARK_DELAY)
        finally:
            pks, self._to_mark, self._marking = self._to_mark, [], None
            try:
                await self.outbox.mark_published(pks, datetime.now(UTC))
            except Exception as exc:  # the relay publishes them again; subscribers drop the duplicates
                log.warning("marking events published failed: %s", type(exc).__name__)
