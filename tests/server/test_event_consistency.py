"""Zulip's `verify_action` for Samplan: for every action, old board + the unit's events == a fresh board.

For each observed unit, `verify_action` takes a snapshot (feed head first, then the board, Zulip's order),
performs the action, reads the unit's feed after the snapshot's head and applies the events the way a client
does: events are thin, so for each event the client refetches the case it names (acting for its unit) and
replaces that board row with the case's summary fields, or drops the row when the case answers 404 (the unit
lost access). The result must equal a fresh fetch of the board, field by field. Refetches are cached per case
within one batch of events: refetching the same case again would give the same answer.

Also checked for every action: positions are gapless; each event names the unit whose feed holds it and is in
the feed of every observed unit it names; every event carries the case's version after the action; a unit
gets events only about cases it could see before or after; a unit that lost access was told so by the event;
a unit whose board changed got at least one event; no event carries the patient's name, address or identity;
an action that changes nothing (acknowledging twice) keeps the version and writes no event.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from server.api.cases import COMMAND_ROUTES
from server.demo.seed import stable_id
from server.schemas.cases import CaseSummary
from tests.server.conftest import (
    DISCHARGE_CONTENT,
    RONNVIKEN,
    SODERMALM,
    SOLNA_HOME_CARE,
    SOLNA_INTAKE,
    WARD,
    iso,
    new_identity,
    now_utc,
    patient,
    register,
)

Json = dict[str, Any]
Board = dict[str, Json]
Auth = Callable[[str], dict[str, str]]

# Every unit concerned, each with a demo user who works there: the ward, the municipal intake unit and the
# primary care unit the routing picks, the municipal unit that gains access by forwarding or being added,
# and a unit of another municipality that must hear nothing of the case.
OBSERVERS = {WARD: "ward.nurse", SOLNA_INTAKE: "needs.assessor", RONNVIKEN: "care.contact",
             SOLNA_HOME_CARE: "municipal.nurse", SODERMALM: "stockholm.assessor"}
SUMMARY_FIELDS = CaseSummary.__struct_fields__
# Events that tell a unit it lost access to a case, and the field that names the unit.
LOSES_ACCESS = {"ParticipantRemoved": "unit_id", "CaseForwarded": "from_unit_id", "CaseRejected": "unit_id"}
HEAD_ONLY = 2**53  # `after` beyond any position: the feed page carries only the head


# ----- the check ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    head: int
    board: Board


class Api:
    """The few calls a client of one unit makes: its board, its feed, one case; and the actions."""

    def __init__(self, client: httpx.AsyncClient, auth: Auth) -> None:
        self.client = client
        self.headers = {unit: auth(user) for unit, user in OBSERVERS.items()}
        self.auth = auth

    async def board(self, unit: str) -> Board:
        response = await self.client.get("/api/v1/cases", params={"unit_id": unit, "limit": 500},
                                         headers=self.headers[unit])
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(page["items"])
        return {item["id"]: item for item in page["items"]}

    async def feed(self, unit: str, after: int) -> Json:
        response = await self.client.get(f"/api/v1/units/{unit}/events", params={"after": after, "limit": 1000},
                                         headers=self.headers[unit])
        assert response.status_code == 200, response.text
        page: Json = response.json()
        return page

    async def snapshot(self, unit: str) -> Snapshot:
        head = (await self.feed(unit, HEAD_ONLY))["head"]  # position first, then the state (Zulip's order)
        return Snapshot(head, await self.board(unit))

    async def summary(self, unit: str, case_id: str) -> Json | None:
        """The case as the unit reads it, cut to the board's fields; None when the unit cannot read it."""
        response = await self.client.get(f"/api/v1/cases/{case_id}",
                                         headers={**self.headers[unit], "X-Acting-Unit": unit})
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        case = response.json()
        return {field: case[field] for field in SUMMARY_FIELDS}

    async def act(self, user: str, case: Json, path: str, body: Json, *, changes: bool = True) -> Json:
        response = await self.client.post(f"/api/v1/cases/{case['id']}/{path}",
                                          json={"expected_version": case["version"], **body},
                                          headers=self.auth(user))
        assert response.status_code == 200, response.text
        result: Json = response.json()
        assert result["version"] == case["version"] + (1 if changes else 0)
        return result


async def apply_events(api: Api, unit: str, board: Board, events: list[Json]) -> Board:
    """What a client of the unit does with a batch of thin events: refetch each case named, or drop it."""
    board = dict(board)
    fetched: dict[str, Json | None] = {}
    for event in events:
        case_id = event["aggregate_id"]
        if case_id not in fetched:
            fetched[case_id] = await api.summary(unit, case_id)
        current = fetched[case_id]
        if current is None:
            board.pop(case_id, None)
        else:
            board[case_id] = current
    for case_id, current in fetched.items():
        told_lost = [e for e in events if e["aggregate_id"] == case_id
                     and e["data"].get(LOSES_ACCESS.get(e["type"], "")) == unit]
        assert (current is None) == bool(told_lost), (
            f"{OBSERVERS[unit]}: can read the case: {current is not None}, but the events said it lost access: "
            f"{[e['type'] for e in told_lost]}")
    return board


