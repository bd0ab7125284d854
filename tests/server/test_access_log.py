"""The access log: every read and write logged in the same transaction, append-only, tamper-evident, retained.

Requests only insert rows; the sealer chains them afterwards. Tests that bypass the database's protection (to
prove verification catches what the triggers would stop) on the shared session database restore the row
before they end; most run on a database of their own (`log_session`).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import stat
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from prometheus_client import REGISTRY
from sqlalchemy import bindparam, delete, event, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.errors import InvalidValue
from server import access_log
from server.access_log_keys import keyring
from server.access_log_sealer import Sealer
from server.cli import UNSEALED_TOO_LONG, checkpoint_access_log, purge_access_log, seal_access_log, verify_access_log
from server.persistence.database import create_engine, session_factory
from server.persistence.migrate import upgrade
from server.persistence.models import AccessLogChainRow, AccessLogCheckpointRow, AccessLogRow
from server.principal import CurrentUser
from server.runtime import build_runtime
from server.settings import Settings
from tests.conftest import Backend, _create_pg_database, _drop_pg_database
from tests.server.conftest import WARD, register
from tests.server.conftest import test_settings as settings_for

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
Sessions = async_sessionmaker[AsyncSession]
MIGRATION = importlib.import_module("server.persistence.migrations.versions.0007_access_log_keyed_chain")


async def rows_of(app: Litestar, case_id: str) -> list[AccessLogRow]:
    async with app.state.runtime.sessions() as session:
        return list(await session.scalars(select(AccessLogRow).where(AccessLogRow.case_id == case_id)
                                          .order_by(AccessLogRow.id)))


async def test_every_read_and_write_of_a_case_is_logged(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    await client.get(f"/api/v1/cases/{case['id']}", headers=nurse)
    await client.get(f"/api/v1/cases?unit_id={WARD}", headers=nurse)
    await client.get("/api/v1/cases", headers=nurse)  # no unit given: each row still names the unit
    body = {"expected_version": case["version"]}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(f"/api/v1/cases/{case['id']}/admission-notice", json=body, headers={**nurse, **key})
    replay = await client.post(f"/api/v1/cases/{case['id']}/admission-notice", json=body, headers={**nurse, **key})
    assert first.status_code == replay.status_code == 200
    rows = await rows_of(app, case["id"])
    assert [r.action for r in rows] == ["register_case", "read_case", "list_cases", "list_cases",
                                        "send_admission_notice", "replay_response"]
    for row in rows:
        assert row.unit_id == WARD
        assert row.patient_id == case["patient"]["id"]
        assert row.user_hsa_id.startswith("SE2321000016-")
        assert row.purpose == "care_coordination"
        assert row.at is not None


async def test_a_failed_write_leaves_no_log_row(client: Client, auth: Auth, app: Litestar,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The log row is written in the change's transaction: when the commit does not happen, neither does it."""
    nurse = auth("ward.nurse")
    case = await register(client, nurse)

    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("server.services.command_runner.store_response", broken)
    failed = await client.post(f"/api/v1/cases/{case['id']}/admission-notice", headers={
        **nurse, "Idempotency-Key": str(uuid.uuid4())}, json={"expected_version": case["version"]})
    assert failed.status_code == 500
    refused = await client.post(f"/api/v1/cases/{case['id']}/closure", headers=nurse,
                                json={"expected_version": case["version"]})
    assert refused.status_code == 422  # a rule of the process: nothing changes, nothing is logged as done
    assert [r.action for r in await rows_of(app, case["id"])] == ["register_case"]


