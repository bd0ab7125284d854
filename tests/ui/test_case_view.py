"""The case view (`/arende/{id}`) with NiceGUI's simulated user against the real API: planning saved per field,
sections that change only when their content does, participants, needs and payment-liability facts."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from nicegui import ui
from nicegui.testing import User

from tests.server.conftest import RONNVIKEN, SOLNA_HOME_CARE, SOLNA_INTAKE, register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_pages import Auth, act

Json = dict[str, Any]


async def edit_field(http: httpx.AsyncClient, headers: dict[str, str], case: Json, field: str, value: Any,
                     revision: int = 0) -> Json:
    response = await http.post(f"/api/v1/cases/{case['id']}/planning/fields/{field}",
                               json={"value": value, "expected_revision": revision}, headers=headers)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


async def read(http: httpx.AsyncClient, headers: dict[str, str], case: Json) -> Json:
    response = await http.get(f"/api/v1/cases/{case['id']}", headers=headers)
    assert response.status_code == 200, response.text
    result: Json = response.json()
    return result


def form(case: Json, unit_id: str) -> Json:
    return next(p for p in case["planning"] if p["unit_id"] == unit_id)


def textarea(user: User, label: str) -> Any:
    return next(e for e in user.find(kind=ui.textarea).elements if e.props.get("label", "").startswith(label))


def html_of(user: User, marker: str) -> Any:
    """The element with `marker`, visible or not."""
    with user:
        return next(e for e in ui.context.client.elements.values() if marker in e._markers)


def present(user: User, marker: str) -> bool:
    with user:
        return any(marker in e._markers for e in ui.context.client.elements.values())


def texts(user: User) -> str:
    with user:
        return " ".join(str(getattr(e, "text", "") or e.props.get("innerHTML", "") or "")
                        for e in ui.context.client.elements.values() if e.visible)


async def open_case(user: User, username: str, case: Json) -> None:
    await signed_in(user, username, f"/arende/{case['id']}")
    await user.should_see("Tidsfrister", retries=100)


async def test_a_conflict_on_the_same_field_shows_theirs_and_keeps_the_typed_text(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "needs.assessor", case)
    await user.should_see("Vårt planeringsunderlag", retries=100)

    mine = textarea(user, "Nuvarande insatser")
    mine.set_value("Hemtjänst 3 ggr/dag")
    # A colleague at the same unit saves the same field (from the same revision) first.
    await edit_field(http, assessor, case, "current_services", "Trygghetslarm")
    await eventually(lambda: "Sparat av någon annan: Trygghetslarm" in texts(user), "their value beside the field")
    assert mine.value == "Hemtjänst 3 ggr/dag"  # the live update left the typed text alone

    user.find("Spara planeringsunderlag").click()
    await user.should_see("Någon annan har ändrat detta medan du skrev", retries=100)
    await user.should_see("Sparat av någon annan: Trygghetslarm", retries=100)
    assert mine.value == "Hemtjänst 3 ggr/dag"  # nothing the user typed is lost
    assert (form(await read(http, assessor, case), SOLNA_INTAKE)["current_services"]) == "Trygghetslarm"

    # Saving again overwrites knowingly (the field took the current revision).
    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: not html_of(user, "conflict-current_services").visible, "the conflict to clear")
    saved = form(await read(http, assessor, case), SOLNA_INTAKE)
    assert (saved["current_services"], saved["revisions"]["current_services"]) == ("Hemtjänst 3 ggr/dag", 2)


async def test_a_newer_case_that_arrives_while_a_save_waits_is_not_undone_by_its_answer(
        user: User, http: httpx.AsyncClient, auth: Auth, monkeypatch: pytest.MonkeyPatch) -> None:
    """The save's answer is older than the case the view got meanwhile: the field shows what holds now."""
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    # The classes as the running app has them (the simulation imports the page modules afresh for each test).
    page, live, api_client = (importlib.import_module(f"ui.{name}") for name in ("pages.case", "live", "api_client"))
    views: list[Any] = []
    build = page.CaseView.build

    def recording_build(view: Any) -> None:
        views.append(view)
        build(view)

    monkeypatch.setattr(page.CaseView, "build", recording_build)
    await open_case(user, "needs.assessor", case)
    await user.should_see("Vårt planeringsunderlag", retries=100)
    # Events no longer fetch the case: the newer case reaches the view below, at the moment the race needs.
    monkeypatch.setattr(live.UserLive, "refresh", lambda *args, **kwargs: None)
    action = api_client.ApiClient.action
    raced: list[Json] = []

    async def answered_late(api: Any, token: str, case_id: str, path: str, body: Any, *,
                            acting_unit: str | None) -> Json:
        result: Json = await action(api, token, case_id, path, body, acting_unit=acting_unit)
        if path == "planning/fields" and not raced:
            # The save landed (revision 1). Before its answer is handled, a colleague who saw it overwrites the
            # field (revision 2), and that newer case reaches the view as a live event would bring it.
            raced.append(await edit_field(http, assessor, case, "current_services", "Trygghetslarm", revision=1))
            views[0].show(await read(http, assessor, case))
            await eventually(lambda: "Sparat av någon annan: Trygghetslarm" in texts(user), "the newer case shown")
        return result

    monkeypatch.setattr(api_client.ApiClient, "action", answered_late)
    mine = textarea(user, "Nuvarande insatser")
    mine.set_value("Hemtjänst 3 ggr/dag")
    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: any("Sparat 20" in str(getattr(e, "text", "")) for e in user.find(kind=ui.label).elements),
                     "the save's answer")
    assert views[0].case["version"] == raced[0]["version"]  # the older answer did not replace the newer case
    assert mine.value == "Trygghetslarm"  # what the server holds now, not the older answer's value
    assert not html_of(user, "conflict-current_services").visible
    # The field took the newest revision: the next save changes it without a conflict.
    mine.set_value("Hemtjänst 2 ggr/dag")
    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: form(views[0].case, SOLNA_INTAKE)["current_services"] == "Hemtjänst 2 ggr/dag",
                     "the second save")
    assert not html_of(user, "planning-notice").visible
    saved = form(await read(http, assessor, case), SOLNA_INTAKE)
    assert (saved["current_services"], saved["revisions"]["current_services"]) == ("Hemtjänst 2 ggr/dag", 3)


