"""The discharge notice dialog (Skicka utskrivningsmeddelande) with NiceGUI's simulated user against the real API:
the form's own checks, the API's refusals shown by their fields, and what the rows and the case show afterwards."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.server.conftest import register
from tests.ui.conftest import eventually
from tests.ui.test_case_view import html_of, open_case, present, read
from tests.ui.test_pages import Auth, act
from ui import fmt
from ui.api_client import REFUSAL_MESSAGES
from ui.components.cells import when_html
from ui.components.discharge_notice import FUTURE, discharge_facts, discharge_html

Json = dict[str, Any]


async def open_dialog(user: User, http: httpx.AsyncClient, auth: Auth) -> Json:
    nurse = auth("ward.nurse")
    case = await act(http, nurse, await register(http, nurse), "admission-notice")
    await open_case(user, "ward.nurse", case)
    user.find(kind=ui.button, content="Skicka utskrivningsmeddelande").click()
    await user.should_see(marker="discharge-send", retries=100)
    return case


def set_time(user: User, moment: datetime) -> None:
    local = moment.astimezone(fmt.STOCKHOLM)
    html_of(user, "discharge-day").set_value(local.strftime("%Y-%m-%d"))
    html_of(user, "discharge-time").set_value(local.strftime("%H:%M"))


async def state_of(http: httpx.AsyncClient, auth: Auth, case: Json) -> str:
    return str((await read(http, auth("ward.nurse"), case))["state"])


async def test_the_dialog_checks_the_form_and_shows_the_apis_refusals_by_their_fields(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    case = await open_dialog(user, http, auth)
    # A planned time (tomorrow) is no notice: refused in the dialog, nothing sent.
    set_time(user, datetime.now(fmt.STOCKHOLM) + timedelta(days=1))
    html_of(user, "discharge-destination").set_value("other_unit")
    user.find(marker="discharge-send").click()
    await eventually(lambda: html_of(user, "discharge-time").error == FUTURE, "the time's error")
    assert await state_of(http, auth, case) == "planning"

    # The destination is not named: the domain's refusal, next to the field it names.
    set_time(user, datetime.now(fmt.STOCKHOLM) - timedelta(minutes=2))
    user.find(marker="discharge-send").click()
    await eventually(lambda: html_of(user, "discharge-destination-detail").error
                     == REFUSAL_MESSAGES["destination_detail_required"], "the destination detail's error")
    assert html_of(user, "discharge-time").error is None
    # Named, but no medication list chosen: the refusal shows under the medication list.
    html_of(user, "discharge-destination-detail").set_value("Geriatriken avd 4, Danderyds sjukhus")
    user.find(marker="discharge-send").click()
    await eventually(lambda: html_of(user, "discharge-medication-error").text
                     == REFUSAL_MESSAGES["medication_list_required"], "the medication list's error")
    assert html_of(user, "discharge-destination-detail").error is None
    # Attached but empty: the text field says so.
    html_of(user, "discharge-medication").set_value("attached")
    user.find(marker="discharge-send").click()
    await eventually(lambda: html_of(user, "discharge-medication-text").error
                     == REFUSAL_MESSAGES["medication_list_text_required"], "the medication text's error")
    # A phone number with letters is the form's own check.
    html_of(user, "discharge-medication-text").set_value("Paracetamol 500 mg 1x3")
    html_of(user, "discharge-contact-phone").set_value("ring mig")
    user.find(marker="discharge-send").click()
    await eventually(lambda: bool(html_of(user, "discharge-contact-phone").error), "the phone's error")
    assert await state_of(http, auth, case) == "planning"

    html_of(user, "discharge-contact-phone").set_value("08-123 456 78")
    html_of(user, "discharge-handover").set_value("Sårvård varannan dag.")
    user.find(marker="discharge-send").click()
    await eventually(lambda: not present(user, "discharge-send"), "the dialog to close")
    sent = await read(http, auth("ward.nurse"), case)
    assert sent["state"] == "discharged"
    information = sent["discharge_information"]
    assert (information["destination"], information["destination_detail"]) == (
        "other_unit", "Geriatriken avd 4, Danderyds sjukhus")
    assert information["contacts"][0]["phone"] == "08-123 456 78"
    assert (information["medication_list"], information["medication_list_text"]) == ("attached",
                                                                                     "Paracetamol 500 mg 1x3")
    assert information["handover"] == "Sårvård varannan dag."
    # The case view shows it at once: the header's time, the notice's section, the timeline.
    await eventually(lambda: present(user, "case-discharge"), "the discharge notice's section")
    assert "Sårvård varannan dag." in html_of(user, "case-discharge").content
    assert f"Utskriven</dt><dd class=\"m-0\">{fmt.date_time(sent['discharged_at'])}" in html_of(
        user, "case-header").content
    assert f"utskriven {fmt.date_time(sent['discharged_at'])}" in html_of(user, "case-timeline").content
    assert not any(e.text == "Skicka utskrivningsmeddelande" for e in user.find(kind=ui.button).elements)


async def test_a_deceased_patient_is_asked_for_no_contacts_nor_medication_list(
        user: User, http: httpx.AsyncClient, auth: Auth) -> None:
    case = await open_dialog(user, http, auth)
    html_of(user, "discharge-destination").set_value("deceased")
    assert not html_of(user, "discharge-medication").parent_slot.parent.visible  # the contacts' and list's section
    user.find(marker="discharge-send").click()
    await eventually(lambda: not present(user, "discharge-send"), "the dialog to close")
    information = (await read(http, auth("ward.nurse"), case))["discharge_information"]
    assert (information["destination"], information["contacts"], information["medication_list"]) == (
        "deceased", [], None)


def test_rows_and_the_case_show_the_actual_time_and_the_content() -> None:
    case: Json = {"discharged_at": "2026-03-06T10:15:00+00:00", "discharge_notice_sent_at": "2026-03-06T12:00:00+00:00",
                  "estimated_discharge_at": "2026-03-08T11:00:00+00:00", "discharge_information": {
                      "destination": "short_term_stay", "destination_detail": "Linden",
                      "contacts": [{"name": "Avd 1", "phone": "08-1"}, {"name": "Hemsjukvården", "phone": ""}],
                      "handover": "Sårvård", "medication_list": "sent_in_record", "medication_list_text": ""}}
    assert "Utskriven 6 mar" in when_html(case)
    assert "11:15 – Korttidsboende (Linden)" in when_html(case)
    assert dict(discharge_facts(case)) == {
        "Utskriven": "2026-03-06 11:15", "Vart": "Korttidsboende (Linden)",
        "Kontakter efter utskrivning": "Avd 1, 08-1\nHemsjukvården", "Läkemedelslista": "Skickad via journalen",
        "Överrapportering": "Sårvård"}
    # A case discharged with a bare time (before the notice carried content) shows the time and says so.
    bare = {**case, "discharge_information": None}
    assert "Utskriven 6 mar" in when_html(bare)
    assert "Korttidsboende" not in when_html(bare)
    assert discharge_facts(bare) == [("Utskriven", "2026-03-06 11:15")]
    assert "utan innehåll" in discharge_html(bare)
    # Not discharged: the estimate, as before.
    assert "Ber. utskr." in when_html({**case, "discharged_at": None})
