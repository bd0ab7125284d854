"""What the acting unit may do on a SIP plan, through the REST API: every refusal's specific problem code (and
the field at fault), the plan's `allowed_actions` per acting unit (the same rule the commands enforce), the
principal with the overall responsibility, and handing the plan over to another unit."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from domain.sip import Refusal
from tests.server.conftest import iso, new_identity, now_utc, patient
from tests.server.sip_support import (
    HOME_CARE,
    HOME_CARE_USER,
    MUNICIPAL,
    MUNICIPAL_USER,
    OUTSIDER,
    OWNER,
    OWNER_USER,
    Auth,
    Client,
    Json,
    act,
    agree,
    create_plan,
    feed,
    fill_required,
    get_plan,
    give_consent,
    plan_events,
    principal_of,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Codes the application layer gives SIP refusals (beside the domain's `Refusal`).
APPLICATION_CODES = {"not_found", "case_not_found", "plan_exists", "case_or_person_required", "acting_unit_required",
                     "acting_unit_not_allowed", "unknown_unit", "unit_without_principal", "invalid_identity",
                     "not_a_field_of_list", "version_conflict", "field_conflict", "content_changed", "conflict",
                     "validation_failed", "forbidden"}
ALL = {"edit", "add_participant", "add_next_of_kin", "remove_participant", "record_consent", "withdraw_consent",
       "schedule_meeting", "reschedule_meeting", "cancel_meeting", "answer_invitation", "approve", "follow_up",
       "close", "hand_over"}


def refused(problem: Json, code: str, field: str | None = None) -> None:
    """The problem names its specific code, and the field at fault (RFC 9457 with field-level `errors`)."""
    assert problem["code"] == code, problem
    assert problem["title"], problem
    assert problem["detail"], problem
    assert [e["field"] for e in problem["errors"]] == ([field] if field else []), problem


def later(days: int, hours: int = 0) -> str:
    return iso(now_utc() + timedelta(days=days, hours=hours))


def meeting(days: int = 2, **extra: Any) -> Json:
    return {"starts_at": later(days), "ends_at": later(days, 1), "place": "Vårdcentralen", **extra}


async def test_refusals_of_the_plans_state_and_the_units_part_carry_specific_codes(client: Client,
                                                                                  auth: Auth) -> None:
    plan = await create_plan(client, auth)
    refused(await act(client, auth, plan, "consent-withdrawal", {}, status=422), Refusal.NO_CONSENT_TO_WITHDRAW)
    refused(await act(client, auth, plan, "meetings", meeting(), status=422), Refusal.CONSENT_REQUIRED)
    refused(await act(client, auth, plan, "ownership", {"expected_version": plan["version"], "unit_id": MUNICIPAL},
                      status=422), Refusal.NO_UNIT_TO_HAND_OVER_TO)
    plan = await fill_required(client, auth, await give_consent(client, auth, plan))
    refused(await act(client, auth, plan, "follow-ups", {"expected_version": plan["version"],
                                                         "held_at": iso(now_utc())}, status=422),
            Refusal.NO_AGREED_VERSION)
    # The municipality neither owns the plan nor has the overall responsibility (the region has it).
    refused(await act(client, auth, plan, "closure", {"expected_version": plan["version"], "reason": "other"},
                      user=HOME_CARE_USER, status=403), Refusal.NOT_RESPONSIBLE_FOR_PLAN)
    refused(await act(client, auth, plan, "ownership", {"expected_version": plan["version"], "unit_id": HOME_CARE},
                      user=MUNICIPAL_USER, status=403), Refusal.NOT_PLAN_OWNER)
    plan = await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]})
    refused(await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]}, status=422),
            Refusal.ALREADY_APPROVED)
    plan = await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]},
                     user=MUNICIPAL_USER)
    refused(await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"]}, status=422),
            Refusal.ALREADY_AGREED)

    # Meetings: a unit answers only for itself; a cancelled meeting takes no answers; one that does not exist.
    plan = await act(client, auth, plan, "meetings", meeting(meeting_id="00000000-0000-4000-8000-00000000000a"))
    meeting_id = plan["meetings"][0]["id"]
    refused(await act(client, auth, plan, f"meetings/{meeting_id}/answers",
                      {"answer": "accepted", "invitee_ref": MUNICIPAL}, status=403),
            Refusal.ANSWERS_FOR_OWN_UNIT_ONLY, "invitee_ref")
    plan = await act(client, auth, plan, f"meetings/{meeting_id}/cancellation", {"expected_version": plan["version"]})
    refused(await act(client, auth, plan, f"meetings/{meeting_id}/answers", {"answer": "accepted"}, status=422),
            Refusal.MEETING_CANCELLED, "meeting_id")
    refused(await act(client, auth, plan, "meetings/nope/answers", {"answer": "accepted"}, status=404),
            Refusal.MEETING_NOT_FOUND, "meeting_id")

    # The person objects to next of kin: they cannot be added (the field at fault is the kind).
    plan = await give_consent(client, auth, plan, next_of_kin_may_take_part=False)
    refused(await act(client, auth, plan, "named-participants", {"expected_version": plan["version"],
                                                                 "kind": "next_of_kin", "name": "Eva"}, status=422),
            Refusal.NEXT_OF_KIN_OBJECTED, "kind")

    # Consent withdrawn: frozen for the owner; closed: nothing more.
    plan = await act(client, auth, plan, "consent-withdrawal", {})
    refused(await act(client, auth, plan, "items/goals", {"content": {"description": "x"}}, status=422),
            Refusal.SHARING_ENDED)
    plan = await act(client, auth, plan, "closure", {"expected_version": plan["version"], "reason": "other"})
    refused(await act(client, auth, plan, "consent", {
        "expected_version": plan["version"], "given_by": "person", "form": "verbal", "scope_unit_ids": [],
        "given_at": iso(now_utc())}, status=422), Refusal.PLAN_CLOSED)


async def test_refusals_of_a_value_name_the_field(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    version = plan["version"]
    start = meeting()
    cases: list[tuple[str, Json, int, str, str | None]] = [
        ("meetings", meeting(days=-1), 422, Refusal.MEETING_IN_PAST, "starts_at"),
        ("meetings", {**start, "ends_at": start["starts_at"]}, 422, Refusal.MEETING_ENDS_BEFORE_START, "ends_at"),
        ("meetings", {**meeting(), "place": ""}, 422, Refusal.PLACE_OR_VIDEO_LINK_REQUIRED, "place"),
        ("meetings", meeting(video_link="http://video.example"), 422, Refusal.VIDEO_LINK_NOT_HTTPS, "video_link"),
        ("meetings", meeting(invite_unit_ids=[], invite_person=False), 422, Refusal.NOBODY_INVITED,
         "invite_unit_ids"),
        ("meetings", meeting(invite_unit_ids=[OUTSIDER]), 422, Refusal.INVITEE_NOT_VISIBLE, "invite_unit_ids"),
        ("fields/next_follow_up_on", {"value": "imorgon", "expected_revision": 0}, 422, Refusal.FOLLOW_UP_NOT_A_DATE,
         "value"),
        ("fields/next_follow_up_on", {"value": "2001-01-01", "expected_revision": 0}, 422,
         Refusal.FOLLOW_UP_DATE_PASSED, "next_follow_up_on"),
        ("fields/overall_responsibility", {"value": "principal-nobody", "expected_revision": 0}, 422,
         Refusal.RESPONSIBILITY_NOT_PARTICIPATING, "overall_responsibility"),
        ("items/needs", {"content": {"description": "x", "by_whom": "skolan"}}, 422, "not_a_field_of_list",
         "content.by_whom"),
        ("items/needs", {"content": {"description": "  "}}, 422, Refusal.TEXT_REQUIRED, "needs.description"),
        ("items/needs/nope", {"content": {"description": "x"}, "expected_revision": 1}, 404, Refusal.ITEM_NOT_FOUND,
         "needs"),
        ("units", {"expected_version": version, "unit_id": "no-such-unit"}, 422, "unknown_unit", "unit_id"),
        ("units", {"expected_version": version, "unit_id": MUNICIPAL}, 422, Refusal.UNIT_ALREADY_PARTICIPATES,
         "unit_id"),
        ("participant-removal", {"expected_version": version, "participant_id": OWNER}, 422,
         Refusal.OWNER_CANNOT_LEAVE, "participant_id"),
        ("participant-removal", {"expected_version": version, "participant_id": "nobody"}, 404,
         Refusal.PARTICIPANT_NOT_FOUND, "participant_id"),
        ("consent", {"expected_version": version, "given_by": "person", "form": "verbal", "scope_unit_ids": [],
                     "given_at": later(1)}, 422, Refusal.CONSENT_IN_FUTURE, "given_at"),
        ("ownership", {"expected_version": version, "unit_id": OUTSIDER}, 422, Refusal.HAND_OVER_TARGET_INVALID,
         "unit_id"),
        ("ownership", {"expected_version": version, "unit_id": OWNER}, 422, Refusal.ALREADY_OWNER, "unit_id"),
    ]
    for path, body, status, code, field in cases:
        refused(await act(client, auth, plan, path, body, status=status), code, field)
    assert (await get_plan(client, auth, plan["id"]))["version"] == version  # nothing was written

    # What the application decides: the acting unit, the person or case, a taken plan id.
    refused(await act(client, auth, plan, "items/goals", {"content": {"description": "x"}}, status=403,
                      headers={"X-Acting-Unit": MUNICIPAL}), "acting_unit_not_allowed", "X-Acting-Unit")
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": OWNER}, headers=auth(OWNER_USER))
    refused(response.json(), "case_or_person_required", "person")
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": MUNICIPAL,
                                                            "person": patient(new_identity())},
                                 headers=auth(OWNER_USER))
    refused(response.json(), Refusal.NOT_YOUR_UNIT, "owner_unit_id")
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": OWNER, "case_id": "no-such-case"},
                                 headers=auth(OWNER_USER))
    assert response.status_code == 404
    refused(response.json(), "case_not_found", "case_id")
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": OWNER, "plan_id": plan["id"],
                                                            "person": patient(new_identity())},
                                 headers=auth(OWNER_USER))
    assert response.status_code == 409
    refused(response.json(), "plan_exists", "plan_id")


def test_every_refusal_code_is_documented() -> None:
    """docs/api.md lists every code a SIP refusal can carry."""
    section = DOCS.read_text(encoding="utf-8").split("### SIP refusals", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", section))
    missing = sorted(({str(r) for r in Refusal} | APPLICATION_CODES) - documented)
    assert not missing, f"codes not in docs/api.md's SIP refusals: {missing}"


async def test_allowed_actions_follow_the_acting_unit_and_the_plan(client: Client, auth: Auth) -> None:
    plan = await create_plan(client, auth)
    # A draft before consent: the owner prepares it (nothing to agree on yet); nobody else sees it (404).
    assert plan["acting_unit_id"] == OWNER
    assert set(plan["allowed_actions"]) == ALL - {"withdraw_consent", "schedule_meeting", "reschedule_meeting",
                                                  "approve", "follow_up", "hand_over"}
    assert plan["responsible_principal"] is None
    assert plan["hand_over_unit_ids"] == []

    plan = await fill_required(client, auth, await give_consent(client, auth, plan))
    region = principal_of(plan, OWNER)
    responsible = plan["responsible_principal"]
    assert (responsible["id"], responsible["kind"], responsible["version_number"]) == (region, "region", None)
    assert responsible["name"] == "Region Stockholm"
    assert sorted(plan["hand_over_unit_ids"]) == sorted([MUNICIPAL, HOME_CARE])
    assert set(plan["allowed_actions"]) == ALL - {"follow_up"}
    municipal = await get_plan(client, auth, plan["id"], MUNICIPAL_USER)
    assert municipal["acting_unit_id"] == MUNICIPAL
    assert set(municipal["allowed_actions"]) == ALL - {"follow_up", "close", "hand_over"}
    assert municipal["refused_actions"] == {"follow_up": "not_responsible_for_plan",
                                            "close": "not_responsible_for_plan", "hand_over": "not_plan_owner"}
    assert plan["refused_actions"] == {"follow_up": "no_agreed_version"}

    plan = await agree(client, auth, plan)
    assert plan["responsible_principal"]["version_number"] == 1
    assert "follow_up" in (await get_plan(client, auth, plan["id"]))["allowed_actions"]
    municipal = await get_plan(client, auth, plan["id"], MUNICIPAL_USER)
    assert {"follow_up", "close", "approve"}.isdisjoint(municipal["allowed_actions"])  # agreed: nothing to approve

    # The overall responsibility moves to the municipality in the working contents: not yet in force.
    solna = principal_of(plan, MUNICIPAL)
    plan = await act(client, auth, plan, "fields/overall_responsibility", {
        "value": solna, "expected_revision": plan["contents"]["overall_responsibility"]["revision"]})
    assert plan["responsible_principal"]["id"] == region
    plan = await agree(client, auth, plan)
    assert (plan["responsible_principal"]["id"], plan["responsible_principal"]["version_number"]) == (solna, 2)
    municipal = await get_plan(client, auth, plan["id"], MUNICIPAL_USER)
    assert {"follow_up", "close"} <= set(municipal["allowed_actions"])
    # The flags tell the truth: what they allow goes through.
    municipal = await act(client, auth, municipal, "follow-ups", {"expected_version": municipal["version"],
                                                                  "held_at": iso(now_utc())}, user=MUNICIPAL_USER)
    assert municipal["state"] == "followed_up"
    assert "follow_up" in municipal["allowed_actions"]  # the answer to a command carries the flags too

    # Withdrawn consent: the owner may only record new consent or close it.
    plan = await act(client, auth, municipal, "consent-withdrawal", {}, user=MUNICIPAL_USER)
    assert (plan["acting_unit_id"], plan["allowed_actions"]) == (MUNICIPAL, [])
    owner = await get_plan(client, auth, plan["id"])
    assert set(owner["allowed_actions"]) == {"record_consent", "close"}
    owner = await act(client, auth, owner, "closure", {"expected_version": owner["version"], "reason": "other"})
    assert owner["allowed_actions"] == []


async def test_a_stale_write_shows_the_current_plan_with_the_acting_units_flags(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    conflict = await act(client, auth, plan, "units", {"expected_version": plan["version"] - 1,
                                                       "unit_id": OUTSIDER}, user=MUNICIPAL_USER, status=409)
    assert conflict["current"]["acting_unit_id"] == MUNICIPAL
    assert "hand_over" not in conflict["current"]["allowed_actions"]


async def test_the_owner_hands_the_plan_over(client: Client, auth: Auth) -> None:
    plan = await fill_required(client, auth, await give_consent(client, auth, await create_plan(client, auth)))
    heads = {u: (await feed(client, auth, u))["head"] for u in (OWNER, MUNICIPAL, HOME_CARE)}
    stale = await act(client, auth, plan, "ownership", {"expected_version": plan["version"] - 1,
                                                        "unit_id": MUNICIPAL}, status=409)
    assert stale["code"] == "version_conflict"
    plan = await act(client, auth, plan, "ownership", {"expected_version": plan["version"], "unit_id": MUNICIPAL})
    assert plan["owner_unit_id"] == MUNICIPAL
    assert "hand_over" not in plan["allowed_actions"]  # the former owner's flags
    assert OWNER in plan["visible_unit_ids"]  # still a participant that sees it
    for unit in (OWNER, MUNICIPAL, HOME_CARE):
        [event] = plan_events(await feed(client, auth, unit, heads[unit]), plan["id"])
        assert event["type"] == "SipPlanHandedOver"
        assert (event["data"]["from_unit_id"], event["data"]["to_unit_id"]) == (OWNER, MUNICIPAL)
    listed = await client.get("/api/v1/sip-plans", params={"unit_id": MUNICIPAL}, headers=auth(MUNICIPAL_USER))
    assert [p["owner_unit_id"] for p in listed.json()["items"] if p["id"] == plan["id"]] == [MUNICIPAL]

    # The new owner decides: it may hand over and close; the former owner no longer may, and may now leave.
    municipal = await get_plan(client, auth, plan["id"], MUNICIPAL_USER)
    assert {"hand_over", "close"} <= set(municipal["allowed_actions"])
    refused(await act(client, auth, plan, "ownership", {"expected_version": plan["version"], "unit_id": HOME_CARE},
                      status=403), Refusal.NOT_PLAN_OWNER)
    plan = await act(client, auth, municipal, "participant-removal", {"expected_version": municipal["version"],
                                                                      "participant_id": OWNER}, user=MUNICIPAL_USER)
    assert OWNER not in plan["visible_unit_ids"]
    await get_plan(client, auth, plan["id"], OWNER_USER, status=404)
