"""The read side's query rows (`server/persistence/read_models.py`) and the lists answered from them, on SQLite and
PostgreSQL: a rebuild writes exactly what the commands wrote; the SQL deadline state is the domain's for any case
and any `now`; the inbox pages walk every case once, in order, and its counter counts without loading rows;
"Sök patient" finds by number or name prefix, access-logged, and a protected person only with the explicit need."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from sqlalchemy import literal, select, update

from domain.deadlines import NEVER, DeadlineState, case_deadlines, deadline_thresholds, worst_open_state
from domain.discharge_case import Actor, CaseState, DischargeCase
from server.demo.seed import MAIN_WARD, _build_case, stable_id
from server.persistence.models import CaseParticipantRow, Moment, PatientRow
from server.persistence.read_models import case_rows, name_key, rebuild_read_models
from server.persistence.repositories import GET_MANY_CHUNK
from server.persistence.sip_models import SipPlanUnitRow
from server.queries.cases import deadline_state_is
from server.runtime import Runtime
from tests.conftest import Backend
from tests.server.conftest import SOLNA_HOME_CARE, SOLNA_INTAKE, WARD, new_identity, now_utc, patient, register
from tests.server.sip_support import access_rows, create_plan, fill_required, give_consent
from tests.server.test_case_list import PERSON, store_cases
from tests.server.test_protected_identity import protected_case, secret_name

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]
ASSESSOR = "needs.assessor"  # works at Solna's intake: the receiving municipal unit of the stored cases


def _runtime(app: Litestar) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


async def _rows(runtime: Runtime) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    p, u = CaseParticipantRow, SipPlanUnitRow
    async with runtime.uow() as uow:
        cases = {tuple(r) for r in await uow.session.execute(select(
            p.case_id, p.unit_id, p.part, p.state, p.is_open, p.admitted_at, p.at_risk_from, p.overdue_from,
            p.in_inbox, p.unread, p.has_unread, p.inbox_at, p.name_key))}
        plans = {tuple(r) for r in await uow.session.execute(select(
            u.plan_id, u.unit_id, u.state, u.follow_up_key, u.created_at))}
    return cases, plans


async def test_a_rebuild_writes_exactly_what_the_commands_wrote(app: Litestar, client: Client, auth: Auth) -> None:
    """A generated set (every state, through the repository's add and save and through the API, cases and SIP
    plans) is maintained row by row; `rebuild_read_models` from the documents gives the same rows, also after the
    rows were damaged or deleted."""
    runtime = _runtime(app)
    built = now_utc() - timedelta(days=2)
    stored = await store_cases(runtime, [s for s in CaseState for _ in range(4)], built, seed=7)
    async with runtime.uow() as uow:  # the save path: some receivers acknowledge what they had not
        for case in stored[::3]:
            loaded = await uow.cases.get(case.id, for_update=True)
            assert loaded is not None
            for unit_id in loaded.receiving_unit_ids():
                if loaded.unacknowledged(unit_id) and loaded.state.is_open:
                    loaded.acknowledge(_actor(unit_id), now_utc())
            loaded.pending_events.clear()
            await uow.cases.save(loaded, now_utc())
        await uow.commit()
    await register(client, auth("ward.nurse"))
    plan = await give_consent(client, auth, await create_plan(client, auth))
    await fill_required(client, auth, plan, follow_up=date.today() + timedelta(days=30))
    incremental = await _rows(runtime)
    assert len(incremental[0]) > len(stored)
    assert incremental[1]

    async with runtime.uow() as uow:  # damage: wrong states, no inbox, rows of a plan gone
        await uow.session.execute(update(CaseParticipantRow).values(state="closed", in_inbox=False, unread=9,
                                                                    name_key=""))
        await uow.session.execute(SipPlanUnitRow.__table__.delete())
        await uow.commit()
    assert await _rows(runtime) != incremental
    done = await rebuild_read_models(runtime.engine, policy=runtime.policy, batch=5)
    assert (done.case_rows, done.plan_rows) == (len(incremental[0]), len(incremental[1]))
    assert await _rows(runtime) == incremental


def _actor(unit_id: str) -> Actor:
    return Actor(stable_id("user", ASSESSOR), unit_id)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), target=st.sampled_from(list(CaseState)),
       anchor=st.sampled_from(["built", "at_risk_from", "overdue_from"]),
       shift=st.one_of(st.sampled_from([timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1)]),
                       st.timedeltas(min_value=timedelta(days=-10), max_value=timedelta(days=40))))
async def test_the_sql_deadline_state_is_the_domains_for_any_case_and_now(
        app: Litestar, seed: int, target: CaseState, anchor: str, shift: timedelta) -> None:
    """For a random case and a random `now` (also exactly at, just before and just after each threshold), the
    database's answer to `deadline_state_is` over the stored thresholds is `worst_open_state` of the domain."""
    runtime = _runtime(app)
    built = datetime(2026, 3, 27, 10, 0, tzinfo=UTC)  # the week before the change to summer time
    row = PatientRow(id=str(uuid.uuid4()))
    case = _build_case(random.Random(seed), built, MAIN_WARD, row, PERSON, target)
    thresholds = deadline_thresholds(case, runtime.policy)
    base = {"built": built, "at_risk_from": thresholds.at_risk_from, "overdue_from": thresholds.overdue_from}[anchor]
    if base is None or base >= NEVER:  # the sentinel of "never overdue" (only estimates open) is not a moment
        base = built
    now = base + shift
    expected = worst_open_state(case_deadlines(case, runtime.policy, now))
    [stored] = case_rows(case, PERSON.name, runtime.policy)[:1]
    columns = select(literal(stored["at_risk_from"], Moment).label("at_risk_from"),
                     literal(stored["overdue_from"], Moment).label("overdue_from")).subquery()
    async with runtime.uow() as uow:
        decided = {state for state in DeadlineState
                   if await uow.session.scalar(select(deadline_state_is(state, now, columns.c)))}
    assert decided == ({expected} if expected else set())


