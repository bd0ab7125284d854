"""The case list (`GET /cases`) from its query model: the deadline state decided in SQL equals the domain's, the
list is ordered, filtered and paged in SQL, and the board's call finds every open case behind a long history."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import select

from domain.deadlines import DeadlineState, case_deadlines, deadline_thresholds, worst_open_state
from domain.discharge_case import CaseState, DischargeCase
from server.demo.seed import MAIN_WARD, _build_case
from server.persistence.models import CaseParticipantRow, PatientRow, PersonDetails
from server.queries.cases import deadline_state_is
from server.runtime import Runtime
from tests.server.conftest import RONNVIKEN, WARD, new_identity, now_utc, register
from ui.api_client import ApiClient
from ui.pages.board import board_cases

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
PERSON = PersonDetails(name="Testa Testsson", address="Provgatan 1", municipality_code="0184",
                       listed_unit_id=RONNVIKEN)


async def store_cases(runtime: Runtime, targets: list[CaseState], now: datetime,
                      seed: int = 1) -> list[DischargeCase]:
    """Cases at the main ward straight through the repository (one patient; no HTTP round trips)."""
    rng = random.Random(seed)
    async with runtime.uow() as uow:
        patient_row = PatientRow(id=str(uuid.uuid4()), identity_kind="personnummer",
                                 identity_value=new_identity().replace("-", ""), protected_identity=False,
                                 created_at=now)
        uow.patients.add(patient_row)
        await uow.session.flush()
        cases = []
        for target in targets:
            case = _build_case(rng, now, MAIN_WARD, patient_row, PERSON, target)
            case.id = str(uuid.uuid4())
            case.pending_events.clear()
            await uow.cases.add(case, patient_row.id, PERSON, now)
            cases.append(case)
        await uow.commit()
    return cases


def _runtime(app: Litestar) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def test_the_deadline_state_decided_in_sql_is_the_domains(app: Litestar, client: Client) -> None:
    runtime = _runtime(app)
    built = now_utc() - timedelta(days=1)
    targets = [s for s in CaseState for _ in range(6)]
    cases = await store_cases(runtime, targets, built)
    nows = [built + timedelta(hours=h) for h in (-48, -6, 0, 3, 12, 24, 30, 48, 72, 24 * 7, 24 * 30)]
    seen: set[DeadlineState | None] = set()
    async with runtime.uow() as uow:
        for now in nows:
            expected = {c.id: worst_open_state(case_deadlines(c, runtime.policy, now)) for c in cases}
            seen |= set(expected.values())
            for state in DeadlineState:
                found = set(await uow.session.scalars(select(CaseParticipantRow.case_id).where(
                    CaseParticipantRow.unit_id == WARD, deadline_state_is(state, now))))
                assert found == {i for i, s in expected.items() if s is state}, (now, state)
                # The thresholds decide the same state in Python (what the SQL condition mirrors).
                assert all(deadline_thresholds(c, runtime.policy).state(now) == expected[c.id] for c in cases)
    assert seen == {None, *DeadlineState}  # the data exercised every state


async def test_the_list_is_newest_first_filtered_counted_and_paged_in_sql(app: Litestar, client: Client,
                                                                          auth: Auth) -> None:
    runtime = _runtime(app)
    cases = await store_cases(runtime, [CaseState.CLOSED] * 30 + [CaseState.PLANNING] * 12, now_utc())
    headers = auth("ward.nurse")
    newest_first = [c.id for c in sorted(cases, key=lambda c: (c.admitted_at, c.id), reverse=True)]
    pages: list[str] = []
    for offset in range(0, 42, 10):
        response = await client.get("/api/v1/cases", params={"unit_id": WARD, "limit": 10, "offset": offset},
                                    headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 42
        pages += [c["id"] for c in response.json()["items"]]
    assert pages == newest_first
    oldest = await client.get("/api/v1/cases", params={"unit_id": WARD, "limit": 5, "order": "admitted_at"},
                              headers=headers)
    assert [c["id"] for c in oldest.json()["items"]] == newest_first[::-1][:5]
    planning = await client.get("/api/v1/cases", params={"unit_id": WARD, "state": "planning", "limit": 100},
                                headers=headers)
    assert planning.json()["total"] == 12
    assert {c["state"] for c in planning.json()["items"]} == {"planning"}
    for state in DeadlineState:
        page = (await client.get("/api/v1/cases", params={"unit_id": WARD, "deadline_state": str(state),
                                                          "limit": 500}, headers=headers)).json()
        assert page["total"] == len(page["items"])
        assert {c["deadline_state"] for c in page["items"]} <= {str(state)}
    bad = await client.get("/api/v1/cases", params={"unit_id": WARD, "order": "name"}, headers=headers)
    assert bad.status_code == 400


@pytest.fixture
def ui_api(app: Litestar) -> ApiClient:
    return ApiClient("http://samplan.test", transport=httpx.ASGITransport(app=app))


async def test_the_boards_call_returns_every_open_case_behind_hundreds_of_closed_ones(
        app: Litestar, client: Client, auth: Auth, token: Callable[..., str], ui_api: ApiClient) -> None:
    """Regression: the board asked for the first 500 cases of its unit, oldest admission first, and filtered the
    open ones itself; behind 600 closed cases it showed none. It now asks for the open ones, page by page. A
    long-stay patient admitted before the closed cases must show too (a first page newest first would miss it)."""
    runtime = _runtime(app)
    long_stay = {c.id for c in await store_cases(runtime, [CaseState.PLANNING], now_utc() - timedelta(days=60))}
    await store_cases(runtime, [CaseState.CLOSED] * 600, now_utc() - timedelta(days=20), seed=2)
    opened = {(await register(client, auth("ward.nurse")))["id"] for _ in range(3)}
    recent = {c.id for c in await store_cases(runtime, [CaseState.PLANNING, CaseState.READY] * 3, now_utc(), seed=3)}
    try:
        shown = await board_cases(ui_api, token("ward.nurse"), WARD)
    finally:
        await ui_api.close()
    assert {c["id"] for c in shown} == long_stay | opened | recent
    assert len(shown) == len(long_stay | opened | recent)  # each once
