"""What the acting unit may do on a case, as the API says it (`allowed_actions`, `refused_actions` in the case and in
the board and inbox rows) is exactly what the commands then accept or refuse, with the same reason; and `/me`
says what the user may do (`capabilities`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.case_refusals import CaseAction, CaseRefusal
from server.demo.seed import stable_id
from tests.server.conftest import (
    DISCHARGE_CONTENT,
    RONNVIKEN,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    VITSIPPSDALEN,
    WARD,
    iso,
    now_utc,
    register,
)

Json = dict[str, Any]
Auth = Callable[[str], dict[str, str]]
USERS = {WARD: "ward.nurse", SOLNA_INTAKE: "needs.assessor", RONNVIKEN: "care.contact"}
PART_REASONS = {CaseRefusal.CASE_NOT_VISIBLE, CaseRefusal.WARD_ONLY, CaseRefusal.RECEIVING_UNIT_ONLY,
                CaseRefusal.PRIMARY_CARE_ONLY}


def _later(hours: float) -> str:
    return iso(now_utc() + timedelta(hours=hours))


# Each action's route, with a body that is valid for the unit whenever the action is allowed.
COMMANDS: dict[CaseAction, tuple[str, Callable[[str], Json]]] = {
    CaseAction.SEND_ADMISSION_NOTICE: ("admission-notice", lambda u: {}),
    CaseAction.RECORD_NEEDS_IDENTIFIED: ("needs-identified", lambda u: {"at": _later(-1)}),
    CaseAction.ACKNOWLEDGE: ("acknowledgements", lambda u: {}),
    CaseAction.FORWARD: ("forwarding", lambda u: {"to_unit_id": VITSIPPSDALEN if u == RONNVIKEN else SOLNA_HOME_CARE}),
    CaseAction.REJECT: ("rejection", lambda u: {"reason": "wrong_municipality"}),
    CaseAction.ADD_PARTICIPANT: ("participants", lambda u: {"unit_id": SOLNA_HOME_CARE}),
    CaseAction.REMOVE_PARTICIPANT: ("participant-removal", lambda u: {"unit_id": SOLNA_INTAKE}),
    CaseAction.APPOINT_NAMED_CARE_CONTACT: ("named-care-contact",
                                            lambda u: {"contact_user_id": stable_id("user", "care.contact")}),
    CaseAction.CHANGE_ESTIMATED_DISCHARGE: ("estimated-discharge", lambda u: {"estimated_discharge_at": _later(48)}),
    CaseAction.UPDATE_PLANNING: ("planning", lambda u: {"notes": "Rullator"}),
    CaseAction.MARK_READY_FOR_DISCHARGE: ("ready-for-discharge", lambda u: {}),
    CaseAction.WITHDRAW_READY_FOR_DISCHARGE: ("ready-for-discharge-withdrawal", lambda u: {}),
    CaseAction.SET_SIP_APPLIES: ("sip-applicability", lambda u: {"applies": True}),
    CaseAction.SEND_SIP_INVITATION: ("sip-invitation", lambda u: {}),
    CaseAction.SET_LIABILITY_FACTS: ("liability-facts", lambda u: {"patient_refused_services": True,
                                                                   "outpatient_services_missing": False}),
    CaseAction.UPDATE_HOME_READINESS: ("home-readiness", lambda u: {"medicines_secured": True}),
    CaseAction.START_LEAVE: ("leave", lambda u: {}),
    CaseAction.END_LEAVE: ("leave-end", lambda u: {}),
    CaseAction.SEND_DISCHARGE_NOTICE: ("discharge-notice", lambda u: {"discharged_at": _later(0), **DISCHARGE_CONTENT}),
    CaseAction.INTERRUPT: ("interruption", lambda u: {"reason": "died"}),
    CaseAction.CANCEL: ("cancellation", lambda u: {}),
    CaseAction.CLOSE: ("closure", lambda u: {}),
}
# How the standard story reaches each kind of case: the ward's steps after registering.
STORIES: dict[str, list[tuple[str, Json]]] = {
    "admitted": [],
    "planning": [("admission-notice", {})],
    "planning, on leave": [("admission-notice", {}), ("leave", {})],
    "ready_for_discharge": [("admission-notice", {}), ("ready-for-discharge", {})],
    "discharged": [("admission-notice", {}), ("ready-for-discharge", {}), ("discharge-notice", {"discharged_at": ""})],
    "closed": [("admission-notice", {}), ("ready-for-discharge", {}), ("discharge-notice", {"discharged_at": ""}),
               ("closure", {})],
    "interrupted": [("admission-notice", {}), ("interruption", {"reason": "moved_to_other_hospital"})],
    "cancelled": [("admission-notice", {}), ("cancellation", {})],
}


async def post(client: httpx.AsyncClient, headers: dict[str, str], case: Json, path: str,
               body: Json) -> httpx.Response:
    return await client.post(f"/api/v1/cases/{case['id']}/{path}", json={"expected_version": case["version"], **body},
                             headers=headers)


def story(client: httpx.AsyncClient, auth: Auth, name: str) -> Callable[[], Awaitable[Json]]:
    async def build() -> Json:
        nurse = auth("ward.nurse")
        case = await register(client, nurse)
        for path, body in STORIES[name]:
            if "discharged_at" in body:
                body = {"discharged_at": _later(0), **DISCHARGE_CONTENT}
            response = await post(client, nurse, case, path, body)
            assert response.status_code == 200, response.text
            case = response.json()
        return case
    return build


async def rows(client: httpx.AsyncClient, headers: dict[str, str], unit: str, case_id: str) -> list[Json]:
    """The case's rows the unit gets besides the case itself: its board row, and its inbox row if it has one."""
    found = []
    board = await client.get("/api/v1/cases", params={"unit_id": unit, "limit": 500}, headers=headers)
    assert board.status_code == 200, board.text
    found += [c for c in board.json()["items"] if c["id"] == case_id]
    if unit != WARD:
        inbox = await client.get(f"/api/v1/units/{unit}/inbox", headers=headers)
        assert inbox.status_code == 200, inbox.text
        found += [i["case"] for i in inbox.json()["items"] if i["case"]["id"] == case_id]
    return found


