"""The SIP pages with NiceGUI's simulated user against the real API: the list, the meeting room, live edits of
other participants in place, a same-field conflict, and agreement (justering)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.server.sip_support import (
    MUNICIPAL_USER,
    OWNER_USER,
    act,
    create_plan,
    fill_required,
    get_plan,
    give_consent,
)
from tests.ui.conftest import eventually, signed_in

Auth = Callable[[str], dict[str, str]]
Json = dict[str, Any]


async def ready_plan(http: httpx.AsyncClient, auth: Auth) -> Json:
    """A plan with consent and everything an agreement needs (owner: the region's Rönnviken)."""
    return await fill_required(http, auth, await give_consent(http, auth, await create_plan(http, auth)))


def element(user: User, marker: str) -> Any:
    """The one element with this marker, visible or not (`user.find` skips hidden ones)."""
    with user:
        found = [e for e in ui.context.client.elements.values() if marker in e._markers]
    assert len(found) == 1, (marker, found)
    return found[0]


def visible_texts(user: User) -> list[str]:
    with user:
        return [str(e.text) for e in ui.context.client.elements.values()
                if isinstance(e, ui.label) and e.visible and e.text]


async def open_room(user: User, username: str, plan: Json) -> None:
    await signed_in(user, username, f"/sip/{plan['id']}")
    await user.should_see("Justering", retries=100)
    await user.should_see(f"SIP – {plan['person']['name']}", retries=100)


async def test_the_list_shows_the_units_plans_by_state_and_links_to_the_room(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await signed_in(user, MUNICIPAL_USER, "/sip")
    await user.should_see("Samordnade individuella planer (SIP)", retries=100)
    await user.should_see("Åsa Öberg", retries=100)
    await user.should_see("Utkast (1)")
    await user.should_see(plan["next_follow_up_on"])
    user.find(kind=ui.link, content="Åsa Öberg").click()
    await user.should_see("Justering", retries=100)
    await user.should_see("Hjälp med insulin", retries=100)


async def test_the_room_shows_the_whole_plan(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    plan = await act(http, auth, plan, "items/goals", {"content": {"description": "Bo kvar hemma"}})
    await open_room(user, MUNICIPAL_USER, plan)
    need, service, goal = (plan["contents"][n][0] for n in ("needs", "services", "goals"))
    assert element(user, f"item-needs-{need['id']}-description").value.startswith("Hjälp med insulin")
    assert element(user, f"item-services-{service['id']}-contact_person").value == "Sjuksköterska Öman"
    assert element(user, f"item-goals-{goal['id']}-description").value == "Bo kvar hemma"
    assert element(user, "field-next_follow_up_on-value").value == plan["contents"]["next_follow_up_on"]["value"]
    assert element(user, "field-overall_responsibility-value").value == plan["contents"][
        "overall_responsibility"]["value"]
    for text in ("Behov", "Insatser", "Insatser av andra", "Vad är viktigt för dig", "Egen insats", "Huvudansvar",
                 "Nästa uppföljning", "Deltagare", "Fastställda versioner", "Inte justerat än"):
        await user.should_see(text)
    await user.should_see("Biståndsenheten Solna")


async def test_an_edit_by_another_participant_appears_in_place_while_typed_text_stays(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    own = element(user, "field-own_contribution-value")
    own.set_value("Tar promenad varje dag")  # typed, not saved

    need = plan["contents"]["needs"][0]
    await act(http, auth, plan, f"items/needs/{need['id']}",
              {"content": {"description": "Hjälp med insulin och måltider"}, "expected_revision": need["revision"]})
    need_input = element(user, f"item-needs-{need['id']}-description")
    await eventually(lambda: need_input.value == "Hjälp med insulin och måltider", "the other's edit in place")
    assert own.value == "Tar promenad varje dag"
    assert not element(user, "theirs-field-own_contribution").visible

    # A new item by someone else appears too; then the user's own save goes through on its own field.
    plan = await act(http, auth, plan, "items/goals", {"content": {"description": "Gå till affären"},
                                                       "item_id": "goal-x"})
    await eventually(lambda: any(e.value == "Gå till affären" for e in user.find(kind=ui.textarea).elements),
                     "the added goal")
    user.find(marker="save-field-own_contribution").click()
    await eventually(lambda: "Sparat" in visible_texts(user), "the save")
    saved = await get_plan(http, auth, plan["id"], MUNICIPAL_USER)
    assert saved["contents"]["own_contribution"]["value"] == "Tar promenad varje dag"
    assert saved["contents"]["needs"][0]["content"]["description"] == "Hjälp med insulin och måltider"


async def test_a_same_field_conflict_shows_theirs_and_keeps_the_typed_text(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    own = element(user, "field-own_contribution-value")
    own.set_value("Handlar själv")
    await act(http, auth, plan, "fields/own_contribution", {"value": "Lagar mat själv", "expected_revision": 0})

    user.find(marker="save-field-own_contribution").click()  # from revision 0: the API answers 409
    theirs = element(user, "theirs-field-own_contribution")
    await eventually(lambda: theirs.visible and "Lagar mat själv" in theirs.text, "the other value beside the text")
    assert theirs.text == "Sparat av någon annan: Egen insats: Lagar mat själv"
    # (The live event may show the other value first; the API's 409 then says what holds now.)
    await eventually(lambda: any(t.startswith("Någon annan har ändrat detta. Här är det som gäller nu")
                                 for t in visible_texts(user)), "the conflict note of the 409")
    assert own.value == "Handlar själv"
    current = await get_plan(http, auth, plan["id"], MUNICIPAL_USER)
    assert current["contents"]["own_contribution"]["value"] == "Lagar mat själv"  # nothing written

    user.find(marker="save-field-own_contribution").click()  # again: overwrites knowingly
    await eventually(lambda: not theirs.visible, "the conflict resolved")
    current = await get_plan(http, auth, plan["id"], MUNICIPAL_USER)
    assert current["contents"]["own_contribution"]["value"] == "Handlar själv"
    assert own.value == "Handlar själv"


async def test_justera_approves_for_the_users_principal_and_shows_the_agreed_version(
        user: User, http: httpx.AsyncClient, auth: Auth, create_user: Callable[[], User]) -> None:
    plan = await ready_plan(http, auth)
    plan = await act(http, auth, plan, "approvals", {"content_revision": plan["content_revision"]}, user=OWNER_USER)
    await open_room(user, MUNICIPAL_USER, plan)
    await user.should_see("Ingen version är fastställd än.")
    user.find(marker="justera").click()
    await user.should_see("Version 1 – fastställd", retries=100)
    agreed = await get_plan(http, auth, plan["id"], MUNICIPAL_USER)
    assert (agreed["state"], agreed["current_version_number"]) == ("active", 1)
    assert {a["principal_id"] for a in agreed["versions"][0]["approvals"]} == set(agreed["principal_ids"])
    await user.should_see("Fastställd")


async def test_a_change_underneath_the_field_being_typed_shows_theirs_without_a_save(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    service = plan["contents"]["services"][0]
    when = element(user, f"item-services-{service['id']}-when")
    contact = element(user, f"item-services-{service['id']}-contact_person")
    when.set_value("från tisdag")  # typed, not saved
    # Someone else changes the same item: the part the user typed in clashes, the other part merges in place.
    await act(http, auth, plan, f"items/services/{service['id']}", {
        "content": {**service["content"], "when": "från onsdag", "contact_person": "Sjuksköterska Åberg"},
        "expected_revision": service["revision"]})
    theirs = element(user, f"theirs-item-services-{service['id']}")
    await eventually(lambda: theirs.visible, "the other value beside the typed text")
    assert theirs.text == "Sparat av någon annan: När: från onsdag"
    assert when.value == "från tisdag"
    assert contact.value == "Sjuksköterska Åberg"


async def test_the_room_shows_who_is_in_it_and_who_edits_which_section(
        user: User, create_user: Callable[[], User], http: httpx.AsyncClient, auth: Auth) -> None:
    plan = await ready_plan(http, auth)
    await open_room(user, MUNICIPAL_USER, plan)
    other = create_user()
    await open_room(other, OWNER_USER, plan)
    await eventually(lambda: "Maria Nyström" in str(element(user, "room-presence").content),
                     "the other participant in the room")
    # Named with her unit, of another organisation than the user's (the plan's units name it): not "Okänd enhet".
    assert "(Vårdcentral Rönnviken, tittar)" in str(element(user, "room-presence").content)
    assert element(user, "presence-services").text == ""

    service = plan["contents"]["services"][0]
    other.find(marker=f"item-services-{service['id']}-contact_person").trigger("focus")
    await eventually(lambda: "Maria Nyström" in element(user, "presence-services").text,
                     "the other participant editing Insatser")
    assert "redigerar Insatser" in element(user, "presence-services").text
    assert element(user, "presence-needs").text == ""
    other.find(marker=f"item-services-{service['id']}-contact_person").trigger("blur")
    await eventually(lambda: element(user, "presence-services").text == "", "the edit indicator gone")