def personal_data(case: Json) -> list[str]:
    """Strings that must never appear in an event: the name (and its parts), address and identity number."""
    person = case["patient"]
    digits = re.sub(r"\D", "", person["identity"])
    secrets = [person["name"], person["identity"], digits, digits[-10:], person["address"]]
    secrets += [part for part in person["name"].split() if len(part) >= 4]
    return [s for s in secrets if s]


@dataclass(frozen=True)
class Observed:
    events: list[Json]
    applied: Board
    fresh: Board


async def observe(api: Api, unit: str, snapshot: Snapshot) -> Observed:
    """After the action: the unit's new events, the snapshot with them applied, and a fresh board."""
    page = await api.feed(unit, snapshot.head)
    events = page["items"]
    assert [e["position"] for e in events] == list(range(snapshot.head + 1, page["head"] + 1)), OBSERVERS[unit]
    return Observed(events, await apply_events(api, unit, snapshot.board, events), await api.board(unit))


async def verify_action(api: Api, action: Callable[[], Awaitable[Json]], *, changes: bool = True) -> Json:
    """Run the action; for every observed unit, snapshot + its new events must equal a fresh board."""
    units = list(OBSERVERS)
    before = dict(zip(units, await asyncio.gather(*(api.snapshot(u) for u in units)), strict=True))
    case = await action()
    after = dict(zip(units, await asyncio.gather(*(observe(api, u, before[u]) for u in units)), strict=True))
    secrets = personal_data(case)
    feeds = {unit: seen.events for unit, seen in after.items()}
    for unit, snapshot in before.items():
        who, events, fresh = OBSERVERS[unit], after[unit].events, after[unit].fresh
        if fresh != snapshot.board:
            assert events, f"{who}: the board changed without an event in the unit's feed"
        assert after[unit].applied == fresh, f"{who}: snapshot + events != fresh board"
        for event in events:
            assert event["feed"] == f"unit:{unit}", who
            assert unit in event["unit_ids"], who
            assert event["aggregate_type"] == "discharge_case"
            assert event["aggregate_id"] == case["id"], who
            assert event["aggregate_version"] == case["version"], (who, event["type"])
            assert case["id"] in snapshot.board or case["id"] in fresh, (
                f"{who}: an event about a case the unit could see neither before nor after")
            text = json.dumps(event, ensure_ascii=False)
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{event['type']} carries personal data"
    if changes:
        assert feeds[WARD], "the ward takes part in every case: it hears of every action"
    else:
        assert not any(feeds.values()), "an action that changed nothing wrote events"
    by_id = {e["event_id"]: e for events in feeds.values() for e in events}
    for event_id, event in by_id.items():
        for unit in set(event["unit_ids"]) & set(OBSERVERS):
            assert event_id in {e["event_id"] for e in feeds[unit]}, f"{event['type']} missing in {OBSERVERS[unit]}"
    return case


# ----- the actions ------------------------------------------------------------------------------------------

REGISTER = "register"


@dataclass(frozen=True)
class Step:
    user: str
    path: str
    body: Callable[[], Json] = dict


@dataclass(frozen=True)
class Scenario:
    action: Step
    setup: tuple[Step, ...]
    changes: bool  # False: a repeated action that changes nothing (no new version, no event)


ADMISSION = Step("ward.nurse", "admission-notice")
READY = Step("ward.nurse", "ready-for-discharge")
SENT = (ADMISSION,)


def scenario(user: str, path: str, body: Callable[[], Json] = dict, setup: tuple[Step, ...] = SENT,
             changes: bool = True) -> Scenario:
    return Scenario(Step(user, path, body), setup, changes)


