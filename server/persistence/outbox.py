"""The event log seen by the live pipeline: reading feeds for subscribers, and the outbox for the relay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from realtime.envelope import Envelope
from server.persistence import event_log
from server.persistence.database import read_only
from server.persistence.models import EventRow, FeedEntryRow


class LogEventSource:
    """`realtime.hub.EventSource` on the database (read-only transactions)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = read_only(sessions)

    async def read_feed(self, feed: str, after: int, limit: int) -> list[Envelope]:
        async with self._sessions() as session:
            return await event_log.read_feed(session, feed, after, limit)

    async def feed_head(self, feed: str) -> int:
        async with self._sessions() as session:
            return await event_log.feed_head(session, feed)

    async def oldest_position(self, feed: str) -> int:
        async with self._sessions() as session:
            oldest = await session.scalar(select(func.min(FeedEntryRow.position)).where(FeedEntryRow.feed == feed))
            return int(oldest or 1)


class LogOutbox:
    """`realtime.relay.Outbox` on the database: committed events whose publish was not confirmed."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._reads = read_only(sessions)

    async def unpublished(self, older_than: datetime, limit: int) -> list[tuple[int, list[Envelope]]]:
        async with self._reads() as session:
            pks = list(await session.scalars(
                select(EventRow.id).where(EventRow.published_at.is_(None), EventRow.occurred_at < older_than)
                .order_by(EventRow.id).limit(limit)))
            if not pks:
                return []
            return [(pk, await event_log.envelopes_of(session, pk)) for pk in pks]

    async def oldest_unpublished(self) -> datetime | None:
        async with self._reads() as session:
            oldest = await session.scalar(select(func.min(EventRow.occurred_at)).where(EventRow.published_at.is_(None)))
            return event_log.as_utc(oldest) if oldest else None  # SQLite gives it back naive

    async def mark_published(self, pks: Sequence[int], at: datetime) -> None:
        if not pks:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(update(EventRow).where(EventRow.id.in_(list(pks))).values(published_at=at))