async def _bypass_protection(session: AsyncSession) -> None:
    """What an attacker with the database owner's rights could do: switch the triggers off (this transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for statement in MIGRATION.DROP_TRIGGERS["sqlite"]:
            await session.execute(text(statement))


async def _restore_protection(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "sqlite":
        for statement in MIGRATION.SQLITE_TRIGGERS:
            await session.execute(text(statement))


async def test_the_database_refuses_to_change_or_delete_log_rows(client: Client, auth: Auth, app: Litestar) -> None:
    case = await register(client, auth("ward.nurse"))
    (row,) = await rows_of(app, case["id"])
    for statement in (update(AccessLogRow).where(AccessLogRow.id == row.id).values(action="nothing"),
                      delete(AccessLogRow).where(AccessLogRow.id == row.id),
                      text("DELETE FROM access_log")):
        async with app.state.runtime.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
            await session.rollback()
    assert [r.action for r in await rows_of(app, case["id"])] == ["register_case"]


async def test_verification_reports_a_changed_row(client: Client, auth: Auth, app: Litestar) -> None:
    case = await register(client, auth("ward.nurse"))
    await app.state.runtime.sealer.run_once()  # what the API's sealer does within a second
    (row,) = await rows_of(app, case["id"])
    assert row.seq is not None
    async with app.state.runtime.sessions() as session:
        assert (await access_log.verify(session, app.state.runtime.sealer.keyring)).ok
    try:
        async with app.state.runtime.sessions() as session, session.begin():
            await _bypass_protection(session)
            await session.execute(update(AccessLogRow).where(AccessLogRow.seq == row.seq)
                                  .values(user_hsa_id="SE2321000016-SOMEONEELSE"))
            await _restore_protection(session)
        async with app.state.runtime.sessions() as session:
            result = await access_log.verify(session, app.state.runtime.sealer.keyring)
        assert not result.ok
        assert result.problems == [(row.seq, "the row's content does not match its hash (changed)")]
        auditor = await client.get("/api/v1/audit/access-log/verification", headers=auth("auditor"))
        assert auditor.status_code == 200
        assert auditor.json()["ok"] is False
        assert auditor.json()["problems"][0]["seq"] == row.seq
        assert {"unsealed", "unsealed_too_long", "oldest_unsealed_at", "warnings"} <= set(auditor.json())
    finally:
        async with app.state.runtime.sessions() as session, session.begin():
            await _bypass_protection(session)
            await session.execute(update(AccessLogRow).where(AccessLogRow.seq == row.seq)
                                  .values(user_hsa_id=row.user_hsa_id))
            await _restore_protection(session)
    async with app.state.runtime.sessions() as session:
        assert (await access_log.verify(session, app.state.runtime.sealer.keyring)).ok


async def test_concurrent_writers_extend_one_chain(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    cases = await asyncio.gather(*(register(client, nurse) for _ in range(4)))
    await asyncio.gather(*(client.get(f"/api/v1/cases/{c['id']}", headers=nurse) for c in cases for _ in range(3)),
                         *(app.state.runtime.sealer.run_once() for _ in range(3)))  # sealers too
    await app.state.runtime.sealer.run_once()
    async with app.state.runtime.sessions() as session:
        result = await access_log.verify(session, app.state.runtime.sealer.keyring)
        seqs = list(await session.scalars(select(AccessLogRow.seq).order_by(AccessLogRow.seq)))
    assert result.ok, result.problems
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # every row sealed, no gap


# ----- on a database of its own (the chain starts at the beginning) -----------------------------------------------

@pytest.fixture
def empty_log_database(backend: Backend, tmp_path: Path) -> Iterator[str]:
    if backend.name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"
        upgrade(url)
        yield url
        return
    name = f"samplan_log_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_create_pg_database(name))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_drop_pg_database(name))


@pytest.fixture
async def log_session(empty_log_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(empty_log_database)
    yield session_factory(engine)
    await engine.dispose()


KEY = "a test key for the access log chain, 32+ characters"
KEYS = access_log.Keyring(KEY.encode())
USER = CurrentUser(id=str(uuid.uuid4()), username="x", hsa_id="SE2321000016-X", display_name="x",
                   organisation_id="o", assignments=())


async def _record(session: AsyncSession, at: datetime) -> None:
    await access_log.record(session, USER, unit_id="u", patient_ids=[str(uuid.uuid4())], case_ids=[None],
                            action="read_case", at=at)


async def _write(sessions: Sessions, ages_in_days: list[int], now: datetime, *, sealed: bool = True) -> None:
    async with sessions() as session, session.begin():
        for age in ages_in_days:
            await _record(session, now - timedelta(days=age))
    if sealed:
        await access_log.seal_pending(sessions, KEYS)


async def _verify(sessions: Sessions, **options: Any) -> access_log.Verification:
    async with sessions() as session:
        return await access_log.verify(session, KEYS, **options)


async def _seqs(sessions: Sessions) -> list[int | None]:
    async with sessions() as session:
        return list(await session.scalars(select(AccessLogRow.seq).order_by(AccessLogRow.id)))


def _statements(sessions: Sessions) -> tuple[list[str], Callable[[], None]]:
    """Every SQL statement the engine behind `sessions` runs, until the returned function is called."""
    engine = sessions.kw["bind"].sync_engine
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: event.remove(engine, "before_cursor_execute", listener)


async def test_logging_only_inserts_and_takes_no_chain_lock(log_session: Sessions, backend: Backend) -> None:
    """The request path: one INSERT into access_log, nothing else; the chain head is not even read."""
    now = datetime.now(UTC)
    seen, stop = _statements(log_session)
    try:
        async with log_session() as session, session.begin():
            await _record(session, now)
    finally:
        stop()
    logged = [s for s in seen if "access_log" in s.lower()]  # (not the driver's own set-up queries)
    assert logged
    assert all(s.lstrip().upper().startswith("INSERT INTO ACCESS_LOG ") for s in logged), logged
    assert not any("access_log_chain" in s.lower() for s in seen)
    assert await _seqs(log_session) == [None]  # unsealed until the sealer comes

    if backend.name == "postgresql":  # (SQLite has one writer at a time whatever the log does)
        async with log_session() as sealer, sealer.begin():
            await access_log._lock_head(sealer)  # a sealer holds the chain head's lock ...

            async def request() -> None:
                async with log_session() as session, session.begin():
                    await _record(session, now)

            # ... and two requests still log and commit, concurrently: they never wait on it
            await asyncio.wait_for(asyncio.gather(request(), request()), timeout=20)
            async with log_session() as other:  # another sealer does wait on it
                await other.execute(text("SET LOCAL lock_timeout = '50ms'"))
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await access_log.seal(other, KEYS)
                await other.rollback()
            assert await access_log.seal(sealer, KEYS) == 3  # the held round seals all three once it runs
        assert await _seqs(log_session) == [1, 2, 3]


async def test_the_sealer_seals_in_order_and_late_commits_later_without_gaps(log_session: Sessions,
                                                                             backend: Backend) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [0, 0], now, sealed=False)
    assert await access_log.seal_pending(log_session, KEYS, batch=1) == 2  # batches of one: two rounds
    assert await access_log.seal_pending(log_session, KEYS) == 0
    assert await _seqs(log_session) == [1, 2]  # id order

    # A row that commits after rows with a higher id were sealed is sealed later, at the end of the chain.
    if backend.name == "postgresql":
        async with log_session() as late:
            await late.begin()
            await _record(late, now)  # takes the lower id, commits last
            await _write(log_session, [0], now)  # a higher id, committed and sealed meanwhile
            assert await _seqs(log_session) == [1, 2, 3]
            await late.commit()
    else:  # one writer at a time: a late commit looks like this, a lower id than a row already sealed
        content = {"at": now, "user_id": USER.id, "user_hsa_id": USER.hsa_id, "unit_id": "u", "patient_id": "p",
                   "case_id": None, "action": "read_case", "purpose": "care_coordination"}
        async with log_session() as session, session.begin():
            await session.execute(insert(AccessLogRow).values(id=10, **content))
        await access_log.seal_pending(log_session, KEYS)
        async with log_session() as session, session.begin():
            await session.execute(insert(AccessLogRow).values(id=5, **content))
    assert await _seqs(log_session) == [1, 2, None, 3]
    assert await access_log.seal_pending(log_session, KEYS) == 1
    assert await _seqs(log_session) == [1, 2, 4, 3]  # by id: the late row is last in the chain, nothing skipped
    result = await _verify(log_session)
    assert result.ok, result.problems
    assert (result.rows_checked, result.unsealed) == (4, 0)


async def test_the_database_lets_the_sealer_fill_the_seal_once_and_nothing_else(log_session: Sessions) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [0], now, sealed=False)
    forged = {"seq": 1, "prev_hash": access_log.GENESIS, "row_hash": "f" * 64}
    refused = [
        update(AccessLogRow).values(action="nothing"),  # unsealed: content
        update(AccessLogRow).values(**forged, action="nothing"),  # sealing and a change at once
        update(AccessLogRow).values(seq=1),  # half a seal
    ]
    for statement in refused:
        async with log_session() as session, session.begin():
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
    await access_log.seal_pending(log_session, KEYS)
    for statement in (update(AccessLogRow).values(seq=7),  # sealed: a seal cannot be redone ...
                      update(AccessLogRow).values(seq=None, prev_hash=None, row_hash=None),  # ... nor undone
                      update(AccessLogRow).values(purpose="research")):
        async with log_session() as session, session.begin():
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
    assert (await _verify(log_session)).ok


async def _tamper(sessions: Sessions, statement: Any) -> None:
    async with sessions() as session, session.begin():
        await _bypass_protection(session)
        await session.execute(statement)
        await _restore_protection(session)


async def test_tampering_with_a_sealed_row_is_reported(log_session: Sessions) -> None:
    await _write(log_session, [0, 0, 0], datetime.now(UTC))
    await _tamper(log_session, update(AccessLogRow).where(AccessLogRow.seq == 2).values(action="read_nothing"))
    await _tamper(log_session, update(AccessLogRow).where(AccessLogRow.seq == 3).values(prev_hash="0" * 64))
    result = await _verify(log_session)
    assert not result.ok
    assert result.problems == [(2, "the row's content does not match its hash (changed)"),
                               (3, "the link to the previous row is broken"),
                               (3, "the row's content does not match its hash (changed)")]


async def test_deleting_a_sealed_row_is_reported(log_session: Sessions) -> None:
    await _write(log_session, [0, 0, 0, 0], datetime.now(UTC))
    await _tamper(log_session, delete(AccessLogRow).where(AccessLogRow.seq == 2))
    result = await _verify(log_session)
    assert not result.ok
    assert result.problems == [(3, "rows 2..2 are missing"), (3, "the link to the previous row is broken")]

    await _tamper(log_session, delete(AccessLogRow).where(AccessLogRow.seq == 4))  # the tail
    assert (4, "the chain head is at 4 but the rows end at 3") in (await _verify(log_session)).problems


async def test_rows_left_unsealed_too_long_are_reported(log_session: Sessions, empty_log_database: str,
                                                        backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    """No sealer ran: the chain is intact, but rows wait. A warning (exit status 3), not a break (1)."""
    now = datetime.now(UTC)
    await _write(log_session, [0], now)
    async with log_session() as session, session.begin():
        await _record(session, now - timedelta(minutes=10))
        await _record(session, now - timedelta(seconds=1))
    result = await _verify(log_session, now=now)
    assert result.ok
    assert (result.rows_checked, result.unsealed, result.unsealed_too_long) == (1, 2, 1)
    assert result.oldest_unsealed_at == now - timedelta(minutes=10)
    assert "is the sealer running?" in result.warnings[0]
    assert (await _verify(log_session, now=now, unsealed_grace=timedelta(hours=1))).warnings == []

    settings = replace(settings_for(backend), database_url=empty_log_database, access_log_key=KEY)
    assert await asyncio.to_thread(verify_access_log, settings) == 3
    out = capsys.readouterr().out
    assert "warning: 1 rows have waited longer than the grace period" in out
    assert "access log intact: 1 rows checked, 2 not yet sealed" in out
    assert await asyncio.to_thread(seal_access_log, settings) == 0
    assert "sealed 2 access-log rows" in capsys.readouterr().out
    assert await asyncio.to_thread(verify_access_log, settings) == 0
    await _tamper(log_session, update(AccessLogRow).where(AccessLogRow.seq == 1).values(action="x"))
    assert await asyncio.to_thread(verify_access_log, settings) == 1


async def test_the_background_sealer_seals_and_survives_database_errors(log_session: Sessions,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [0, 0], now, sealed=False)
    real = access_log.seal_pending
    failures = [OperationalError("SELECT", {}, Exception("the database is away"))]

    async def flaky(sessions: Sessions, keys: access_log.Keyring, batch: int = access_log.SEAL_BATCH) -> int:
        if failures and sessions is log_session:  # (not the session app's own sealer)
            raise failures.pop()
        return await real(sessions, keys, batch)

    monkeypatch.setattr(access_log, "seal_pending", flaky)
    failed_before = REGISTRY.get_sample_value("samplan_access_log_seal_failures_total") or 0.0
    sealer = Sealer(log_session, KEYS, interval=0.01)
    sealer.start()
    try:
        await asyncio.wait_for(sealer.wait_rounds(1), timeout=20)  # the failed round
        await asyncio.wait_for(sealer.wait_rounds(2), timeout=20)  # and the next, which seals
    finally:
        await sealer.stop()
    assert not failures
    assert await _seqs(log_session) == [1, 2]
    assert REGISTRY.get_sample_value("samplan_access_log_seal_failures_total") == failed_before + 1


def test_a_sealer_needs_a_positive_interval(log_session: Sessions) -> None:
    with pytest.raises(ValueError, match="SEAL_INTERVAL"):
        Sealer(log_session, KEYS, interval=0)


def test_the_sqlite_trigger_names_every_column_of_the_log() -> None:
    """SQLite's UPDATE trigger lists the columns a sealing must leave alone: a new column must be added there."""
    assert set(MIGRATION.CONTENT_COLUMNS) | set(MIGRATION.SEAL_COLUMNS) == set(AccessLogRow.__table__.columns.keys())
    assert set(MIGRATION.CONTENT_COLUMNS) == {"id", *access_log.CONTENT}


