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
  row's hash), `row_hash` = HMAC-SHA256 over its content, `seq` and `prev_hash` under the chain key, and
  `key_id` (which key; rows sealed before migration 0007 have the unkeyed SHA-256 and no `key_id`, see
  "Keys" below). A row that commits late with
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
  a purge checkpoint covers. `purge` records that checkpoint first (signed with the key); `verify` starts from
  the newest checkpoint. The chain head only moves forward, and checkpoints are insert-only (migration 0007).

Keys, and what survives someone who controls the database (a superuser can switch triggers off): nobody
without the key (SAMPLAN_ACCESS_LOG_KEY, kept outside the database; server/access_log_keys.py) can re-hash a
changed row or sign a checkpoint. What the key cannot show, a removed tail (the head set back with it) or a
log rolled back as a whole, the external checkpoints show: `external_checkpoint` gives the chain's head as a
signed line that `samplan checkpoint-access-log` appends to a file outside the database
(server/access_log_checkpoint_file.py), and `verify` checks the database against every line. Rows sealed
before the key existed keep their unkeyed hash and still verify; the first keyed row's hash covers the last of
them, and unkeyed rows after keyed ones are refused. docs/security.md has the threat model.

What this costs: a row is tamper-evident only once sealed (normally within a second; until then the triggers
alone protect it). `verify` therefore also reports rows left unsealed longer than `UNSEALED_GRACE`: the
sealer is not running, and those rows are not yet in the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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


