"""The SIP meeting room's structural parts with NiceGUI's simulated user against the real API: meetings
(calling, answers, live in another participant's room), consent (recording, withdrawal ending sharing), follow-up
and closing, comparing agreed versions, exports; and the room's inputs following the plan's state live."""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from nicegui import storage, ui
from nicegui.testing import User

from tests.server.conftest import iso
from tests.server.sip_support import (
    HOME_CARE,
    MUNICIPAL,
    MUNICIPAL_USER,
    OWNER,
    OWNER_USER,
    act,
    agree,
    get_plan,
    give_consent,
    principal_of,
)
from tests.ui.conftest import eventually
from tests.ui.test_sip_room import element, open_room, ready_plan

Auth = Callable[[str], dict[str, str]]
Json = dict[str, Any]


def texts(user: User, marker: str) -> str:
    """Every text inside the element with this marker (labels, buttons), joined."""
    with user:
        root = element(user, marker)
        found = [str(getattr(e, "text", "") or getattr(e, "content", "") or "") for e in root.descendants()]
    return " | ".join(t for t in found if t)


def click(user: User, marker: str) -> None:
    """Click as this simulated user. (The simulation runs a click's handler in the test's context, whose request,
    and so `app.storage.user` holding the session, is that of the last page any simulated user opened.)"""
    assert user.client is not None
    storage.request_contextvar.set(user.client.request)
    user.find(marker=marker).click()


def enabled(user: User, marker: str) -> bool:
    return bool(element(user, marker).enabled)


async def test_a_meeting_is_called_answered_and_shown_live_in_the_other_room(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    other = create_user()
    await open_room(other, OWNER_USER, plan)
    await other.should_see("Inget möte är inbokat än.")

    click(user, "schedule-meeting")
    await user.should_see("Kalla till SIP-möte")
    assert element(user, f"invite-{HOME_CARE}").value is True
    element(user, "meeting-place").set_value("")
    element(user, "meeting-link").set_value("http://olåst.example")
    click(user, "send-invitation")
    await eventually(lambda: "https-länk" in element(user, "send-invitation-note").text, "the refusal in Swedish")
    element(user, "meeting-link").set_value("https://video.example/sip-42")
    element(user, "meeting-place").set_value("Vårdcentralen Rönnviken, rum 3")
    click(user, "send-invitation")
    await eventually(lambda: "Vårdcentralen Rönnviken, rum 3" in texts(user, "meetings"), "the meeting shown")

    # The owner's room shows it by itself, with every invitee pending.
    await eventually(lambda: "Vårdcentralen Rönnviken, rum 3" in texts(other, "meetings"), "the meeting, live")
    meeting = (await get_plan(http, auth, plan["id"]))["meetings"][0]
    assert {i["ref"] for i in meeting["invitations"]} == {MUNICIPAL, HOME_CARE, OWNER, "person"}
    assert element(other, f"answer-{meeting['id']}-{OWNER}").text == "Inget svar än"
    # A unit answers only for itself: the owner has buttons for Rönnviken and the person, none for Solna's units.
    click(other, f"answer-{meeting['id']}-{OWNER}-accepted")
    await eventually(lambda: element(user, f"answer-{meeting['id']}-{OWNER}").text == "Kommer",
                     "the owner's answer in the other room")
    with other:
        assert not [e for e in ui.context.client.elements.values()
                    if f"answer-{meeting['id']}-{MUNICIPAL}-accepted" in e._markers]
    click(user, f"answer-{meeting['id']}-person-declined")
    await eventually(lambda: element(other, f"answer-{meeting['id']}-person").text == "Kommer inte",
                     "the person's answer recorded by the municipality, live")
    answers = {i["ref"]: i["answer"] for i in (await get_plan(http, auth, plan["id"]))["meetings"][0]["invitations"]}
    assert (answers[OWNER], answers["person"], answers[MUNICIPAL]) == ("accepted", "declined", "pending")

    # Cancelling it shows everywhere.
    click(other, f"cancel-{meeting['id']}")
    click(other, "confirm-cancel-meeting")
    await eventually(lambda: "Inställt" in texts(user, "meetings"), "the cancellation, live")


async def test_a_meeting_whose_end_passes_loses_its_buttons_without_a_change_of_the_plan(
        user: User, http: httpx.AsyncClient, auth: Auth, monkeypatch: Any) -> None:
    """Time alone closes a meeting: the room redraws it when its end passes (no plan change, no reload)."""
    plan = await ready_plan(http, auth)
    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    plan = await act(http, auth, plan, "meetings", {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=1)),
                                                    "place": "Vårdcentralen", "invite_person": True})
    meeting = plan["meetings"][0]
    # The room's clock three seconds before the meeting ends (the module as the running app has it).
    meetings = importlib.import_module("ui.pages.sip_room.meetings")
    shift = start + timedelta(hours=1, seconds=-3) - datetime.now(UTC)
    monkeypatch.setattr(meetings, "now", lambda: datetime.now(UTC) + shift)
    await open_room(user, OWNER_USER, plan)
    await eventually(lambda: enabled(user, f"cancel-{meeting['id']}"), "the open meeting's buttons")
    assert enabled(user, f"answer-{meeting['id']}-person-accepted")
    await eventually(lambda: "Mötet har varit." in texts(user, "meetings"), "the meeting over, by time alone")
    with user:
        markers = {m for e in ui.context.client.elements.values() for m in e._markers}
    assert not {f"cancel-{meeting['id']}", f"reschedule-{meeting['id']}",
                f"answer-{meeting['id']}-person-accepted"} & markers