async def test_rows_logged_before_the_migration_are_sealed_by_the_sealer(backend: Backend, tmp_path: Path) -> None:
    if backend.name == "sqlite":
        url, name = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", ""
    else:
        name = f"samplan_old_{uuid.uuid4().hex[:12]}"
        url = await _create_pg_database(name)
    try:
        await asyncio.to_thread(upgrade, url, "0001")
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for i in range(3):
                    await conn.execute(text(
                        "INSERT INTO access_log (at, user_id, user_hsa_id, unit_id, patient_id, case_id, action, "
                        "purpose) VALUES (:at, 'u', 'SE-X', NULL, :p, NULL, 'read_case', 'care_coordination')")
                        .bindparams(bindparam("at", type_=AccessLogRow.__table__.c.at.type),
                                    at=datetime(2026, 1, 1, 12, i, tzinfo=UTC), p=f"p{i}"))
        finally:
            await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            assert await _seqs(sessions) == [None, None, None]
            assert await access_log.seal_pending(sessions, KEYS) == 3
            assert await _seqs(sessions) == [1, 2, 3]
            assert (await _verify(sessions)).ok
        finally:
            await engine.dispose()
    finally:
        if name:
            await _drop_pg_database(name)


@pytest.fixture
async def unmigrated_database(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    if backend.name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    name = f"samplan_old_{uuid.uuid4().hex[:12]}"
    url = await _create_pg_database(name)
    try:
        yield url
    finally:
        await _drop_pg_database(name)


async def test_rows_sealed_before_the_key_still_verify_and_the_first_keyed_row_covers_them(
        unmigrated_database: str) -> None:
    """Migration 0007: rows (and a purge checkpoint) sealed with the unkeyed hash of before stay as they are and
    verify; rows sealed since use the key; and the unkeyed rows cannot be re-hashed without it either."""
    url = unmigrated_database
    await asyncio.to_thread(upgrade, url, "0004")
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:  # what the previous release's request path and sealer did
            prev = access_log.GENESIS
            for seq, age in enumerate([2200, 2100, 1], start=1):
                content = {"at": now - timedelta(days=age), "user_id": "u", "user_hsa_id": "SE-X", "unit_id": None,
                           "patient_id": f"p{seq}", "case_id": None, "action": "read_case",
                           "purpose": "care_coordination"}
                await conn.execute(insert(AccessLogRow.__table__).values(content))
                digest = access_log.row_hash({**content, "seq": seq}, prev)
                await conn.execute(text("UPDATE access_log SET seq = :s, prev_hash = :p, row_hash = :h "
                                        "WHERE patient_id = :patient"),
                                   {"s": seq, "p": prev, "h": digest, "patient": f"p{seq}"})
                prev = digest
            await conn.execute(text("UPDATE access_log_chain SET last_seq = 3, last_hash = :h"), {"h": prev})
            first = await conn.scalar(text("SELECT row_hash FROM access_log WHERE seq = 1"))
            await conn.execute(insert(AccessLogCheckpointRow.__table__).values(
                created_at=now, cutoff=now - timedelta(days=1827), retention_days=1827, next_seq=2,
                anchor_hash=first, rows_purged=1))  # the previous release's purge (unsigned)
            await conn.execute(text("DELETE FROM access_log WHERE seq = 1"))
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        await _write(sessions, [0, 0], now)  # sealed with the key
        async with sessions() as session:
            kids = list(await session.scalars(select(AccessLogRow.key_id).order_by(AccessLogRow.seq)))
        assert kids == [None, None, KEYS.current_id, KEYS.current_id]
        result = await _verify(sessions)
        assert result.ok, result.problems
        assert (result.checkpoint_seq, result.first_seq, result.last_seq) == (2, 2, 5)

        await _as_superuser(sessions, update(AccessLogRow).where(AccessLogRow.seq == 2).values(action="x"),
                            _rehash_from(2, through=3))  # the unkeyed rows, re-hashed the unkeyed way
        result = await _verify(sessions)
        assert result.problems == [(4, "the link to the previous row is broken")]
    finally:
        await engine.dispose()


# ----- retention ------------------------------------------------------------------------------------------------

async def test_purge_removes_only_sealed_rows_past_retention_and_verification_goes_on(log_session: Sessions) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [2200, 2100, 2000, 10, 1], now)
    await _write(log_session, [2300], now, sealed=False)  # old, but not yet sealed: it stays
    async with log_session() as session, session.begin():
        with pytest.raises(InvalidValue):
            await access_log.purge(session, KEYS, now=now, retention_days=365)
        purged = await access_log.purge(session, KEYS, now=now, retention_days=1827)
    assert (purged.rows_purged, purged.next_seq) == (3, 4)
    async with log_session() as session:
        result = await access_log.verify(session, KEYS)
        checkpoint = await session.scalar(select(AccessLogCheckpointRow))
    assert await _seqs(log_session) == [4, 5, None]
    assert result.ok, result.problems
    assert (result.checkpoint_seq, result.rows_checked, result.unsealed) == (4, 2, 1)
    assert checkpoint is not None
    assert checkpoint.rows_purged == 3

    # A young row cannot be deleted even behind a checkpoint, nor an old one that is not sealed; and the chain
    # goes on after the purge.
    async with log_session() as session:
        for statement in (delete(AccessLogRow).where(AccessLogRow.seq == 4),
                          delete(AccessLogRow).where(AccessLogRow.seq.is_(None))):
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
            await session.rollback()
    await _write(log_session, [0], now)
    async with log_session() as session:
        assert (await access_log.verify(session, KEYS)).ok
        assert await session.scalar(select(func.count()).select_from(AccessLogRow)) == 4
    assert await _seqs(log_session) == [4, 5, 6, 7]  # the old row was sealed (before the new one), purged later
    async with log_session() as session, session.begin():
        again = await access_log.purge(session, KEYS, now=now, retention_days=1827)
    assert (again.rows_purged, again.next_seq) == (0, None)  # seq 6 (old) comes after young rows: it stays
    assert (await _verify(log_session)).ok


