"""Zulip's `verify_action` for SIP plans: for every SIP command, each unit's list of plans as a snapshot plus
the unit's new events (applied the way a client does: refetch the plan each event names, acting for the unit,
or drop it on 404) equals a fresh fetch of the list, field by field.

Also checked for every command: positions are gapless; each event is in the feed of every observed unit it
names and of no other; events carry aggregate_type "sip_plan" and the plan's version after the command; a
unit hears only of plans it could see before or after; a unit that lost sight was told so by the event
itself (consent withdrawn or narrowed, unit removed), and hears nothing after; no event carries the person's
name, address or identity, nor the plan's free text; a command that changes nothing writes no event.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from server.schemas.sip import SipPlanSummary
from tests.server.conftest import iso, new_identity, now_utc, patient
from tests.server.sip_support import (
    HOME_CARE,
    MUNICIPAL,
    OUTSIDER,
    OWNER,
    USERS,
    Auth,
    Client,
    Json,
    act,
    create_plan,
    fill_required,
    give_consent,
    principal_of,
)

Board = dict[str, Json]
SUMMARY_FIELDS = SipPlanSummary.__struct_fields__
HEAD_ONLY = 2**53
SECRET_TEXT = "Hemlig text om Örjan"


@dataclass(frozen=True)
class Snapshot:
    head: int
    board: Board


class Api:
    def __init__(self, client: Client, auth: Auth) -> None:
        self.client, self.auth = client, auth

    async def board(self, unit: str) -> Board:
        response = await self.client.get("/api/v1/sip-plans", params={"unit_id": unit, "limit": 500},
                                         headers=self.auth(USERS[unit]))
        assert response.status_code == 200, response.text
        return {item["id"]: item for item in response.json()["items"]}

    async def feed(self, unit: str, after: int) -> Json:
        response = await self.client.get(f"/api/v1/units/{unit}/events", params={"after": after, "limit": 1000},
                                         headers=self.auth(USERS[unit]))
        assert response.status_code == 200, response.text
        page: Json = response.json()
        return page

    async def snapshot(self, unit: str) -> Snapshot:
        head = (await self.feed(unit, HEAD_ONLY))["head"]
        return Snapshot(head, await self.board(unit))

    async def summary(self, unit: str, plan_id: str) -> Json | None:
        response = await self.client.get(f"/api/v1/sip-plans/{plan_id}",
                                         headers={**self.auth(USERS[unit]), "X-Acting-Unit": unit})
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        plan = response.json()
        return {f: plan[f] for f in SUMMARY_FIELDS}


def told_lost(event: Json, unit: str) -> bool:
    data = event["data"]
    if unit == OWNER:
        return False
    return (event["type"] == "SipConsentWithdrawn"
            or (event["type"] == "SipConsentGiven" and unit not in data["scope_unit_ids"])
            or (event["type"] == "SipParticipantRemoved" and data["participant_id"] == unit))


async def apply_events(api: Api, unit: str, board: Board, events: list[Json]) -> Board:
    board = dict(board)
    fetched: dict[str, Json | None] = {}
    for event in events:
        plan_id = event["aggregate_id"]
        if plan_id not in fetched:
            fetched[plan_id] = await api.summary(unit, plan_id)
        current = fetched[plan_id]
        if current is None:
            board.pop(plan_id, None)
        else:
            board[plan_id] = current
    for plan_id, current in fetched.items():
        lost = [e for e in events if e["aggregate_id"] == plan_id and told_lost(e, unit)]
        assert (current is None) == bool(lost), (unit, [e["type"] for e in events])
        if lost:  # the unit's last word about the plan is the event that told it
            assert [e for e in events if e["aggregate_id"] == plan_id][-1] is lost[-1]
    return board


async def verify_action(api: Api, action: Callable[[], Awaitable[Json]], *, changes: bool = True) -> Json:
    units = list(USERS)
    before = dict(zip(units, await asyncio.gather(*(api.snapshot(u) for u in units)), strict=True))
    plan = await action()
    person = plan["person"]
    digits = re.sub(r"\D", "", person["identity"])
    secrets = [person["name"], person["identity"], digits, person["address"], SECRET_TEXT]
    seen: dict[str, list[Json]] = {}
    for unit in units:
        page = await api.feed(unit, before[unit].head)
        events = page["items"]
        assert [e["position"] for e in events] == list(range(before[unit].head + 1, page["head"] + 1)), unit
        seen[unit] = events
        fresh = await api.board(unit)
        applied = await apply_events(api, unit, before[unit].board, events)
        if fresh != before[unit].board:
            assert events, f"{unit}: the list changed without an event"
        assert applied == fresh, f"{USERS[unit]}: snapshot + events != fresh list"
        for event in events:
            assert (event["feed"], event["aggregate_type"]) == (f"unit:{unit}", "sip_plan")
            assert unit in event["unit_ids"]
            assert (event["aggregate_id"], event["aggregate_version"]) == (plan["id"], plan["version"])
            assert plan["id"] in before[unit].board or plan["id"] in fresh or told_lost(event, unit)
            text = json.dumps(event, ensure_ascii=False)
            assert not [s for s in secrets if s and s in text], f"{event['type']} carries personal data"
    if changes:
        assert seen[OWNER], "the owner sees every change of its plan"
    else:
        assert not any(seen.values()), "a command that changed nothing wrote events"
    for events in seen.values():
        for event in events:
            for unit in set(event["unit_ids"]) & set(units):
                assert event["event_id"] in {e["event_id"] for e in seen[unit]}
    assert not seen[OUTSIDER] or all(OUTSIDER in e["unit_ids"] for e in seen[OUTSIDER])
    return plan


# ----- scenarios ----------------------------------------------------------------------------------------------

Body = Callable[[Json], Json]


@dataclass(frozen=True)
class Scenario:
    user: str
    path: str
    body: Body
    setup: tuple[tuple[str, str, Body], ...] = ()
    consent: bool = True
    filled: bool = False
    changes: bool = True


def version(plan: Json, **more: Any) -> Json:
    return {"expected_version": plan["version"], **more}


def meeting_body(_plan: Json) -> Json:
    start = now_utc() + timedelta(days=2)
    return {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)), "place": SECRET_TEXT}


def first_meeting(plan: Json) -> str:
    return str(plan["meetings"][0]["id"])


def need(plan: Json) -> Json:
    return dict(plan["contents"]["needs"][0])


def approve(plan: Json) -> Json:
    return {"content_revision": plan["content_revision"]}


SCHEDULE = ("care.contact", "meetings", meeting_body)
ADD_NEED = ("care.contact", "items/needs", lambda _p: {"content": {"description": SECRET_TEXT}})
FIRST_APPROVAL = ("care.contact", "approvals", approve)
SCENARIOS: dict[str, Scenario] = {
    "consent": Scenario("care.contact", "consent", lambda p: version(
        p, given_by="person", form="written", scope_unit_ids=[MUNICIPAL, HOME_CARE],
        given_at=iso(now_utc() - timedelta(minutes=5))), consent=False),
    "consent-narrowed": Scenario("needs.assessor", "consent", lambda p: version(
        p, given_by="person", form="verbal", scope_unit_ids=[MUNICIPAL], given_at=iso(now_utc()))),
    "consent-withdrawal": Scenario("municipal.nurse", "consent-withdrawal", lambda _p: {}, setup=(SCHEDULE,)),
    "field": Scenario("municipal.nurse", "fields/own_contribution",
                      lambda p: {"value": SECRET_TEXT, "expected_revision": 0}),
    "field-same-value": Scenario("municipal.nurse", "fields/own_contribution",
                                 lambda p: {"value": SECRET_TEXT, "expected_revision": 0}, changes=False,
                                 setup=(("care.contact", "fields/own_contribution",
                                         lambda p: {"value": SECRET_TEXT, "expected_revision": 0}),)),
    "field-date": Scenario("needs.assessor", "fields/next_follow_up_on", lambda p: {
        "value": (now_utc() + timedelta(days=20)).date().isoformat(), "expected_revision": 0}),
    "item-add": Scenario("needs.assessor", "items/needs", lambda _p: {"content": {"description": SECRET_TEXT}}),
    "item-change": Scenario("municipal.nurse", "items/needs/{need}", lambda p: {
        "content": {"description": SECRET_TEXT + " 2"}, "expected_revision": need(p)["revision"]}, setup=(ADD_NEED,)),
    "item-removal": Scenario("municipal.nurse", "items/needs/{need}/removal",
                             lambda p: {"expected_revision": need(p)["revision"]}, setup=(ADD_NEED,)),
    "unit-added": Scenario("care.contact", "units", lambda p: version(p, unit_id=OUTSIDER)),
    "unit-removed": Scenario("care.contact", "participant-removal", lambda p: version(p, participant_id=HOME_CARE)),
    "named-participant": Scenario("care.contact", "named-participants", lambda p: version(
        p, kind="next_of_kin", name=SECRET_TEXT)),
    "meeting": Scenario("care.contact", "meetings", meeting_body),
    "meeting-rescheduled": Scenario("needs.assessor", "meetings/{meeting}/rescheduling", lambda p: version(
        p, starts_at=iso(now_utc() + timedelta(days=4)), ends_at=iso(now_utc() + timedelta(days=4, hours=1))),
        setup=(SCHEDULE,)),
    "meeting-cancelled": Scenario("care.contact", "meetings/{meeting}/cancellation", version, setup=(SCHEDULE,)),
    "meeting-answered": Scenario("municipal.nurse", "meetings/{meeting}/answers", lambda _p: {"answer": "accepted"},
                                 setup=(SCHEDULE,)),
    "approval": Scenario("care.contact", "approvals", approve, filled=True),
    "agreement": Scenario("needs.assessor", "approvals", approve, filled=True, setup=(FIRST_APPROVAL,)),
    "follow-up": Scenario("care.contact", "follow-ups", lambda p: version(p, held_at=p["versions"][-1]["agreed_at"]),
                          filled=True, setup=(FIRST_APPROVAL, ("needs.assessor", "approvals", approve))),
    "hand-over": Scenario("care.contact", "ownership", lambda p: version(p, unit_id=MUNICIPAL)),
    "closure": Scenario("care.contact", "closure", lambda p: version(p, reason="no_longer_needed")),
}


def resolve(path: str, plan: Json) -> str:
    if "{need}" in path:
        path = path.replace("{need}", need(plan)["id"])
    if "{meeting}" in path:
        path = path.replace("{meeting}", first_meeting(plan))
    return path


async def test_creating_a_plan(client: Client, auth: Auth) -> None:
    api = Api(client, auth)
    plan = await verify_action(api, lambda: create_plan(client, auth))
    assert plan["version"] == 1


@pytest.mark.parametrize("name", SCENARIOS)
async def test_snapshot_plus_events_equals_fresh_fetch(client: Client, auth: Auth, name: str) -> None:
    api = Api(client, auth)
    # Another plan on every observer's list, which no command on this plan may disturb.
    other = await give_consent(client, auth, await create_plan(client, auth, units=(MUNICIPAL, HOME_CARE)))
    assert other["version"] == 2
    scenario = SCENARIOS[name]
    plan = await create_plan(client, auth, person=patient(new_identity(), name="Örjan Hemlig", address="Gatan 1"))
    if scenario.consent:
        plan = await give_consent(client, auth, plan)
    if scenario.filled:
        plan = await fill_required(client, auth, plan)
        assert principal_of(plan, OWNER)
    for user, path, body in scenario.setup:
        plan = await act(client, auth, plan, resolve(path, plan), body(plan), user=user)
    current = plan

    async def run() -> Json:
        result = await act(client, auth, current, resolve(scenario.path, current), scenario.body(current),
                           user=scenario.user)
        expected = current["version"] + (1 if scenario.changes else 0)
        assert result["version"] == expected
        return result

    await verify_action(api, run, changes=scenario.changes)
