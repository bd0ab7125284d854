"""Ny inskrivning on the board and Starta SIP on the case view, with NiceGUI's simulated user against the real API."""

from __future__ import annotations

import gc
from datetime import date, timedelta
from typing import Any

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.server.conftest import RONNVIKEN, WARD, new_identity, register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_case_view import present
from tests.ui.test_pages import Auth, act, row_html
from ui.components.register_case import RegisterCaseDialog

Json = dict[str, Any]


async def ward_cases(http: httpx.AsyncClient, headers: dict[str, str]) -> list[Json]:
    response = await http.get("/api/v1/cases", params={"unit_id": WARD, "limit": 500, "state": "admitted"},
                              headers=headers)
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


def element(user: User, marker: str) -> Any:
    with user:
        return next(e for e in ui.context.client.elements.values() if marker in e._markers)


async def open_form(user: User) -> None:
    await signed_in(user, "ward.nurse", "/tavla")
    await user.should_see(marker="register-case", retries=100)
    user.find(marker="register-case").click()
    await user.should_see(marker="register-identity", retries=100)


def fill(user: User, identity: str, name: str = "Rut Registrerad") -> None:
    user.find(marker="register-identity").type(identity)
    user.find(marker="register-name").type(name)
    user.find(marker="register-address").type("Inskrivningsvägen 3")
    user.find(marker="register-municipality").type("0184")


async def test_the_ward_registers_an_admission_and_the_case_shows_on_the_board(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    identity = new_identity()
    await open_form(user)
    fill(user, identity)
    user.find(marker="register-protected").click()
    await eventually(lambda: "Vårdcentral Rönnviken" in element(user, "register-listing").options.values(),
                     "the primary care units to list the patient at")
    element(user, "register-listing").set_value(RONNVIKEN)
    user.find(marker="register-discharge-day").type((date.today() + timedelta(days=7)).isoformat())
    user.find(marker="register-save").click()
    await user.should_see("Patienten är inskriven.", retries=100)
    # Where the API routed the case: Solna's intake unit (municipality 0184) and the listing unit.
    receivers = element(user, "register-receivers").text
    assert receivers.startswith("Inskrivningsmeddelandet går till:")
    assert "Biståndsenheten Solna" in receivers
    assert "Vårdcentral Rönnviken" in receivers

    cases = [c for c in await ward_cases(http, nurse) if c["patient"]["identity"].replace("-", "")[-10:]
             == identity.replace("-", "")[-10:]]
    assert len(cases) == 1
    case = cases[0]
    assert case["patient"]["protected_identity"] is True
    assert case["estimated_discharge_at"] is not None
    # The new row is on the board; the name is masked there as everywhere (protected identity).
    await eventually(lambda: "Skyddad identitet" in row_html(user, case["id"]), "the new row on the board")

    user.find(marker="register-open-case").click()
    await user.should_see("Tidsfrister", retries=100)
    await user.should_see("Skicka inskrivningsmeddelande", retries=100)  # registration continues there


async def test_a_bad_personnummer_shows_the_field_error_and_creates_nothing(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    before = len(await ward_cases(http, nurse))
    await open_form(user)
    good = new_identity()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)  # the check digit is wrong
    fill(user, bad)
    user.find(marker="register-save").click()
    await eventually(lambda: bool(element(user, "register-identity").error), "the identity's field error")
    assert "kontrollsiffra" in element(user, "register-identity").error
    assert len(await ward_cases(http, nurse)) == before
    assert not present(user, "register-open-case")


async def test_the_apis_field_errors_and_a_duplicate_admission_show_next_to_the_fields(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    await open_form(user)
    # A name the API refuses (over 200 characters): its field error shows next to the name, nothing is created.
    fill(user, new_identity(), name="N" * 201)
    before = len(await ward_cases(http, nurse))
    user.find(marker="register-save").click()
    await eventually(lambda: bool(element(user, "register-name").error), "the API's error next to the name")
    assert len(await ward_cases(http, nurse)) == before

    # The patient already has an open case at the ward: 409, in Swedish, next to the identity number.
    existing = await register(http, nurse)
    user.find(marker="register-identity").clear().type(existing["patient"]["identity"])
    user.find(marker="register-name").clear().type("Rut Registrerad")
    user.find(marker="register-save").click()
    await user.should_see("Patienten har redan ett pågående ärende på den här avdelningen.", retries=100)
    assert element(user, "register-identity").error == "Patienten har redan ett pågående ärende på den här " \
                                                        "avdelningen."
    assert len(await ward_cases(http, nurse)) == before + 1  # only the one registered through the API


async def test_no_register_button_without_the_capability(user: User, api_server: Any) -> None:
    await signed_in(user, "needs.assessor", "/tavla")
    await user.should_see("Utskrivningstavla", retries=100)
    await user.should_see("patienter", retries=100)  # the board is built
    assert not present(user, "register-case")


async def test_starting_a_sip_from_the_case_opens_the_room_and_the_case_links_to_it(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "ward.nurse", f"/arende/{case['id']}")
    await user.should_see(marker="start-sip", retries=100)
    user.find(marker="start-sip").click()
    await user.should_see(marker="sip-case-link", retries=100)  # the room, with the way back to the case

    plans = (await http.get("/api/v1/sip-plans", params={"limit": 500}, headers=nurse)).json()["items"]
    plan = next(p for p in plans if p["case_id"] == case["id"])
    user.find(marker="sip-case-link").click()
    await user.should_see(marker="open-sip", retries=100)
    assert element(user, "open-sip").props["href"] == f"/sip/{plan['id']}"
    assert not present(user, "start-sip")


async def test_a_save_retried_after_a_lost_answer_creates_one_case(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    """The first try reached the API and registered the case, but its answer never came back (here: the test sends
    that try itself, with the dialog's key and body). Saving again replays the first answer: one case, no 409."""
    nurse = auth("ward.nurse")
    await open_form(user)
    identity = new_identity()
    fill(user, identity)
    user.find(marker="register-needs").click()
    with user:
        dialog = next(o for o in gc.get_objects() if isinstance(o, RegisterCaseDialog))
    first = await http.post("/api/v1/cases", json=dialog.body(),
                            headers={**nurse, "Idempotency-Key": dialog.request.key})
    assert first.status_code == 201, first.text

    user.find(marker="register-save").click()
    await user.should_see("Patienten är inskriven.", retries=100)
    assert not element(user, "register-identity").error
    same = [c for c in await ward_cases(http, nurse) if c["patient"]["identity"] == first.json()["patient"]["identity"]]
    assert [c["id"] for c in same] == [first.json()["id"]]


async def test_a_sip_started_elsewhere_shows_as_its_link_on_the_open_case(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await signed_in(user, "ward.nurse", f"/arende/{case['id']}")
    await user.should_see(marker="start-sip", retries=100)

    response = await http.post("/api/v1/sip-plans", json={"case_id": case["id"], "owner_unit_id": WARD},
                               headers=nurse)
    assert response.status_code == 201, response.text
    await eventually(lambda: present(user, "open-sip"), "the link to the plan started elsewhere")
    assert element(user, "open-sip").props["href"] == f"/sip/{response.json()['id']}"
    assert not present(user, "start-sip")