KEY_MIN_LENGTH = 32
EXTERNAL_VERSION = 1  # the format of an external checkpoint line


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(data: dict[str, object]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _row_data(content: dict[str, object], prev_hash: str) -> bytes:
    data = {k: content[k] for k in HASHED}
    at = content["at"]
    assert isinstance(at, datetime)
    data["at"] = _iso(at)
    data["prev_hash"] = prev_hash
    return _canonical(data)


def row_hash(content: dict[str, object], prev_hash: str) -> str:
    """The unkeyed hash of rows sealed before migration 0007 (`key_id` NULL): SHA-256 of the canonical JSON of a
    row's content (with its `seq`) and the previous row's hash."""
    return hashlib.sha256(_row_data(content, prev_hash)).hexdigest()


def _mac(key: bytes, purpose: bytes, data: bytes) -> str:
    """HMAC-SHA256; `purpose` keeps a row's, a checkpoint's and an external line's MACs apart."""
    return hmac.new(key, purpose + b"\0" + data, hashlib.sha256).hexdigest()


def row_mac(content: dict[str, object], prev_hash: str, key: bytes) -> str:
    """The keyed hash of a row: HMAC-SHA256 under the chain key over what `row_hash` covers."""
    return _mac(key, b"samplan-access-log-row", _row_data(content, prev_hash))


def key_id(key: bytes) -> str:
    """A key's name in the database: 16 hex digits of a hash of it (says nothing about the key)."""
    return hashlib.sha256(b"samplan-access-log-key-id\0" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The chain key, which seals new rows and signs checkpoints, and the keys it replaced (oldest first), which
    verification needs for the rows sealed with them. Never stored in the database."""

    current: bytes = field(repr=False)
    retired: tuple[bytes, ...] = field(default=(), repr=False)
    _by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = (*self.retired, self.current)
        if any(len(k) < KEY_MIN_LENGTH for k in keys):
            raise ValueError(f"an access-log key must be at least {KEY_MIN_LENGTH} characters")
        object.__setattr__(self, "_by_id", {key_id(k): k for k in keys})

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def key(self, kid: str | None) -> bytes | None:
        """The key of that id; None if unknown."""
        return self._by_id.get(kid) if kid is not None else None


def _row_content(row: AccessLogRow) -> dict[str, object]:
    return {k: getattr(row, k) for k in HASHED}


def _checkpoint_data(checkpoint: AccessLogCheckpointRow) -> bytes:
    return _canonical({"created_at": _iso(checkpoint.created_at), "cutoff": _iso(checkpoint.cutoff),
                       "retention_days": checkpoint.retention_days, "next_seq": checkpoint.next_seq,
                       "anchor_hash": checkpoint.anchor_hash, "rows_purged": checkpoint.rows_purged,
                       "key_id": checkpoint.key_id})


def _line_data(line: dict[str, Any]) -> bytes:
    return _canonical({k: v for k, v in line.items() if k != "mac"})


class ChainBroken(Exception):
    """The chain head does not match its row (or its hash): nothing is anchored or purged from such a chain."""


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
    await append(session, [_row(user, unit, patient_id, case_id, action, purpose, at)
                           for unit, patient_id, case_id in zip(units, patient_ids, case_ids, strict=True)])


async def record_viewers(session: AsyncSession, users: Sequence[CurrentUser], *, unit_id: str, patient_id: str,
                         case_id: str | None, action: str, at: datetime, purpose: str = "care_coordination") -> None:
    """One row per user shown the same patient's data at the same moment (the viewers of one live update, each
    acting for `unit_id`), in one insert."""
    await append(session, [_row(user, unit_id, patient_id, case_id, action, purpose, at) for user in users])


def _row(user: CurrentUser, unit_id: str | None, patient_id: str, case_id: str | None, action: str, purpose: str,
         at: datetime) -> dict[str, object]:
    return {"at": at, "user_id": user.id, "user_hsa_id": user.hsa_id, "unit_id": unit_id, "patient_id": patient_id,
            "case_id": case_id, "action": action, "purpose": purpose}


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


async def seal(session: AsyncSession, keyring: Keyring, batch: int = SEAL_BATCH) -> int:
    """One sealing round in the caller's transaction (commit it promptly: it holds the chain head's lock).

    Seals up to `batch` unsealed rows, oldest id first, with the keyring's current key; returns how many. Takes
    no lock when none wait."""
    if await session.scalar(select(AccessLogRow.id).where(AccessLogRow.seq.is_(None)).limit(1)) is None:
        return 0
    seq, prev = await _lock_head(session)
    columns = [getattr(AccessLogRow, k) for k in CONTENT]
    rows = (await session.execute(select(AccessLogRow.id, *columns).where(AccessLogRow.seq.is_(None))
                                  .order_by(AccessLogRow.id).limit(batch))).all()
    if not rows:  # another sealer took them between the look and the lock
        return 0
    seals = []
    kid = keyring.current_id
    for row in rows:
        seq += 1
        digest = row_mac({**dict(zip(CONTENT, row[1:], strict=True)), "seq": seq}, prev, keyring.current)
        seals.append({"id": row[0], "seq": seq, "prev_hash": prev, "row_hash": digest, "key_id": kid})
        prev = digest
    await session.execute(update(AccessLogRow), seals)  # by primary key; the trigger allows exactly this
    await session.execute(update(AccessLogChainRow).where(AccessLogChainRow.id == CHAIN_ID)
                          .values(last_seq=seq, last_hash=prev))
    return len(rows)


async def seal_pending(sessions: async_sessionmaker[AsyncSession], keyring: Keyring,
                       batch: int = SEAL_BATCH) -> int:
    """Seal every row committed so far, one short transaction per batch; returns how many were sealed."""
    total = 0
    while True:
        async with sessions() as session, session.begin():
            sealed = await seal(session, keyring, batch)
        total += sealed
        if sealed < batch:
            return total


# ----- verification ---------------------------------------------------------------------------------------------

@dataclass
class Verification:
    """`ok`: the sealed chain is intact (and matches the external checkpoints given). Warnings (not breaks):
    rows the sealer has not reached within the grace period, so it is not running (`unsealed_too_long`; they
    are not tamper-evident until it does), and `notes` (e.g. unreadable lines of the checkpoint file)."""

    ok: bool = True
    rows_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoint_seq: int | None = None
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    unsealed: int = 0
    unsealed_too_long: int = 0
    oldest_unsealed_at: datetime | None = None
    external_checked: int = 0  # lines of the checkpoint file checked against the database
    notes: list[str] = field(default_factory=list)

    def fail(self, seq: int | None, reason: str) -> None:
        self.ok = False
        if len(self.problems) < 1000:
            self.problems.append((seq, reason))

    @property
    def warnings(self) -> list[str]:
        warnings = list(self.notes)
        if self.unsealed_too_long:
            warnings.append(f"{self.unsealed_too_long} rows have waited longer than the grace period to be sealed "
                            f"(the oldest from {self.oldest_unsealed_at:%Y-%m-%d %H:%M:%S} UTC): is the sealer "
                            "running?")
        return warnings


@dataclass(frozen=True)
class ExternalCheckpoints:
    """What the checkpoint file outside the database holds (server/access_log_checkpoint_file.py): its lines that
    are JSON, with their line numbers, and the numbers of the lines that are not (a write cut short)."""

    source: str
    lines: list[tuple[int, Any]] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)
    missing: bool = False


@dataclass(frozen=True)
class _Anchor:
    line: int
    at: str
    seq: int
    hash: str
    first_seq: int

    @property
    def name(self) -> str:
        return f"the external checkpoint of {self.at} (line {self.line})"


def external_line(keyring: Keyring, *, at: datetime, event: str, seq: int, digest: str, first_seq: int
                  ) -> dict[str, Any]:
    """An external checkpoint: the chain's head (`seq`, its `hash`) and start (`first_seq`), signed."""
    line: dict[str, Any] = {"v": EXTERNAL_VERSION, "event": event, "at": _iso(at), "seq": seq, "hash": digest,
                            "first_seq": first_seq, "key_id": keyring.current_id}
    line["mac"] = _mac(keyring.current, b"samplan-access-log-checkpoint", _line_data(line))
    return line


