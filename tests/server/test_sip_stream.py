"""The event stream and SIP plans: a unit's stream carries the plan's events while the unit sees the plan;
on consent withdrawal it gets `SipConsentWithdrawn` and nothing after about that plan (the same rule as REST).

The app runs in Litestar's TestClient (one app, its own runtime and in-memory broker) in a thread; every call
goes through that client so that its writes reach its stream. No sleeps: "nothing after" is shown by a later
marker event (a change to another plan the unit sees) arriving with nothing about the first plan before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
from litestar.testing import TestClient

from server.api.app import create_app
from tests.conftest import Backend
from tests.server.conftest import iso, new_identity, now_utc, patient
from tests.server.conftest import test_settings as settings_for
from tests.server.sip_support import HOME_CARE, MUNICIPAL, OWNER, USERS

Json = dict[str, Any]


def _scenario(backend: Backend, token: Callable[[str], str]) -> list[Json]:
    headers = {unit: {"Authorization": f"Bearer {token(user)}"} for unit, user in USERS.items()}

    def post(client: TestClient[Any], unit: str, path: str, body: Json, status: int = 200) -> Json:
        response = client.post(f"/api/v1/{path}", json=body, headers=headers[unit])
        assert response.status_code == status, response.text
        result: Json = response.json()
        return result

    def plan_with_consent(client: TestClient[Any]) -> Json:
        plan = post(client, OWNER, "sip-plans", {"owner_unit_id": OWNER, "unit_ids": [MUNICIPAL, HOME_CARE],
                                                 "person": patient(new_identity())}, 201)
        return post(client, OWNER, f"sip-plans/{plan['id']}/consent", {
            "expected_version": plan["version"], "given_by": "person", "form": "verbal",
            "scope_unit_ids": [MUNICIPAL, HOME_CARE], "given_at": iso(now_utc() - timedelta(minutes=1))})

    received: list[Json] = []
    with TestClient(create_app(settings_for(backend))) as client:
        plan, marker = plan_with_consent(client), plan_with_consent(client)
        with client.websocket_connect("/api/v1/events") as socket:
            socket.send_text(msgspec.json.encode({"op": "auth", "token": token(USERS[MUNICIPAL])}).decode())
            assert msgspec.json.decode(socket.receive_text())["op"] == "authenticated"
            socket.send_text(msgspec.json.encode({"op": "subscribe", "feeds": {f"unit:{MUNICIPAL}": None}}).decode())
            while msgspec.json.decode(socket.receive_text())["op"] != "subscribed":  # subscribed before any write
                pass
            start = now_utc() + timedelta(days=1)
            post(client, OWNER, f"sip-plans/{plan['id']}/fields/own_contribution",
                 {"value": "Promenerar", "expected_revision": 0})
            post(client, HOME_CARE, f"sip-plans/{plan['id']}/meetings",
                 {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)), "place": "Hemma"})
            post(client, HOME_CARE, f"sip-plans/{plan['id']}/consent-withdrawal", {})
            current = client.get(f"/api/v1/sip-plans/{plan['id']}", headers=headers[OWNER]).json()
            post(client, OWNER, f"sip-plans/{plan['id']}/closure",
                 {"expected_version": current["version"], "reason": "consent_withdrawn"})
            post(client, OWNER, f"sip-plans/{marker['id']}/items/goals", {"content": {"description": "Markör"}})
            while True:
                frame = msgspec.json.decode(socket.receive_text())
                if frame["op"] != "event":
                    continue
                received.append(frame["event"])
                if frame["event"]["aggregate_id"] == marker["id"] and frame["event"]["type"] == "SipItemAdded":
                    break
        assert client.get(f"/api/v1/sip-plans/{plan['id']}", headers=headers[MUNICIPAL]).status_code == 404
    return [{**e, "plan": "plan" if e["aggregate_id"] == plan["id"] else "marker"} for e in received]


async def test_a_unit_hears_nothing_after_consent_is_withdrawn(backend: Backend, token: Callable[..., str]) -> None:
    events = await asyncio.to_thread(_scenario, backend, token)
    about_plan = [e["type"] for e in events if e["plan"] == "plan"]
    assert about_plan[:2] == ["SipFieldChanged", "SipMeetingScheduled"]
    assert about_plan[-1] == "SipConsentWithdrawn"
    assert "SipMeetingCancelled" in about_plan
    assert "SipPlanClosed" not in about_plan
    assert all(e["feed"] == f"unit:{MUNICIPAL}" and e["aggregate_type"] == "sip_plan" for e in events)
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)


def _presence_scenario(backend: Backend, token: Callable[[str], str]) -> tuple[Json, Json, str]:
    """The owner's user edits a field of the plan; a user of another unit that sees the plan follows its feed."""
    headers = {unit: {"Authorization": f"Bearer {token(user)}"} for unit, user in USERS.items()}
    with TestClient(create_app(settings_for(backend))) as client:
        plan = client.post("/api/v1/sip-plans", headers=headers[OWNER], json={
            "owner_unit_id": OWNER, "unit_ids": [MUNICIPAL], "person": patient(new_identity())}).json()
        plan = client.post(f"/api/v1/sip-plans/{plan['id']}/consent", headers=headers[OWNER], json={
            "expected_version": plan["version"], "given_by": "person", "form": "verbal",
            "scope_unit_ids": [MUNICIPAL], "given_at": iso(now_utc() - timedelta(minutes=1))}).json()

        def connect(unit: str) -> Any:
            socket = client.websocket_connect("/api/v1/events").__enter__()
            socket.send_text(msgspec.json.encode({"op": "auth", "token": token(USERS[unit])}).decode())
            assert msgspec.json.decode(socket.receive_text())["op"] == "authenticated"
            socket.send_text(msgspec.json.encode({"op": "subscribe", "feeds": {f"unit:{unit}": None}}).decode())
            while msgspec.json.decode(socket.receive_text())["op"] != "subscribed":
                pass
            return socket

        watcher, editor = connect(MUNICIPAL), connect(OWNER)
        try:
            editor.send_text(msgspec.json.encode({"op": "presence", "case_id": plan["id"], "state": "editing",
                                                  "field": "own_contribution"}).decode())
            # The editor follows a feed of the plan too: it hears its own presence, or an error (never silence),
            # so a refused presence fails here instead of leaving the watcher waiting.
            while (answer := msgspec.json.decode(editor.receive_text()))["op"] not in ("presence", "error"):
                pass
            assert answer["op"] == "presence", answer
            while (frame := msgspec.json.decode(watcher.receive_text()))["op"] != "presence":
                pass
            stranger = client.websocket_connect("/api/v1/events").__enter__()
            stranger.send_text(msgspec.json.encode({"op": "auth", "token": token("ward.nurse")}).decode())
            assert msgspec.json.decode(stranger.receive_text())["op"] == "authenticated"
            stranger.send_text(msgspec.json.encode({"op": "presence", "case_id": plan["id"],
                                                    "state": "viewing"}).decode())
            while (refused := msgspec.json.decode(stranger.receive_text()))["op"] != "error":
                pass
            stranger.__exit__(None, None, None)
        finally:
            editor.__exit__(None, None, None)
            watcher.__exit__(None, None, None)
        return frame, refused, str(plan["id"])


async def test_presence_on_a_plan_reaches_the_units_that_see_it_and_no_one_else(
        backend: Backend, token: Callable[..., str]) -> None:
    frame, refused, plan_id = await asyncio.to_thread(_presence_scenario, backend, token)
    assert frame["case_id"] == plan_id
    [viewer] = frame["viewers"]
    assert (viewer["unit_id"], viewer["state"], viewer["field"]) == (OWNER, "editing", "own_contribution")
    assert refused["code"] == "not_found"
