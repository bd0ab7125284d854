"""Unit of work: one transaction for the new state, its events and the access-log rows.

Every repository (cases, SIP plans, patients, the directory) works in the one session. The events written in the
transaction are handed to the publisher only after commit; the e-mail notices they cause are written to the mail
outbox in the same transaction (`server/persistence/mail_outbox.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.payment import STOCKHOLM_2020, PaymentPolicy
from realtime.envelope import AggregateType
from realtime.feeds import unit_feed
from server.persistence import event_log, mail_outbox
from server.persistence.models import FeedRow
from server.persistence.repositories import CaseRepository, DirectoryRepository, PatientRepository
from server.persistence.sip_repository import SipPlanRepository

Publisher = Callable[[Sequence[event_log.StoredEvent]], Awaitable[None]]
E = TypeVar("E", bound=event_log.LoggedEvent)


class Recorded(Protocol[E]):
    """An aggregate with events to record: its pending events at its (new) version."""

    version: int
    pending_events: list[E]


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], publisher: Publisher | None = None,
                 policy: PaymentPolicy = STOCKHOLM_2020) -> None:
        self._sessions = sessions
        self._policy = policy
        self._publisher = publisher
        self._outbox: list[event_log.StoredEvent] = []

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        self.cases = CaseRepository(self.session, self._policy)
        self.sip_plans = SipPlanRepository(self.session)
        self.patients = PatientRepository(self.session)
        self.directory = DirectoryRepository(self.session)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is not None and self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()  # ends an uncommitted read-only transaction; loaded rows stay readable

    async def lock_feeds(self, unit_ids: Iterable[str]) -> None:
        """Lock the feeds of every unit concerned, in sorted order, before appending events of two aggregates
        (a plan and its case) in one transaction: the feed locks are then taken in one global order."""
        feeds = sorted({unit_feed(u) for u in unit_ids})
        if feeds and self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(select(FeedRow.feed).where(FeedRow.feed.in_(feeds))
                                       .order_by(FeedRow.feed).with_for_update())

    async def record_events(self, aggregate: Recorded[E], aggregate_type: AggregateType) -> None:
        """Append the aggregate's pending events at its (new) version to the log and the feeds of the units
        concerned (`aggregate_type`: `AggregateType.DISCHARGE_CASE`, `AggregateType.SIP_PLAN`)."""
        stored = await event_log.append(self.session, aggregate.pending_events, aggregate.version, aggregate_type)
        await mail_outbox.enqueue_for_events(self.session, stored, datetime.now(UTC))  # e-mail notices, same tx
        self._outbox.extend(stored)
        aggregate.pending_events.clear()

    async def record_access_change(self, user_id: str, change: str, actor_user_id: str, at: datetime) -> None:
        """Tell the API instances that a user's access changed (they re-check the user's open streams)."""
        self._outbox.append(await event_log.append_access_change(self.session, user_id, change, actor_user_id, at))

    async def commit(self) -> None:
        await self.session.commit()
        stored, self._outbox = self._outbox, []
        if stored and self._publisher is not None:
            await self._publisher(stored)
