"""Shared fixtures: a real database per backend (SQLite file and PostgreSQL), migrated and seeded once.

Every test that uses `backend` runs twice, once per database. PostgreSQL comes from
SAMPLAN_TEST_POSTGRES_URL (default: the local server); each run gets its own fresh database (under
pytest-xdist: each worker, as session fixtures are per worker; the names are random, so workers never share one).

Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`), tests that share an expensive module- or
session-wide process stay on one worker: see `XDIST_GROUPS`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import create_async_engine
from xdist.scheduler import LoadScopeScheduling

from server.demo.seed import seed
from server.persistence.database import create_engine, session_factory
from server.persistence.mail_models import DeadlineEscalationRow, MailOutboxRow, NotificationSettingsRow
from server.persistence.migrate import upgrade
from server.persistence.models import (
    CaseParticipantRow,
    CaseRow,
    EventRow,
    FeedEntryRow,
    FeedRow,
    IdempotencyRow,
    PatientRow,
)
from server.settings import normalise_database_url

# Test files whose tests share processes started once (browser tests: one API+UI stack and one Chromium; the
# two-instance stream tests: one cluster of API processes and a private Redis; the topology test: its own API ×2,
# UI ×2 and Caddy): one xdist group each, so they run on one worker and start those processes once. The first
# matching prefix wins: the topology test is a group of its own, beside the other browser tests.
XDIST_GROUPS = {"tests/e2e/test_topology.py": "topology", "tests/e2e/": "e2e",
                "tests/realtime/test_two_instances.py": "two-instances"}

POSTGRES_URL = os.environ.get("SAMPLAN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class GroupedScheduling(LoadScopeScheduling):
    """pytest-xdist's `loadgroup` by test path: the tests of one `XDIST_GROUPS` entry are one unit of work (one
    worker runs them all, in order), every other test is a unit of its own. Larger units are handed out first.

    (xdist's own `loadgroup` reads `xdist_group` marks into the node ids, which pytest 9.2 no longer lets a
    plugin change: https://github.com/pytest-dev/pytest-xdist/issues/1386.)"""

    def _split_scope(self, nodeid: str) -> str:
        for prefix, group in XDIST_GROUPS.items():
            if nodeid.startswith(prefix):
                return group
        return nodeid


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown (and unused) with `-p no:xdist`
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> GroupedScheduling | None:
    return GroupedScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    data_dir: Path


def _admin_url(url: str) -> str:
    return normalise_database_url(url.rsplit("/", 1)[0] + "/postgres")


async def _create_pg_database(name: str) -> str:
    engine = create_async_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await engine.dispose()
    return normalise_database_url(POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}")


async def _drop_pg_database(name: str) -> None:
    engine = create_async_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await engine.dispose()


async def _seed(url: str) -> None:
    engine = create_engine(url)
    async with session_factory(engine)() as session, session.begin():
        await seed(session, now=datetime.now(UTC), with_cases=False)
    await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    data_dir = tmp_path_factory.mktemp(f"samplan-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'samplan.db'}"
        name = None
    else:
        name = f"samplan_test_{uuid.uuid4().hex[:12]}"
        url = asyncio.run(_create_pg_database(name))
    upgrade(url)
    asyncio.run(_seed(url))
    yield Backend(request.param, url, data_dir)
    if name:
        asyncio.run(_drop_pg_database(name))


@pytest.fixture
async def clean_cases(backend: Backend) -> None:
    """Remove every case, patient and event, so each test starts from the seeded tree and users.

    The access log stays: the database refuses to delete its rows (append-only); tests find theirs by ids."""
    engine = create_engine(backend.url)
    async with session_factory(engine)() as session, session.begin():
        for table in (IdempotencyRow, MailOutboxRow, NotificationSettingsRow, DeadlineEscalationRow, FeedEntryRow,
                      EventRow, CaseParticipantRow, CaseRow, PatientRow):
            await session.execute(delete(table))
        await session.execute(update(FeedRow).values(last_position=0))
    await engine.dispose()
