"""Unit of work: one transaction for the new state, its events and the access-log rows.

The events written in the transaction are handed to the publisher only after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.discharge_case import DischargeCase
from server.persistence import event_log
from server.persistence.repositories import CaseRepository, DirectoryRepository, PatientRepository

Publisher = Callable[[Sequence[event_log.StoredEvent]], Awaitable[None]]


class UnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], publisher: Publisher | None = None) -> None:
        self._sessions = sessions
        self._publisher = publisher
        self._outbox: list[event_log.StoredEvent] = []

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        await self.session.begin()
        self.cases = CaseRepository(self.session)
        self.patients = PatientRepository(self.session)
        self.directory = DirectoryRepository(self.session)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is not None and self.session.in_transaction():
            await self.session.rollback()
        await self.session.close()  # ends an uncommitted read-only transaction; loaded rows stay readable

    async def record_events(self, case: DischargeCase) -> None:
        """Append the case's pending events at its (new) version to the log and the feeds."""
        self._outbox.extend(await event_log.append(self.session, case.pending_events, case.version))
        case.pending_events.clear()

    async def record_access_change(self, user_id: str, change: str, actor_user_id: str, at: datetime) -> None:
        """Tell the API instances that a user's access changed (they re-check the user's open streams)."""
        self._outbox.append(await event_log.append_access_change(self.session, user_id, change, actor_user_id, at))

    async def commit(self) -> None:
        await self.session.commit()
        stored, self._outbox = self._outbox, []
        if stored and self._publisher is not None:
            await self._publisher(stored)
