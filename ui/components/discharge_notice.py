"""Skicka utskrivningsmeddelande: the ward's discharge notice as information transfer, and how it is shown.

The dialog asks for what the receivers need (process.md section 3, step 6): when the patient left (the actual time;
a planned time is the estimated discharge), where they go, whom to contact after the discharge, a handover and the
medication list (attached, or stated as sent in the record). It checks only the form of what is typed (a date, a
time not ahead of now, a phone number's characters, a destination chosen): which combinations are allowed is the
domain's rule (`domain.discharge_notice`), and its refusals come back with a field and a reason that are shown
next to that field, in Swedish (`REFUSAL_MESSAGES`). For a deceased patient the contacts and the medication list
are not asked for. The dialog stays open on a refusal, with everything the user typed.

`discharge_facts` / `discharge_html` show the notice's content in the case view (board and inbox rows:
`cells.discharge_row_html`); a case discharged before the notice carried content shows its bare time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import REFUSAL_MESSAGES, ApiError, Json
from ui.components.cells import destination_text, escape
from ui.components.register_case import date_error, local_moment, time_error
from ui.components.sections import facts_html
from ui.frame import Frame

PATH = "discharge-notice"
PHONE_RE = re.compile(r"^[0-9+() -]*$")
MAX_CONTACTS = 10
FUTURE = REFUSAL_MESSAGES["discharge_time_in_future"]
NOT_ACCEPTED = "Uppgiften godtogs inte."


def phone_error(value: str | None) -> str | None:
    return None if PHONE_RE.match((value or "").strip()) else "Bara siffror, mellanslag, +, - och parenteser."


def discharge_facts(case: Json) -> list[tuple[str, str]]:
    """The discharge as label/value pairs: the actual time, then what the notice carried (if anything)."""
    facts = [("Utskriven", fmt.date_time(case.get("discharged_at")))]
    information = case.get("discharge_information")
    if not information:
        return facts
    facts.append(("Vart", destination_text(information)))
    contacts = [f"{c['name']}, {c['phone']}" if c.get("phone") else c["name"] for c in information["contacts"]]
    if contacts:
        facts.append(("Kontakter efter utskrivning", "\n".join(contacts)))
    medication = information.get("medication_list")
    if medication == "attached":
        facts.append(("Läkemedelslista (bifogad)", information.get("medication_list_text") or ""))
    elif medication:
        facts.append(("Läkemedelslista", fmt.MEDICATION_LISTS.get(medication, medication)))
    if information.get("handover"):
        facts.append(("Överrapportering", information["handover"]))
    return facts


def discharge_html(case: Json) -> str:
    """The case view's section: empty until the patient is discharged."""
    if not case.get("discharged_at"):
        return ""
    note = "" if case.get("discharge_information") else (
        '<p class="sp-muted m-0 mt-1">Utskrivningsmeddelandet skickades utan innehåll (före informationsöverföringen '
        'fanns i Samplan).</p>')
    sent = fmt.date_time(case.get("discharge_notice_sent_at"))
    return (f'{facts_html(discharge_facts(case), extra_class="whitespace-pre-wrap")}{note}'
            f'<p class="sp-muted m-0 mt-1">Meddelandet skickat {escape(sent)}</p>')


class ContactRow:
    def __init__(self, dialog: DischargeNoticeDialog, name: str = "") -> None:
        with ui.row().classes("w-full gap-2 no-wrap items-start") as self.element:
            self.name = ui.input("Namn, funktion eller enhet", value=name).props(
                'outlined dense autocomplete="off"').classes("flex-1").mark("discharge-contact-name")
            self.phone = ui.input("Telefon", validation=phone_error).props(
                'outlined dense autocomplete="off" inputmode="tel"').classes("w-44").mark("discharge-contact-phone")
            ui.button(icon="close", on_click=lambda: dialog.remove_contact(self)).props(
                'flat round dense aria-label="Ta bort kontakten"')

    @property
    def empty(self) -> bool:
        return not (self.name.value or "").strip() and not (self.phone.value or "").strip()

    def body(self) -> Json:
        return {"name": (self.name.value or "").strip(), "phone": (self.phone.value or "").strip()}