async def test_a_row_within_five_years_is_never_purged(log_session: Sessions) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [1500, 3000, 1], now)  # an old row after a young one: the chain's prefix stays
    async with log_session() as session, session.begin():
        purged = await access_log.purge(session, KEYS, now=now, retention_days=1827)
    assert purged.rows_purged == 0
    async with log_session() as session:
        assert await session.scalar(select(func.count()).select_from(AccessLogRow)) == 3


async def test_the_commands_verify_and_purge(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    """On the shared database, beside the session app's sealer: the commands run in a thread (they run their
    own event loop) while this loop goes on, so the sealer never stalls holding SQLite's write lock."""
    settings = settings_for(backend)
    assert await asyncio.to_thread(seal_access_log, settings) == 0  # as the API's sealer does; rows may wait
    assert await asyncio.to_thread(verify_access_log, settings) == 0
    assert "intact" in capsys.readouterr().out
    assert await asyncio.to_thread(purge_access_log, settings, 30) == 2  # below the legal minimum: refused
    assert await asyncio.to_thread(purge_access_log, settings, None) == 0
    assert "purged 0 access-log rows" in capsys.readouterr().out


async def test_the_demo_world_has_an_access_log_to_review(log_session: Sessions) -> None:
    from server.demo.seed import seed

    async with log_session() as session, session.begin():
        assert await seed(session, now=datetime.now(UTC), cases_on_main_ward=12)
    await access_log.seal_pending(log_session, KEYS)
    async with log_session() as session:
        result = await access_log.verify(session, KEYS)
        actions = set(await session.scalars(select(AccessLogRow.action)))
    assert result.ok, result.problems
    assert result.rows_checked > 12
    assert result.unsealed == 0
    assert "register_case" in actions


# ----- someone who controls the database: the key and the checkpoint file ------------------------------------------
# These tests play a database superuser: the triggers switched off, then the log changed and re-hashed as best
# one can without the key. They use the commands (`samplan seal-access-log`, `verify-access-log`, ...) the way
# an operator does, with the key and the checkpoint file in the environment.

PROTECTED = ("access_log", "access_log_chain", "access_log_checkpoints")


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    return tmp_path / "outside-the-database" / "access-log-checkpoints.jsonl"


@pytest.fixture
def operator(backend: Backend, empty_log_database: str, checkpoint_file: Path,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What `samplan ...` reads on the operator's host: the key and the checkpoint file come from the environment."""
    monkeypatch.setenv("SAMPLAN_ACCESS_LOG_KEY", KEY)
    monkeypatch.setenv("SAMPLAN_ACCESS_LOG_CHECKPOINT_FILE", str(checkpoint_file))
    return replace(settings_for(backend), database_url=empty_log_database)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in path.read_text().splitlines()]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _append_raw(path: Path, raw: str) -> None:
    with path.open("a") as file:
        file.write(raw)


async def _run(command: Callable[..., int], *args: Any) -> int:
    """A `samplan` command (it runs its own event loop: in a thread)."""
    return await asyncio.to_thread(command, *args)


async def _as_superuser(sessions: Sessions, *steps: Any) -> None:
    """A superuser's tampering, in one transaction: the triggers off (PostgreSQL: ALTER TABLE ... DISABLE TRIGGER;
    SQLite: dropped), each step run (a statement, or an async function of the session), the triggers back on."""
    async with sessions() as session, session.begin():
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            for table in PROTECTED:
                await session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            saved = (await session.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                "('access_log', 'access_log_chain', 'access_log_checkpoints')"))).all()
            for name, _sql in saved:
                await session.execute(text(f'DROP TRIGGER "{name}"'))
        for step in steps:
            await (step(session) if callable(step) else session.execute(step))
        if postgres:
            for table in PROTECTED:
                await session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            for _name, sql in saved:
                await session.execute(text(sql))


