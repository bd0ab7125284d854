"""The SIP meeting room offers what the acting unit may do, with NiceGUI's simulated user against the real API:
actions hidden or disabled by the plan's `allowed_actions` (live, when they change in another room), participants
added and removed from the room (next of kin masked for a user without the explicit need), handing the plan over,
and the API's refusals told in Swedish by their problem code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from nicegui import ui
from nicegui.testing import User

from domain.sip import Refusal
from tests.server.conftest import new_identity, patient
from tests.server.sip_support import (
    HOME_CARE_USER,
    MUNICIPAL,
    MUNICIPAL_USER,
    OUTSIDER,
    OWNER,
    OWNER_USER,
    act,
    agree,
    create_plan,
    fill_required,
    get_plan,
    give_consent,
    principal_of,
)
from tests.ui.conftest import eventually
from tests.ui.test_sip_room import element, open_room, ready_plan
from tests.ui.test_sip_room_actions import click, enabled, texts
from ui.api_client import ApiError
from ui.components.sip import CODE_MESSAGES, sip_message

Auth = Callable[[str], dict[str, str]]
Json = dict[str, Any]


def present(user: User, marker: str) -> bool:
    with user:
        return any(marker in e._markers for e in ui.context.client.elements.values())


async def test_follow_up_close_and_hand_over_are_offered_only_to_who_may(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)  # the region (the owner's principal) has the overall responsibility
    await open_room(user, OWNER_USER, plan)
    nurse = create_user()
    await open_room(nurse, HOME_CARE_USER, plan)

    # A draft: the owner sees the follow-up disabled with the reason; closing and handing over are open to it.
    assert not enabled(user, "record-follow-up")
    assert element(user, "follow-up-why").text == CODE_MESSAGES["no_agreed_version"]
    assert enabled(user, "close-plan")
    assert enabled(user, "hand-over")
    # Solna's home care neither owns the plan nor has the overall responsibility: no such buttons at all.
    for marker in ("record-follow-up", "close-plan", "hand-over"):
        assert not present(nurse, marker), marker
    assert "Din enhet kan inte följa upp eller avsluta planen." in texts(nurse, "follow-up")
    assert "Region Stockholm" in texts(nurse, "follow-up")
    assert enabled(nurse, "add-participant")

    # The overall responsibility moves to Solna and is agreed: the nurse's room offers closing by itself.
    plan = await act(http, auth, plan, "fields/overall_responsibility", {
        "value": principal_of(plan, MUNICIPAL), "expected_revision": plan["contents"]["overall_responsibility"][
            "revision"]})
    await agree(http, auth, plan)
    await eventually(lambda: present(nurse, "record-follow-up") and enabled(nurse, "record-follow-up"),
                     "the follow-up offered, live")
    assert enabled(nurse, "close-plan")
    assert not present(nurse, "hand-over")  # only the owner hands over
    await user.should_see("Solna stad (enligt version 1)")  # the header's Huvudansvar, in the owner's room

    # "Justera": the principal has nothing new to approve once agreed (its section follows the same live update,
    # rebuilt on its own: wait for it, as for the follow-up above)
    await eventually(lambda: not present(nurse, "justera"), "no approval offered once agreed, live")


async def test_participants_are_added_and_removed_in_the_room_and_shown_live(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    person = patient(new_identity(), name="Hemlig Person", address="Gömd 1", protected_identity=True)
    plan = await fill_required(http, auth, await give_consent(http, auth, await create_plan(http, auth,
                                                                                          person=person)))
    # care.contact (the owner) has no explicit need to see a protected identity; municipal.nurse has, at home care.
    await open_room(user, OWNER_USER, plan)
    nurse = create_user()
    await open_room(nurse, HOME_CARE_USER, await get_plan(http, auth, plan["id"], HOME_CARE_USER))

    # Next of kin, added by the owner.
    click(user, "add-participant")
    await eventually(lambda: present(user, "participant-kind"), "the form")
    element(user, "participant-kind").set_value("next_of_kin")
    click(user, "save-participant")
    await eventually(lambda: element(user, "save-participant-note").text == "Skriv namnet.", "the name asked for")
    element(user, "participant-name").set_value("Eva Hemligsdotter")
    element(user, "participant-role").set_value("dotter")
    click(user, "save-participant")
    await eventually(lambda: "dotter" in texts(user, "participants"), "the next of kin in the owner's room")
    # The owner's user lacks the explicit need: the name is masked. The nurse, with it, sees it (live).
    assert "Eva Hemligsdotter" not in texts(user, "participants")
    assert "Skyddad identitet" in texts(user, "participants")
    await eventually(lambda: "Eva Hemligsdotter" in texts(nurse, "participants"), "the name in the nurse's room")

    # Another actor, by the nurse; a unit outside the consent, by the owner.
    click(nurse, "add-participant")
    await eventually(lambda: present(nurse, "participant-kind"), "the form")
    element(nurse, "participant-kind").set_value("other_actor")
    element(nurse, "participant-name").set_value("Lena Handläggare")
    element(nurse, "participant-organisation").set_value("Försäkringskassan")
    click(nurse, "save-participant")
    await eventually(lambda: "Försäkringskassan" in texts(user, "participants"), "the other actor, live")
    click(user, "add-participant")
    await eventually(lambda: present(user, "participant-kind"), "the form")
    element(user, "participant-unit").set_value(OUTSIDER)
    click(user, "save-participant")
    await eventually(lambda: "omfattas inte av samtycket" in texts(nurse, "participants"), "the unit, live")
    current = await get_plan(http, auth, plan["id"])
    assert OUTSIDER in [u["unit_id"] for u in current["units"] if u["active"]]
    assert OUTSIDER not in current["visible_unit_ids"]

    # Removing: the owner row has no "Ta bort"; the nurse removes Försäkringskassan and the owner's room follows.
    assert not present(user, f"remove-participant-{OWNER}")
    actor = next(p for p in current["named_participants"] if p["kind"] == "other_actor")
    click(nurse, f"remove-participant-{actor['id']}")
    await nurse.should_see("Ta bort Lena Handläggare ur planen?")
    click(nurse, "confirm-remove-participant")
    await eventually(lambda: "Försäkringskassan" not in texts(user, "participants"), "the removal, live")

    # The person objects to next of kin: next of kin are removed and no longer offered.
    current = await give_consent(http, auth, await get_plan(http, auth, plan["id"]), next_of_kin_may_take_part=False)
    await eventually(lambda: "dotter" not in texts(user, "participants"), "next of kin gone, live")
    click(user, "add-participant")
    await eventually(lambda: present(user, "participant-kind"), "the form")
    assert "next_of_kin" not in element(user, "participant-kind").options
    assert element(user, "participant-kin-note").text == CODE_MESSAGES["next_of_kin_objected"]


async def test_the_owner_hands_the_plan_over_and_every_room_follows(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, OWNER_USER, plan)
    other = create_user()
    await open_room(other, MUNICIPAL_USER, plan)
    assert not present(other, "hand-over")

    click(user, "hand-over")
    await user.should_see("Lämna över planen")
    click(user, "confirm-hand-over")
    await eventually(lambda: element(user, "confirm-hand-over-note").text == "Välj vem som ska ta över planen.",
                     "a unit asked for")
    element(user, "hand-over-unit").set_value(MUNICIPAL)
    click(user, "confirm-hand-over")
    await eventually(lambda: present(other, "hand-over"), "the new owner may hand it over, live")
    assert "Biståndsenheten Solna (planens ägare)" in texts(other, "participants")
    await eventually(lambda: not present(user, "hand-over"), "the former owner no longer may")
    assert (await get_plan(http, auth, plan["id"]))["owner_unit_id"] == MUNICIPAL
    # The former owner is a participant now, and may be removed by the new owner.
    assert present(other, f"remove-participant-{OWNER}")


async def test_a_refusal_is_told_by_its_code(user: User, create_user: Callable[[], User], http: httpx.AsyncClient,
                                             auth: Auth) -> None:
    """A form open while another room changes the plan: the API's refusal (here a meeting in the past) shows in
    Swedish from its code."""
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    click(user, "schedule-meeting")
    await user.should_see("Kalla till SIP-möte")
    element(user, "meeting-day").set_value("2020-01-01")
    click(user, "send-invitation")
    await eventually(lambda: element(user, "send-invitation-note").text == CODE_MESSAGES["meeting_in_past"],
                     "the refusal in Swedish")


def test_every_refusal_code_has_a_swedish_message_and_the_detail_is_never_read() -> None:
    codes = {str(r) for r in Refusal}
    assert not codes - set(CODE_MESSAGES), sorted(codes - set(CODE_MESSAGES))
    for code in codes:
        # The detail names a different refusal: only the code counts.
        error = ApiError(422, code, "Åtgärden går inte att göra just nu.", detail="the plan is closed; sharing has "
                         "ended; only the owner unit or the principal with the overall responsibility may")
        assert sip_message(error) == CODE_MESSAGES[code]
    assert sip_message(ApiError(422, "something_new", "Uppgiften godtogs inte.")) == "Uppgiften godtogs inte."
