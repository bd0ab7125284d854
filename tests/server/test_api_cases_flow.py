"""The discharge process through the REST API, step by step, with the demo users of every party."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from tests.server.conftest import (
    DISCHARGE_CONTENT,
    PSYCH_WARD,
    RONNVIKEN,
    SODERMALM,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    STOCKHOLM_INTAKE,
    VITSIPPSDALEN,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)

Client = httpx.AsyncClient
Auth = Callable[[str], dict[str, str]]


async def act(client: Client, headers: dict[str, str], case: dict[str, Any], action: str, status: int = 200,
              **body: Any) -> dict[str, Any]:
    """POST one action with the case's current version; check the status and return the JSON answer."""
    response = await client.post(f"/api/v1/cases/{case['id']}/{action}",
                                 json={"expected_version": case["version"], **body}, headers=headers)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    if status == 200:
        assert result["version"] == case["version"] + 1
    return result


async def read(client: Client, headers: dict[str, str], case_id: str, status: int = 200) -> dict[str, Any]:
    response = await client.get(f"/api/v1/cases/{case_id}", headers=headers)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def listed_ids(client: Client, headers: dict[str, str]) -> set[str]:
    response = await client.get("/api/v1/cases", headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def deadlines(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in case["deadlines"]}


def deadline(case: dict[str, Any], kind: str) -> tuple[str, bool]:
    """The deadline's state and whether it was met."""
    found = deadlines(case)[kind]
    return found["state"], found["met_at"] is not None


def notices(case: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [n for n in case["notices"] if n["kind"] == kind]


def parts(case: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {p["unit_id"]: (p["part"], p["status"]) for p in case["participants"]}


async def user_id(client: Client, auth: Auth, username: str) -> str:
    response = await client.get("/api/v1/me", headers=auth(username))
    assert response.status_code == 200
    result: str = response.json()["id"]
    return result


async def test_whole_process_from_admission_to_closure(client: Client, auth: Auth) -> None:
    nurse, assessor, contact = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    estimate = now_utc() + timedelta(days=5)
    case = await register(client, nurse, estimated_discharge_at=iso(estimate))
    assert (case["state"], case["version"]) == ("admitted", 1)
    assert parts(case) == {WARD: ("inpatient_unit", "active"), SOLNA_INTAKE: ("municipal_unit", "active"),
                           RONNVIKEN: ("primary_care_unit", "active")}
    assert deadline(case, "admission_notice") == ("ok", False)

    # Before the admission notice the case is the ward's draft: receivers neither list nor read it.
    assert case["id"] not in await listed_ids(client, assessor)
    await read(client, assessor, case["id"], status=404)
    await read(client, contact, case["id"], status=404)

    case = await act(client, nurse, case, "admission-notice")
    assert (case["state"], case["admission_notice_sent_at"] is not None) == ("planning", True)
    [admission] = notices(case, "admission_notice")
    assert sorted(admission["recipient_unit_ids"]) == sorted([SOLNA_INTAKE, RONNVIKEN])
    assert (admission["acknowledgements"], admission["sent_by_unit_id"]) == ([], WARD)
    assert deadline(case, "admission_notice") == ("ok", True)
    assert deadline(case, "named_care_contact") == ("ok", False)
    assert {s["unit_id"]: s["unacknowledged"] for s in case["acknowledgement_status"]} == {SOLNA_INTAKE: 1,
                                                                                           RONNVIKEN: 1}
    assert case["id"] in await listed_ids(client, assessor)
    assert case["id"] in await listed_ids(client, contact)

    # Acknowledgements: the municipality acknowledges everything, primary care names the notice.
    case = await act(client, assessor, case, "acknowledgements")
    case = await act(client, contact, case, "acknowledgements", notice_ids=[admission["id"]])
    [admission] = notices(case, "admission_notice")
    assert {a["unit_id"] for a in admission["acknowledgements"]} == {SOLNA_INTAKE, RONNVIKEN}
    assert all(s["unacknowledged"] == 0 for s in case["acknowledgement_status"])

    # The head of primary care appoints a named care contact of their own unit.
    contact_id = await user_id(client, auth, "care.contact")
    case = await act(client, contact, case, "named-care-contact", contact_user_id=contact_id)
    assert case["named_care_contact_user_id"] == contact_id
    assert deadline(case, "named_care_contact") == ("ok", True)

    new_estimate = estimate + timedelta(days=2)
    case = await act(client, nurse, case, "estimated-discharge", estimated_discharge_at=iso(new_estimate))
    [changed] = notices(case, "estimated_discharge_changed")
    assert sorted(changed["recipient_unit_ids"]) == sorted([SOLNA_INTAKE, RONNVIKEN])

    # Each unit keeps its own planning form.
    case = await act(client, nurse, case, "planning", adl="Går med rollator", medication_handover="Dosett")
    case = await act(client, assessor, case, "planning", current_services="Hemtjänst 2 ggr/dag",
                     expected_needs=["home_help", "safety_alarm"])
    case = await act(client, contact, case, "planning", notes="Följer upp diabetes")
    planning = {p["unit_id"]: p for p in case["planning"]}
    assert set(planning) == {WARD, SOLNA_INTAKE, RONNVIKEN}
    assert planning[SOLNA_INTAKE]["expected_needs"] == ["home_help", "safety_alarm"]
    assert planning[WARD]["adl"] == "Går med rollator"

    case = await act(client, contact, case, "sip-applicability", applies=True)
    assert case["sip_applies"] is True

    case = await act(client, nurse, case, "ready-for-discharge")
    assert (case["state"], case["ready_for_discharge_at"] is not None) == ("ready_for_discharge", True)
    assert {"sip_invitation", "discharge_information", "payment_liability"} <= set(deadlines(case))
    assert deadline(case, "sip_invitation") == ("ok", False)
    payment = case["payment"]
    assert (payment["policy"], payment["day_zero"] is not None, payment["liable_days"]) == ("stockholm_2020", True, 0)

    case = await act(client, contact, case, "sip-invitation")
    assert case["sip_invitation_sent_at"] is not None
    assert deadline(case, "sip_invitation") == ("ok", True)
    [invitation] = notices(case, "sip_invitation")
    assert invitation["sent_by_unit_id"] == RONNVIKEN
    assert SOLNA_INTAKE in invitation["recipient_unit_ids"]

    # Not ready any more, then ready again: the clock stops and starts anew.
    case = await act(client, nurse, case, "ready-for-discharge-withdrawal")
    assert (case["state"], case["ready_for_discharge_at"]) == ("planning", None)
    assert "payment_liability" not in deadlines(case)
    case = await act(client, nurse, case, "ready-for-discharge")
    assert case["state"] == "ready_for_discharge"
    assert len(notices(case, "ready_for_discharge")) == 2
    assert len(notices(case, "ready_for_discharge_withdrawn")) == 1

    case = await act(client, nurse, case, "home-readiness", medicines_secured=True, aids_in_place=True,
                     patient_informed=True, next_provider_informed=True)
    assert case["home_readiness"] == {"medicines_secured": True, "aids_in_place": True, "patient_informed": True,
                                      "next_provider_informed": True}
    case = await act(client, nurse, case, "leave")
    assert case["on_leave"] is True
    case = await act(client, nurse, case, "leave-end")
    assert case["on_leave"] is False

    case = await act(client, assessor, case, "liability-facts", patient_refused_services=True,
                     outpatient_services_missing=False)
    assert case["patient_refused_services"] is True
    assert "patient_refused_services" in case["payment"]["reasons_not_liable"]
    assert case["payment"]["liable"] is False
    case = await act(client, nurse, case, "liability-facts", patient_refused_services=False,
                     outpatient_services_missing=False)
    assert case["payment"]["reasons_not_liable"] == []

    case = await act(client, nurse, case, "discharge-notice", discharged_at=iso(now_utc()), **DISCHARGE_CONTENT)
    assert (case["state"], case["discharged_at"] is not None, case["ready_for_discharge_at"]) == ("discharged", True,
                                                                                                 None)
    [discharge] = notices(case, "discharge_notice")
    assert sorted(discharge["recipient_unit_ids"]) == sorted([SOLNA_INTAKE, RONNVIKEN])
    assert deadline(case, "discharge_information") == ("ok", True)
    payment = case["payment"]  # discharged on the day it was ready: nothing to pay
    assert (payment["liable"], payment["liable_days"], payment["amount_sek"], payment["missing_amount_years"]) == (
        False, 0, 0, [])

    case = await act(client, nurse, case, "closure")
    assert (case["state"], case["closed_at"] is not None) == ("closed", True)
    assert [t["action"] for t in case["timeline"]] == [
        "registered", "admission_notice_sent", "acknowledged", "acknowledged", "named_care_contact_appointed",
        "estimated_discharge_changed", "planning_updated", "planning_updated", "planning_updated", "sip_applies",
        "ready_for_discharge", "sip_invitation_sent", "ready_for_discharge_withdrawn", "ready_for_discharge",
        "home_readiness_updated", "leave_started", "leave_ended", "liability_facts_changed",
        "liability_facts_changed", "discharge_notice_sent", "closed"]
    who = {(t["action"], t["unit_id"]) for t in case["timeline"]}
    assert {("acknowledged", SOLNA_INTAKE), ("sip_invitation_sent", RONNVIKEN)} <= who
    # The receivers still read the closed case, with the same history.
    assert (await read(client, assessor, case["id"]))["timeline"] == case["timeline"]


async def test_routing_by_municipality_district_and_by_hand(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    sodermalm = await register(client, nurse, patient=patient(new_identity(), municipality_code="0180",
                                                              listed_unit_id=None, district="Södermalm"))
    assert parts(sodermalm) == {WARD: ("inpatient_unit", "active"), SODERMALM: ("municipal_unit", "active")}
    central = await register(client, nurse, patient=patient(new_identity(), municipality_code="0180",
                                                            listed_unit_id=VITSIPPSDALEN))
    assert parts(central) == {WARD: ("inpatient_unit", "active"), STOCKHOLM_INTAKE: ("municipal_unit", "active"),
                              VITSIPPSDALEN: ("primary_care_unit", "active")}
    by_hand = await register(client, nurse, receiving_unit_ids=[SOLNA_HOME_CARE, VITSIPPSDALEN])
    assert parts(by_hand) == {WARD: ("inpatient_unit", "active"), SOLNA_HOME_CARE: ("municipal_unit", "active"),
                              VITSIPPSDALEN: ("primary_care_unit", "active")}

    # The district's assessor gets the notice; nobody at Solna does.
    sodermalm = await act(client, nurse, sodermalm, "admission-notice")
    assert notices(sodermalm, "admission_notice")[0]["recipient_unit_ids"] == [SODERMALM]
    assert sodermalm["id"] in await listed_ids(client, auth("stockholm.assessor"))
    assert sodermalm["id"] not in await listed_ids(client, auth("needs.assessor"))


async def test_named_care_contact_must_work_at_the_primary_care_unit(client: Client, auth: Auth) -> None:
    nurse, contact = auth("ward.nurse"), auth("care.contact")
    case = await act(client, nurse, await register(client, nurse), "admission-notice")
    assessor_id = await user_id(client, auth, "needs.assessor")
    problem = await act(client, contact, case, "named-care-contact", status=422, contact_user_id=assessor_id)
    assert problem["errors"][0]["field"] == "contact_user_id"
    # Only the primary care unit appoints the named care contact.
    problem = await act(client, auth("needs.assessor"), case, "named-care-contact", status=403,
                        contact_user_id=assessor_id)
    assert problem["code"] == "not_allowed_for_part"
    assert (await read(client, nurse, case["id"]))["named_care_contact_user_id"] is None


async def test_interruption_then_closure(client: Client, auth: Auth) -> None:
    psych = auth("psych.nurse")
    case = await register(client, psych, ward_unit_id=PSYCH_WARD)
    assert case["care_type"] == "psychiatric"
    case = await act(client, psych, case, "admission-notice")
    case = await act(client, psych, case, "ready-for-discharge")
    assert "payment_liability" in deadlines(case)
    case = await act(client, psych, case, "interruption", reason="compulsory_outpatient_care")
    assert (case["state"], case["interruption_reason"]) == ("interrupted", "compulsory_outpatient_care")
    assert case["ready_for_discharge_at"] is None
    assert "payment_liability" not in deadlines(case)
    assert all(d["met_at"] is not None for d in case["deadlines"])  # nothing left overdue behind
    await act(client, psych, case, "discharge-notice", status=422, discharged_at=iso(now_utc()),
              **DISCHARGE_CONTENT)
    case = await act(client, psych, case, "closure")
    assert case["state"] == "closed"
    assert [(t["action"], t["detail"]) for t in case["timeline"][-2:]] == [
        ("interrupted", "compulsory_outpatient_care"), ("closed", None)]


async def test_cancellation_voids_every_notice(client: Client, auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(client, nurse, await register(client, nurse), "admission-notice")
    case = await act(client, nurse, case, "ready-for-discharge")
    case = await act(client, nurse, case, "cancellation")
    assert case["state"] == "cancelled"
    assert [n["cancelled"] for n in case["notices"]] == [True, True]
    assert (case["deadlines"], case["ready_for_discharge_at"]) == ([], None)
    assert all(s["unacknowledged"] == 0 for s in case["acknowledgement_status"])
    # A cancelled case is over: it cannot be closed or changed.
    await act(client, nurse, case, "closure", status=422)
    await act(client, nurse, case, "leave", status=422)

    # A draft cancelled before its notice was never seen by the receivers.
    draft = await act(client, nurse, await register(client, nurse), "cancellation")
    assert draft["notices"] == []
    await read(client, assessor, draft["id"], status=404)


async def test_the_forward_targets_offered_are_exactly_the_units_the_forward_command_accepts(
        client: Client, auth: Auth) -> None:
    """One rule (`domain.discharge_case.forward_target_kinds`): `GET /units?forward_from=` lists what the command
    takes, for a municipal and a primary care unit, tried against every unit of the directory."""
    nurse = auth("ward.nurse")
    everything = (await client.get("/api/v1/units", params={"limit": 500}, headers=nurse)).json()["items"]
    for username, acting in (("needs.assessor", SOLNA_INTAKE), ("care.contact", RONNVIKEN)):
        headers = auth(username)
        response = await client.get("/api/v1/units", params={"forward_from": acting, "limit": 500}, headers=headers)
        assert response.status_code == 200, response.text
        offered = {u["id"] for u in response.json()["items"]}
        assert offered
        assert acting not in offered
        accepted: set[str] = set()
        case = await act(client, nurse, await register(client, nurse), "admission-notice")
        for target in everything:
            answer = await client.post(f"/api/v1/cases/{case['id']}/forwarding", headers=headers, json={
                "expected_version": case["version"], "to_unit_id": target["id"]})
            if answer.status_code == 200:
                accepted.add(target["id"])
                case = await act(client, nurse, await register(client, nurse), "admission-notice")  # a fresh one
            else:
                assert answer.status_code == 422, answer.text
                assert answer.json()["errors"][0]["field"] == "to_unit_id"
        assert accepted == offered, (username, accepted ^ offered)
    unknown = await client.get("/api/v1/units", params={"forward_from": "no-such-unit"}, headers=nurse)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "forward_from"


async def test_forward_moves_access_to_the_new_unit(client: Client, auth: Auth) -> None:
    nurse, assessor, home_care = auth("ward.nurse"), auth("needs.assessor"), auth("municipal.nurse")
    case = await act(client, nurse, await register(client, nurse), "admission-notice")
    await read(client, home_care, case["id"], status=404)

    problem = await act(client, assessor, case, "forwarding", status=422, to_unit_id=VITSIPPSDALEN)
    assert problem["errors"][0]["field"] == "to_unit_id"
    case = await act(client, assessor, case, "forwarding", to_unit_id=SOLNA_HOME_CARE)
    assert parts(case)[SOLNA_INTAKE] == ("municipal_unit", "forwarded")
    assert parts(case)[SOLNA_HOME_CARE] == ("municipal_unit", "active")
    assert next(p for p in case["participants"] if p["unit_id"] == SOLNA_INTAKE)["forwarded_to"] == SOLNA_HOME_CARE
    assert SOLNA_HOME_CARE in notices(case, "admission_notice")[0]["recipient_unit_ids"]

    await read(client, assessor, case["id"], status=404)
    assert case["id"] not in await listed_ids(client, assessor)
    seen = await read(client, home_care, case["id"])
    assert case["id"] in await listed_ids(client, home_care)
    seen = await act(client, home_care, seen, "acknowledgements")
    assert SOLNA_HOME_CARE in {a["unit_id"] for a in notices(seen, "admission_notice")[0]["acknowledgements"]}
    # The next notice goes to the new unit, not the old one.
    seen = await act(client, nurse, seen, "ready-for-discharge")
    assert sorted(notices(seen, "ready_for_discharge")[0]["recipient_unit_ids"]) == sorted([SOLNA_HOME_CARE,
                                                                                            RONNVIKEN])


async def test_reject_add_and_remove_participants(client: Client, auth: Auth) -> None:
    nurse, contact, assessor = auth("ward.nurse"), auth("care.contact"), auth("needs.assessor")
    case = await act(client, nurse, await register(client, nurse), "admission-notice")

    case = await act(client, contact, case, "rejection", reason="not_listed_here")
    assert parts(case)[RONNVIKEN] == ("primary_care_unit", "rejected")
    assert (case["timeline"][-1]["action"], case["timeline"][-1]["detail"]) == ("rejected", "not_listed_here")
    await read(client, contact, case["id"], status=404)

    # The ward routes the primary care part elsewhere: the new unit receives the notices so far.
    case = await read(client, nurse, case["id"])
    case = await act(client, nurse, case, "participants", unit_id=VITSIPPSDALEN)
    assert parts(case)[VITSIPPSDALEN] == ("primary_care_unit", "active")
    assert VITSIPPSDALEN in notices(case, "admission_notice")[0]["recipient_unit_ids"]
    problem = await act(client, nurse, case, "participants", status=422, unit_id=VITSIPPSDALEN)
    assert problem["errors"][0]["field"] == "unit_id"
    problem = await act(client, nurse, case, "participants", status=422, unit_id=PSYCH_WARD)
    assert problem["errors"][0]["field"] == "unit_id"

    case = await act(client, nurse, case, "participant-removal", unit_id=SOLNA_INTAKE)
    assert parts(case)[SOLNA_INTAKE] == ("municipal_unit", "removed")
    await read(client, assessor, case["id"], status=404)
    assert case["id"] not in await listed_ids(client, assessor)
    case = await act(client, nurse, case, "ready-for-discharge")
    assert notices(case, "ready_for_discharge")[0]["recipient_unit_ids"] == [VITSIPPSDALEN]
    # The ward itself is not a receiving participant.
    problem = await act(client, nurse, case, "participant-removal", status=422, unit_id=WARD)
    assert problem["errors"][0]["field"] == "unit_id"


async def test_sip_applies_with_the_persons_consent(client: Client, auth: Auth) -> None:
    nurse, contact = auth("ward.nurse"), auth("care.contact")
    case = await register(client, nurse)
    case = await act(client, nurse, case, "admission-notice")
    case = await act(client, contact, case, "sip-applicability", applies=True, consent=False)
    assert (case["sip_applies"], case["sip_consent"]) == (True, False)
    case = await act(client, nurse, case, "ready-for-discharge")
    assert "sip_invitation" not in deadlines(case)  # the person refused: no invitation is due
    case = await act(client, contact, case, "sip-applicability", applies=True, consent=True)
    assert (case["sip_consent"], deadline(case, "sip_invitation")) == (True, ("ok", False))

    # A consent without a SIP is refused with the field named, and nothing is written.
    refused = await client.post(f"/api/v1/cases/{case['id']}/sip-applicability", headers=contact,
                                json={"expected_version": case["version"], "applies": False, "consent": True})
    assert refused.status_code == 422, refused.text
    assert "consent" in refused.text
    assert (await read(client, contact, case["id"]))["version"] == case["version"]


async def test_routing_preview_names_what_registration_routes_to(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")

    async def preview(**params: str) -> httpx.Response:
        return await client.get("/api/v1/routing", params=params, headers=nurse)

    answer = await preview(municipality_code="0184", listed_unit_id=RONNVIKEN)
    assert answer.status_code == 200, answer.text
    receivers = [(r["unit_id"], r["part"]) for r in answer.json()["receivers"]]
    assert receivers == [(SOLNA_INTAKE, "municipal_unit"), (RONNVIKEN, "primary_care_unit")]
    assert all(r["unit_name"] for r in answer.json()["receivers"])
    case = await register(client, nurse, patient=patient(new_identity(), municipality_code="0184",
                                                         listed_unit_id=RONNVIKEN))
    assert {u for u, (p, _) in parts(case).items() if p != "inpatient_unit"} == {SOLNA_INTAKE, RONNVIKEN}
    district = await preview(municipality_code="0180", district="Södermalm")
    assert [r["unit_id"] for r in district.json()["receivers"]] == [SODERMALM]

    # Nowhere to route: the field is named, as the registration would name it.
    nowhere = await preview(municipality_code="9999")
    assert (nowhere.status_code, nowhere.json()["errors"][0]["field"]) == (422, "municipality_code")
    not_primary = await preview(municipality_code="0184", listed_unit_id=SOLNA_HOME_CARE)
    assert (not_primary.status_code, not_primary.json()["errors"][0]["field"]) == (422, "listed_unit_id")


async def test_receivers_chosen_by_hand_keep_the_reason(client: Client, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse, receiving_unit_ids=[SOLNA_HOME_CARE, RONNVIKEN],
                          routing_reason="Bor hos dottern i Solna under vintern")
    assert case["timeline"][0]["detail"] == "Bor hos dottern i Solna under vintern"

    # A reason for the routing rule's own choice is refused with the field named.
    body = {"ward_unit_id": WARD, "admitted_at": iso(now_utc() - timedelta(hours=1)), "routing_reason": "Varför?",
            "patient": patient(new_identity())}
    refused = await client.post("/api/v1/cases", json=body, headers=nurse)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "routing_reason"
