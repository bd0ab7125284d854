"""Retries with an Idempotency-Key, concurrent writers, and the event feed they leave behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select

from server.persistence.models import CaseRow, EventRow
from tests.server.conftest import (
    DISCHARGE_CONTENT,
    RONNVIKEN,
    SOLNA_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]


def url(case: dict[str, Any], action: str) -> str:
    return f"/api/v1/cases/{case['id']}/{action}"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def events_of(app: Litestar, case_id: str, event_type: str | None = None) -> int:
    query = select(func.count()).select_from(EventRow).where(EventRow.aggregate_id == case_id)
    if event_type:
        query = query.where(EventRow.type == event_type)
    async with app.state.runtime.sessions() as session:
        return int(await session.scalar(query) or 0)


async def version_of(app: Litestar, case_id: str) -> int:
    async with app.state.runtime.sessions() as session:
        return int(await session.scalar(select(CaseRow.version).where(CaseRow.id == case_id)) or 0)


async def feed(client: Client, auth: Auth, user: str, unit_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/units/{unit_id}/events", params={"after": 0, "limit": 1000},
                                headers=auth(user))
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def assert_gapless(page: dict[str, Any]) -> None:
    positions = [e["position"] for e in page["items"]]
    assert positions == list(range(1, page["head"] + 1))
    assert len({e["event_id"] for e in page["items"]}) == len(positions)


# ----- Idempotency-Key ----------------------------------------------------------------------------------------------

async def test_a_retried_command_gets_the_first_answer(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    first = await client.post(url(case, "admission-notice"), json={"expected_version": 1},
                              headers=keyed(nurse, "notice-1"))
    again = await client.post(url(case, "admission-notice"), json={"expected_version": 1},
                              headers=keyed(nurse, "notice-1"))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert await version_of(app, case["id"]) == 2
    assert len([n for n in again.json()["notices"] if n["kind"] == "admission_notice"]) == 1
    assert await events_of(app, case["id"], "AdmissionNoticeSent") == 1
    # Keys belong to their user: the same string from another user is a new request.
    ack = await client.post(url(case, "acknowledgements"), json={"expected_version": 2},
                            headers=keyed(auth("needs.assessor"), "notice-1"))
    assert ack.status_code == 200, ack.text
    assert ack.json()["version"] == 3


async def test_a_retried_registration_creates_one_case(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    body = {"ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())}
    first = await client.post("/api/v1/cases", json=body, headers=keyed(nurse, "register-1"))
    again = await client.post("/api/v1/cases", json=body, headers=keyed(nurse, "register-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    listed = (await client.get("/api/v1/cases", headers=nurse)).json()
    assert [c["id"] for c in listed["items"]] == [first.json()["id"]]
    assert await events_of(app, first.json()["id"]) == 1


async def test_a_key_reused_for_another_request_is_refused(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    response = await client.post(url(case, "estimated-discharge"), headers=keyed(nurse, "k"),
                                 json={"expected_version": 1, "estimated_discharge_at": iso(now_utc())})
    assert response.status_code == 200
    for action, body in (("estimated-discharge", {"expected_version": 1, "estimated_discharge_at": iso(now_utc())}),
                         ("leave", {"expected_version": 1})):
        refused = await client.post(url(case, action), json=body, headers=keyed(nurse, "k"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "invalid"
        assert refused.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await version_of(app, case["id"]) == 2
    assert await events_of(app, case["id"]) == 2


async def test_simultaneous_retries_make_one_change(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    responses = await asyncio.gather(*(
        client.post(url(case, "admission-notice"), json={"expected_version": 1}, headers=keyed(nurse, "same"))
        for _ in range(10)))
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses if r.status_code != 200]
    assert len({r.content for r in responses}) == 1
    assert await version_of(app, case["id"]) == 2
    assert await events_of(app, case["id"], "AdmissionNoticeSent") == 1


async def test_simultaneous_keyed_registrations_make_one_case(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    body = {"ward_unit_id": WARD, "patient": patient(new_identity()), "admitted_at": iso(now_utc())}
    responses = await asyncio.gather(*(client.post("/api/v1/cases", json=body, headers=keyed(nurse, "reg"))
                                       for _ in range(10)))
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses if r.status_code != 201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await client.get("/api/v1/cases", headers=nurse)).json()["total"] == 1


# ----- optimistic concurrency ---------------------------------------------------------------------------------------

async def test_concurrent_writes_on_one_version_one_wins_and_feeds_stay_gapless(client: Client, auth: Auth,
                                                                                app: Litestar) -> None:
    nurse, assessor, contact = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    cases = [await register(client, nurse) for _ in range(3)]
    cases = [(await client.post(url(c, "admission-notice"), json={"expected_version": 1}, headers=nurse)).json()
             for c in cases]
    writes = [(nurse, "ready-for-discharge", {}), (nurse, "leave", {}), (nurse, "sip-applicability", {"applies": True}),
              (nurse, "planning", {"notes": "x"}), (assessor, "acknowledgements", {}),
              (assessor, "planning", {"adl": "y"}), (contact, "acknowledgements", {}),
              (contact, "sip-applicability", {"applies": True})]
    responses = await asyncio.gather(*(
        client.post(url(case, action), json={"expected_version": case["version"], **body}, headers=headers)
        for case in cases for headers, action, body in writes))
    by_case = [responses[i * len(writes):(i + 1) * len(writes)] for i in range(len(cases))]
    for case, answers in zip(cases, by_case, strict=True):
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] + [409] * (len(writes) - 1), [r.text for r in answers if r.status_code >= 500]
        winner = next(r.json() for r in answers if r.status_code == 200)
        assert winner["version"] == case["version"] + 1 == await version_of(app, case["id"])
        for loser in (r.json() for r in answers if r.status_code == 409):
            assert loser["code"] in ("version_conflict", "conflict")
            if loser["code"] == "version_conflict":
                assert loser["current"]["version"] == winner["version"]
        assert await events_of(app, case["id"]) == 3  # registered, notice sent, the winner's change

    ward = await feed(client, auth, "ward.nurse", WARD)
    assert_gapless(ward)
    assert ward["head"] == 3 * 3
    for user, unit in (("needs.assessor", SOLNA_INTAKE), ("care.contact", RONNVIKEN)):
        page = await feed(client, auth, user, unit)
        assert_gapless(page)
        assert {e["type"] for e in page["items"]} >= {"AdmissionNoticeSent"}
    # Resume from the middle gives exactly the rest.
    rest = await client.get(f"/api/v1/units/{WARD}/events", params={"after": 4}, headers=nurse)
    assert [e["position"] for e in rest.json()["items"]] == list(range(5, ward["head"] + 1))


async def test_a_refused_command_writes_no_event(client: Client, auth: Auth, app: Litestar) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    head = (await feed(client, auth, "ward.nurse", WARD))["head"]
    refused = [
        await client.post(url(case, "ready-for-discharge"), json={"expected_version": 1}, headers=nurse),  # 422
        await client.post(url(case, "admission-notice"), json={"expected_version": 7}, headers=nurse),  # 409
        await client.post(url(case, "discharge-notice"), headers=nurse,  # 422: before the admission
                          json={"expected_version": 1, "discharged_at": "2001-01-01T10:00:00+01:00",
                                **DISCHARGE_CONTENT}),
    ]
    assert [r.status_code for r in refused] == [422, 409, 422]
    assert (await feed(client, auth, "ward.nurse", WARD))["head"] == head
    assert await events_of(app, case["id"]) == 1
    assert await version_of(app, case["id"]) == 1


# ----- no personal data in events -----------------------------------------------------------------------------------

async def test_events_carry_no_personal_data(client: Client, auth: Auth, app: Litestar) -> None:
    nurse, assessor, contact = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    identity = new_identity()
    person = patient(identity, name="Greta Hemligsdotter", address="Lönngången 17")
    case = await register(client, nurse, patient=person)
    digits = case["patient"]["identity"].replace("-", "").replace("+", "")
    secret_text = "Dottern Greta ringer varje dag"
    steps = [(nurse, "admission-notice", {}), (assessor, "acknowledgements", {}),
             (assessor, "planning", {"notes": secret_text, "current_services": "Hemtjänst hos Hemligsdotter"}),
             (nurse, "estimated-discharge", {"estimated_discharge_at": iso(now_utc())}),
             (contact, "planning", {"notes": "Greta Hemligsdotter, Lönngången 17", "expected_needs": ["aids"]}),
             (nurse, "ready-for-discharge", {}), (assessor, "rejection", {"reason": "wrong_municipality"}),
             (nurse, "interruption", {"reason": "died"})]
    for headers, action, body in steps:
        response = await client.post(url(case, action), json={"expected_version": case["version"], **body},
                                     headers=headers)
        assert response.status_code == 200, response.text
        case = response.json()
    async with app.state.runtime.sessions() as session:
        stored = list(await session.scalars(select(EventRow).where(EventRow.aggregate_id == case["id"])))
    pages = [await feed(client, auth, "ward.nurse", WARD), await feed(client, auth, "needs.assessor", SOLNA_INTAKE),
             await feed(client, auth, "care.contact", RONNVIKEN)]
    assert len(stored) == len(steps) + 1
    text = json.dumps([e.payload for e in stored] + pages, ensure_ascii=False).casefold()
    for secret in ("Greta", "Hemligsdotter", "Lönngången", secret_text, digits, digits[2:], identity):
        assert secret.casefold() not in text, secret
