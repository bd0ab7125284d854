"""Migrations: they build the schema from nothing, take it down again, and the models match them.

Each test gets its own empty database (a fresh SQLite file, or a fresh PostgreSQL database dropped after),
not the session's seeded one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, String, inspect, select, text
from sqlalchemy.engine import Connection

from server.demo.seed import seed
from server.persistence.database import create_engine, session_factory
from server.persistence.migrate import alembic_config, downgrade, upgrade
from server.persistence.models import Base, CaseParticipantRow
from tests.conftest import _create_pg_database, _drop_pg_database

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"samplan_migrate_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(_create_pg_database(name))
    try:
        yield url
    finally:
        asyncio.run(_drop_pg_database(name))


def _inspect(url: str, look: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(look)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _state(conn: Connection) -> tuple[set[str], str | None]:
    return set(inspect(conn).get_table_names()), MigrationContext.configure(conn).get_current_revision()


def _differences(metadata: MetaData) -> Any:
    # The same options as the migration environment (env.py): what autogenerate would write a revision for.
    return lambda conn: compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    tables = set(Base.metadata.tables)
    assert _inspect(empty_database, _state) == (set(), None)

    upgrade(empty_database)
    assert _inspect(empty_database, _state) == (tables | {"alembic_version"}, HEAD)

    downgrade(empty_database, "base")
    assert _inspect(empty_database, _state) == ({"alembic_version"}, None)

    upgrade(empty_database)
    assert _inspect(empty_database, _state) == (tables | {"alembic_version"}, HEAD)


def test_models_match_migrations(empty_database: str) -> None:
    """No filter is needed for the BigInteger/Integer variant of the big ids: Alembic compares the dialect's
    implementation (INTEGER on SQLite, BIGINT on PostgreSQL) with what it reflects, on both backends."""
    upgrade(empty_database)
    assert _inspect(empty_database, _differences(Base.metadata)) == []

    # The comparison is not blind: against no models, every migrated table is extra ...
    removed = {diff[1].name for diff in _inspect(empty_database, _differences(MetaData())) if diff[0] == "remove_table"}
    assert removed == set(Base.metadata.tables)
    # ... and a column narrowed in the models is a type change.
    narrowed = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(narrowed)
    narrowed.tables["users"].c.title.type = String(50)
    (column_changes,) = _inspect(empty_database, _differences(narrowed))  # grouped per column
    assert [change[:4] for change in column_changes] == [("modify_type", None, "users", "title")]


def _execute(url: str, *statements: str) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(text(s)) for s in statements]
                return [r.all() if r.returns_rows else None for r in results]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0005_gives_every_case_and_plan_its_own_copy_of_the_person(empty_database: str) -> None:
    """The patient's details move into each case and plan (backfilled); the downgrade puts them back."""
    upgrade(empty_database, "0004")
    now = "'2026-12-01 10:00:00+00:00'"
    _execute(empty_database,
             "INSERT INTO principals (id, name, kind) VALUES ('p1', 'Region', 'region')",
             "INSERT INTO organisations (id, principal_id, name, kind, has_local_administration, care_agreement, "
             "active) VALUES ('o1', 'p1', 'Sjukhuset', 'care_provider', false, true, true)",
             "INSERT INTO units (id, organisation_id, name, kind, hsa_id, active) VALUES "
             "('u1', 'o1', 'Avdelning', 'somatic_ward', 'SE1', true), ('u2', 'o1', 'VC', 'primary_care', 'SE2', true)",
             "INSERT INTO patients (id, identity_kind, identity_value, name, address, municipality_code, "
             f"listed_unit_id, protected_identity, created_at) VALUES ('pat', 'personnummer', '193502079902', "
             f"'Åsa Öberg', 'Gatan 1', '0184', 'u2', true, {now})",
             "INSERT INTO discharge_cases (id, patient_id, ward_unit_id, state, care_type, admitted_at, updated_at, "
             f"version, document) VALUES ('c1', 'pat', 'u1', 'admitted', 'somatic', {now}, {now}, 1, '{{}}')",
             "INSERT INTO sip_plans (id, patient_id, case_id, owner_unit_id, state, created_at, updated_at, version, "
             f"document) VALUES ('s1', 'pat', 'c1', 'u2', 'draft', {now}, {now}, 1, '{{}}')")

    upgrade(empty_database, "0005")  # (later migrations add columns of their own: 0009 the merge link)
    details = "person_name, person_address, person_municipality_code, person_listed_unit_id"
    copies = _execute(empty_database, f"SELECT {details} FROM discharge_cases",
                      f"SELECT {details} FROM sip_plans")
    assert copies == [[("Åsa Öberg", "Gatan 1", "0184", "u2")]] * 2
    columns = _inspect(empty_database, lambda conn: {c["name"] for c in inspect(conn).get_columns("patients")})
    assert columns == {"id", "identity_kind", "identity_value", "protected_identity", "created_at"}

    downgrade(empty_database, "0004")
    assert _execute(empty_database, "SELECT name, address, municipality_code, listed_unit_id, protected_identity "
                                    "FROM patients") == [[("Åsa Öberg", "Gatan 1", "0184", "u2", True)]]


def test_0008_backfills_the_case_list_columns_as_the_repository_writes_them(empty_database: str) -> None:
    """The demo cases are stored through the repository at head; taken down to 0007 (the columns dropped) and up
    again, the backfill computes from the documents what the repository wrote."""
    p = CaseParticipantRow
    columns = (p.case_id, p.unit_id, p.state, p.admitted_at, p.at_risk_from, p.overdue_from)

    async def seeded() -> None:
        engine = create_engine(empty_database)
        async with session_factory(engine)() as session, session.begin():
            await seed(session, now=datetime.now(UTC))
        await engine.dispose()

    async def listed() -> set[tuple[Any, ...]]:
        engine = create_engine(empty_database)
        async with session_factory(engine)() as session:
            rows = {tuple(r) for r in (await session.execute(select(*columns))).all()}
        await engine.dispose()
        return rows

    upgrade(empty_database)
    asyncio.run(seeded())
    written = asyncio.run(listed())
    assert len(written) > 60
    assert any(r[5] is not None for r in written)
    assert any(r[5] is None for r in written)  # closed cases
    downgrade(empty_database, "0007")
    upgrade(empty_database)
    assert asyncio.run(listed()) == written