def _anchors(external: ExternalCheckpoints, keyring: Keyring, result: Verification) -> list[_Anchor]:
    """The lines of the checkpoint file that are well-formed and signed with a key of the keyring; every other
    line fails the verification (a line nobody could have written without the key), except unreadable ones."""
    if external.missing:
        result.notes.append(f"the checkpoint file {external.source} does not exist yet "
                            "(samplan checkpoint-access-log creates it)")
    for number in external.unreadable:
        result.notes.append(f"line {number} of the checkpoint file is not JSON (a write cut short?); ignored")
    anchors = []
    for number, line in external.lines:
        fields = {"v": int, "event": str, "at": str, "seq": int, "hash": str, "first_seq": int, "key_id": str,
                  "mac": str}
        if not isinstance(line, dict) or any(not isinstance(line.get(k), t) or isinstance(line.get(k), bool)
                                             for k, t in fields.items()):
            result.fail(None, f"line {number} of the checkpoint file is not a checkpoint")
            continue
        key = keyring.key(line["key_id"])
        if key is None:
            result.fail(None, f"line {number} of the checkpoint file is signed with an unknown key "
                              f"{line['key_id']} (a retired key missing from SAMPLAN_ACCESS_LOG_OLD_KEYS?)")
            continue
        expected = _mac(key, b"samplan-access-log-checkpoint", _line_data(line))
        if not hmac.compare_digest(expected, line["mac"]):
            result.fail(line["seq"], f"line {number} of the checkpoint file does not match its signature "
                                     "(forged or changed)")
            continue
        anchors.append(_Anchor(number, line["at"], line["seq"], line["hash"], line["first_seq"]))
        result.external_checked += 1
    return anchors


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


async def _newest_checkpoint(session: AsyncSession) -> AccessLogCheckpointRow | None:
    return await session.scalar(
        select(AccessLogCheckpointRow).order_by(AccessLogCheckpointRow.next_seq.desc()).limit(1))


def _checkpoint_signed(checkpoint: AccessLogCheckpointRow, keyring: Keyring) -> bool:
    key = keyring.key(checkpoint.key_id)
    return key is not None and checkpoint.mac is not None and hmac.compare_digest(
        _mac(key, b"samplan-access-log-purge", _checkpoint_data(checkpoint)), checkpoint.mac)


def _row_problem(row: AccessLogRow, keyring: Keyring) -> str | None:
    """Why a sealed row does not match its own hash, or None."""
    assert row.prev_hash is not None
    if row.key_id is None:
        expected = row_hash(_row_content(row), row.prev_hash)
    else:
        key = keyring.key(row.key_id)
        if key is None:
            return (f"the row is sealed with an unknown key {row.key_id} (a retired key missing from "
                    "SAMPLAN_ACCESS_LOG_OLD_KEYS, or forged)")
        expected = row_mac(_row_content(row), row.prev_hash, key)
    if row.row_hash is None or not hmac.compare_digest(expected, row.row_hash):
        return "the row's content does not match its hash (changed)"
    return None