def _rehash_from(seq: int, *, unkeyed_marker: bool = False,
                 through: int | None = None) -> Callable[[AsyncSession], Awaitable[None]]:
    """Re-hash the chain from `seq` to the end (or `through`) the only way one can without the key (the unkeyed
    SHA-256 of before), links and head included; `unkeyed_marker` also marks the rows as sealed before the key
    existed."""

    async def rehash(session: AsyncSession) -> None:
        rows = list(await session.scalars(select(AccessLogRow).where(AccessLogRow.seq >= seq - 1)
                                          .order_by(AccessLogRow.seq)))
        anchor = await session.scalar(select(AccessLogCheckpointRow.anchor_hash)
                                      .where(AccessLogCheckpointRow.next_seq == seq))
        prev = rows[0].row_hash if rows[0].seq == seq - 1 else anchor or access_log.GENESIS
        assert prev is not None
        for row in rows:
            if row.seq is None or row.seq < seq or (through is not None and row.seq > through):
                continue
            content = {k: getattr(row, k) for k in access_log.HASHED}
            digest = access_log.row_hash(content, prev)
            await session.execute(text(
                "UPDATE access_log SET prev_hash = :prev, row_hash = :digest"
                + (", key_id = NULL" if unkeyed_marker else "") + " WHERE seq = :seq"),
                {"prev": prev, "digest": digest, "seq": row.seq})
            prev = digest
        if through is None:
            await session.execute(text("UPDATE access_log_chain SET last_hash = :prev WHERE id = 1"),
                                  {"prev": prev})

    return rehash


