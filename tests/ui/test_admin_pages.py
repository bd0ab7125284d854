"""The administration page (/admin) with NiceGUI's simulated user against the real API: users, assignments,
units, and who is refused."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User
from nicegui.testing.user_interaction import UserInteraction

from server.demo.seed import stable_id
from tests.server.conftest import ORTHO, WARD, new_identity, register
from tests.ui.conftest import eventually, signed_in

Auth = Callable[[str], dict[str, str]]
KAROLINSKA = stable_id("organisation", "karolinska")


def row_text(user: User, marker: str) -> str:
    """Every text inside the table row with this marker."""
    def texts(element: Any) -> list[str]:
        out = [str(getattr(element, "text", "") or "")]
        for child in element.default_slot.children:
            out += texts(child)
        return out
    with user:
        rows = [e for e in ui.context.client.elements.values() if marker in e._markers]
    return " ".join(texts(rows[0])) if rows else ""


def newest(user: User, marker: str) -> UserInteraction[ui.element]:
    """The most recently made element with this marker (the simulation keeps closed dialogs: no browser hides them)."""
    with user:
        found = [e for e in ui.context.client.elements.values() if marker in e._markers]
    return UserInteraction(user, {max(found, key=lambda e: e.id)}, marker)


async def press(user: User, marker: str) -> None:
    """Press the button with this marker once it is there (a confirmation dialog opens after its click's answer)."""
    def found() -> bool:
        with user:
            return any(marker in e._markers for e in ui.context.client.elements.values())
    await eventually(found, f"the button {marker}")
    newest(user, marker).click()


async def users_of(http: httpx.AsyncClient, headers: dict[str, str], organisation_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/admin/organisations/{organisation_id}/users", headers=headers)
    assert response.status_code == 200, response.text
    return {u["username"]: u for u in response.json()}


async def test_local_admin_creates_a_user_and_grants_an_assignment(user: User, http: httpx.AsyncClient,
                                                                  auth: Auth) -> None:
    name = f"ui.{uuid.uuid4().hex[:8]}"
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see("Användare i organisationen", retries=100)
    user.find(marker="new-user").click()
    user.find(marker="user-name").type("Tova Testare")
    user.find(marker="user-username").type(name)
    user.find(marker="user-title").type("Undersköterska")
    user.find(marker="user-hsa").type(f"SE2321000016-U{uuid.uuid4().hex[:8]}")
    user.find(marker="create-user").click()
    await user.should_see(marker=f"user-{name}", retries=100)
    created = (await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]
    assert (created["display_name"], created["assignments"]) == ("Tova Testare", [])

    user.find(marker=f"grant-{name}").click()
    with user:
        user.find(marker="grant-unit").elements.pop().value = WARD
    user.find(marker="save-grant").click()
    await eventually(lambda: "Användare – Avd 12 Geriatrik" in row_text(user, f"user-{name}"),
                     "the assignment in the table")
    granted = (await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]
    assert [(a["unit_id"], a["role"]) for a in granted["assignments"]] == [(WARD, "user")]

    # Edit: deactivate the user, confirmed first.
    user.find(marker=f"edit-{name}").click()
    with user:
        user.find(marker="edit-active").elements.pop().value = False
    user.find(marker="save-user").click()
    await user.should_see("Avsluta behörigheten för Tova Testare", retries=100)
    await press(user, "confirm-deactivate-user")
    await eventually(lambda: "Inaktiv" in row_text(user, f"user-{name}"), "the user shown as inactive")
    assert not (await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]["active"]

    # Taking the assignment away asks first: cancelled, nothing happens.
    remove = f"remove-{name}-{granted['assignments'][0]['id']}"
    user.find(marker=remove).click()
    await user.should_see("Användare vid Avd 12 Geriatrik för Tova Testare. Tova Testare förlorar den direkt, "
                          "också i öppna flikar.", retries=100)
    await press(user, "confirm-remove-assignment-cancel")
    await eventually(lambda: not any("confirm-remove-assignment" in e._markers
                                     for e in user.find(kind=ui.button).elements), "the dialog closed")
    assert len((await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]["assignments"]) == 1

    # Confirmed: taken away, and offered back ("Ångra").
    user.find(marker=remove).click()
    await user.should_see("Ta bort behörigheten", retries=100)
    await press(user, "confirm-remove-assignment")
    await user.should_see("Borttagen: Användare vid Avd 12 Geriatrik för Tova Testare.", retries=100)
    assert (await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]["assignments"] == []
    user.find(marker="undo-remove").click()
    await user.should_see("Behörigheten är tillbaka", retries=100)
    [back] = (await users_of(http, auth("hospital.admin"), KAROLINSKA))[name]["assignments"]
    assert (back["unit_id"], back["role"]) == (WARD, "user")


async def test_local_admin_finds_a_user_by_searching(user: User) -> None:
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see(marker="user-ward.nurse", retries=100)
    await user.should_see(marker="user-ward.coordinator")
    user.find(marker="user-search").type("sjöb")
    await eventually(lambda: not row_text(user, "user-ward.coordinator"), "the search narrowing the list")
    assert "Sara Sjöberg" in row_text(user, "user-ward.nurse")
    await user.should_see("1 användare matchar sökningen.")


async def test_the_user_list_pages_with_show_more(user: User, http: httpx.AsyncClient, auth: Auth,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A page at a time (keyset, `X-Next-Cursor`): "Visa fler" adds the next page under the ones shown."""
    # the module as the running UI has it (the simulated user's app may have imported the pages again)
    monkeypatch.setattr(sys.modules["ui.pages.admin"], "USER_PAGE", 2)
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see(marker="more-users", retries=100)
    await user.should_see("Visar de 2 första. Sök eller visa fler.")
    user.find(marker="more-users").click()
    await user.should_see("Visar de 4 första", retries=100)  # the demo organisation has five
    total, shown = len(await users_of(http, auth("hospital.admin"), KAROLINSKA)), 4
    while shown < total:
        user.find(marker="more-users").click()
        shown = min(shown + 2, total)
        await user.should_see(f"Visar de {shown} första" if shown < total else f"{total} användare i organisationen",
                              retries=100)
    with user:
        rows = [m for e in ui.context.client.elements.values() for m in e._markers
                if m.startswith("user-") and m != "user-search"]
    assert sorted(rows) == sorted(f"user-{u['username']}" for u in (await http.get(
        f"/api/v1/admin/organisations/{KAROLINSKA}/users", headers=auth("hospital.admin"))).json())


async def test_local_admin_gives_the_need_to_see_protected_identities_and_corrects_an_hsa_id(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    admin = auth("hospital.admin")
    name = f"ui.{uuid.uuid4().hex[:8]}"
    created = await http.post(f"/api/v1/admin/organisations/{KAROLINSKA}/users", headers=admin, json={
        "username": name, "hsa_id": f"SE2321000016-P{uuid.uuid4().hex[:8]}", "display_name": "Petra Prov"})
    granted = await http.post(f"/api/v1/admin/users/{created.json()['id']}/assignments", headers=admin,
                              json={"unit_id": WARD, "role": "user"})
    assignment = granted.json()["assignments"][0]
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see(marker=f"protected-{name}-{assignment['id']}", retries=100)

    # The checkbox at the assignment: "Behörighet att se skyddade personuppgifter", recorded by the API.
    with user:
        user.find(marker=f"protected-{name}-{assignment['id']}").elements.pop().value = True
    await user.should_see("Behörighet att se skyddade personuppgifter är given", retries=100)
    [stored] = (await users_of(http, admin, KAROLINSKA))[name]["assignments"]
    assert stored["protected_identity_access"] is True

    # Granting another assignment with it at once.
    user.find(marker=f"grant-{name}").click()
    with user:
        user.find(marker="grant-unit").elements.pop().value = ORTHO
        user.find(marker="grant-protected").elements.pop().value = True
    user.find(marker="save-grant").click()
    await user.should_see("Behörigheten är given", retries=100)
    assignments = (await users_of(http, admin, KAROLINSKA))[name]["assignments"]
    assert {(a["unit_id"], a["protected_identity_access"]) for a in assignments} == {(WARD, True), (ORTHO, True)}

    # The HSA-id is corrected in the edit dialog; another user's is refused in Swedish.
    new_hsa = f"SE2321000016-Q{uuid.uuid4().hex[:8]}"
    user.find(marker=f"edit-{name}").click()
    with user:
        user.find(marker="edit-hsa").elements.pop().value = new_hsa
    user.find(marker="save-user").click()
    await eventually(lambda: new_hsa in row_text(user, f"user-{name}"), "the corrected HSA-id in the table")
    assert (await users_of(http, admin, KAROLINSKA))[name]["hsa_id"] == new_hsa
    nurse_hsa = (await users_of(http, admin, KAROLINSKA))["ward.nurse"]["hsa_id"]
    user.find(marker=f"edit-{name}").click()
    with user:
        newest(user, "edit-hsa").elements.pop().value = nurse_hsa
    newest(user, "save-user").click()
    await user.should_see("Det finns redan en med detta HSA-id.", retries=100)


async def test_a_taken_username_is_refused_in_swedish(user: User) -> None:
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see("Användare i organisationen", retries=100)
    user.find(marker="new-user").click()
    user.find(marker="user-name").type("Dubblett")
    user.find(marker="user-username").type("ward.nurse")
    user.find(marker="user-hsa").type(f"SE2321000016-D{uuid.uuid4().hex[:8]}")
    user.find(marker="create-user").click()
    await user.should_see("Användarnamnet är upptaget.", retries=100)


async def test_local_admin_sees_only_their_own_organisation(user: User) -> None:
    await signed_in(user, "municipal.admin", "/admin")
    await user.should_see("Användare i organisationen", retries=100)
    await user.should_see(marker="user-needs.assessor")
    await user.should_not_see(marker="user-ward.nurse")
    await user.should_not_see("Sara Sjöberg")
    await user.should_see("Organisationens enheter", retries=100)  # the unit tree, read-only for them
    await user.should_not_see(marker="new-unit")


async def test_a_nurse_gets_no_admin_link_and_is_refused(user: User) -> None:
    await signed_in(user, "ward.nurse", "/tavla")
    await user.should_see("Utskrivningstavla", retries=100)
    await user.should_not_see("Administration")
    await user.should_not_see("Loggkontroll")
    await user.open("/admin")
    await user.should_see("Du har inte behörighet", retries=100)
    await user.should_not_see(marker="new-user")
    await user.open("/loggkontroll")
    await user.should_see("Du har inte behörighet", retries=100)


async def test_central_admin_keeps_the_unit_tree(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    hsa = f"SE2321000016-E{uuid.uuid4().hex[:8]}"
    await signed_in(user, "central.admin", "/admin")
    await user.should_see(marker="organisation", retries=100)
    with user:
        user.find(marker="organisation").elements.pop().value = KAROLINSKA
    await user.should_see(marker="new-unit", retries=100)
    user.find(marker="new-unit").click()
    user.find(marker="unit-name").type("Avd 99 Testavdelning")
    user.find(marker="unit-hsa").type(hsa)
    user.find(marker="save-unit").click()
    await user.should_see(marker=f"unit-{hsa}", retries=100)
    response = await http.get(f"/api/v1/admin/organisations/{KAROLINSKA}/units", headers=auth("central.admin"))
    created = next(u for u in response.json() if u["hsa_id"] == hsa)

    # A sub-unit under it: the parent cannot be deactivated while the sub-unit is active (the API's 409).
    sub = await http.post(f"/api/v1/admin/organisations/{KAROLINSKA}/units", headers=auth("central.admin"),
                          json={"name": "Avd 99 Sal B", "kind": "somatic_ward", "hsa_id": hsa + "B",
                                "parent_unit_id": created["id"]})
    assert sub.status_code == 201, sub.text
    with user:
        user.find(marker="organisation").elements.pop().value = stable_id("organisation", "solna-stad")
    await user.should_see(marker="user-needs.assessor", retries=100)
    await user.should_not_see(marker=f"unit-{hsa}")
    with user:
        user.find(marker="organisation").elements.pop().value = KAROLINSKA
    await user.should_see(marker=f"deactivate-{hsa}", retries=100)
    user.find(marker=f"deactivate-{hsa}").click()
    await press(user, "confirm-deactivate")
    await user.should_see("Enheten har aktiva underenheter", retries=100)

    user.find(marker=f"deactivate-{hsa}B").click()
    await press(user, "confirm-deactivate")
    await user.should_see("Avd 99 Sal B är inaktiverad", retries=100)
    user.find(marker=f"deactivate-{hsa}").click()
    await press(user, "confirm-deactivate")
    await user.should_see("Avd 99 Testavdelning är inaktiverad", retries=100)
    response = await http.get(f"/api/v1/admin/organisations/{KAROLINSKA}/units", headers=auth("central.admin"))
    assert not next(u for u in response.json() if u["hsa_id"] == hsa)["active"]


async def test_signed_out_admin_pages_send_the_browser_to_the_login(user: User, api_server: Any) -> None:
    for path in ("/admin", "/loggkontroll"):
        response = await user.http_client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_the_start_page_takes_administrators_and_auditors_to_their_own_pages(user: User) -> None:
    await signed_in(user, "central.admin", "/")
    await user.should_see("Användare i organisationen", retries=100)
    await signed_in(user, "auditor", "/")
    await user.should_see("Sök i åtkomstloggen", retries=100)


async def test_a_reserve_number_is_merged_into_the_real_identity_from_the_admin_page(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    reserve, real = f"99{uuid.uuid4().int % 10**10:010d}", new_identity()
    case = await register(http, auth("ward.nurse"), reserve)
    await signed_in(user, "hospital.admin", "/admin")
    await user.should_see("Reservnummer till riktig identitet", retries=100)
    user.find(marker="merge-reserve").type("12345")
    user.find(marker="merge").click()
    await user.should_see("Skriv reservnumret med tolv siffror", retries=100)  # checked before anything is sent

    with user:
        user.find(marker="merge-reserve").elements.pop().value = reserve
        user.find(marker="merge-identity").elements.pop().value = real
    user.find(marker="merge").click()
    await user.should_see(f"Alla ärenden och SIP:ar med reservnummer {reserve} flyttas till {real}", retries=100)
    await press(user, "confirm-merge")
    await user.should_see(f"Klart: 1 ärende och 0 SIP:ar hör nu till personnumret {real}.", retries=100)
    moved = (await http.get(f"/api/v1/cases/{case['id']}", headers=auth("ward.nurse"))).json()
    assert moved["patient"]["identity"] == real

    with user:  # again: the API's refusal in Swedish
        user.find(marker="merge-reserve").elements.pop().value = reserve
        user.find(marker="merge-identity").elements.pop().value = new_identity()
    user.find(marker="merge").click()
    await press(user, "confirm-merge")
    await user.should_see("Reservnumret är redan överfört till en riktig identitet.", retries=100)


async def test_an_auditor_is_not_offered_the_merge(user: User) -> None:
    await signed_in(user, "auditor", "/loggkontroll")
    await user.should_see("Sök i åtkomstloggen", retries=100)
    await user.should_not_see("Reservnummer till riktig identitet")
