"""The access log (åtkomstlogg): every read and write of patient data, written in the caller's transaction.

HSLF-FS 2016:40 4 kap. 9 §: each row names the action, the user (id and HSA-id), the unit acted for, the
patient, the time and the purpose. The log is append-only and tamper-evident.

Writing and chaining are separate, so that logging a read never waits on another request:

- A request only INSERTs its rows (`append`, `record`), in its own transaction: the row commits or rolls
  back with the read or change it logs. No lock is shared with other requests.
- The sealer (`seal`; each API instance runs it every SAMPLAN_ACCESS_LOG_SEAL_INTERVAL_SECONDS, see
  server/access_log_sealer.py, and `samplan seal-access-log` runs it once) extends the hash chain. In one
  short transaction it locks the chain head (`access_log_chain`, one row: only sealers ever lock it), takes
  the unsealed rows in id order and gives each the next gapless `seq`, `prev_hash` (the previous sealed
  row's hash) and `row_hash` = SHA-256 over its content, `seq` and `prev_hash`. A row that commits late with
  a lower id than rows already sealed is simply sealed in a later round: the chain's order is `seq`, not
  `id`, and nothing is skipped.
- Where the seals live: in three columns of `access_log` itself, set exactly once, rather than in a separate
  insert-only seals table. Both are equally tamper-evident (a changed sealed row no longer matches its hash,
  a removed one leaves a gap in `seq`, a removed tail no longer reaches the chain head); the columns keep one
  table with one set of triggers, keep the purge a single DELETE, and let searches and log reviews keep
  addressing rows by `seq` without a join. The price is an UPDATE trigger that must tell the sealing apart
  from tampering: it allows only empty seal columns being filled while every other column stays as it was
  (migration 0002; PostgreSQL compares the whole row, SQLite lists the columns).
- The database refuses every other UPDATE, TRUNCATE, and DELETE except of sealed rows older than 5 years that
  a purge checkpoint covers. `purge` records that checkpoint first; `verify` starts from the newest checkpoint.

What this costs: a row is tamper-evident only once sealed (normally within a second; until then the triggers
alone protect it). `verify` therefore also reports rows left unsealed longer than `UNSEALED_GRACE`: the
sealer is not running, and those rows are not yet in the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.administration import purge_cutoff
from server.persistence.models import AccessLogChainRow, AccessLogCheckpointRow, AccessLogRow
from server.principal import CurrentUser

GENESIS = "0" * 64
CHAIN_ID = 1
CONTENT = ("at", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id", "action", "purpose")
HASHED = ("seq", *CONTENT)
SEAL_BATCH = 1000
UNSEALED_GRACE = timedelta(minutes=5)  # rows unsealed for longer: the sealer is not running


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def row_hash(content: dict[str, object], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of a row's content (with its `seq`) and the previous row's hash."""
    data = {k: content[k] for k in HASHED}
    at = content["at"]
    assert isinstance(at, datetime)
    data["at"] = _utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["prev_hash"] = prev_hash
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ----- the request path: insert only ----------------------------------------------------------------------------

