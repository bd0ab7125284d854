"""The access log: every read and write logged in the same transaction, append-only, tamper-evident, retained.

Requests only insert rows; the sealer chains them afterwards. Tests that bypass the database's protection (to
prove verification catches what the triggers would stop) on the shared session database restore the row
before they end; most run on a database of their own (`log_session`).
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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
from server.access_log_sealer import Sealer
from server.cli import purge_access_log, seal_access_log, verify_access_log
from server.persistence.database import create_engine, session_factory
from server.persistence.migrate import upgrade
from server.persistence.models import AccessLogCheckpointRow, AccessLogRow
from server.principal import CurrentUser
from tests.conftest import Backend, _create_pg_database, _drop_pg_database
from tests.server.conftest import WARD, register
from tests.server.conftest import test_settings as settings_for

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
Sessions = async_sessionmaker[AsyncSession]
MIGRATION = importlib.import_module("server.persistence.migrations.versions.0002_access_log_chain_and_administration")


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
    await access_log.seal_pending(app.state.runtime.sessions)  # what the API's sealer does within a second
    (row,) = await rows_of(app, case["id"])
    assert row.seq is not None
    async with app.state.runtime.sessions() as session:
        assert (await access_log.verify(session)).ok
    try:
        async with app.state.runtime.sessions() as session, session.begin():
            await _bypass_protection(session)
            await session.execute(update(AccessLogRow).where(AccessLogRow.seq == row.seq)
                                  .values(user_hsa_id="SE2321000016-SOMEONEELSE"))
            await _restore_protection(session)
        async with app.state.runtime.sessions() as session:
            result = await access_log.verify(session)
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
        assert (await access_log.verify(session)).ok


async def test_concurrent_writers_extend_one_chain(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    cases = await asyncio.gather(*(register(client, nurse) for _ in range(4)))
    await asyncio.gather(*(client.get(f"/api/v1/cases/{c['id']}", headers=nurse) for c in cases for _ in range(3)),
                         *(access_log.seal_pending(app.state.runtime.sessions) for _ in range(3)))  # sealers too
    await access_log.seal_pending(app.state.runtime.sessions)
    async with app.state.runtime.sessions() as session:
        result = await access_log.verify(session)
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
        await access_log.seal_pending(sessions)


async def _verify(sessions: Sessions, **options: Any) -> access_log.Verification:
    async with sessions() as session:
        return await access_log.verify(session, **options)


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
                    await access_log.seal(other)
                await other.rollback()
            assert await access_log.seal(sealer) == 3  # the held round seals all three once it runs
        assert await _seqs(log_session) == [1, 2, 3]


async def test_the_sealer_seals_in_order_and_late_commits_later_without_gaps(log_session: Sessions,
                                                                             backend: Backend) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [0, 0], now, sealed=False)
    assert await access_log.seal_pending(log_session, batch=1) == 2  # batches of one: two rounds
    assert await access_log.seal_pending(log_session) == 0
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
        await access_log.seal_pending(log_session)
        async with log_session() as session, session.begin():
            await session.execute(insert(AccessLogRow).values(id=5, **content))
    assert await _seqs(log_session) == [1, 2, None, 3]
    assert await access_log.seal_pending(log_session) == 1
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
    await access_log.seal_pending(log_session)
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

    settings = replace(settings_for(backend), database_url=empty_log_database)
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

    async def flaky(sessions: Sessions, batch: int = access_log.SEAL_BATCH) -> int:
        if failures and sessions is log_session:  # (not the session app's own sealer)
            raise failures.pop()
        return await real(sessions, batch)

    monkeypatch.setattr(access_log, "seal_pending", flaky)
    failed_before = REGISTRY.get_sample_value("samplan_access_log_seal_failures_total") or 0.0
    sealer = Sealer(log_session, interval=0.01)
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
        Sealer(log_session, interval=0)


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
            assert await access_log.seal_pending(sessions) == 3
            assert await _seqs(sessions) == [1, 2, 3]
            assert (await _verify(sessions)).ok
        finally:
            await engine.dispose()
    finally:
        if name:
            await _drop_pg_database(name)


# ----- retention ------------------------------------------------------------------------------------------------

async def test_purge_removes_only_sealed_rows_past_retention_and_verification_goes_on(log_session: Sessions) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [2200, 2100, 2000, 10, 1], now)
    await _write(log_session, [2300], now, sealed=False)  # old, but not yet sealed: it stays
    async with log_session() as session, session.begin():
        with pytest.raises(InvalidValue):
            await access_log.purge(session, now=now, retention_days=365)
        purged = await access_log.purge(session, now=now, retention_days=1827)
    assert (purged.rows_purged, purged.next_seq) == (3, 4)
    async with log_session() as session:
        result = await access_log.verify(session)
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
        assert (await access_log.verify(session)).ok
        assert await session.scalar(select(func.count()).select_from(AccessLogRow)) == 4
    assert await _seqs(log_session) == [4, 5, 6, 7]  # the old row was sealed (before the new one), purged later
    async with log_session() as session, session.begin():
        again = await access_log.purge(session, now=now, retention_days=1827)
    assert (again.rows_purged, again.next_seq) == (0, None)  # seq 6 (old) comes after young rows: it stays
    assert (await _verify(log_session)).ok


async def test_a_row_within_five_years_is_never_purged(log_session: Sessions) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [1500, 3000, 1], now)  # an old row after a young one: the chain's prefix stays
    async with log_session() as session, session.begin():
        purged = await access_log.purge(session, now=now, retention_days=1827)
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
    await access_log.seal_pending(log_session)
    async with log_session() as session:
        result = await access_log.verify(session)
        actions = set(await session.scalars(select(AccessLogRow.action)))
    assert result.ok, result.problems
    assert result.rows_checked > 12
    assert result.unsealed == 0
    assert "register_case" in actions