SCENARIOS: dict[str, Scenario] = {
    REGISTER: scenario("ward.nurse", REGISTER, setup=()),
    "admission-notice": scenario("ward.nurse", "admission-notice", setup=()),
    "needs-identified": scenario("ward.nurse", "needs-identified",
                                 lambda: {"at": iso(now_utc() - timedelta(hours=1))}, setup=()),
    "acknowledgements": scenario("needs.assessor", "acknowledgements"),
    "acknowledgements-again": scenario("needs.assessor", "acknowledgements", changes=False,
                                       setup=(ADMISSION, Step("needs.assessor", "acknowledgements"))),
    "forwarding": scenario("needs.assessor", "forwarding", lambda: {"to_unit_id": SOLNA_HOME_CARE}),
    "rejection": scenario("care.contact", "rejection", lambda: {"reason": "not_listed_here"}),
    "participants": scenario("ward.nurse", "participants", lambda: {"unit_id": SOLNA_HOME_CARE}),
    "participants-draft": scenario("ward.nurse", "participants", lambda: {"unit_id": SOLNA_HOME_CARE}, setup=()),
    "participants-other-municipality": scenario("ward.nurse", "participants", lambda: {"unit_id": SODERMALM}),
    "participant-removal": scenario("ward.nurse", "participant-removal", lambda: {"unit_id": SOLNA_INTAKE}),
    "participant-removal-draft": scenario("ward.nurse", "participant-removal", lambda: {"unit_id": SOLNA_INTAKE},
                                          setup=()),
    "named-care-contact": scenario("care.contact", "named-care-contact",
                                   lambda: {"contact_user_id": stable_id("user", "care.contact")}),
    "estimated-discharge": scenario("ward.nurse", "estimated-discharge",
                                    lambda: {"estimated_discharge_at": iso(now_utc() + timedelta(days=3))}),
    "planning": scenario("needs.assessor", "planning", lambda: {
        "current_services": "Hemtjänst", "expected_needs": ["home_help"], "notes": "Testsson vill hem"}),
    "ready-for-discharge": scenario("ward.nurse", "ready-for-discharge"),
    "ready-for-discharge-withdrawal": scenario("ward.nurse", "ready-for-discharge-withdrawal",
                                              setup=(ADMISSION, READY)),
    "sip-applicability": scenario("needs.assessor", "sip-applicability", lambda: {"applies": True}),
    "sip-invitation": scenario("care.contact", "sip-invitation"),
    "liability-facts": scenario("ward.nurse", "liability-facts",
                                lambda: {"patient_refused_services": True, "outpatient_services_missing": False}),
    "home-readiness": scenario("ward.nurse", "home-readiness", lambda: {
        "medicines_secured": True, "aids_in_place": True, "patient_informed": True, "next_provider_informed": True}),
    "leave": scenario("ward.nurse", "leave"),
    "leave-end": scenario("ward.nurse", "leave-end", setup=(ADMISSION, Step("ward.nurse", "leave"))),
    "discharge-notice": scenario("ward.nurse", "discharge-notice", lambda: {"discharged_at": iso(now_utc()),
                                                                                    **DISCHARGE_CONTENT},
                                 setup=(ADMISSION, READY)),
    "interruption": scenario("ward.nurse", "interruption", lambda: {"reason": "died"}, setup=(ADMISSION, READY)),
    "cancellation": scenario("ward.nurse", "cancellation"),
    "cancellation-draft": scenario("ward.nurse", "cancellation", setup=()),
    "closure": scenario("ward.nurse", "closure", setup=(
        ADMISSION, READY, Step("ward.nurse", "discharge-notice", lambda: {"discharged_at": iso(now_utc()),
                                                               **DISCHARGE_CONTENT}))),
}


def test_every_command_route_has_a_scenario() -> None:
    routes = {path.rsplit("/", 1)[1] for route in COMMAND_ROUTES for path in route.paths}
    assert {s.action.path for s in SCENARIOS.values()} == routes | {REGISTER}


@pytest.mark.parametrize("name", SCENARIOS)
async def test_snapshot_plus_events_equals_fresh_fetch(client: httpx.AsyncClient, auth: Auth, name: str) -> None:
    api = Api(client, auth)
    nurse = auth("ward.nurse")
    # Another case on the ward's, Rönnviken's and Södermalm's boards, which no action may disturb.
    other = await register(client, nurse, receiving_unit_ids=[SODERMALM, RONNVIKEN],
                           patient=patient(new_identity(), municipality_code="0180"))
    await api.act("ward.nurse", other, "admission-notice", {})

    plan = SCENARIOS[name]
    if plan.action.path == REGISTER:
        case = await verify_action(api, lambda: register(client, nurse))
        assert case["version"] == 1
        return
    case = await register(client, nurse)
    for step in plan.setup:
        case = await api.act(step.user, case, step.path, step.body())
    action = plan.action
    await verify_action(api, lambda: api.act(action.user, case, action.path, action.body(), changes=plan.changes),
                        changes=plan.changes)



# ----- planning edits guarded per field (not a versioned command route) ----------------------------------------

@pytest.mark.parametrize("repeat", [False, True], ids=["change", "same-value-again"])
async def test_planning_field_edits_emit_their_event(client: httpx.AsyncClient, auth: Auth, repeat: bool) -> None:
    """A per-field planning edit commits its event with the change (and an edit that changes nothing, none)."""
    api = Api(client, auth)
    case = await api.act("ward.nurse", await register(client, auth("ward.nurse")), "admission-notice", {})
    body = {"fields": {"notes": {"value": "Vill hem", "expected_revision": 0},
                       "expected_needs": {"value": ["home_help"], "expected_revision": 0}}}
    path = f"/api/v1/cases/{case['id']}/planning/fields"

    async def edit() -> Json:
        response = await client.post(path, json=body, headers=auth("needs.assessor"))
        assert response.status_code == 200, response.text
        result: Json = response.json()
        return result

    if repeat:
        case = await edit()
    head = (await api.feed(WARD, HEAD_ONLY))["head"]
    changed = await verify_action(api, edit, changes=not repeat)
    assert changed["version"] == case["version"] + (0 if repeat else 1)
    events = (await api.feed(WARD, head))["items"]
    if not repeat:
        assert [(e["type"], e["data"]["unit_id"], e["data"]["fields"]) for e in events] == [
            ("PlanningUpdated", SOLNA_INTAKE, ["expected_needs", "notes"])]