async def test_inbox_pages_walk_every_case_once_in_order_and_the_counter_counts(
        app: Litestar, client: Client, auth: Auth) -> None:
    runtime = _runtime(app)
    stored = await store_cases(runtime, [s for s in CaseState for _ in range(5)] + [CaseState.PLANNING] * 10,
                               now_utc() - timedelta(hours=30), seed=11)
    expected = [c for c in stored if c.in_inbox_of(SOLNA_INTAKE)]
    unread = sum(len(c.unacknowledged(SOLNA_INTAKE)) for c in expected)
    assert expected
    assert unread
    assert any(not c.unacknowledged(SOLNA_INTAKE) for c in expected)

    def order(case: DischargeCase) -> tuple[bool, datetime, str]:
        notices = case.unacknowledged(SOLNA_INTAKE)
        return bool(notices), max(n.sent_at for n in notices) if notices else case.admitted_at, case.id

    headers = auth(ASSESSOR)
    pages: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4, **({"after": after} if after else {})}
        response = await client.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["unread"] == unread
        assert len(body["items"]) <= 4
        pages += [i["case"]["id"] for i in body["items"]]
        after = body["next"]
        if after is None:
            break
    assert pages == [c.id for c in sorted(expected, key=order, reverse=True)]
    counter = await client.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox/unread", headers=headers)
    assert counter.json() == {"unit_id": SOLNA_INTAKE, "unread": unread}
    bad = await client.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox", params={"after": "bm90LWEtY3Vyc29y"},
                           headers=headers)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_cursor")
    assert [e["field"] for e in bad.json()["errors"]] == ["after"]
    forbidden = await client.get(f"/api/v1/units/{SOLNA_INTAKE}/inbox/unread", headers=auth("ward.nurse"))
    assert forbidden.status_code == 403


