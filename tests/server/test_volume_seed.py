"""The volume data set (`samplan seed --volume stockholm`), tiny, on SQLite and PostgreSQL: every case replays
valid through the domain, the same seed gives the same ids and counts, municipalities get their population's share,
the access log verifies, and the API's lists work on it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from domain.discharge_case import CaseState, DischargeCase
from domain.payment import STOCKHOLM_2020
from server import access_log
from server.access_log_keys import keyring
from server.api.app import create_app
from server.auth.tokens import DevSigningKey
from server.demo import bulk, region, volume
from server.persistence.database import create_engine, session_factory
from server.persistence.documents import from_document
from server.persistence.migrate import upgrade
from server.persistence.models import CaseParticipantRow, CaseRow, EventRow, FeedEntryRow
from server.persistence.read_models import case_rows
from server.runtime import build_runtime
from tests.conftest import Backend, _create_pg_database, _drop_pg_database
from tests.server.conftest import AUDIENCE, ISSUER
from tests.server.conftest import test_settings as settings_of

PLAN = volume.Plan(years=1, scale=0.01, seed=42, now=datetime(2026, 11, 30, 9, 0, tzinfo=UTC), policy=STOCKHOLM_2020)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Backend, bulk.Summary]]:
    """A fresh database of its own (the shared test databases keep their seeded tree), loaded with the plan."""
    data_dir = tmp_path_factory.mktemp(f"volume-{request.param}")
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{data_dir / 'volume.db'}"
    else:
        name = f"samplan_volume_{uuid.uuid4().hex[:12]}"
        url = asyncio.run(_create_pg_database(name))
    backend = Backend(request.param, url, data_dir)
    upgrade(url)

    async def load() -> bulk.Summary:
        engine = create_engine(url)
        try:
            return await bulk.load(engine, PLAN, keyring(settings_of(backend)), workers=1)
        finally:
            await engine.dispose()

    summary = asyncio.run(load())
    yield backend, summary
    if name:
        asyncio.run(_drop_pg_database(name))


async def test_every_case_replays_valid_through_the_domain(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, summary = loaded
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            rows = list(await session.scalars(select(CaseRow)))
            events = Counter((await session.execute(select(EventRow.aggregate_id, EventRow.type))).tuples())
            participants = {(p.case_id, p.unit_id): p for p in await session.scalars(select(CaseParticipantRow))}
    finally:
        await engine.dispose()
    assert len(rows) == summary.cases > 500
    per_case: Counter[str] = Counter()
    for (case_id, _), n in events.items():
        per_case[case_id] += n
    index = {PLAN.id("case", i): i for i in range(PLAN.total_cases)}
    shares = volume.Shares.of(PLAN)
    for row in rows:
        # replay the case's history through the domain: every step is allowed (a refusal would raise) ...
        history = volume.build_case(PLAN, shares, index[row.id])
        case = history.case
        # ... and ends where the stored case is
        stored = from_document(row.document, row.version, DischargeCase)
        assert json.loads(volume.document_json(case, volume.notice_ids(case))) == row.document
        assert (row.state, row.version, stored.state) == (str(case.state), case.version, case.state)
        assert events[(row.id, "CaseRegistered")] == 1
        assert per_case[row.id] == len(history.events)
        assert next(e.type for e in history.events) == "CaseRegistered"
        # the query rows are the repository's for this case (server/persistence/read_models.py)
        expected = {r["unit_id"]: r for r in case_rows(stored, row.person_name, STOCKHOLM_2020)}
        for unit_id in stored.visible_unit_ids():
            p, columns = participants[(row.id, unit_id)], expected[unit_id]
            assert (p.state, p.is_open, p.in_inbox, p.unread, p.has_unread, p.name_key) == (
                columns["state"], columns["is_open"], columns["in_inbox"], columns["unread"], columns["has_unread"],
                columns["name_key"])
            assert (_utc(p.at_risk_from), _utc(p.overdue_from)) == (columns["at_risk_from"], columns["overdue_from"])
    states = Counter(r.state for r in rows)
    assert states[str(CaseState.CLOSED)] > len(rows) // 2  # a year of history: most cases are over
    assert sum(states[str(s)] for s in CaseState if s.is_open) > 0  # and the recent ones are open


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


async def test_the_same_seed_gives_the_same_ids_and_counts(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, summary = loaded
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            case_ids = set(await session.scalars(select(CaseRow.id)))
            event_ids = set(await session.scalars(select(EventRow.event_id)))
            feed_entries = await session.scalar(select(func.count()).select_from(FeedEntryRow))
    finally:
        await engine.dispose()
    again = [volume.generate_chunk(PLAN, c) for c in range(PLAN.chunks)]
    assert case_ids == {row[0] for chunk in again for row in chunk.cases}
    assert event_ids == {row[0] for chunk in again for row in chunk.events}
    assert summary.events == len(event_ids)
    assert summary.feed_entries == feed_entries
    assert summary.access_log == sum(len(chunk.access) for chunk in again)
    other = volume.Plan(years=PLAN.years, scale=PLAN.scale, seed=PLAN.seed + 1, now=PLAN.now, policy=PLAN.policy)
    assert not case_ids & {row[0] for row in volume.generate_chunk(other, 0).cases}


async def test_municipalities_get_their_share_of_the_population(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, _ = loaded
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            result = await session.execute(select(CaseRow.person_municipality_code, func.count())
                                           .group_by(CaseRow.person_municipality_code))
            per = {code: n for code, n in result.tuples()}
    finally:
        await engine.dispose()
    people = region.municipalities()
    total_people = sum(m.population for m in people)
    total = sum(per.values())
    assert len(people) == 26
    assert set(per) == {m.code for m in people}
    for m in people:
        wanted = total * m.population / total_people
        assert abs(per[m.code] - wanted) <= max(3.0, 0.03 * wanted), (m.name, per[m.code], wanted)


async def test_the_access_log_verifies(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, summary = loaded
    engine = create_engine(backend.url)
    try:
        async with session_factory(engine)() as session:
            result = await access_log.verify(session, keyring(settings_of(backend)), now=PLAN.now)
    finally:
        await engine.dispose()
    assert result.ok, result.problems
    assert result.rows_checked == summary.access_log > 0
    assert result.unsealed == 0


async def test_the_api_lists_work_on_it(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, _ = loaded
    settings = settings_of(backend)
    key = DevSigningKey.load_or_create(settings.dev_key_path)
    ward = region.unit("ks-solna-ward-geriatrik-1")
    nurse = region.staff_of(ward.key)[0]
    bearer = key.issue(subject=nurse.id, issuer=ISSUER, audience=AUDIENCE, claims={"hsa_id": nurse.hsa_id},
                       lifetime=timedelta(hours=1), now=None)
    headers = {"Authorization": f"Bearer {bearer}"}
    runtime = build_runtime(settings)
    application = create_app(settings, runtime)
    application.state.runtime = runtime
    await runtime.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                     base_url="http://testserver.local") as client:
            page = await client.get("/api/v1/cases", params={"unit_id": ward.id, "limit": 20}, headers=headers)
            assert page.status_code == 200, page.text
            body = page.json()
            assert body["total"] > 20
            assert len(body["items"]) == 20
            open_only = await client.get("/api/v1/cases", headers=headers, params={
                "unit_id": ward.id, "state": ["admitted", "planning", "ready_for_discharge"]})
            assert open_only.status_code == 200
            assert all(i["state"] in ("admitted", "planning", "ready_for_discharge")
                       for i in open_only.json()["items"])
            detail = await client.get(f"/api/v1/cases/{body['items'][0]['id']}", headers=headers)
            assert detail.status_code == 200, detail.text
    finally:
        await runtime.close()


def test_the_population_file_names_its_source() -> None:
    text = Path(region.POPULATION_FILE).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "municipality_code,municipality,population"
    assert sum(m.population for m in region.municipalities()) == 2_303_417  # SCB: Stockholms län, 31 Dec 2017


async def test_a_second_load_is_refused_and_changes_nothing(loaded: tuple[Backend, bulk.Summary]) -> None:
    backend, summary = loaded
    engine = create_engine(backend.url)
    try:
        with pytest.raises(bulk.NotEmpty):
            await bulk.load(engine, PLAN, keyring(settings_of(backend)), workers=1)
        async with session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(CaseRow)) == summary.cases
    finally:
        await engine.dispose()


def test_every_logged_action_has_its_swedish_text() -> None:
    from domain import audit_terms

    assert {*volume.ACCESS_ACTION.values(), "read_case"} <= set(audit_terms.ACTIONS)