async def test_consent_is_recorded_and_its_withdrawal_ends_sharing_in_every_open_room(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, OWNER_USER, plan)
    other = create_user()
    await open_room(other, MUNICIPAL_USER, plan)
    assert "Samtycke gäller" in texts(user, "consent")

    # A new consent that leaves Solna's home care out (the owner is always in it).
    click(user, "give-consent")
    await user.should_see("Registrera samtycke")
    assert not enabled(user, f"scope-{OWNER}")
    element(user, f"scope-{HOME_CARE}").set_value(False)
    element(user, "consent-form").set_value("written")
    click(user, "save-consent")
    await eventually(lambda: "Skriftligt" in texts(other, "consent"), "the new consent in the other room")
    assert "Omfattas inte av samtycket" in texts(other, "consent")
    assert "Tidigare samtycken" in texts(other, "consent")
    current = await get_plan(http, auth, plan["id"])
    assert set(current["consent"]["scope_unit_ids"]) == {OWNER, MUNICIPAL}

    # The municipality types in a field; then the owner records the withdrawal.
    own = element(other, "field-own_contribution-value")
    own.set_value("Handlar själv")
    click(user, "withdraw-consent")
    click(user, "confirm-withdraw")
    await eventually(lambda: "Samtycket är återkallat" in element(user, "room-state").text, "the owner's note")
    assert not enabled(user, "field-own_contribution-value")
    assert enabled(user, "give-consent")  # new consent resumes sharing
    # The municipality no longer sees the plan: its room turns read-only in place, the typed text stays.
    await eventually(lambda: "inte längre synlig" in element(other, "room-state").text, "read-only in the other room")
    assert not enabled(other, "field-own_contribution-value")
    assert not enabled(other, "save-field-own_contribution")
    assert own.value == "Handlar själv"
    await get_plan(http, auth, plan["id"], MUNICIPAL_USER, status=404)

    # New consent resumes sharing: the municipality's room takes edits again, with the typed text still there.
    click(user, "give-consent")
    click(user, "save-consent")
    await eventually(lambda: enabled(other, "field-own_contribution-value"), "editable again in the other room")
    assert element(other, "room-state").text == ""
    assert own.value == "Handlar själv"
    # The owner's room applies the save's answer in its click handler, which a loaded machine may run after the
    # other room's live update: wait for it too.
    await eventually(lambda: enabled(user, "field-own_contribution-value"), "editable again in the owner's room")


async def open_recorded_room(user: User, plan: Json, monkeypatch: Any) -> tuple[Any, Any, Any]:
    """The municipality's room on `plan`, with the room object itself (to drive its reads directly), and the page
    and API client modules (to patch)."""
    page, api_client = (importlib.import_module(f"ui.{name}") for name in ("pages.sip_room", "api_client"))
    rooms: list[Any] = []
    build = page.SipRoom.build

    def recording_build(room: Any) -> None:
        rooms.append(room)
        build(room)

    monkeypatch.setattr(page.SipRoom, "build", recording_build)
    await open_room(user, MUNICIPAL_USER, plan)
    return page, api_client, rooms[0]


