"""SIP plans through the REST API: start, visibility and authorisation, per-field editing with conflicts,
structural commands guarded by the plan's version, agreement and versions, the case hook, idempotency,
the access log and bad input."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from server.demo.seed import stable_id
from tests.conftest import Backend
from tests.server.conftest import RONNVIKEN, WARD, iso, new_identity, now_utc, patient, register
from tests.server.sip_support import (
    HOME_CARE,
    HOME_CARE_USER,
    MUNICIPAL,
    MUNICIPAL_USER,
    OUTSIDER,
    OUTSIDER_USER,
    OWNER,
    OWNER_USER,
    Auth,
    Client,
    access_rows,
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


async def listed(client: Client, auth: Auth, user: str, **params: str) -> list[str]:
    response = await client.get("/api/v1/sip-plans", params=params, headers=auth(user))
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


async def test_a_plan_is_the_owners_draft_until_consent_names_the_other_units(client: Client, auth: Auth) -> None:
    plan = await create_plan(client, auth)
    assert (plan["state"], plan["version"], plan["visible_unit_ids"]) == ("draft", 1, [OWNER])
    assert plan["person"]["name"] == "Åsa Öberg"
    assert {u["unit_id"]: u["sees_plan"] for u in plan["units"]} == {OWNER: True, MUNICIPAL: False,
                                                                     HOME_CARE: False}
    # Before consent: only the owner reads or lists it; to everyone else it does not exist.
    for user in (MUNICIPAL_USER, HOME_CARE_USER, OUTSIDER_USER):
        await get_plan(client, auth, plan["id"], user, status=404)
        assert plan["id"] not in await listed(client, auth, user)
    assert plan["id"] in await listed(client, auth, OWNER_USER)

    plan = await give_consent(client, auth, plan, scope=[MUNICIPAL])
    assert sorted(plan["visible_unit_ids"]) == sorted([OWNER, MUNICIPAL])
    assert (await get_plan(client, auth, plan["id"], MUNICIPAL_USER))["id"] == plan["id"]
    assert plan["id"] in await listed(client, auth, MUNICIPAL_USER)
    await get_plan(client, auth, plan["id"], HOME_CARE_USER, status=404)  # in the plan, not in the consent
    await get_plan(client, auth, plan["id"], OUTSIDER_USER, status=404)
    # A unit that cannot see the plan cannot act on it either (404, nothing written).
    await act(client, auth, plan, "items/needs", {"content": {"description": "x"}}, user=OUTSIDER_USER, status=404)
    await act(client, auth, plan, "closure", {"expected_version": plan["version"], "reason": "other"},
              user=HOME_CARE_USER, status=404)
    assert (await get_plan(client, auth, plan["id"]))["version"] == plan["version"]


async def test_listing_filters_by_unit_state_and_follow_up_date(client: Client, auth: Auth) -> None:
    soon = await fill_required(client, auth, await give_consent(client, auth, await create_plan(client, auth)),
                               follow_up=(now_utc() + timedelta(days=10)).date())
    late = await fill_required(client, auth, await give_consent(client, auth, await create_plan(client, auth)),
                               follow_up=(now_utc() + timedelta(days=200)).date())
    undated = await create_plan(client, auth)
    assert await listed(client, auth, OWNER_USER) == [soon["id"], late["id"], undated["id"]]
    before = (now_utc() + timedelta(days=30)).date().isoformat()
    assert await listed(client, auth, OWNER_USER, follow_up_before=before) == [soon["id"]]
    late = await agree(client, auth, late)
    assert late["state"] == "active"
    assert await listed(client, auth, OWNER_USER, state="active") == [late["id"]]
    assert await listed(client, auth, MUNICIPAL_USER, unit_id=MUNICIPAL) == [soon["id"], late["id"]]
    response = await client.get("/api/v1/sip-plans", params={"unit_id": OWNER}, headers=auth(MUNICIPAL_USER))
    assert response.status_code == 403


async def test_two_people_editing_different_fields_never_conflict(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    contents = plan["contents"]
    # Both read revision 0 of their field, then write at the same time: both succeed.
    first, second = await asyncio.gather(
        client.post(f"/api/v1/sip-plans/{plan['id']}/fields/own_contribution", headers=auth(OWNER_USER),
                    json={"value": "Tar promenad varje dag", "expected_revision": contents["own_contribution"]
                          ["revision"]}),
        client.post(f"/api/v1/sip-plans/{plan['id']}/fields/next_follow_up_on", headers=auth(MUNICIPAL_USER),
                    json={"value": (now_utc() + timedelta(days=30)).date().isoformat(),
                          "expected_revision": contents["next_follow_up_on"]["revision"]}))
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    plan = await get_plan(client, auth, plan["id"])
    assert plan["contents"]["own_contribution"]["value"] == "Tar promenad varje dag"
    assert plan["contents"]["next_follow_up_on"]["revision"] == 1
    assert plan["content_revision"] == 2

    # Items: two people change different items from the same read; both succeed. Adding never conflicts.
    plan = await act(client, auth, plan, "items/needs", {"content": {"description": "Behov A"}, "item_id": "a"})
    plan = await act(client, auth, plan, "items/needs", {"content": {"description": "Behov B"}, "item_id": "b"},
                     user=MUNICIPAL_USER)
    a, b = await asyncio.gather(
        client.post(f"/api/v1/sip-plans/{plan['id']}/items/needs/a", headers=auth(OWNER_USER),
                    json={"content": {"description": "Behov A, ändrat"}, "expected_revision": 1}),
        client.post(f"/api/v1/sip-plans/{plan['id']}/items/needs/b", headers=auth(MUNICIPAL_USER),
                    json={"content": {"description": "Behov B, ändrat"}, "expected_revision": 1}))
    assert (a.status_code, b.status_code) == (200, 200), (a.text, b.text)
    needs = {n["id"]: (n["content"]["description"], n["revision"])
             for n in (await get_plan(client, auth, plan["id"]))["contents"]["needs"]}
    assert needs == {"a": ("Behov A, ändrat", 2), "b": ("Behov B, ändrat", 2)}


async def test_the_same_field_gives_a_conflict_with_the_current_value(client: Client, auth: Auth,
                                                                      backend: Backend) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    path = f"/api/v1/sip-plans/{plan['id']}/fields/own_contribution"
    won = await client.post(path, json={"value": "Lagar mat själv", "expected_revision": 0}, headers=auth(OWNER_USER))
    assert won.status_code == 200
    lost = await client.post(path, json={"value": "Handlar själv", "expected_revision": 0},
                             headers=auth(MUNICIPAL_USER))
    assert lost.status_code == 409, lost.text
    problem = lost.json()
    assert (problem["code"], problem["field"], problem["item_id"]) == ("field_conflict", "own_contribution", None)
    assert (problem["current_value"], problem["current_revision"]) == ("Lagar mat själv", 1)
    assert problem["errors"][0]["field"] == "own_contribution"
    # Nothing was written; the loser resolves by writing from the revision they now know.
    assert (await get_plan(client, auth, plan["id"]))["contents"]["own_contribution"]["value"] == "Lagar mat själv"
    resolved = await client.post(path, json={"value": "Lagar mat och handlar själv", "expected_revision": 1},
                                 headers=auth(MUNICIPAL_USER))
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["contents"]["own_contribution"] == {**resolved.json()["contents"]["own_contribution"],
                                                               "value": "Lagar mat och handlar själv", "revision": 2}
    # The same value again from a stale revision is no conflict and no change.
    same = await client.post(path, json={"value": "Lagar mat och handlar själv", "expected_revision": 0},
                             headers=auth(OWNER_USER))
    assert same.status_code == 200
    assert same.json()["version"] == resolved.json()["version"]

    # An item changed meanwhile: the conflict carries the item's current content and revision.
    plan = await act(client, auth, same.json(), "items/goals", {"content": {"description": "Bo kvar hemma"},
                                                               "item_id": "goal-1"})
    await act(client, auth, plan, "items/goals/goal-1", {"content": {"description": "Bo kvar hemma i Solna"},
                                                         "expected_revision": 1})
    conflict = await act(client, auth, plan, "items/goals/goal-1", {"content": {"description": "Flytta"},
                                                                    "expected_revision": 1},
                         user=MUNICIPAL_USER, status=409)
    assert (conflict["item_id"], conflict["current_revision"]) == ("goal-1", 2)
    assert conflict["current_value"]["description"] == "Bo kvar hemma i Solna"
    await act(client, auth, plan, "items/goals/goal-1/removal", {"expected_revision": 1}, status=409)
    # The conflict showed patient data: it is in the access log, as a read by the loser's unit.
    rows = await access_rows(backend, plan["person"]["id"])
    assert ("read_sip_plan", MUNICIPAL, stable_id("user", MUNICIPAL_USER)) in rows


async def test_structural_commands_need_the_current_plan_version(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth, units=(MUNICIPAL,)))
    stale = plan["version"] - 1
    conflict = await act(client, auth, plan, "units", {"expected_version": stale, "unit_id": HOME_CARE}, status=409)
    assert conflict["code"] == "version_conflict"
    assert conflict["current"]["version"] == plan["version"]
    assert conflict["current"]["id"] == plan["id"]
    plan = await act(client, auth, plan, "units", {"expected_version": plan["version"], "unit_id": HOME_CARE})
    added = next(u for u in plan["units"] if u["unit_id"] == HOME_CARE)
    assert (added["principal_id"], added["principal_kind"], added["sees_plan"]) == (
        principal_of(plan, MUNICIPAL), "municipality", False)
    plan = await act(client, auth, plan, "named-participants", {
        "expected_version": plan["version"], "kind": "next_of_kin", "name": "Örjan Öberg", "role": "son"})
    [named] = plan["named_participants"]
    plan = await act(client, auth, plan, "participant-removal", {"expected_version": plan["version"],
                                                                 "participant_id": named["id"]})
    assert plan["named_participants"][0]["active"] is False
    await act(client, auth, plan, "participant-removal", {"expected_version": plan["version"],
                                                          "participant_id": OWNER}, status=422)


async def test_agreement_versions_diff_and_missing_contents(client: Client, auth: Auth, backend: Backend) -> None:
    plan = await create_plan(client, auth)
    missing = await act(client, auth, plan, "approvals", {"content_revision": 0}, status=422)
    assert missing["code"] == "missing_contents"
    assert set(missing["missing"]) >= {"consent", "needs", "services", "overall_responsibility", "next_follow_up"}
    plan = await fill_required(client, auth, await give_consent(client, auth, plan))
    changed = await act(client, auth, plan, "approvals", {"content_revision": plan["content_revision"] - 1},
                        status=409)
    assert (changed["code"], changed["current_revision"]) == ("content_changed", plan["content_revision"])
    assert plan["missing_for_agreement"] == []
    plan = await agree(client, auth, plan)
    assert (plan["state"], plan["current_version_number"]) == ("active", 1)
    assert plan["deadlines"][0]["kind"] == "sip_follow_up"

    need = plan["contents"]["needs"][0]
    plan = await act(client, auth, plan, f"items/needs/{need['id']}", {
        "content": {"description": "Hjälp med insulin och måltider"}, "expected_revision": need["revision"]})
    plan = await act(client, auth, plan, "items/goals", {"content": {"description": "Gå till affären själv"}})
    diff_working = await client.get(f"/api/v1/sip-plans/{plan['id']}/diff", params={"from": 1},
                                    headers=auth(MUNICIPAL_USER))
    assert diff_working.status_code == 200
    assert diff_working.json()["to_version"] is None
    plan = await agree(client, auth, plan)
    assert plan["current_version_number"] == 2

    versions = await client.get(f"/api/v1/sip-plans/{plan['id']}/versions", headers=auth(OWNER_USER))
    assert [v["number"] for v in versions.json()] == [1, 2]
    assert versions.json()[0]["contents"]["needs"][0]["content"]["description"].startswith("Hjälp med insulin, ")
    diff = await client.get(f"/api/v1/sip-plans/{plan['id']}/diff", params={"from": 1, "to": 2},
                            headers=auth(OWNER_USER))
    assert diff.status_code == 200, diff.text
    changes = {(i["list_name"], i["kind"]) for i in diff.json()["items"]}
    assert changes == {("needs", "changed"), ("goals", "added")}
    assert diff.json()["fields"] == []
    gone = await client.get(f"/api/v1/sip-plans/{plan['id']}/diff", params={"from": 1, "to": 3},
                            headers=auth(OWNER_USER))
    assert gone.status_code == 404
    actions = [a for a, _, _ in await access_rows(backend, plan["person"]["id"])]
    assert {"create_sip_plan", "give_sip_consent", "add_sip_item", "change_sip_field", "approve_sip_version",
            "read_sip_versions", "diff_sip_versions"} <= set(actions)

    # Follow-up and closing: by the owner; a stale version is refused.
    plan = await act(client, auth, plan, "follow-ups", {"expected_version": plan["version"],
                                                        "held_at": plan["versions"][-1]["agreed_at"]})
    assert plan["state"] == "followed_up"
    plan = await act(client, auth, plan, "closure", {"expected_version": plan["version"], "reason": "goals_met"})
    assert (plan["state"], plan["next_follow_up_on"]) == ("closed", None)
    await act(client, auth, plan, "items/goals", {"content": {"description": "x"}}, status=422)


async def test_consent_withdrawal_hides_the_plan_from_the_other_units(client: Client, auth: Auth) -> None:
    plan = await fill_required(client, auth, await give_consent(client, auth, await create_plan(client, auth)))
    meeting_start = now_utc() + timedelta(days=3)
    plan = await act(client, auth, plan, "meetings", {"starts_at": iso(meeting_start),
                                                      "ends_at": iso(meeting_start + timedelta(hours=1)),
                                                      "place": "Vårdcentralen"})
    heads = {u: (await feed(client, auth, u))["head"] for u in (OWNER, MUNICIPAL, HOME_CARE)}
    plan = await act(client, auth, plan, "consent-withdrawal", {}, user=MUNICIPAL_USER)
    assert (plan["visible_unit_ids"], plan["sharing_ended"]) == ([OWNER], True)
    assert plan["meetings"][0]["cancelled_at"] is not None
    for user in (MUNICIPAL_USER, HOME_CARE_USER):
        await get_plan(client, auth, plan["id"], user, status=404)
        assert plan["id"] not in await listed(client, auth, user)
    # The owner closes the plan: only its own feed hears of it. The others' last word was the withdrawal.
    plan = await act(client, auth, plan, "closure", {"expected_version": plan["version"],
                                                     "reason": "consent_withdrawn"})
    for unit in (MUNICIPAL, HOME_CARE):
        events = plan_events(await feed(client, auth, unit, heads[unit]), plan["id"])
        assert [e["type"] for e in events][-1] == "SipConsentWithdrawn"
        assert "SipMeetingCancelled" in [e["type"] for e in events]
    own = [e["type"] for e in plan_events(await feed(client, auth, OWNER, heads[OWNER]), plan["id"])]
    assert own[-2:] == ["SipConsentWithdrawn", "SipPlanClosed"]


async def test_a_plan_opened_from_a_case_meets_the_case_sip_invitation(client: Client, auth: Auth,
                                                                        backend: Backend) -> None:
    nurse = auth("ward.nurse")
    case = await register(client, nurse)
    response = await client.post(f"/api/v1/cases/{case['id']}/admission-notice",
                                 json={"expected_version": case["version"]}, headers=nurse)
    assert response.status_code == 200
    # The outsider cannot open a plan on a case it does not see (404), nor at a unit it does not work at (403).
    await create_plan(client, auth, case_id=case["id"], status=403, headers=auth(OUTSIDER_USER))
    response = await client.post("/api/v1/sip-plans", headers=auth(OUTSIDER_USER),
                                 json={"owner_unit_id": OUTSIDER, "case_id": case["id"]})
    assert response.status_code == 404

    plan = await create_plan(client, auth, case_id=case["id"], units=(MUNICIPAL,))
    assert (plan["case_id"], plan["person"]["id"]) == (case["id"], case["patient"]["id"])
    read = await client.get(f"/api/v1/cases/{case['id']}", headers=auth(OWNER_USER))
    assert read.json()["sip_applies"] is True
    assert read.json()["sip_invitation_sent_at"] is None
    plan = await give_consent(client, auth, plan)
    start = now_utc() + timedelta(days=2)
    plan = await act(client, auth, plan, "meetings", {"starts_at": iso(start), "ends_at": iso(start + timedelta(
        hours=1)), "video_link": "https://video.example/sip"})
    read = (await client.get(f"/api/v1/cases/{case['id']}", headers=auth(OWNER_USER))).json()
    assert read["sip_invitation_sent_at"] is not None
    assert read["sip_invitation_sent_at"][:19] == plan["first_invitation_sent_at"][:19]
    assert read["sip_plan_id"] == plan["id"]  # the case names its plan
    # The case view finds the plan opened from it by one indexed filter, not by listing every plan.
    listed = await client.get("/api/v1/sip-plans", params={"case_id": case["id"]}, headers=auth(OWNER_USER))
    assert [p["id"] for p in listed.json()["items"]] == [plan["id"]]
    other = await client.get("/api/v1/sip-plans", params={"case_id": "no-such-case"}, headers=auth(OWNER_USER))
    assert other.json()["items"] == []
    assert other.json()["total"] == 0
    # The case's event went to the case's units in the same transaction as the plan's.
    ward_feed = await client.get(f"/api/v1/units/{WARD}/events", params={"limit": 1000}, headers=nurse)
    types = [e["type"] for e in ward_feed.json()["items"] if e["aggregate_id"] == case["id"]]
    assert types[-1] == "SipInvitationSent"
    rows = await access_rows(backend, case["patient"]["id"])
    assert ("schedule_sip_meeting", RONNVIKEN) in [(a, u) for a, u, _ in rows]


async def test_idempotent_commands_and_creation(client: Client, auth: Auth) -> None:
    body = {"owner_unit_id": OWNER, "unit_ids": [MUNICIPAL], "person": patient(new_identity())}
    headers = {**auth(OWNER_USER), "Idempotency-Key": "sip-create-1"}
    first = await client.post("/api/v1/sip-plans", json=body, headers=headers)
    again = await client.post("/api/v1/sip-plans", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"]
    plan = first.json()
    key = {"Idempotency-Key": "sip-add-1"}
    added = await act(client, auth, plan, "items/needs", {"content": {"description": "Behov"}}, headers=key)
    repeated = await act(client, auth, plan, "items/needs", {"content": {"description": "Behov"}}, headers=key)
    assert added == repeated
    assert len((await get_plan(client, auth, plan["id"]))["contents"]["needs"]) == 1
    await act(client, auth, plan, "items/needs", {"content": {"description": "Annat"}}, headers=key, status=422)
    events = [e["type"] for e in plan_events(await feed(client, auth, OWNER), plan["id"])]
    assert events == ["SipPlanCreated", "SipItemAdded"]


async def test_protected_identity_is_masked(client: Client, auth: Auth) -> None:
    plan = await create_plan(client, auth, person=patient(new_identity(), name="Hemlig Person", address="Gömd 1",
                                                          protected_identity=True))
    plan = await act(client, auth, plan, "named-participants", {"expected_version": plan["version"],
                                                               "kind": "next_of_kin", "name": "Hemlig Anhörig"})
    text = str(plan)
    assert "Hemlig" not in text
    assert "Gömd" not in text
    assert plan["person"]["name"] == "Skyddad identitet"
    assert plan["named_participants"][0]["name"] == "Skyddad identitet"


async def test_bad_input_gets_problem_details(client: Client, auth: Auth) -> None:
    plan = await give_consent(client, auth, await create_plan(client, auth))
    base = f"/api/v1/sip-plans/{plan['id']}"
    headers = auth(OWNER_USER)
    cases = [
        ("items/diagnoses", {"content": {"description": "x"}}, 400),
        ("fields/colour", {"value": "x", "expected_revision": 0}, 400),
        ("fields/next_follow_up_on", {"value": "imorgon", "expected_revision": 0}, 422),
        ("fields/next_follow_up_on", {"value": "2001-01-01", "expected_revision": 0}, 422),
        ("fields/own_contribution", {"value": "x", "expected_revision": -1}, 400),
        ("items/needs", {"content": {"description": "x", "by_whom": "skolan"}}, 422),
        ("items/needs", {"content": {"description": "   "}}, 422),
        ("items/needs", {"content": {"description": "x"}, "colour": "red"}, 400),
        ("items/needs/nope", {"content": {"description": "x"}, "expected_revision": 1}, 404),
        ("units", {"expected_version": plan["version"], "unit_id": "no-such-unit"}, 422),
        ("meetings", {"starts_at": "2020-01-01T10:00:00+01:00", "ends_at": "2020-01-01T11:00:00+01:00",
                      "place": "x"}, 422),
        ("meetings", {"starts_at": "2030-01-01T10:00:00", "ends_at": "2030-01-01T11:00:00", "place": "x"}, 400),
        ("consent", {"expected_version": plan["version"], "given_by": "the cat", "form": "verbal",
                     "scope_unit_ids": [], "given_at": iso(now_utc())}, 400),
    ]
    for path, body, status in cases:
        response = await client.post(f"{base}/{path}", json=body, headers=headers)
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": OWNER}, headers=headers)
    assert response.status_code == 422
    response = await client.post("/api/v1/sip-plans", json={"owner_unit_id": WARD, "person": patient(new_identity())},
                                 headers=headers)
    assert response.status_code == 403
    response = await client.get("/api/v1/sip-plans/no-such-plan", headers=headers)
    assert response.status_code == 404