async def test_edits_of_other_fields_forms_and_actions_never_conflict(user: User, http: httpx.AsyncClient,
                                                                      auth: Auth) -> None:
    nurse, assessor, contact = auth("ward.nurse"), auth("needs.assessor"), auth("care.contact")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "needs.assessor", case)
    await user.should_see("Vårt planeringsunderlag", retries=100)
    adl = textarea(user, "ADL")
    adl.set_value("Går med rollator")
    needs = next(e for e in user.find(kind=ui.select).elements
                 if e.props.get("label") == "Förväntade behov efter utskrivning")
    needs.set_value(["home_help", "safety_alarm"])
    # Meanwhile: a colleague saves another field, another unit its own form, and the ward marks the patient ready.
    await edit_field(http, assessor, case, "aids", "Rollator finns")
    latest = await edit_field(http, contact, case, "notes", "Diabetes följs upp")
    await act(http, nurse, latest, "ready-for-discharge")
    await eventually(lambda: textarea(user, "Hjälpmedel").value == "Rollator finns", "the colleague's field")
    await eventually(lambda: "Diabetes följs upp" in html_of(user, "case-other-planning").content,
                     "the other unit's form")

    user.find("Spara planeringsunderlag").click()
    await eventually(lambda: any("Sparat 20" in str(getattr(e, "text", "")) for e in user.find(kind=ui.label).elements),
                     "the save")
    assert not html_of(user, "planning-notice").visible  # no conflict
    saved = form(await read(http, assessor, case), SOLNA_INTAKE)
    assert (saved["adl"], saved["aids"], saved["expected_needs"]) == (
        "Går med rollator", "Rollator finns", ["home_help", "safety_alarm"])
    assert form(await read(http, assessor, case), RONNVIKEN)["notes"] == "Diabetes följs upp"
    # The needs the forms flag show in the needs section, with who flagged them.
    await eventually(lambda: "Trygghetslarm" in html_of(user, "case-needs").content, "the need flags")
    assert "Biståndsenheten Solna" in html_of(user, "case-needs").content


