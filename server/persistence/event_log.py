"""Appending events to the log and to the feeds of the units concerned, in the caller's transaction.

A feed's head row is updated (and so locked until commit) to take the next position: positions are
gapless, and a feed's entries become visible in position order, so "everything after N" never skips an
event that committed late. Feeds are locked in sorted order, so two writers cannot deadlock on them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import CaseEvent
from domain.sip.events import SipEvent
from realtime.envelope import AggregateType, Envelope
from realtime.feeds import unit_feed, user_feed
from server.persistence.models import EventRow, FeedEntryRow, FeedRow


@dataclass(frozen=True)
class StoredEvent:
    pk: int
    envelopes: tuple[Envelope, ...]


LoggedEvent = CaseEvent | SipEvent  # a discharge case's or a SIP plan's (`AggregateType`)


def aggregate_id(event: LoggedEvent) -> str:
    return event.plan_id if isinstance(event, SipEvent) else event.case_id


def event_data(event: LoggedEvent) -> dict[str, object]:
    data: dict[str, object] = msgspec.to_builtins(event)
    own_id = "plan_id" if isinstance(event, SipEvent) else "case_id"  # SipPlanCreated's case_id stays in data
    for name in (own_id, "occurred_at", "unit_ids"):
        data.pop(name, None)
    return data


async def ensure_feed(session: AsyncSession, feed: str) -> None:
    exists = await session.scalar(select(FeedRow.feed).where(FeedRow.feed == feed))
    if exists is None:
        await session.execute(insert(FeedRow).values(feed=feed, last_position=0))


async def append(session: AsyncSession, events: Sequence[LoggedEvent], aggregate_version: int,
                 aggregate_type: AggregateType) -> list[StoredEvent]:
    stored: list[StoredEvent] = []
    for event in events:
        event_id = str(uuid.uuid4())
        data = event_data(event)
        pk = await session.scalar(insert(EventRow).values(
            event_id=event_id, type=event.type, aggregate_type=str(aggregate_type), aggregate_id=aggregate_id(event),
            aggregate_version=aggregate_version, occurred_at=event.occurred_at,
            payload={"unit_ids": list(event.unit_ids), "data": data}, published_at=None,
        ).returning(EventRow.id))
        assert pk is not None
        envelopes = []
        for feed in sorted({unit_feed(u) for u in event.unit_ids}):
            position = await _next_position(session, feed)
            await session.execute(insert(FeedEntryRow).values(feed=feed, position=position, event_pk=pk))
            envelopes.append(Envelope(
                event_id=event_id, type=event.type, feed=feed, position=position, aggregate_type=aggregate_type,
                aggregate_id=aggregate_id(event), aggregate_version=aggregate_version, occurred_at=event.occurred_at,
                unit_ids=event.unit_ids, data=data))
        stored.append(StoredEvent(pk, tuple(envelopes)))
    return stored


USER_ACCESS_CHANGED = "UserAccessChanged"


async def append_access_change(session: AsyncSession, user_id: str, change: str, actor_user_id: str,
                               occurred_at: datetime) -> StoredEvent:
    """An administrator changed what a user may reach (deactivated, HSA-id, assignments): one event on the user's
    access feed, in the change's transaction, published like every event (after commit, or by the relay). Every
    API instance re-checks the user's open streams when it arrives (`server/api/stream.py`). Ids and a code only.
    The aggregate version is the event's position in the user's feed (the user's access version)."""
    feed = user_feed(user_id)
    data: dict[str, object] = {"actor_user_id": actor_user_id, "change": change}
    position = await _next_position(session, feed)
    event_id = str(uuid.uuid4())
    pk = await session.scalar(insert(EventRow).values(
        event_id=event_id, type=USER_ACCESS_CHANGED, aggregate_type=str(AggregateType.USER), aggregate_id=user_id,
        aggregate_version=position, occurred_at=occurred_at, payload={"unit_ids": [], "data": data},
        published_at=None).returning(EventRow.id))
    assert pk is not None
    await session.execute(insert(FeedEntryRow).values(feed=feed, position=position, event_pk=pk))
    return StoredEvent(pk, (Envelope(
        event_id=event_id, type=USER_ACCESS_CHANGED, feed=feed, position=position, aggregate_type=AggregateType.USER,
        aggregate_id=user_id, aggregate_version=position, occurred_at=occurred_at, unit_ids=(), data=data),))


async def _next_position(session: AsyncSession, feed: str) -> int:
    position = await session.scalar(
        update(FeedRow).where(FeedRow.feed == feed).values(last_position=FeedRow.last_position + 1)
        .returning(FeedRow.last_position))
    if position is None:  # a feed not created with its unit: create it now
        await session.execute(insert(FeedRow).values(feed=feed, last_position=1))
        return 1
    return int(position)


async def read_feed(session: AsyncSession, feed: str, after: int, limit: int = 500) -> list[Envelope]:
    """Entries of one feed after a position, in order (for resume and for the feed endpoint)."""
    rows = await session.execute(
        select(FeedEntryRow.position, EventRow).join(EventRow, EventRow.id == FeedEntryRow.event_pk)
        .where(FeedEntryRow.feed == feed, FeedEntryRow.position > after)
        .order_by(FeedEntryRow.position).limit(limit))
    return [_envelope(feed, pos, e) for pos, e in rows.tuples()]


def as_utc(moment: datetime) -> datetime:
    """SQLite gives DateTime(timezone=True) values back naive; events are stamped in UTC, so say so."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def envelopes_of(session: AsyncSession, event_pk: int) -> list[Envelope]:
    """The envelopes of one stored event, one per feed it was appended to."""
    rows = await session.execute(
        select(FeedEntryRow.feed, FeedEntryRow.position, EventRow).join(EventRow, EventRow.id == FeedEntryRow.event_pk)
        .where(FeedEntryRow.event_pk == event_pk).order_by(FeedEntryRow.feed))
    return [_envelope(feed, position, e) for feed, position, e in rows.tuples()]


def _envelope(feed: str, position: int, e: EventRow) -> Envelope:
    return Envelope(event_id=e.event_id, type=e.type, feed=feed, position=position,
                    aggregate_type=AggregateType(e.aggregate_type),
                    aggregate_id=e.aggregate_id, aggregate_version=e.aggregate_version,
                    occurred_at=as_utc(e.occurred_at), unit_ids=tuple(e.payload["unit_ids"]), data=e.payload["data"])


async def feed_head(session: AsyncSession, feed: str) -> int:
    return int(await session.scalar(select(FeedRow.last_position).where(FeedRow.feed == feed)) or 0)
