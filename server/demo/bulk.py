"""Bulk loading of a volume data set (`samplan seed --volume stockholm`): COPY on PostgreSQL (asyncpg's
`copy_records_to_table`), executemany on SQLite, in one transaction (a failed load leaves nothing behind).

Worker processes build the cases through the domain (`server.demo.volume.generate_chunk`); this process writes
their rows in chunk order as they arrive, seals the access-log rows into the hash chain as it writes them (the
sealer's own HMAC, `server.access_log.row_mac`, continuing from the chain head), and at the end puts the events on
their units' feeds (positions in time order, one statement) and moves the feed heads and the chain head.

Nothing that migrations own is dropped or recreated: the schema, its indexes and triggers stay as they are.
Run it with no API serving the database (its sealer would race for the chain head).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from realtime.feeds import unit_feed
from server import access_log
from server.demo import region, seed, volume
from server.persistence.models import (
    AccessLogChainRow,
    AssignmentRow,
    CaseRow,
    EventRow,
    FeedRow,
    UnitRow,
    UserRow,
)

ACCESS_SEALED_COLUMNS = (*volume.ACCESS_COLUMNS, "seq", "prev_hash", "row_hash", "key_id")
MOMENTS = {"created_at", "admitted_at", "updated_at", "at_risk_from", "overdue_from", "occurred_at", "published_at",
           "at"}


class NotEmpty(Exception):
    """The database already has discharge cases: a volume data set is loaded only into one without."""


@dataclass
class Summary:
    cases: int = 0
    patients: int = 0
    participants: int = 0
    events: int = 0
    feed_entries: int = 0
    access_log: int = 0
    seconds: float = 0.0
    by_state: dict[str, int] = field(default_factory=dict)


class Writer:
    """Appends rows to a table: COPY on PostgreSQL, executemany on SQLite (times as SQLAlchemy stores them there)."""

    def __init__(self, conn: AsyncConnection, driver: Any) -> None:
        self.conn = conn
        self.driver = driver
        self.postgres = conn.dialect.name == "postgresql"

    async def copy(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.postgres:
            await self.driver.copy_records_to_table(table, records=rows, columns=list(columns))
            return
        moments = [i for i, c in enumerate(columns) if c in MOMENTS]
        values = [tuple(_sqlite_moment(v) if i in moments else v for i, v in enumerate(row)) for row in rows]
        marks = ", ".join("?" for _ in columns)
        await self.conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                                        values)


def _sqlite_moment(value: Any) -> Any:
    """SQLAlchemy's DateTime on SQLite: naive text (the app stores UTC), always with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


async def write_query_rows(writer: Writer, participants: Sequence[tuple[Any, ...]]) -> None:
    """EVERY write of query rows of the volume load (today: `case_participants`, the case list's query model,
    computed by the generator with `server.persistence.repositories.listed`, as the repository does).

    Merge note: when `rebuild_read_models` exists, call it once after the load instead of this per-chunk write."""
    await writer.copy("case_participants", volume.PARTICIPANT_COLUMNS, participants)