async def test_sections_change_only_when_their_content_does(user: User, http: httpx.AsyncClient,
                                                            auth: Auth) -> None:
    nurse, assessor = auth("ward.nurse"), auth("needs.assessor")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "ward.nurse", case)
    await user.should_see("1 okvitterat", retries=100)
    before = {m: html_of(user, m).content for m in ("case-header", "case-needs", "case-payment",
                                                    "case-other-planning", "case-timeline")}

    await act(http, assessor, case, "acknowledgements")  # changes the participants' column and the timeline only
    await user.should_see("Allt kvitterat", retries=100)
    await eventually(lambda: html_of(user, "case-timeline").content is not before["case-timeline"], "the timeline")
    assert "Kvitterat" in html_of(user, "case-timeline").content
    for marker in ("case-header", "case-needs", "case-payment", "case-other-planning"):
        assert html_of(user, marker).content is before[marker], f"{marker} was sent again without a change"


async def test_the_ward_adds_and_removes_a_participant(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "ward.nurse", case)
    user.find(marker="add-participant").click()
    await user.should_see("Enhet att lägga till", retries=100)
    choice = html_of(user, "participant-choice")
    assert SOLNA_INTAKE not in choice.options  # already taking part
    choice.set_value(SOLNA_HOME_CARE)
    user.find(marker="confirm-add").click()
    await eventually(lambda: present(user, f"remove-{SOLNA_HOME_CARE}"), "the added unit's row")
    participants = {p["unit_id"]: p["status"] for p in (await read(http, nurse, case))["participants"]}
    assert participants[SOLNA_HOME_CARE] == "active"

    user.find(marker=f"remove-{SOLNA_HOME_CARE}").click()
    await user.should_see("Enheten ser inte längre ärendet", retries=100)
    user.find(marker="confirm-remove").click()
    await eventually(lambda: not present(user, f"remove-{SOLNA_HOME_CARE}"), "the removal")
    participants = {p["unit_id"]: p["status"] for p in (await read(http, nurse, case))["participants"]}
    assert participants[SOLNA_HOME_CARE] == "removed"
    await user.should_see("Borttagen", retries=100)


async def test_a_receiving_unit_cannot_change_participants(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "needs.assessor", case)
    await user.should_see("Deltagande enheter och kvittenser", retries=100)
    assert not present(user, "add-participant")
    assert not present(user, f"remove-{RONNVIKEN}")


async def test_needs_and_payment_liability_facts(user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    admitted = datetime.now(UTC) - timedelta(hours=5)
    identified = admitted + timedelta(hours=2)
    case = await register(http, nurse, admitted_at=admitted.isoformat(), needs_identified_at=identified.isoformat())
    case = await act(http, nurse, case, "admission-notice")
    ready = await act(http, nurse, case, "ready-for-discharge")
    await open_case(user, "needs.assessor", case)
    needs = html_of(user, "case-needs").content
    assert "Behov identifierade" in needs
    local = identified.astimezone(ZoneInfo("Europe/Stockholm"))
    assert local.strftime("%Y-%m-%d %H:%M") in needs
    payment = html_of(user, "case-payment").content
    starts = ready["payment"]["liability_starts_on"]
    assert "Betalningsansvar från" in payment
    assert starts in payment
    assert "Betalningsdagar hittills" in payment
    assert "Kommunens betalningsansvar börjar" in payment  # ready today: the free days come first

    # The liability facts: any participating unit records them; the payment status follows.
    box = next(e for e in user.find(kind=ui.checkbox).elements
               if e.text == "Patienten har tackat nej till erbjudna insatser")
    box.set_value(True)
    user.find("Spara uppgifter om betalningsansvar").click()
    await eventually(lambda: "patienten har tackat nej" in html_of(user, "case-payment").content, "the new status")
    assert (await read(http, nurse, case))["patient_refused_services"] is True


async def test_the_ward_records_when_needs_were_identified(user: User, http: httpx.AsyncClient,
                                                           auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(http, nurse)  # the ward's draft: needs counted from the admission so far
    await open_case(user, "ward.nurse", case)
    assert "Vid inskrivningen" in html_of(user, "case-needs").content
    user.find("Behov identifierade senare").click()
    await user.should_see("Läkaren bedömde att behov kan uppstå", retries=100)
    user.find(marker="confirm-needs").click()
    await eventually(lambda: "Vid inskrivningen" not in html_of(user, "case-needs").content, "the recorded time")
    recorded = (await read(http, nurse, case))["needs_identified_at"]
    assert recorded is not None
    assert any(e["action"] == "needs_identified" for e in (await read(http, nurse, case))["timeline"])