async def verify(session: AsyncSession, keyring: Keyring, *, external: ExternalCheckpoints | None = None,
                 now: datetime | None = None, unsealed_grace: timedelta = UNSEALED_GRACE,
                 batch: int = 5000) -> Verification:
    """Walk the sealed chain from the newest purge checkpoint (or the beginning) to the head; report every
    break, and count the rows still waiting for the sealer. Rows are checked with the keyring; with `external`
    (read before this is called), also against every checkpoint outside the database. Reads only; safe beside
    running sealers."""
    result = Verification()
    anchors = _anchors(external, keyring, result) if external is not None else []
    checkpoint = await _newest_checkpoint(session)
    expected_seq, prev = (checkpoint.next_seq, checkpoint.anchor_hash) if checkpoint else (1, GENESIS)
    start = expected_seq
    result.checkpoint_seq = checkpoint.next_seq if checkpoint else None
    unsigned_start = checkpoint is not None and checkpoint.key_id is None and checkpoint.mac is None
    if checkpoint is not None and not unsigned_start and not _checkpoint_signed(checkpoint, keyring):
        result.fail(start, "the purge checkpoint the log starts from does not match its signature (forged)")
    if anchors:
        recorded = max(anchors, key=lambda a: a.first_seq)
        if start < recorded.first_seq:
            result.fail(start, f"the log starts at {start}, but {recorded.name} has it start at "
                               f"{recorded.first_seq} (a purge checkpoint was removed)")
        earliest = min(a.first_seq for a in anchors)
        if unsigned_start and start > earliest:
            result.fail(start, f"an unsigned purge checkpoint starts the log at {start}, after the start "
                               f"{earliest} of the external checkpoints (forged)")
    # The head first: a sealer may extend the chain during the walk; rows past this head are checked below.
    head = await _head(session)
    until = head[0] if head is not None else 2**62
    pending: dict[int, list[_Anchor]] = {}
    for anchor in anchors:
        if anchor.seq > until:
            result.fail(anchor.seq, f"{anchor.name} has the chain reach row {anchor.seq}, but it ends at {until} "
                                    "(rows were removed from the end)")
        elif anchor.seq == start - 1 and anchor.hash != prev:
            result.fail(anchor.seq, f"the hash of row {anchor.seq} differs from {anchor.name}")
        elif anchor.seq >= start:
            pending.setdefault(anchor.seq, []).append(anchor)
        # (an anchor further back: a purged row, whose hash the chain that remains no longer holds)
    keyed_seen = False  # (rows of several keys may interleave while API instances restart with a new key)
    async for row in _rows(session, expected_seq - 1, until, batch):
        assert row.seq is not None
        assert row.prev_hash is not None
        assert row.row_hash is not None
        if result.first_seq is None:
            result.first_seq = row.seq
            if unsigned_start and row.key_id is not None:
                result.fail(row.seq, "an unsigned purge checkpoint starts the log at a row sealed with the key "
                                     "(forged)")
        if row.seq != expected_seq:
            result.fail(row.seq, f"rows {expected_seq}..{row.seq - 1} are missing")
        if row.prev_hash != prev:
            result.fail(row.seq, "the link to the previous row is broken")
        problem = _row_problem(row, keyring)
        if problem is not None:
            result.fail(row.seq, problem)
        if row.key_id is None and keyed_seen:
            result.fail(row.seq, "the row is sealed without the key after rows sealed with it (re-hashed)")
        keyed_seen = keyed_seen or row.key_id is not None
        for anchor in pending.pop(row.seq, []):
            if anchor.hash != row.row_hash:
                result.fail(row.seq, f"the hash of row {row.seq} differs from {anchor.name} (re-hashed)")
        prev, expected_seq = row.row_hash, row.seq + 1
        result.rows_checked += 1
        result.last_seq = row.seq
    for seq, missing in sorted(pending.items()):
        result.fail(seq, f"row {seq} is missing, but {missing[0].name} holds its hash")
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


async def external_checkpoint(session: AsyncSession, keyring: Keyring, *, now: datetime,
                              event: str = "checkpoint") -> dict[str, Any]:
    """The chain's head and start as a signed line for the checkpoint file outside the database.

    Checks the head's own row first (present, the head's hash, matching its content): a head set back or a
    re-hashed last row is not anchored (ChainBroken). Does not walk the chain: that is `verify`'s job, and
    anything before the head that changes later is caught against this line."""
    head = await _head(session)
    seq, digest = head if head is not None else (0, GENESIS)
    if seq:
        row = await session.scalar(select(AccessLogRow).where(AccessLogRow.seq == seq))
        if row is None or row.row_hash != digest:
            raise ChainBroken(f"the chain head ({seq}) does not match its row")
        problem = _row_problem(row, keyring)
        if problem is not None:
            raise ChainBroken(f"row {seq}: {problem}")
    checkpoint = await _newest_checkpoint(session)
    return external_line(keyring, at=now, event=event, seq=seq, digest=digest,
                         first_seq=checkpoint.next_seq if checkpoint is not None else 1)


# ----- retention ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    rows_purged: int
    next_seq: int | None


async def purge(session: AsyncSession, keyring: Keyring, *, now: datetime, retention_days: int) -> Purge:
    """Remove the oldest sealed rows, all older than the retention (at least 5 years), behind a checkpoint.

    Only a prefix of the chain goes: the rows before the first one still within retention. The checkpoint
    (written first: the delete trigger requires it; signed with the key) keeps the last removed row's hash as
    the new anchor. Unsealed rows are never touched (the trigger refuses them too). No lock: sealers only fill
    unsealed rows and move the head past the rows kept, so they run on meanwhile."""
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
    checkpoint = AccessLogCheckpointRow(created_at=now, cutoff=cutoff, retention_days=retention_days,
                                        next_seq=keep_from, anchor_hash=anchor, rows_purged=count,
                                        key_id=keyring.current_id)
    checkpoint.mac = _mac(keyring.current, b"samplan-access-log-purge", _checkpoint_data(checkpoint))
    await session.execute(insert(AccessLogCheckpointRow).values(
        created_at=now, cutoff=cutoff, retention_days=retention_days, next_seq=keep_from, anchor_hash=anchor,
        rows_purged=count, key_id=checkpoint.key_id, mac=checkpoint.mac))
    await session.execute(delete(AccessLogRow).where(AccessLogRow.seq < keep_from))
    return Purge(cutoff, count, keep_from)