async def test_an_older_read_answered_after_a_newer_404_leaves_the_room_invisible(
        user: User, http: httpx.AsyncClient, auth: Auth, monkeypatch: Any) -> None:
    """Reads run at once (a refetch, a conflict's read, approving): the answer of one that began before the
    consent was withdrawn, arriving after another read found the plan gone, does not make the room editable."""
    plan = await ready_plan(http, auth)
    _page, api_client, room = await open_recorded_room(user, plan, monkeypatch)
    request = api_client.ApiClient.request
    read, release = asyncio.Event(), asyncio.Event()

    async def held(api: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        result = await request(api, method, path, *args, **kwargs)
        if method == "GET" and path == f"/sip-plans/{plan['id']}" and not read.is_set():
            read.set()  # the plan as it is before the withdrawal; its answer waits
            await release.wait()
        return result

    monkeypatch.setattr(api_client.ApiClient, "request", held)
    assert user.client is not None
    storage.request_contextvar.set(user.client.request)
    older = asyncio.create_task(room.reload())
    await read.wait()
    await act(http, auth, plan, "consent-withdrawal", {})
    assert await room.reload() is None  # a later read: 404
    assert not room.visible
    release.set()
    assert (await older)["version"] <= room.plan["version"]
    assert not room.visible
    assert "inte längre synlig" in element(user, "room-state").text
    assert not enabled(user, "field-own_contribution-value")


async def test_an_older_404_answered_after_a_newer_read_leaves_the_room_visible(
        user: User, http: httpx.AsyncClient, auth: Auth, monkeypatch: Any) -> None:
    """The reverse race: a read that began while the plan was invisible (consent withdrawn) answers 404 after a
    newer read showed it again (new consent): the room stays editable."""
    plan = await ready_plan(http, auth)
    page, api_client, room = await open_recorded_room(user, plan, monkeypatch)
    monkeypatch.setattr(page.SipRoom, "refetch", lambda self: None)  # the reads below are the only ones
    withdrawn = await act(http, auth, plan, "consent-withdrawal", {})
    request = api_client.ApiClient.request
    read, release = asyncio.Event(), asyncio.Event()

    async def held(api: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await request(api, method, path, *args, **kwargs)
        finally:
            if method == "GET" and path == f"/sip-plans/{plan['id']}" and not read.is_set():
                read.set()  # the plan is invisible now: this read's 404 waits
                await release.wait()

    monkeypatch.setattr(api_client.ApiClient, "request", held)
    assert user.client is not None
    storage.request_contextvar.set(user.client.request)
    older = asyncio.create_task(room.reload())
    await read.wait()
    await give_consent(http, auth, withdrawn)
    assert await room.reload() is not None  # a later read: the plan again
    assert room.visible
    release.set()
    assert await older is None
    assert room.visible
    assert "inte längre synlig" not in element(user, "room-state").text
    assert enabled(user, "field-own_contribution-value")


async def test_a_newer_plan_that_arrives_while_a_save_waits_is_not_undone_by_its_answer(
        user: User, http: httpx.AsyncClient, auth: Auth, monkeypatch: Any) -> None:
    """The save's answer is older than the plan the room got meanwhile: the field shows what holds now."""
    plan = await ready_plan(http, auth)
    page, api_client, room = await open_recorded_room(user, plan, monkeypatch)
    monkeypatch.setattr(page.SipRoom, "refetch", lambda self: None)  # the newer plan comes below, when needed
    request = api_client.ApiClient.request
    raced: list[Json] = []
    field = "fields/own_contribution"

    async def answered_late(api: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        result = await request(api, method, path, *args, **kwargs)
        if path.endswith(field) and not raced:
            # The save landed (revision 1). Before its answer is handled, a colleague who saw it overwrites the
            # field (revision 2), and that newer plan reaches the room as a live event would bring it.
            raced.append(await act(http, auth, plan, field, {"value": "Lagar mat själv", "expected_revision": 1}))
            with room.frame.client:
                room.apply_plan(raced[0])
            assert room.fields["own_contribution"].theirs.visible  # shown beside the text being saved
        return result

    monkeypatch.setattr(api_client.ApiClient, "request", answered_late)
    own = element(user, "field-own_contribution-value")
    own.set_value("Handlar själv")
    click(user, "save-field-own_contribution")
    await eventually(lambda: room.fields["own_contribution"].saved.text == "Sparat", "the save's answer")
    assert room.plan["version"] == raced[0]["version"]
    assert own.value == "Lagar mat själv"  # what the server holds now, not the older answer's value
    assert not element(user, "theirs-field-own_contribution").visible
    # The editor took the newest revision: the next save changes it without a conflict.
    own.set_value("Handlar själv igen")
    click(user, "save-field-own_contribution")
    await eventually(lambda: room.plan["contents"]["own_contribution"]["value"] == "Handlar själv igen",
                     "the second save")
    saved = (await get_plan(http, auth, plan["id"]))["contents"]["own_contribution"]
    assert (saved["value"], saved["revision"]) == ("Handlar själv igen", 3)


async def test_follow_up_then_closing_disables_every_open_room_live(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    # The municipality has the overall responsibility, so it may close the plan too (the owner always may).
    plan = await act(http, auth, plan, "fields/overall_responsibility", {
        "value": principal_of(plan, MUNICIPAL), "expected_revision": plan["contents"]["overall_responsibility"][
            "revision"]})
    plan = await agree(http, auth, plan)
    await open_room(user, OWNER_USER, plan)
    other = create_user()
    await open_room(other, MUNICIPAL_USER, plan)
    assert enabled(other, "field-own_contribution-value")

    click(user, "record-follow-up")
    element(user, "follow-up-notes").set_value("Insulinet fungerar, måltiderna behöver mer stöd.")
    click(user, "save-follow-up")
    await eventually(lambda: "Version 1 följdes upp" in texts(other, "follow-up"), "the follow-up, live")
    await eventually(lambda: element(other, "plan-state").text == "Uppföljd", "the state, live")

    # The municipality has the close form open when the owner closes the plan: its submit turns off in place.
    click(other, "close-plan")
    await other.should_see("Avsluta planen")
    current = await get_plan(http, auth, plan["id"])
    await act(http, auth, current, "closure", {"expected_version": current["version"], "reason": "goals_met"})
    await eventually(lambda: not enabled(other, "confirm-close"), "the open form follows the state")
    assert "går inte längre" in element(other, "confirm-close-note").text
    assert not enabled(other, "field-own_contribution-value")
    assert "Planen är avslutad" in element(other, "room-state").text
    assert "Planen avslutades" in texts(other, "follow-up")
    with other:  # no add forms on a closed plan, and no "Justera"
        assert not [e for e in ui.context.client.elements.values() if "justera" in e._markers]
    await eventually(lambda: not enabled(user, "save-field-own_contribution"), "the owner's room too")
    assert "Planen är avslutad" in element(user, "room-state").text


async def test_two_versions_are_compared_and_exported(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await agree(http, auth, await ready_plan(http, auth))
    plan = await act(http, auth, plan, "fields/own_contribution", {"value": "Tar promenad varje dag",
                                                                   "expected_revision": 0})
    need = plan["contents"]["needs"][0]
    plan = await act(http, auth, plan, f"items/needs/{need['id']}/removal", {"expected_revision": need["revision"]})
    plan = await act(http, auth, plan, "items/goals", {"content": {"description": "Bo kvar hemma"}})
    plan = await act(http, auth, plan, "items/needs", {"content": {"description": "Stöd vid måltider"}})
    plan = await agree(http, auth, plan)
    assert plan["current_version_number"] == 2
    await open_room(user, MUNICIPAL_USER, plan)

    assert element(user, "diff-from").value == "1"
    assert element(user, "diff-to").value == "2"
    click(user, "compare-versions")
    await eventually(lambda: "Ändrat: Egen insats" in texts(user, "diff-result"), "the diff")
    shown = texts(user, "diff-result")
    assert "Efter: Tar promenad varje dag" in shown
    assert "Borttaget ur Behov | Beskrivning: Hjälp med insulin" in shown
    assert "Tillagt i Vad är viktigt för dig | Beskrivning: Bo kvar hemma" in shown

    # Against the working contents; an edit afterwards says the comparison is out of date.
    element(user, "diff-from").set_value("2")
    element(user, "diff-to").set_value("working")
    click(user, "compare-versions")
    await eventually(lambda: "Inga skillnader." in texts(user, "diff-result"), "no changes since version 2")
    await act(http, auth, plan, "fields/own_contribution", {"value": "Promenad", "expected_revision": 1})
    await eventually(lambda: "har ändrats sedan jämförelsen" in element(user, "diff-stale").text, "the stale note")

    click(user, "export-pdf-2")
    await eventually(lambda: user.download.http_responses, "the PDF")
    assert user.download.http_responses[-1].content.startswith(b"%PDF")
    click(user, "export-fhir-1")
    await eventually(lambda: len(user.download.http_responses) == 2, "the FHIR JSON")
    care_plan = json.loads(user.download.http_responses[-1].content)
    assert care_plan["resourceType"] == "CarePlan"