async def test_the_board_asks_the_server_for_open_and_ended_cases_and_its_counts_match(
        app: Litestar, client: Client, auth: Auth) -> None:
    runtime = _runtime(app)
    stored = await store_cases(runtime, [s for s in CaseState for _ in range(6)], now_utc() - timedelta(days=3),
                               seed=5)
    headers = auth("ward.nurse")
    opened = (await client.get("/api/v1/cases", params={"unit_id": WARD, "open": "true", "limit": 500},
                               headers=headers)).json()
    ended = (await client.get("/api/v1/cases", params={"unit_id": WARD, "open": "false", "limit": 500},
                              headers=headers)).json()
    assert {c["id"] for c in opened["items"]} == {c.id for c in stored if c.state.is_open}
    assert {c["id"] for c in ended["items"]} == {c.id for c in stored if not c.state.is_open}
    assert all(c["open"] for c in opened["items"])
    assert not any(c["open"] for c in ended["items"])
    for page in (opened, ended):
        assert page["total"] == len(page["items"])
        assert page["overdue"] == sum(1 for c in page["items"] if c["deadline_state"] == "overdue")
        assert page["at_risk"] == sum(1 for c in page["items"] if c["deadline_state"] == "at_risk")
    assert opened["overdue"] + opened["at_risk"] > 0


async def test_get_many_reads_more_ids_than_one_statement_takes(app: Litestar) -> None:
    """Regression: `get_many` sent every id in one `IN (...)`; asyncpg refuses more than 32 767 parameters."""
    runtime = _runtime(app)
    stored = await store_cases(runtime, [CaseState.PLANNING] * 3, now_utc(), seed=3)
    wanted = [c.id for c in stored] + [str(uuid.uuid4()) for _ in range(33_000)]
    assert len(wanted) > 32 * GET_MANY_CHUNK
    async with runtime.uow() as uow:
        found = await uow.cases.get_many(wanted)
    assert sorted(c.id for c, _ in found) == sorted(c.id for c in stored)


async def search(client: Client, headers: dict[str, str], query: str, **extra: Any) -> httpx.Response:
    return await client.post("/api/v1/patients/search", json={"query": query, **extra}, headers=headers)


async def test_search_by_number_or_name_prefix_is_access_logged(client: Client, auth: Auth,
                                                                backend: Backend) -> None:
    identity = new_identity()
    surname = "Sökbar" + "".join(random.choice("abcdefghijklmnop") for _ in range(8))
    case = await register(client, auth("ward.nurse"), patient=patient(identity, name=f"Åsa {surname}"))
    nurse = auth("ward.nurse")
    by_number = await search(client, nurse, identity)
    assert by_number.status_code == 200, by_number.text
    assert by_number.json()["by"] == "identity"
    assert [h["case_id"] for h in by_number.json()["items"]] == [case["id"]]
    by_name = await search(client, nurse, f"  åSA {surname[:4].upper()}")
    assert by_name.json()["by"] == "name"
    assert case["id"] in [h["case_id"] for h in by_name.json()["items"]]
    assert (await search(client, nurse, f"Åsa {surname}x")).json()["items"] == []
    hidden = await search(client, auth(ASSESSOR), identity)
    assert hidden.json()["items"] == [], hidden.text  # a draft is the ward's alone
    rows = await access_rows(backend, case["patient"]["id"])
    assert [(a, u) for a, u, _ in rows if a == "search_patients"] == [("search_patients", WARD)] * 2
    bad = await search(client, nurse, "19121212-0000")
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["query"]
    too_short = await client.post("/api/v1/patients/search", json={"query": "a"}, headers=nurse)
    assert too_short.status_code == 400, too_short.text


async def test_a_protected_person_is_found_only_with_the_explicit_need(client: Client, auth: Auth) -> None:
    name = secret_name()
    case = await protected_case(client, auth, name)
    identity = case["patient"]["identity"]
    for who in ("ward.nurse", ASSESSOR):  # no need recorded: not found, by number or by name
        assert (await search(client, auth(who), identity)).json()["items"] == []
        assert (await search(client, auth(who), name)).json()["items"] == []
    for query in (identity, name):  # Solna's home-care nurse has the need at the home-care unit
        found = (await search(client, auth("municipal.nurse"), query, unit_id=SOLNA_HOME_CARE)).json()["items"]
        assert [(h["case_id"], h["patient"]["name"], h["patient"]["masked"]) for h in found] == [
            (case["id"], name, False)]
    assert name_key(f" {name.upper()} ") == name.casefold()