async def _log_and_seal(sessions: Sessions, operator: Settings, count: int, *, age_in_days: int = 0) -> None:
    await _write(sessions, [age_in_days] * count, datetime.now(UTC), sealed=False)
    assert await _run(seal_access_log, operator) == 0


async def test_a_superuser_who_rehashes_the_chain_without_the_key_is_caught(
        log_session: Sessions, operator: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: the chain had no secret, so a changed row re-hashed to the end (and the head set to match)
    passed verification. The key alone catches it (no checkpoint file here)."""
    operator = replace(operator, access_log_checkpoint_file=None)
    await _log_and_seal(log_session, operator, 4)
    assert await _run(verify_access_log, operator) == 0
    await _as_superuser(log_session, update(AccessLogRow).where(AccessLogRow.seq == 2).values(action="read_nothing"),
                        _rehash_from(2))
    capsys.readouterr()
    assert await _run(verify_access_log, operator) == 1
    out = capsys.readouterr().out
    assert "row 2: the row's content does not match its hash (changed)" in out
    assert "access log BROKEN" in out

    # Marking the re-hashed rows as sealed before the key existed does not help: they follow keyed rows.
    await _as_superuser(log_session, _rehash_from(2, unkeyed_marker=True))
    assert await _run(verify_access_log, operator) == 1
    assert "row 2: the row is sealed without the key after rows sealed with it (re-hashed)" in capsys.readouterr().out


async def test_a_log_rehashed_as_a_whole_without_the_key_is_caught_by_the_checkpoint_file(
        log_session: Sessions, operator: Settings, checkpoint_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All of it re-hashed the unkeyed way looks like a log from before the key: only the outside anchor shows it."""
    await _log_and_seal(log_session, operator, 3)
    assert await _run(checkpoint_access_log, operator) == 0
    line = _lines(checkpoint_file)[-1]
    assert (line["seq"], line["first_seq"], line["event"]) == (3, 1, "checkpoint")
    assert _mode(checkpoint_file) == 0o600
    await _as_superuser(log_session, update(AccessLogRow).where(AccessLogRow.seq == 1).values(action="read_nothing"),
                        _rehash_from(1, unkeyed_marker=True))
    capsys.readouterr()
    assert await _run(verify_access_log, operator) == 1
    assert "row 3: the hash of row 3 differs from the external checkpoint of" in capsys.readouterr().out
    # ... which a verification without the file cannot tell from a log sealed before the key existed
    without_file = replace(operator, access_log_checkpoint_file=None)
    assert await _run(verify_access_log, without_file) == 0


async def test_a_superuser_who_cuts_the_tail_is_caught_by_the_checkpoint_file(
        log_session: Sessions, operator: Settings, checkpoint_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: rows removed from the end, with the chain head set back to the new last row, passed."""
    await _log_and_seal(log_session, operator, 3)
    assert await _run(checkpoint_access_log, operator) == 0  # cron, every few minutes
    await _log_and_seal(log_session, operator, 2)
    assert await _run(checkpoint_access_log, operator) == 0
    assert [x["seq"] for x in _lines(checkpoint_file)] == [3, 5]
    assert await _run(verify_access_log, operator) == 0
    assert "access log intact: 5 rows checked, 0 not yet sealed, 2 external checkpoints matched" in \
        capsys.readouterr().out
    async with log_session() as session:
        third = await session.scalar(select(AccessLogRow.row_hash).where(AccessLogRow.seq == 3))

    async def set_head_back(session: AsyncSession) -> None:
        await session.execute(text("UPDATE access_log_chain SET last_seq = 3, last_hash = :h WHERE id = 1"),
                              {"h": third})

    await _as_superuser(log_session, delete(AccessLogRow).where(AccessLogRow.seq > 3), set_head_back)
    assert await _run(verify_access_log, operator) == 1
    out = capsys.readouterr().out
    assert "row 5: the external checkpoint of " in out
    assert "has the chain reach row 5, but it ends at 3 (rows were removed from the end)" in out
    # Anchoring the cut chain now does not hide it: the earlier line stays.
    assert await _run(checkpoint_access_log, operator) == 0
    assert await _run(verify_access_log, operator) == 1


async def test_a_forged_purge_checkpoint_is_caught(log_session: Sessions, operator: Settings,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: a checkpoint row inserted by hand, with the rows before it deleted, moved verification's
    start past them: young rows vanished without a trace."""
    await _log_and_seal(log_session, operator, 5)
    async with log_session() as session:
        anchor = await session.scalar(select(AccessLogRow.row_hash).where(AccessLogRow.seq == 3))
    now = datetime.now(UTC)
    forged = {"created_at": now, "cutoff": now - timedelta(days=1827), "retention_days": 1827, "next_seq": 4,
              "anchor_hash": anchor, "rows_purged": 3}
    await _as_superuser(log_session, insert(AccessLogCheckpointRow.__table__).values(**forged),
                        delete(AccessLogRow).where(AccessLogRow.seq < 4))
    capsys.readouterr()
    assert await _run(verify_access_log, operator) == 1
    assert "row 4: an unsigned purge checkpoint starts the log at a row sealed with the key (forged)" in \
        capsys.readouterr().out

    # Signed, but not with the key:
    await _as_superuser(log_session, insert(AccessLogCheckpointRow.__table__).values(
        **{**forged, "next_seq": 5, "rows_purged": 4}, key_id=KEYS.current_id, mac="0" * 64),
        delete(AccessLogRow).where(AccessLogRow.seq < 5))
    assert await _run(verify_access_log, operator) == 1
    assert "row 5: the purge checkpoint the log starts from does not match its signature (forged)" in \
        capsys.readouterr().out


async def test_the_chain_head_and_the_checkpoints_are_append_only_in_the_database(
        log_session: Sessions, backend: Backend) -> None:
    """Regression: UPDATE and DELETE of the chain head and the purge checkpoints went through."""
    now = datetime.now(UTC)
    await _write(log_session, [2200, 2100, 1], now)
    async with log_session() as session, session.begin():
        await access_log.purge(session, KEYS, now=now, retention_days=1827)
    refused = [
        update(AccessLogChainRow).values(last_seq=2),  # set back
        update(AccessLogChainRow).values(last_seq=4, last_hash="f" * 64),  # forward, but to no sealed row
        delete(AccessLogChainRow),
        insert(AccessLogChainRow).values(id=2, last_seq=9, last_hash="f" * 64),
        update(AccessLogCheckpointRow).values(next_seq=3),
        delete(AccessLogCheckpointRow),
        insert(AccessLogCheckpointRow).values(created_at=now, cutoff=now, retention_days=1827, next_seq=3,
                                              anchor_hash="f" * 64, rows_purged=2),  # unsigned
    ]
    if backend.name == "postgresql":
        refused += [text("TRUNCATE access_log_chain"), text("TRUNCATE access_log_checkpoints")]
    for statement in refused:
        async with log_session() as session, session.begin():
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
    async with log_session() as session:
        assert (await session.execute(select(AccessLogChainRow.last_seq))).scalars().all() == [3]
        assert list(await session.scalars(select(AccessLogCheckpointRow.next_seq))) == [3]
    await _write(log_session, [0], now)  # the sealer still moves the head forward
    result = await _verify(log_session)
    assert result.ok, result.problems
    assert (result.checkpoint_seq, result.last_seq) == (3, 4)


async def test_purge_goes_on_behind_a_signed_checkpoint_and_into_the_checkpoint_file(
        log_session: Sessions, operator: Settings, checkpoint_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await _write(log_session, [2200, 2100, 2000, 10], datetime.now(UTC))
    assert await _run(checkpoint_access_log, operator) == 0
    assert await _run(purge_access_log, operator, None) == 0
    assert "purged 3 access-log rows" in capsys.readouterr().out
    lines = _lines(checkpoint_file)
    assert [(x["event"], x["seq"], x["first_seq"]) for x in lines] == [("checkpoint", 4, 1), ("purge", 4, 4)]
    async with log_session() as session:
        checkpoint = await session.scalar(select(AccessLogCheckpointRow))
    assert checkpoint is not None
    assert (checkpoint.key_id, checkpoint.next_seq) == (KEYS.current_id, 4)
    assert await _run(verify_access_log, operator) == 0
    assert "2 external checkpoints matched" in capsys.readouterr().out

    # The purge checkpoint removed (and the rows it covered are gone): the file still knows where the log starts.
    await _as_superuser(log_session, delete(AccessLogCheckpointRow))
    assert await _run(verify_access_log, operator) == 1
    assert "row 4: rows 1..3 are missing" in capsys.readouterr().out


async def test_the_checkpoint_file_is_checked_line_by_line(log_session: Sessions, operator: Settings,
                                                          checkpoint_file: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    await _log_and_seal(log_session, operator, 2)
    assert await _run(checkpoint_access_log, operator) == 0
    (first,) = _lines(checkpoint_file)
    _append_raw(checkpoint_file, '{"v": 1, "event": "checkpo')  # cut short by a crash: a warning, and the next
    assert await _run(checkpoint_access_log, operator) == 0  # line starts on a line of its own
    capsys.readouterr()
    assert await _run(verify_access_log, operator) == UNSEALED_TOO_LONG  # intact, with a warning
    assert "warning: line 2 of the checkpoint file is not JSON" in capsys.readouterr().out
    forged = {**first, "seq": 1}  # not re-signed: there is no key
    _append_raw(checkpoint_file, json.dumps(forged) + "\n")
    assert await _run(verify_access_log, operator) == 1
    assert "line 4 of the checkpoint file does not match its signature (forged or changed)" in \
        capsys.readouterr().out


async def test_rotating_the_key_keeps_the_older_rows_verifiable(log_session: Sessions, operator: Settings,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    await _log_and_seal(log_session, operator, 2)
    assert await _run(checkpoint_access_log, operator) == 0
    new_key = "the key after the rotation, also 32+ characters"
    rotated = replace(operator, access_log_key=new_key, access_log_old_keys=(KEY,))
    await _log_and_seal(log_session, rotated, 2)
    await _log_and_seal(log_session, operator, 1)  # an instance not yet restarted: the keys interleave
    async with log_session() as session:
        kids = list(await session.scalars(select(AccessLogRow.key_id).order_by(AccessLogRow.seq)))
    new_id = access_log.key_id(new_key.encode())
    assert kids == [KEYS.current_id, KEYS.current_id, new_id, new_id, KEYS.current_id]
    assert await _run(checkpoint_access_log, rotated) == 0
    assert await _run(verify_access_log, rotated) == 0
    assert "5 rows checked, 0 not yet sealed, 2 external checkpoints matched" in capsys.readouterr().out
    capsys.readouterr()
    forgotten = replace(rotated, access_log_old_keys=())  # the old key dropped too early
    assert await _run(verify_access_log, forgotten) == 1
    assert f"row 1: the row is sealed with an unknown key {KEYS.current_id}" in capsys.readouterr().out
    assert await _run(verify_access_log, operator) == 1  # and the new rows need the new key


def test_the_key_is_required_outside_development_mode_and_kept_0600_in_it(tmp_path: Path) -> None:
    production = Settings(data_dir=tmp_path, dev_mode=False, access_log_key="")
    with pytest.raises(ValueError, match="SAMPLAN_ACCESS_LOG_KEY must be set outside development mode"):
        keyring(production)
    with pytest.raises(ValueError, match="SAMPLAN_ACCESS_LOG_KEY must be set"):
        build_runtime(replace(production, oidc_jwks_url="https://idp.example.test/jwks"))
    assert verify_access_log(production) == 2
    with pytest.raises(ValueError, match="at least 32 characters"):
        keyring(replace(production, access_log_key="short"))
    assert keyring(replace(production, access_log_key=KEY)) == KEYS
    assert not (tmp_path / "access-log-key").exists()

    development = replace(production, dev_mode=True)
    created = keyring(development)
    assert _mode(tmp_path / "access-log-key") == 0o600
    assert keyring(development) == created  # the same key on every start
    assert KEY not in repr(replace(production, access_log_key=KEY))
