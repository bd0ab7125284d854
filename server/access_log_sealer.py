"""The access-log sealer of one API process: chains the rows requests have inserted (server/access_log.py).

Every API instance runs one, like the outbox relay. Sealers on several instances take turns on the chain
head's lock; each round is one short transaction per batch of rows, so running several is only redundant,
never wrong. A failed round (the database away, a lock timeout) is logged and retried next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import access_log
from server.persistence import event_log
from server.persistence.database import read_only
from server.persistence.models import AccessLogRow

log = logging.getLogger("samplan.access_log.sealer")
SEALED = Counter("samplan_access_log_sealed", "Access-log rows sealed into the hash chain")
SEAL_LAG = Gauge("samplan_access_log_seal_lag_seconds", "Age of the oldest access-log row not yet sealed")
SEAL_FAILURES = Counter("samplan_access_log_seal_failures", "Sealing rounds that failed (retried next interval)")


class Sealer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keyring: access_log.Keyring, *,
                 interval: float = 1.0, batch: int = access_log.SEAL_BATCH) -> None:
        if interval <= 0:
            raise ValueError("SAMPLAN_ACCESS_LOG_SEAL_INTERVAL_SECONDS must be above 0")
        self._sessions = sessions
        self._reads = read_only(sessions)
        self.keyring = keyring
        self._interval = interval
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0  # finished rounds, successful or not (tests wait on `round_done`)
        self.round_done = asyncio.Condition()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="access-log-sealer")

    async def run_once(self) -> int:
        """Seal everything committed so far; returns how many rows. Looks first in a read-only transaction, so a
        round with nothing to seal never takes SQLite's write lock."""
        sealed = 0
        oldest = await self._oldest_unsealed()
        if oldest is not None:
            sealed = await access_log.seal_pending(self._sessions, self.keyring, self._batch)
            SEALED.inc(sealed)
            oldest = await self._oldest_unsealed()
        SEAL_LAG.set(max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0)
        return sealed

    async def _oldest_unsealed(self) -> datetime | None:
        async with self._reads() as session:
            oldest = await session.scalar(select(func.min(AccessLogRow.at)).where(AccessLogRow.seq.is_(None)))
        return event_log.as_utc(oldest) if oldest is not None else None

    async def _run_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval)  # first round after one interval: starting up stays quick
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: try again next round (the rows wait, unsealed)
                SEAL_FAILURES.inc()
                log.warning("access-log sealing round failed: %s", type(exc).__name__)
            async with self.round_done:
                self.rounds += 1
                self.round_done.notify_all()

    async def wait_rounds(self, count: int) -> None:
        """Until `count` rounds have finished in all (for tests and shutdown checks; no polling)."""
        async with self.round_done:
            await self.round_done.wait_for(lambda: self.rounds >= count)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
