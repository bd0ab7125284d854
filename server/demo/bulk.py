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

import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import resource
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update
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
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent per phase (waiting for workers, writes)
    # CPU seconds used (this process, the generating workers, the PostgreSQL backend when it runs on this host):
    # what the load costs whatever else runs on the machine; their sum over the cores is an idle machine's time
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] = round(self.phases.get(phase, 0.0) + now - since, 2)
        return now


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
    """EVERY write of query rows of the volume load: `case_participants`, computed by the generator with
    `server.persistence.read_models.case_rows`, the one mapping the repositories use (the volume data set has no
    SIP plans, so `sip_plan_units` stays empty)."""
    await writer.copy("case_participants", volume.PARTICIPANT_COLUMNS, participants)


class Sealer:
    """Seals the loaded access-log rows into the chain as they are written: what `access_log.seal` does, the same
    bytes (`access_log.row_mac`: HMAC-SHA256 over the row's canonical JSON, sorted keys), computed faster (the
    keyed state is prepared once; the keys are put in sorted order by hand). `samplan verify-access-log` checks."""

    def __init__(self, keyring: access_log.Keyring, seq: int, last_hash: str) -> None:
        self.kid = keyring.current_id
        self.keyed = hmac.new(keyring.current, b"samplan-access-log-row\0", hashlib.sha256)
        self.seq, self.last_hash = seq, last_hash
        self.dumps = json.JSONEncoder(separators=(",", ":")).encode

    def seal(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        sealed = []
        for at, user_id, user_hsa_id, unit_id, patient_id, case_id, action, purpose in rows:
            self.seq += 1
            data = {"action": action, "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "case_id": case_id,
                    "patient_id": patient_id, "prev_hash": self.last_hash, "purpose": purpose, "seq": self.seq,
                    "unit_id": unit_id, "user_hsa_id": user_hsa_id, "user_id": user_id}
            mac = self.keyed.copy()
            mac.update(self.dumps(data).encode())
            digest = mac.hexdigest()
            sealed.append((at, user_id, user_hsa_id, unit_id, patient_id, case_id, action, purpose, self.seq,
                           self.last_hash, digest, self.kid))
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


@dataclass
class Feeds:
    """The next event id and each feed's head while loading: events get their ids here, and each event its next
    position on the feed of every unit concerned, in load order (case by case, each case's events in order)."""

    last_event: int
    heads: dict[str, int]
    changed: set[str] = field(default_factory=set)

    def place(self, events: Sequence[tuple[Any, ...]], units: Sequence[tuple[str, ...]]
              ) -> tuple[list[tuple[Any, ...]], list[tuple[str, int, int]]]:
        rows, entries = [], []
        for event, unit_ids in zip(events, units, strict=True):
            self.last_event += 1
            rows.append((self.last_event, *event))
            for feed in sorted({unit_feed(u) for u in unit_ids}):
                position = self.heads.get(feed, 0) + 1
                self.heads[feed] = position
                self.changed.add(feed)
                entries.append((feed, position, self.last_event))
        return rows, entries


def _pool(workers: int) -> Pool | None:
    return multiprocessing.get_context("spawn").Pool(workers) if workers > 1 else None


async def load(engine: AsyncEngine, plan: volume.Plan, keyring: access_log.Keyring, *, workers: int | None = None,
               progress: Callable[[str], None] | None = None) -> Summary:
    """Generate and write the whole plan in one transaction; returns what was written."""
    started = time.perf_counter()
    cpu_before = _cpu()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    summary = Summary()
    pool = _pool(workers)
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            writer = Writer(conn, raw.driver_connection)
            async with conn.begin():
                backend_pid = (await conn.scalar(text("SELECT pg_backend_pid()"))
                               if conn.dialect.name == "postgresql" else None)
                backend_before = _backend_cpu(backend_pid)
                await prepare(AsyncSession(bind=conn), plan.now)
                feeds = Feeds(int(await conn.scalar(select(func.coalesce(func.max(EventRow.id), 0))) or 0),
                              {f: int(p) for f, p in (await conn.execute(select(FeedRow.feed, FeedRow.last_position)))})
                head = (await conn.execute(select(AccessLogChainRow.last_seq, AccessLogChainRow.last_hash)
                                           .where(AccessLogChainRow.id == access_log.CHAIN_ID))).first()
                sealer = Sealer(keyring, int(head[0]) if head else 0, str(head[1]) if head else access_log.GENESIS)
                seen: set[str] = set()
                mark = time.perf_counter()
                for chunk in _chunks(plan, pool, workers):
                    mark = summary.timed("generate (waiting for workers)", mark)
                    await _write_chunk(writer, chunk, sealer, feeds, seen, summary)
                    mark = time.perf_counter()
                    if progress and (chunk.index + 1) % 40 == 0:
                        progress(f"{chunk.index + 1}/{plan.chunks} chunks, {summary.cases} cases, "
                                 f"{time.perf_counter() - started:.0f} s")
                mark = time.perf_counter()
                if feeds.changed:
                    await conn.execute(update(FeedRow).where(FeedRow.feed == bindparam("f"))
                                       .values(last_position=bindparam("p")),
                                       [{"f": f, "p": feeds.heads[f]} for f in sorted(feeds.changed)])
                if conn.dialect.name == "postgresql":  # the ids were given here: move the sequence past them
                    await conn.exec_driver_sql(
                        "SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT max(id) FROM events))")
                if sealer.seq > (int(head[0]) if head else 0):
                    await conn.execute(update(AccessLogChainRow)
                                       .where(AccessLogChainRow.id == access_log.CHAIN_ID)
                                       .values(last_seq=sealer.seq, last_hash=sealer.last_hash))
                if conn.dialect.name == "postgresql":
                    await conn.exec_driver_sql("ANALYZE")
                summary.timed("analyze", mark)
                mark = time.perf_counter()
            summary.timed("commit", mark)
            backend_after = _backend_cpu(backend_pid)
            if backend_before is not None and backend_after is not None:
                summary.cpu_seconds["database"] = round(backend_after - backend_before, 1)
    finally:
        if pool is not None:
            pool.terminate()  # every task is done (or the load failed); join reaps the workers (their CPU time)
            pool.join()
    summary.seconds = time.perf_counter() - started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    summary.cpu_seconds["main"] = round(own.ru_utime + own.ru_stime - cpu_before[0], 1)
    summary.cpu_seconds["workers"] = round(children.ru_utime + children.ru_stime - cpu_before[1], 1)
    return summary


def _cpu() -> tuple[float, float]:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _backend_cpu(pid: int | None) -> float | None:
    """CPU seconds of a local PostgreSQL backend (from /proc); None when it is not on this host."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def _write_chunk(writer: Writer, chunk: volume.Chunk, sealer: Sealer, feeds: Feeds, seen: set[str],
                       summary: Summary) -> None:
    mark = time.perf_counter()
    # the access log's chain is sealed in a thread while the database takes the chunk's other rows
    sealing = asyncio.create_task(asyncio.to_thread(sealer.seal, chunk.access))
    patients = []
    for row in chunk.patients:  # a patient's row comes with their first case (chunks arrive in time order)
        if row[0] not in seen:
            seen.add(row[0])
            patients.append(row)
    await writer.copy("patients", volume.PATIENT_COLUMNS, patients)
    await writer.copy("discharge_cases", volume.CASE_COLUMNS, chunk.cases)
    mark = summary.timed("write cases", mark)
    await write_query_rows(writer, chunk.participants)
    mark = summary.timed("write query rows", mark)
    events, entries = feeds.place(chunk.events, chunk.event_units)
    await writer.copy("events", ("id", *volume.EVENT_COLUMNS), events)
    await writer.copy("feed_entries", ("feed", "position", "event_pk"), entries)
    mark = summary.timed("write events and feed entries", mark)
    sealed = await sealing
    mark = summary.timed("seal access log (what was left)", mark)
    await writer.copy("access_log", ACCESS_SEALED_COLUMNS, sealed)
    summary.timed("write access log", mark)
    summary.cases += len(chunk.cases)
    summary.patients += len(patients)
    summary.participants += len(chunk.participants)
    summary.events += len(chunk.events)
    summary.feed_entries += len(entries)
    summary.access_log += len(chunk.access)
    for row in chunk.cases:
        summary.by_state[row[3]] = summary.by_state.get(row[3], 0) + 1