@pytest.mark.parametrize("name", list(STORIES))
async def test_allowed_actions_are_what_the_commands_accept(client: httpx.AsyncClient, auth: Auth,
                                                            name: str) -> None:
    """For every kind of case and each part (ward, municipal, primary care): the case, its board row and its inbox
    row list the same actions for the unit; every action listed is accepted (on a fresh case of that kind), every
    other one is refused with the reason listed, as a 403 for the unit's part or a 422 for the case's state, and
    changes nothing."""
    build = story(client, auth, name)
    case = await build()
    for unit, user in USERS.items():
        headers = {**auth(user), "X-Acting-Unit": unit}
        response = await client.get(f"/api/v1/cases/{case['id']}", headers=headers)
        if response.status_code == 404:  # the ward's draft (also cancelled or closed as one): not the receivers'
            assert name == "admitted"
            assert unit != WARD
            continue
        view = response.json()
        assert view["acting_unit_id"] == unit
        allowed, refused = set(view["allowed_actions"]), view["refused_actions"]
        assert allowed | set(refused) == set(CaseAction)
        assert not allowed & set(refused)
        for row in await rows(client, headers, unit, case["id"]):
            assert (set(row["allowed_actions"]), row["refused_actions"], row["acting_unit_id"]) == (
                allowed, refused, unit)
        assert (unit in view["inbox_unit_ids"]) == bool(unit != WARD and name in (
            "planning", "planning, on leave", "ready_for_discharge", "discharged"))
        for action, reason in refused.items():
            path, body = COMMANDS[CaseAction(action)]
            answer = await post(client, headers, view, path, body(unit))
            problem = answer.json()
            part = reason in PART_REASONS
            assert (answer.status_code, problem["code"], problem.get("reason")) == (
                403 if part else 422, "not_allowed_for_part" if part else "invalid_transition", reason), action
        after = (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()
        assert after["version"] == view["version"], "a refused command changed the case"
        for action in allowed:
            fresh = await build()
            path, body = COMMANDS[CaseAction(action)]
            answer = await post(client, headers, fresh, path, body(unit))
            assert answer.status_code == 200, (unit, action, answer.text)


async def test_me_says_what_the_user_may_do(client: httpx.AsyncClient, auth: Auth) -> None:
    async def capabilities(user: str) -> Json:
        response = await client.get("/api/v1/me", headers=auth(user))
        assert response.status_code == 200, response.text
        result: Json = response.json()["capabilities"]
        return result

    nurse = await capabilities("ward.nurse")
    assert (nurse["case_unit_ids"], nurse["register_case_unit_ids"], nurse["inbox_unit_ids"]) == ([WARD], [WARD], [])
    assert nurse["unit_parts"] == {WARD: "inpatient_unit"}
    assert not (nurse["administer"])
    assert not (nurse["review_logs"])
    assert not (nurse["verify_log"])
    assert not (nurse["grantable_roles"])
    assert nurse["case_roles"] == ["user", "super_user"]

    contact = await capabilities("care.contact")
    assert (contact["unit_parts"], contact["register_case_unit_ids"], contact["inbox_unit_ids"]) == (
        {RONNVIKEN: "primary_care_unit"}, [], [RONNVIKEN])
    assessor = await capabilities("needs.assessor")
    assert assessor["unit_parts"] == {SOLNA_INTAKE: "municipal_unit"}
    assert assessor["inbox_unit_ids"] == [SOLNA_INTAKE]

    admin = await capabilities("hospital.admin")  # a local access administrator: users and the access log
    assert (admin["case_unit_ids"], admin["administer"], admin["manage_users"], admin["manage_units"]) == (
        [], True, True, False)
    assert (admin["review_logs"], admin["verify_log"], admin["connect_organisations"]) == (True, False, False)
    assert "central_administrator" not in admin["grantable_roles"]
    assert "user" in admin["grantable_roles"]
    central = await capabilities("central.admin")
    assert (central["manage_units"], central["connect_organisations"], central["verify_log"]) == (True, True, True)
    assert "central_administrator" in central["grantable_roles"]
    auditor = await capabilities("auditor")
    assert (auditor["administer"], auditor["review_logs"], auditor["verify_log"]) == (False, True, True)
    statistics = await capabilities("statistics")
    assert not any(v for v in statistics.values() if isinstance(v, bool))


async def test_units_a_case_can_be_sent_to(client: httpx.AsyncClient, auth: Auth) -> None:
    """`GET /units?receiving=true`: the units a case can be added or forwarded to (the domain's receiving kinds)."""
    async def units(receiving: str) -> dict[str, str]:
        response = await client.get("/api/v1/units", params={"receiving": receiving, "limit": 500},
                                    headers=auth("ward.nurse"))
        assert response.status_code == 200, response.text
        return {u["id"]: u["kind"] for u in response.json()["items"]}

    receiving, others = await units("true"), await units("false")
    assert {SOLNA_INTAKE, SOLNA_HOME_CARE, RONNVIKEN, VITSIPPSDALEN} <= set(receiving)
    assert set(receiving.values()) == {"municipal", "primary_care", "psychiatric_outpatient"}
    assert WARD in others
    assert set(others.values()) == {"somatic_ward", "psychiatric_ward"}
