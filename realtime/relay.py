"""The outbox relay: publishes committed events whose publish after commit never happened or failed.

It runs in every API instance; publishing twice is harmless because subscribers drop duplicates by feed
position. `older_than` leaves each request a moment to publish its own events first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from realtime import protocol
from realtime.broker import Broker
from realtime.envelope import Envelope, encode
from realtime.metrics import METRICS

log = logging.getLogger("samplan.realtime.relay")


class Outbox(Protocol):
    async def unpublished(self, older_than: datetime, limit: int) -> list[tuple[int, list[Envelope]]]: ...

    async def oldest_unpublished(self) -> datetime | None: ...

    async def mark_published(self, pks: Sequence[int], at: datetime) -> None: ...


class Relay:
    def __init__(self, outbox: Outbox, broker: Broker, *, interval: float = 1.0, grace: float = 2.0,
                 batch: int = 500) -> None:
        self._outbox = outbox
        self._broker = broker
        self._interval = interval
        self._grace = timedelta(seconds=grace)
        self._batch = batch
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="outbox-relay")

    async def run_once(self) -> int:
        now = datetime.now(UTC)
        pending = await self._outbox.unpublished(now - self._grace, self._batch)
        if pending:
            frames = [protocol.event_frame(encode(e)) for _, envelopes in pending for e in envelopes]
            await self._broker.publish(frames)
            await self._outbox.mark_published([pk for pk, _ in pending], now)
            METRICS.relayed.inc(len(pending))
        oldest = await self._outbox.oldest_unpublished()
        METRICS.relay_lag.set((now - oldest).total_seconds() if oldest else 0.0)
        return len(pending)

    async def _run_forever(self) -> None:
        while True:
            try:
                while await self.run_once() == self._batch:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker or database is away: try again next round
                log.warning("relay round failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
