"""The access log (åtkomstlogg): every read and write of patient data, written in the caller's transaction.

HSLF-FS 2016:40 4 kap. 9 §: each row names the action, the user (id and HSA-id), the unit acted for, the
patient, the time and the purpose. The log is append-only and tamper-evident:

- Rows form a hash chain. Each row gets the next gapless `seq` and stores `prev_hash` (the previous row's
  hash) and `row_hash` = SHA-256 over its content and `prev_hash`. A changed row no longer matches its hash,
  a removed row leaves a gap, a removed tail no longer reaches the chain head.
- Appends are serialised by the chain head row (`access_log_chain`): it is updated first, so its row lock is
  held to commit and two writers can never both extend the same row. (Locks are taken after the feed locks of
  the event log in every transaction, so the two never deadlock.)
- The database refuses UPDATE on the log, and DELETE except of rows older than 5 years that a purge
  checkpoint covers (triggers in migration 0002). `purge` records that checkpoint first; `verify` starts from
  the newest checkpoint, so verification still works after a purge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.administration import purge_cutoff
from server.persistence.models import AccessLogChainRow, AccessLogCheckpointRow, AccessLogRow
from server.principal import CurrentUser

GENESIS = "0" * 64
CHAIN_ID = 1
HASHED = ("seq", "at", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id", "action", "purpose")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def row_hash(content: dict[str, object], prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of a row's content and the previous row's hash."""
    data = {k: content[k] for k in HASHED}
    at = content["at"]
    assert isinstance(at, datetime)
    data["at"] = _utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data["prev_hash"] = prev_hash
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def _take_head(session: AsyncSession, count: int) -> tuple[int, str]:
    """Reserve `count` positions on the chain: returns the last seq and hash before them. Locks the head."""
    result = (await session.execute(
        update(AccessLogChainRow).where(AccessLogChainRow.id == CHAIN_ID)
        .values(last_seq=AccessLogChainRow.last_seq + count)
        .returning(AccessLogChainRow.last_seq, AccessLogChainRow.last_hash))).first()
    if result is None:  # a database migrated before any row: create the head (the insert races are unique-keyed)
        await session.execute(insert(AccessLogChainRow).values(id=CHAIN_ID, last_seq=count, last_hash=GENESIS))
        return 0, GENESIS
    return int(result[0]) - count, str(result[1])


async def append(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Append rows (content without seq and hashes) to the chain, in the caller's transaction."""
    if not rows:
        return
    seq, prev = await _take_head(session, len(rows))
    chained = []
    for content in rows:
        seq += 1
        content = {**content, "seq": seq, "at": _utc(content["at"])}  # type: ignore[arg-type]
        digest = row_hash(content, prev)
        chained.append({**content, "prev_hash": prev, "row_hash": digest})
        prev = digest
    await session.execute(insert(AccessLogRow), chained)
    await session.execute(update(AccessLogChainRow).where(AccessLogChainRow.id == CHAIN_ID).values(last_hash=prev))


async def record(session: AsyncSession, user: CurrentUser, *, unit_id: str | None, patient_ids: list[str],
                 case_ids: list[str | None], action: str, at: datetime, purpose: str = "care_coordination") -> None:
    """One row per patient whose data the user read or changed (a list logs every patient on the page)."""
    await append(session, [
        {"at": at, "user_id": user.id, "user_hsa_id": user.hsa_id, "unit_id": unit_id, "patient_id": patient_id,
         "case_id": case_id, "action": action, "purpose": purpose}
        for patient_id, case_id in zip(patient_ids, case_ids, strict=True)
    ])


# ----- verification ---------------------------------------------------------------------------------------------

@dataclass
class Verification:
    ok: bool = True
    rows_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoint_seq: int | None = None
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    def fail(self, seq: int | None, reason: str) -> None:
        self.ok = False
        if len(self.problems) < 1000:
            self.problems.append((seq, reason))


async def _rows(session: AsyncSession, after: int, batch: int) -> AsyncIterator[AccessLogRow]:
    while True:
        rows = list(await session.scalars(
            select(AccessLogRow).where(AccessLogRow.seq > after).order_by(AccessLogRow.seq).limit(batch)))
        for row in rows:
            yield row
        if len(rows) < batch:
            return
        after = rows[-1].seq


async def verify(session: AsyncSession, batch: int = 5000) -> Verification:
    """Walk the chain from the newest purge checkpoint (or the beginning) to the head; report every break."""
    result = Verification()
    checkpoint = await session.scalar(
        select(AccessLogCheckpointRow).order_by(AccessLogCheckpointRow.next_seq.desc()).limit(1))
    expected_seq, prev = (checkpoint.next_seq, checkpoint.anchor_hash) if checkpoint else (1, GENESIS)
    result.checkpoint_seq = checkpoint.next_seq if checkpoint else None
    async for row in _rows(session, expected_seq - 1 if checkpoint else 0, batch):
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
    head = await session.scalar(select(AccessLogChainRow).where(AccessLogChainRow.id == CHAIN_ID))
    if head is not None and head.last_seq != expected_seq - 1:
        result.fail(head.last_seq, f"the chain head is at {head.last_seq} but the rows end at {expected_seq - 1}")
    elif head is not None and head.last_seq and head.last_hash != prev:
        result.fail(head.last_seq, "the last row does not match the chain head")
    return result


# ----- retention ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    rows_purged: int
    next_seq: int | None


async def purge(session: AsyncSession, *, now: datetime, retention_days: int) -> Purge:
    """Remove the oldest rows, all older than the retention (at least 5 years), behind a checkpoint.

    Only a prefix of the chain goes: the rows before the first one still within retention. The checkpoint
    (written first: the delete trigger requires it) keeps the last removed row's hash as the new anchor."""
    cutoff = purge_cutoff(now, retention_days)
    keep_from = await session.scalar(select(func.min(AccessLogRow.seq)).where(AccessLogRow.at >= cutoff))
    if keep_from is None:  # every row is old: keep the last one, it anchors the head
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
