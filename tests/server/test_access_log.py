"""The access log: every read and write logged in the same transaction, append-only, tamper-evident, retained.

Tests that bypass the database's protection (to prove verification catches what the triggers would stop)
restore the row before they end: the session database is shared.
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidValue
from server import access_log
from server.cli import purge_access_log, verify_access_log
from server.persistence.database import create_engine, session_factory
from server.persistence.migrate import upgrade
from server.persistence.models import AccessLogCheckpointRow, AccessLogRow
from server.principal import CurrentUser
from tests.conftest import Backend, _create_pg_database, _drop_pg_database
from tests.server.conftest import WARD, register
from tests.server.conftest import test_settings as settings_for

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
MIGRATION = importlib.import_module("server.persistence.migrations.versions.0002_access_log_chain_and_administration")


async def rows_of(app: Litestar, case_id: str) -> list[AccessLogRow]:
    async with app.state.runtime.sessions() as session:
        return list(await session.scalars(select(AccessLogRow).where(AccessLogRow.case_id == case_id)
                                          .order_by(AccessLogRow.seq)))


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

    monkeypatch.setattr("server.services.cases.store_response", broken)
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
    for statement in (update(AccessLogRow).where(AccessLogRow.seq == row.seq).values(action="nothing"),
                      delete(AccessLogRow).where(AccessLogRow.seq == row.seq),
                      text("DELETE FROM access_log")):
        async with app.state.runtime.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(statement)
            await session.rollback()
    assert [r.action for r in await rows_of(app, case["id"])] == ["register_case"]


async def test_verification_reports_a_changed_row(client: Client, auth: Auth, app: Litestar) -> None:
    case = await register(client, auth("ward.nurse"))
    (row,) = await rows_of(app, case["id"])
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
    await asyncio.gather(*(client.get(f"/api/v1/cases/{c['id']}", headers=nurse) for c in cases for _ in range(3)))
    async with app.state.runtime.sessions() as session:
        result = await access_log.verify(session)
        seqs = list(await session.scalars(select(AccessLogRow.seq).order_by(AccessLogRow.seq)))
    assert result.ok, result.problems
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


# ----- retention: on a database of its own (the purge must start from the chain's beginning) --------------------

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
async def log_session(empty_log_database: str) -> AsyncIterator[Callable[[], AsyncSession]]:
    engine = create_engine(empty_log_database)
    yield session_factory(engine)
    await engine.dispose()


USER = CurrentUser(id=str(uuid.uuid4()), username="x", hsa_id="SE2321000016-X", display_name="x",
                   organisation_id="o", assignments=())


async def _write(sessions: Callable[[], AsyncSession], ages_in_days: list[int], now: datetime) -> None:
    async with sessions() as session, session.begin():
        for age in ages_in_days:
            await access_log.record(session, USER, unit_id="u", patient_ids=[str(uuid.uuid4())], case_ids=[None],
                                    action="read_case", at=now - timedelta(days=age))


async def test_purge_removes_only_rows_past_retention_and_verification_goes_on(
        log_session: Callable[[], AsyncSession]) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [2200, 2100, 2000, 10, 1], now)
    async with log_session() as session, session.begin():
        with pytest.raises(InvalidValue):
            await access_log.purge(session, now=now, retention_days=365)
        purged = await access_log.purge(session, now=now, retention_days=1827)
    assert (purged.rows_purged, purged.next_seq) == (3, 4)
    async with log_session() as session:
        result = await access_log.verify(session)
        left = list(await session.scalars(select(AccessLogRow.seq).order_by(AccessLogRow.seq)))
        checkpoint = await session.scalar(select(AccessLogCheckpointRow))
    assert result.ok, result.problems
    assert (result.checkpoint_seq, result.rows_checked, left) == (4, 2, [4, 5])
    assert checkpoint is not None
    assert checkpoint.rows_purged == 3

    # The chain goes on after the purge, and a young row cannot be deleted even behind a checkpoint.
    await _write(log_session, [0], now)
    async with log_session() as session:
        assert (await access_log.verify(session)).ok
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(delete(AccessLogRow).where(AccessLogRow.seq == 4))
        await session.rollback()
        assert await session.scalar(select(func.count()).select_from(AccessLogRow)) == 3


async def test_a_row_within_five_years_is_never_purged(log_session: Callable[[], AsyncSession]) -> None:
    now = datetime.now(UTC)
    await _write(log_session, [1500, 3000, 1], now)  # an old row after a young one: the chain's prefix stays
    async with log_session() as session, session.begin():
        purged = await access_log.purge(session, now=now, retention_days=1827)
    assert purged.rows_purged == 0
    async with log_session() as session:
        assert await session.scalar(select(func.count()).select_from(AccessLogRow)) == 3


def test_the_commands_verify_and_purge(backend: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings_for(backend)
    assert verify_access_log(settings) == 0
    assert "intact" in capsys.readouterr().out
    assert purge_access_log(settings, retention_days=30) == 2  # below the legal minimum: refused
    assert purge_access_log(settings, retention_days=None) == 0
    assert "purged 0 access-log rows" in capsys.readouterr().out


async def test_the_demo_world_has_an_access_log_to_review(log_session: Callable[[], AsyncSession]) -> None:
    from server.demo.seed import seed

    async with log_session() as session, session.begin():
        assert await seed(session, now=datetime.now(UTC), cases_on_main_ward=12)
    async with log_session() as session:
        result = await access_log.verify(session)
        actions = set(await session.scalars(select(AccessLogRow.action)))
    assert result.ok, result.problems
    assert result.rows_checked > 12
    assert "register_case" in actions