async def append(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Insert rows (content only) in the caller's transaction. They are chained later by the sealer."""
    if not rows:
        return
    await session.execute(insert(AccessLogRow), [
        {**{k: content[k] for k in CONTENT}, "at": _utc(content["at"])}  # type: ignore[arg-type]
        for content in rows])


def action_of(command: object) -> str:
    """The logged action of a command: its class name in snake case (`SendAdmissionNotice` -> send_admission_notice)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in type(command).__name__).lstrip("_")


async def record(session: AsyncSession, user: CurrentUser, *, unit_id: str | list[str | None] | None,
                 patient_ids: list[str], case_ids: list[str | None], action: str, at: datetime,
                 purpose: str = "care_coordination") -> None:
    """One row per patient whose data the user read or changed (a list logs every patient on the page), each
    under the unit acted for: one for all rows, or a list with one per row (a list's rows are each seen through
    their own unit)."""
    units = unit_id if isinstance(unit_id, list) else [unit_id] * len(patient_ids)
    await append(session, [
        {"at": at, "user_id": user.id, "user_hsa_id": user.hsa_id, "unit_id": unit, "patient_id": patient_id,
         "case_id": case_id, "action": action, "purpose": purpose}
        for unit, patient_id, case_id in zip(units, patient_ids, case_ids, strict=True)
    ])


# ----- the sealer: extends the chain ----------------------------------------------------------------------------

async def _lock_head(session: AsyncSession) -> tuple[int, str]:
    """The last sealed seq and hash, with the head row locked to commit (PostgreSQL: FOR UPDATE; SQLite's
    transactions already hold the database's write lock, see server/persistence/database.py)."""
    head = (await session.execute(
        select(AccessLogChainRow.last_seq, AccessLogChainRow.last_hash)
        .where(AccessLogChainRow.id == CHAIN_ID).with_for_update())).first()
    if head is None:  # a head lost outside the migration: start it (a racing insert fails on the primary key)
        await session.execute(insert(AccessLogChainRow).values(id=CHAIN_ID, last_seq=0, last_hash=GENESIS))
        return 0, GENESIS
    return int(head[0]), str(head[1])


async def seal(session: AsyncSession, batch: int = SEAL_BATCH) -> int:
    """One sealing round in the caller's transaction (commit it promptly: it holds the chain head's lock).

    Seals up to `batch` unsealed rows, oldest id first; returns how many. Takes no lock when none wait."""
    if await session.scalar(select(AccessLogRow.id).where(AccessLogRow.seq.is_(None)).limit(1)) is None:
        return 0
    seq, prev = await _lock_head(session)
    columns = [getattr(AccessLogRow, k) for k in CONTENT]
    rows = (await session.execute(select(AccessLogRow.id, *columns).where(AccessLogRow.seq.is_(None))
                                  .order_by(AccessLogRow.id).limit(batch))).all()
    if not rows:  # another sealer took them between the look and the lock
        return 0
    seals = []
    for row in rows:
        seq += 1
        digest = row_hash({**dict(zip(CONTENT, row[1:], strict=True)), "seq": seq}, prev)
        seals.append({"id": row[0], "seq": seq, "prev_hash": prev, "row_hash": digest})
        prev = digest
    await session.execute(update(AccessLogRow), seals)  # by primary key; the trigger allows exactly this
    await session.execute(update(AccessLogChainRow).where(AccessLogChainRow.id == CHAIN_ID)
                          .values(last_seq=seq, last_hash=prev))
    return len(rows)


async def seal_pending(sessions: async_sessionmaker[AsyncSession], batch: int = SEAL_BATCH) -> int:
    """Seal every row committed so far, one short transaction per batch; returns how many were sealed."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            sealed = await seal(session, batch)
        total += sealed
        if sealed < batch:
            return total


# ----- verification ---------------------------------------------------------------------------------------------

@dataclass
class Verification:
    """`ok`: the sealed chain is intact. `unsealed_too_long` (a warning, not a break): rows the sealer has not
    reached within the grace period, so it is not running; they are not tamper-evident until it does."""

    ok: bool = True
    rows_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoint_seq: int | None = None
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    unsealed: int = 0
    unsealed_too_long: int = 0
    oldest_unsealed_at: datetime | None = None

    def fail(self, seq: int | None, reason: str) -> None:
        self.ok = False
        if len(self.problems) < 1000:
            self.problems.append((seq, reason))

    @property
    def warnings(self) -> list[str]:
        if not self.unsealed_too_long:
            return []
        return [f"{self.unsealed_too_long} rows have waited longer than the grace period to be sealed (the "
                f"oldest from {self.oldest_unsealed_at:%Y-%m-%d %H:%M:%S} UTC): is the sealer running?"]


async def _rows(session: AsyncSession, after: int, until: int, batch: int) -> AsyncIterator[AccessLogRow]:
    while True:
        rows = list(await session.scalars(
            select(AccessLogRow).where(AccessLogRow.seq > after, AccessLogRow.seq <= until)
            .order_by(AccessLogRow.seq).limit(batch)))
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].seq or 0


async def _head(session: AsyncSession) -> tuple[int, str] | None:
    row = (await session.execute(select(AccessLogChainRow.last_seq, AccessLogChainRow.last_hash)
                                 .where(AccessLogChainRow.id == CHAIN_ID))).first()
    return (int(row[0]), str(row[1])) if row is not None else None


async def verify(session: AsyncSession, *, now: datetime | None = None, unsealed_grace: timedelta = UNSEALED_GRACE,
                 batch: int = 5000) -> Verification:
    """Walk the sealed chain from the newest purge checkpoint (or the beginning) to the head; report every
    break, and count the rows still waiting for the sealer. Reads only; safe beside running sealers."""
    result = Verification()
    checkpoint = await session.scalar(
        select(AccessLogCheckpointRow).order_by(AccessLogCheckpointRow.next_seq.desc()).limit(1))
    expected_seq, prev = (checkpoint.next_seq, checkpoint.anchor_hash) if checkpoint else (1, GENESIS)
    result.checkpoint_seq = checkpoint.next_seq if checkpoint else None
    # The head first: a sealer may extend the chain during the walk; rows past this head are checked below.
    head = await _head(session)
    until = head[0] if head is not None else 2**62
    async for row in _rows(session, expected_seq - 1, until, batch):
        assert row.seq is not None
        assert row.prev_hash is not None
        assert row.row_hash is not None
        content = {k: getattr(row, k) for k in HASHED}
        if result.first_seq is None:
            result.first_seq = row.seq
        if row.seq != expected_seq:
            result.fail(row.seq, f"rows {expected_seq}..{row.seq - 1} are missing")
        if row.prev_hash != prev:
            result.fail(row.seq, "the link to the previous row is broken")
        if row_hash(content, row.prev_hash) != row.row_hash:
            result.fail(row.seq, "the row's content does not match its hash (changed)")
        prev, expected_seq = row.row_hash, row.seq + 1
        result.rows_checked += 1
        result.last_seq = row.seq
    if head is not None and head[0] != expected_seq - 1:
        result.fail(head[0], f"the chain head is at {head[0]} but the rows end at {expected_seq - 1}")
    elif head is not None and head[0] and head[1] != prev:
        result.fail(head[0], "the last row does not match the chain head")
    if head is not None:  # sealed rows past the head: a sealer since (fine) or a head set back (not)
        beyond = await session.scalar(select(func.max(AccessLogRow.seq)).where(AccessLogRow.seq > head[0]))
        now_head = await _head(session) if beyond is not None else None
        if beyond is not None and (now_head is None or now_head[0] < beyond):
            result.fail(beyond, f"rows up to {beyond} are sealed beyond the chain head")
    await _count_unsealed(session, result, (now or datetime.now(UTC)) - unsealed_grace)
    return result


async def _count_unsealed(session: AsyncSession, result: Verification, stale_before: datetime) -> None:
    unsealed = AccessLogRow.seq.is_(None)
    count, oldest = (await session.execute(
        select(func.count(), func.min(AccessLogRow.at)).select_from(AccessLogRow).where(unsealed))).one()
    result.unsealed = int(count or 0)
    result.oldest_unsealed_at = _utc(oldest) if oldest is not None else None
    result.unsealed_too_long = int(await session.scalar(
        select(func.count()).select_from(AccessLogRow).where(unsealed, AccessLogRow.at < stale_before)) or 0)


# ----- retention ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    rows_purged: int
    next_seq: int | None


async def purge(session: AsyncSession, *, now: datetime, retention_days: int) -> Purge:
    """Remove the oldest sealed rows, all older than the retention (at least 5 years), behind a checkpoint.

    Only a prefix of the chain goes: the rows before the first one still within retention. The checkpoint
    (written first: the delete trigger requires it) keeps the last removed row's hash as the new anchor.
    Unsealed rows are never touched (the trigger refuses them too). No lock: sealers only fill unsealed rows
    and move the head past the rows kept, so they run on meanwhile."""
    cutoff = purge_cutoff(now, retention_days)
    keep_from = await session.scalar(select(func.min(AccessLogRow.seq)).where(AccessLogRow.at >= cutoff))
    if keep_from is None:  # every sealed row is old: keep the last one, it anchors the head
        keep_from = await session.scalar(select(func.max(AccessLogRow.seq)))
    first = await session.scalar(select(func.min(AccessLogRow.seq)))
    if keep_from is None or first is None or keep_from <= first:
        return Purge(cutoff, 0, None)
    anchor = await session.scalar(select(AccessLogRow.row_hash).where(AccessLogRow.seq == keep_from - 1))
    if anchor is None:
        anchor = await session.scalar(select(AccessLogRow.prev_hash).where(AccessLogRow.seq == keep_from))
    assert anchor is not None
    count = int(await session.scalar(select(func.count()).select_from(AccessLogRow)
                                     .where(AccessLogRow.seq < keep_from)) or 0)
    await session.execute(insert(AccessLogCheckpointRow).values(
        created_at=now, cutoff=cutoff, retention_days=retention_days, next_seq=keep_from, anchor_hash=anchor,
        rows_purged=count))
    await session.execute(delete(AccessLogRow).where(AccessLogRow.seq < keep_from))
    return Purge(cutoff, count, keep_from)