class Sealer:
    """Seals the loaded access-log rows into the chain as they are written (what `access_log.seal` would do)."""

    def __init__(self, keyring: access_log.Keyring, seq: int, last_hash: str) -> None:
        self.key, self.kid = keyring.current, keyring.current_id
        self.seq, self.last_hash = seq, last_hash

    def seal(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        sealed = []
        for row in rows:
            self.seq += 1
            content = dict(zip(volume.ACCESS_COLUMNS, row, strict=True))
            content["seq"] = self.seq
            digest = access_log.row_mac(content, self.last_hash, self.key)
            sealed.append((*row, self.seq, self.last_hash, digest, self.kid))
            self.last_hash = digest
        return sealed


async def prepare(session: AsyncSession, now: datetime) -> None:
    """The demo world (tree and demo users, if absent), the region's added units and its staff users."""
    if await session.scalar(select(func.count()).select_from(CaseRow)):
        raise NotEmpty("the database already has discharge cases")
    await seed.seed(session, now=now, with_cases=False)
    have_units = set(await session.scalars(select(UnitRow.id)))
    organisation = seed.stable_id("organisation", region.VOLUME_ORGANISATION)
    for unit in region.units():
        if unit.id not in have_units:
            await session.execute(insert(UnitRow).values(
                id=unit.id, organisation_id=organisation, name=unit.name, kind=unit.kind, hsa_id=unit.hsa_id,
                municipality_code=unit.municipality_code, district=None, routing_role=None, active=True))
    have_feeds = set(await session.scalars(select(FeedRow.feed)))
    missing = [{"feed": unit_feed(u.id), "last_position": 0} for u in region.units()
               if unit_feed(u.id) not in have_feeds]
    if missing:
        await session.execute(insert(FeedRow), missing)
    have_users = set(await session.scalars(select(UserRow.id)))
    users = [u for u in region.staff() if u.id not in have_users]
    if users:
        await session.execute(insert(UserRow), [
            {"id": u.id, "username": u.username, "hsa_id": u.hsa_id, "display_name": u.display_name, "title": u.title,
             "organisation_id": seed.stable_id("organisation", u.organisation_key), "active": True} for u in users])
        await session.execute(insert(AssignmentRow), [
            {"user_id": u.id, "unit_id": region.stable_id("unit", u.unit_key), "role": "user",
             "protected_identity_access": False} for u in users])
    await session.flush()


FEED_ENTRIES = {
    "postgresql": """
        INSERT INTO feed_entries (feed, position, event_pk)
        SELECT f.feed, COALESCE(h.last_position, 0)
                       + row_number() OVER (PARTITION BY f.feed ORDER BY f.occurred_at, f.id), f.id
        FROM (SELECT 'unit:' || u.value AS feed, e.id, e.occurred_at
              FROM events e CROSS JOIN LATERAL json_array_elements_text(e.payload -> 'unit_ids') AS u(value)
              WHERE e.id > {after}) f
        LEFT JOIN feeds h ON h.feed = f.feed""",
    "sqlite": """
        INSERT INTO feed_entries (feed, position, event_pk)
        SELECT f.feed, COALESCE(h.last_position, 0)
                       + row_number() OVER (PARTITION BY f.feed ORDER BY f.occurred_at, f.id), f.id
        FROM (SELECT 'unit:' || j.value AS feed, e.id, e.occurred_at
              FROM events e, json_each(e.payload, '$.unit_ids') j
              WHERE e.id > {after}) f
        LEFT JOIN feeds h ON h.feed = f.feed""",
}
FEED_HEADS = """
    UPDATE feeds SET last_position = COALESCE(
        (SELECT max(fe.position) FROM feed_entries fe WHERE fe.feed = feeds.feed), last_position)
    WHERE feed LIKE 'unit:%'"""


def _pool(workers: int) -> Pool | None:
    return multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None


async def load(engine: AsyncEngine, plan: volume.Plan, keyring: access_log.Keyring, *, workers: int | None = None,
               progress: Callable[[str], None] | None = None) -> Summary:
    """Generate and write the whole plan in one transaction; returns what was written."""
    started = time.perf_counter()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    summary = Summary()
    pool = _pool(workers)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            writer = Writer(conn, raw.driver_connection)
            async with conn.begin():
                await prepare(AsyncSession(bind=conn), plan.now)
                first_event = int(await conn.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0)
                head = (await conn.execute(select(AccessLogChainRow.last_seq, AccessLogChainRow.last_hash)
                                           .where(AccessLogChainRow.id == access_log.CHAIN_ID))).first()
                sealer = Sealer(keyring, int(head[0]) if head else 0, str(head[1]) if head else access_log.GENESIS)
                seen: set[str] = set()
                for chunk in _chunks(plan, pool, workers):
                    await _write_chunk(writer, chunk, sealer, seen, summary)
                    if progress and (chunk.index + 1) % 40 == 0:
                        progress(f"{chunk.index + 1}/{plan.chunks} chunks, {summary.cases} cases, "
                                 f"{time.perf_counter() - started:.0f} s")
                result = await conn.exec_driver_sql(FEED_ENTRIES[conn.dialect.name].format(after=first_event))
                summary.feed_entries = int(result.rowcount or 0)
                await conn.exec_driver_sql(FEED_HEADS)
                if sealer.seq > (int(head[0]) if head else 0):
                    await conn.execute(update(AccessLogChainRow)
                                       .where(AccessLogChainRow.id == access_log.CHAIN_ID)
                                       .values(last_seq=sealer.seq, last_hash=sealer.last_hash))
                if conn.dialect.name == "postgresql":
                    await conn.exec_driver_sql("ANALYZE")
    finally:
        if pool is not None:
            pool.terminate()
    summary.seconds = time.perf_counter() - started
    return summary


def _chunks(plan: volume.Plan, pool: Pool | None, workers: int) -> Any:
    """The plan's chunks in order, generated `workers` at a time ahead of the writer (a bounded window)."""
    if pool is None:
        for index in range(plan.chunks):
            yield volume.generate_chunk(plan, index)
        return
    window: deque[AsyncResult[volume.Chunk]] = deque()
    upcoming = iter(range(plan.chunks))
    for index in upcoming:
        window.append(pool.apply_async(volume.generate_chunk, (plan, index)))
        if len(window) >= workers * 3:
            break
    while window:
        chunk = window.popleft().get()
        nxt = next(upcoming, None)
        if nxt is not None:
            window.append(pool.apply_async(volume.generate_chunk, (plan, nxt)))
        yield chunk


async def _write_chunk(writer: Writer, chunk: volume.Chunk, sealer: Sealer, seen: set[str],
                       summary: Summary) -> None:
    patients = []
    for row in chunk.patients:  # a patient's row comes with their first case (chunks arrive in time order)
        if row[0] not in seen:
            seen.add(row[0])
            patients.append(row)
    await writer.copy("patients", volume.PATIENT_COLUMNS, patients)
    await writer.copy("discharge_cases", volume.CASE_COLUMNS, chunk.cases)
    await write_query_rows(writer, chunk.participants)
    await writer.copy("events", volume.EVENT_COLUMNS, chunk.events)
    await writer.copy("access_log", ACCESS_SEALED_COLUMNS, sealer.seal(chunk.access))
    summary.cases += len(chunk.cases)
    summary.patients += len(patients)
    summary.participants += len(chunk.participants)
    summary.events += len(chunk.events)
    summary.access_log += len(chunk.access)
    for row in chunk.cases:
        summary.by_state[row[3]] = summary.by_state.get(row[3], 0) + 1