class DischargeNoticeDialog:
    """The form in a dialog. `run()` answers the changed case once the API accepted the notice (None: closed)."""

    def __init__(self, frame: Frame, case: Json, on_stale: Callable[[Json], None] | None = None) -> None:
        self.frame = frame
        self.case = case
        self.on_stale = on_stale
        self.contacts: list[ContactRow] = []
        self.sent_rows: list[ContactRow] = []  # the rows sent last, in the order of the API's `contacts[i]`
        now = datetime.now(fmt.STOCKHOLM)
        label = "Skicka utskrivningsmeddelande"
        with ui.dialog().props(f'aria-label="{label}" persistent') as self.dialog, ui.card().classes(
                "w-[44rem] max-w-full"):
            ui.label(label).classes("text-xl font-bold").props('role="heading" aria-level="2"')
            ui.label(f"Patient: {case['patient']['name']}").classes("sp-muted")
            ui.label("Skicka när patienten har lämnat avdelningen. En planerad tid är en beräknad "
                     "utskrivning.").classes("text-sm")
            ui.label("Utskriven").classes("font-bold mt-2").props('role="heading" aria-level="3"')
            with ui.row().classes("w-full gap-3 no-wrap items-start"):
                self.day = ui.input("Datum", value=now.strftime("%Y-%m-%d"), placeholder="ÅÅÅÅ-MM-DD",
                                    validation=lambda v: date_error(v, required=True)).props(
                    'outlined dense mask="####-##-##"').classes("flex-1").mark("discharge-day")
                self.time = ui.input("Tid", value=now.strftime("%H:%M"), placeholder="TT:MM",
                                     validation=time_error).props('outlined dense mask="##:##"').classes(
                    "w-32").mark("discharge-time")
            ui.label("Vart patienten skrivs ut").classes("font-bold mt-2").props('role="heading" aria-level="3"')
            self.destination = ui.select(fmt.DESTINATIONS, label="Vart", on_change=self._destination_changed,
                                         validation=lambda v: None if v else "Välj vart patienten skrivs ut.").props(
                "outlined dense").classes("w-full").mark("discharge-destination")
            self.detail = ui.input("Vilken avdelning, enhet eller plats").props(
                'outlined dense autocomplete="off"').classes("w-full").mark("discharge-destination-detail")
            with ui.column().classes("w-full gap-1") as self.after:
                ui.label("Kontakter efter utskrivning").classes("font-bold mt-2").props(
                    'role="heading" aria-level="3"')
                self.contact_rows = ui.column().classes("w-full gap-1")
                self.contacts_error = ui.label("").classes("text-negative text-sm").mark("discharge-contacts-error")
                self.add_button = ui.button("Lägg till kontakt", icon="add", on_click=lambda: self.add_contact()).props(
                    "flat dense no-caps").mark("discharge-add-contact")
                ui.label("Läkemedelslista").classes("font-bold mt-2").props('role="heading" aria-level="3"')
                self.medication = ui.radio(fmt.MEDICATION_LISTS, on_change=self._medication_changed).props(
                    "inline").mark("discharge-medication")
                self.medication_error = ui.label("").classes("text-negative text-sm").mark(
                    "discharge-medication-error")
                self.medication_text = ui.textarea("Läkemedelslistan").props("outlined autogrow").classes(
                    "w-full").mark("discharge-medication-text")
            ui.label("Överrapportering").classes("font-bold mt-2").props('role="heading" aria-level="3"')
            self.handover = ui.textarea("Det mottagarna behöver veta").props("outlined autogrow").classes(
                "w-full").mark("discharge-handover")
            self.alert = ui.label("").classes("text-negative font-bold").props('role="alert"').mark("discharge-alert")
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Avbryt", on_click=lambda: self.dialog.submit(None)).props("flat no-caps")
                self.send_button = ui.button(label, icon="send", on_click=self.send).props(
                    "color=primary no-caps").mark("discharge-send")
        self.add_contact(frame.hub.unit_name(case.get("ward_unit_id") or ""))
        self.medication_text.set_visibility(False)
        self.fields: dict[str, Any] = {"discharged_at": self.time, "destination": self.destination,
                                       "destination_detail": self.detail, "medication_list_text": self.medication_text,
                                       "handover": self.handover}

    async def run(self) -> Json | None:
        self.dialog.open()
        result: Json | None = await self.dialog
        if not self.dialog.is_deleted:
            with contextlib.suppress(ValueError):  # its section was rebuilt while it was open: already detached
                self.dialog.delete()
        return result

    # ----- the form ---------------------------------------------------------------------------------------------

    def add_contact(self, name: str = "") -> None:
        with self.contact_rows:
            self.contacts.append(ContactRow(self, name))
        self.add_button.set_visibility(len(self.contacts) < MAX_CONTACTS)

    def remove_contact(self, row: ContactRow) -> None:
        self.contacts.remove(row)
        self.contact_rows.remove(row.element)
        self.add_button.set_visibility(len(self.contacts) < MAX_CONTACTS)

    @property
    def deceased(self) -> bool:
        return bool(self.destination.value == "deceased")

    def _destination_changed(self) -> None:
        self.after.set_visibility(not self.deceased)  # no contacts or medication list for a deceased patient

    def _medication_changed(self) -> None:
        self.medication_text.set_visibility(self.medication.value == "attached")

    def _valid(self) -> bool:
        """Only the form of what is typed: the API decides the rest (and names the field)."""
        checks = [e.validate() for e in (self.day, self.time, self.destination)]
        if not self.deceased:
            checks += [row.phone.validate() for row in self.contacts]
        if not all(checks):
            return False
        if self.moment() > datetime.now(fmt.STOCKHOLM):
            self.time.error = FUTURE
            return False
        return True

    def moment(self) -> datetime:
        return local_moment(self.day.value.strip(), self.time.value.strip())

    def body(self) -> Json:
        body: Json = {"discharged_at": self.moment().isoformat(), "destination": self.destination.value,
                      "destination_detail": (self.detail.value or "").strip(), "handover": self.handover.value or ""}
        self.sent_rows = []
        if not self.deceased:
            self.sent_rows = [row for row in self.contacts if not row.empty]
            body["contacts"] = [row.body() for row in self.sent_rows]
            if self.medication.value:
                body["medication_list"] = self.medication.value
            if self.medication.value == "attached":
                body["medication_list_text"] = self.medication_text.value or ""
        return body

    # ----- sending ----------------------------------------------------------------------------------------------

    def _clear_errors(self) -> None:
        for element in (self.day, self.time, self.destination, self.detail, self.medication_text, self.handover,
                        *(e for row in self.contacts for e in (row.name, row.phone))):
            element.error = None
        for label in (self.alert, self.contacts_error, self.medication_error):
            label.set_text("")

    async def send(self) -> None:
        self._clear_errors()
        if not self._valid():
            self.alert.set_text("Rätta de markerade fälten.")
            return
        body = self.body()
        self.send_button.props("loading")
        try:
            token = await self.frame.fresh_token()
            result: Json = await self.frame.api.action(token, self.case["id"], PATH,
                                                       {"expected_version": self.case["version"], **body},
                                                       acting_unit=self.frame.acting_unit)
        except ApiError as exc:
            self.refused(exc)
            return
        finally:
            self.send_button.props(remove="loading")
        self.dialog.submit(result)

    def refused(self, exc: ApiError) -> None:
        """Show the API's answer next to the field it names; a stale case is taken as it is now (send again)."""
        if exc.stale and exc.current is not None:
            self.case = exc.current
            if self.on_stale is not None:
                self.on_stale(exc.current)
            self.alert.set_text(exc.message)
            return
        reason = exc.problem.get("reason")
        message = REFUSAL_MESSAGES.get(str(reason), NOT_ACCEPTED) if reason else NOT_ACCEPTED
        shown = False
        for error in (e for e in exc.problem.get("errors", []) if isinstance(e, dict)):
            shown = self._show_field_error(str(error.get("field", "")), message) or shown
        self.alert.set_text(message if reason else "Rätta de markerade fälten." if shown else exc.message)

    def _show_field_error(self, field: str, message: str) -> bool:
        element = self.fields.get(field)
        if element is not None:
            element.error = message
            return True
        if field == "contacts":
            self.contacts_error.set_text(message)
            return True
        if field == "medication_list":
            self.medication_error.set_text(message)
            return True
        found = re.fullmatch(r"contacts\[(\d+)\]\.(name|phone)", field)
        if found and int(found.group(1)) < len(self.sent_rows):
            row = self.sent_rows[int(found.group(1))]
            (row.name if found.group(2) == "name" else row.phone).error = message
            return True
        return False

