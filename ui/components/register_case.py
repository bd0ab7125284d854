"""Ny inskrivning: the ward registers an admission (`POST /cases`) from the board.

Offered only where `GET /me` says the user registers cases at the acting unit
(`capabilities.register_case_unit_ids`): no role rule here. The identity number is checked as it is typed (format
and check digit, by the domain's pure parser), but the API's answer is the authority: its field errors (422
`invalid_identity`, 400 `validation_failed`, 409 for a patient who already has an open case at the ward) are shown
next to the fields. One `Idempotency-Key` per registration: a save retried after a lost answer replays the first
answer instead of creating a second case; a new key after the API has answered with a refusal, or when the form
changed since the last try (a key is only ever sent again with the same body).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from nicegui import ui

from domain.identity import InvalidIdentity, parse_patient_identity
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import can
from ui.components.create_form import FIX_FIELDS, CreateForm
from ui.frame import Frame

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^\d{2}:\d{2}$")
MUNICIPALITY_RE = re.compile(r"^\d{4}$")
DUPLICATE = "Patienten har redan ett pågående ärende på den här avdelningen."
ROUTING_PROMPT = "Ange kommunkod (och vårdcentral) så visas vilka enheter som får meddelandet."
ROUTED_NOWHERE = {  # the preview's refusals by field (`GET /routing`)
    "municipality_code": "Ingen enhet i den kommunen tar emot inskrivningsmeddelanden här: välj mottagare själv.",
    "listed_unit_id": "Den valda enheten är ingen vårdcentral: välj en annan, eller välj mottagare själv.",
}
# The API's fields -> the form's inputs (docs/api.md, RegisterCase)
FIELDS = ("patient.identity", "patient.name", "patient.address", "patient.municipality_code",
          "patient.listed_unit_id", "admitted_at", "estimated_discharge_at", "needs_identified_at", "ward_unit_id",
          "receiving_unit_ids", "routing_reason")


def may_register(frame: Frame) -> bool:
    """Whether the user registers admissions at the unit they act for (`GET /me` capabilities)."""
    return frame.acting_unit is not None and frame.acting_unit in (can(frame.live.me, "register_case_unit_ids") or [])


def identity_error(text: str | None, today: date | None = None) -> str | None:
    """Why `text` is not a personnummer or samordningsnummer (format, date, check digit), or None. A hint while
    typing: the API checks it again and decides."""
    value = (text or "").strip()
    if not value:
        return "Ange personnummer eller samordningsnummer."
    try:
        parse_patient_identity(value, today=today)
    except InvalidIdentity:
        return "Kontrollera numret (ÅÅÅÅMMDD-NNNN): fel format, datum eller kontrollsiffra."
    return None


def date_error(text: str | None, *, required: bool) -> str | None:
    value = (text or "").strip()
    if not value:
        return "Ange datum." if required else None
    if not DATE_RE.match(value):
        return "Skriv datumet som ÅÅÅÅ-MM-DD."
    try:
        date.fromisoformat(value)
    except ValueError:
        return "Datumet finns inte."
    return None


def time_error(text: str | None) -> str | None:
    value = (text or "").strip()
    if not TIME_RE.match(value):
        return "Skriv tiden som TT:MM (24 timmar)."
    hours, minutes = int(value[:2]), int(value[3:])
    return None if hours < 24 and minutes < 60 else "Tiden finns inte."


def local_moment(day: str, clock: str) -> datetime:
    """A Stockholm date and time, as an aware datetime."""
    return datetime.combine(date.fromisoformat(day), time(int(clock[:2]), int(clock[3:])), tzinfo=fmt.STOCKHOLM)


class RegisterCaseDialog(CreateForm):
    """The registration form in a dialog; `on_created` gets the new case (the board shows it at once)."""

    def __init__(self, frame: Frame, on_created: Callable[[Json], None]) -> None:
        super().__init__()
        self.frame = frame
        self.on_created = on_created
        self.needs_at: datetime | None = None
        self.listing_options: dict[str, str] = {}
        now = datetime.now(fmt.STOCKHOLM)
        # Quasar's dialog is the element with role="dialog": it carries the name (axe: aria-dialog-name)
        with ui.dialog().props('aria-label="Ny inskrivning"') as self.dialog, ui.card().classes(
                "w-[40rem] max-w-full"):
            ui.label("Ny inskrivning").classes("text-xl font-bold").props('role="heading" aria-level="2"')
            ui.label("Patienten skrivs in på " + frame.hub.unit_name(frame.acting_unit or "") + ".").classes(
                "sp-muted")
            self.form = ui.column().classes("w-full gap-1")
            with self.form:
                self.identity = ui.input("Personnummer eller samordningsnummer", placeholder="ÅÅÅÅMMDD-NNNN",
                                         validation=identity_error).props(
                    'outlined dense autocomplete="off" autofocus').classes("w-full").mark("register-identity")
                self.protected = ui.checkbox("Skyddad identitet").mark("register-protected")
                self.name = ui.input("Namn", validation=lambda v: None if (v or "").strip() else "Ange namn.").props(
                    'outlined dense autocomplete="off"').classes("w-full").mark("register-name")
                self.address = ui.input("Adress").props('outlined dense bottom-slots autocomplete="off"').classes(
                    "w-full").mark("register-address")
                with ui.row().classes("w-full gap-3 no-wrap items-start"):
                    self.municipality = ui.input(
                        "Kommunkod", placeholder="0184",
                        validation=lambda v: None if MUNICIPALITY_RE.match((v or "").strip())
                        else "Kommunkoden är fyra siffror.").props(
                        'outlined dense mask="####" inputmode="numeric"').classes("w-40").mark(
                        "register-municipality")
                    self.listing = ui.select({}, label="Listad på vårdcentral (valfritt)", with_input=True,
                                             clearable=True).props("outlined dense bottom-slots").classes(
                        "flex-1").mark("register-listing")
                ui.label("Mottagare av inskrivningsmeddelandet").classes("font-bold mt-2").props(
                    'role="heading" aria-level="3"')
                self.routing = ui.label(ROUTING_PROMPT).props('aria-live="polite"').mark("register-routing")
                self.override = ui.checkbox("Välj andra mottagare", on_change=self._override_changed).mark(
                    "register-override")
                with ui.column().classes("w-full gap-1") as self.override_box:
                    self.receivers = ui.select({}, label="Mottagande enheter", multiple=True, with_input=True,
                                               validation=lambda v: None if v else "Välj minst en enhet.").props(
                        "outlined dense use-chips").classes("w-full").mark("register-receivers-select")
                    self.reason = ui.input("Skäl till att välja andra mottagare", validation=lambda v: None if (
                        v or "").strip() else "Ange skälet.").props('outlined dense maxlength=300').classes(
                        "w-full").mark("register-routing-reason")
                self.override_box.set_visibility(False)
                ui.label("Inskrivningstid").classes("font-bold mt-2").props('role="heading" aria-level="3"')
                with ui.row().classes("w-full gap-3 no-wrap items-start"):
                    self.admitted_day = ui.input(
                        "Datum", value=now.strftime("%Y-%m-%d"), placeholder="ÅÅÅÅ-MM-DD",
                        validation=lambda v: date_error(v, required=True)).props(
                        'outlined dense mask="####-##-##"').classes("flex-1").mark("register-admitted-day")
                    _date_picker(self.admitted_day, "Välj inskrivningsdatum")
                    self.admitted_time = ui.input("Tid", value=now.strftime("%H:%M"), placeholder="TT:MM",
                                                  validation=time_error).props(
                        'outlined dense mask="##:##"').classes("w-32").mark("register-admitted-time")
                with ui.row().classes("w-full gap-3 no-wrap items-start"):
                    self.discharge_day = ui.input(
                        "Beräknad utskrivning (valfritt)", placeholder="ÅÅÅÅ-MM-DD",
                        validation=lambda v: date_error(v, required=False)).props(
                        'outlined dense mask="####-##-##"').classes("flex-1").mark("register-discharge-day")
                    _date_picker(self.discharge_day, "Välj datum för beräknad utskrivning")
                self.needs = ui.checkbox("Behov av insatser efter utskrivning är redan identifierade",
                                         on_change=self._needs_changed).mark("register-needs")
            self.alert = ui.label("").classes("text-negative font-bold").props('role="alert"')
            self.alert.set_visibility(False)
            with ui.row().classes("justify-end w-full gap-2") as self.buttons:
                ui.button("Avbryt", on_click=self.dialog.close).props("flat no-caps")
                self.save_button = ui.button("Skriv in patienten", icon="save", on_click=self.save).props(
                    "color=primary no-caps").mark("register-save")
            self.done = ui.column().classes("w-full gap-2")
            self.done.set_visibility(False)
        self.inputs: dict[str, Any] = {
            "patient.identity": self.identity, "patient.name": self.name, "patient.address": self.address,
            "patient.municipality_code": self.municipality, "patient.listed_unit_id": self.listing,
            "admitted_at": self.admitted_time, "estimated_discharge_at": self.discharge_day,
            "receiving_unit_ids": self.receivers, "routing_reason": self.reason,
        }
        self.routed: list[str] = []  # the receivers the routing rule names for what is typed now
        self._previews = 0  # previews asked for, numbered: only the newest one's answer is shown
        self.municipality.on_value_change(self._route)
        self.listing.on_value_change(self._route)

    async def open(self) -> None:
        self.dialog.open()
        if not self.listing_options:
            try:
                token = await self.frame.fresh_token()
                units = await self.frame.api.units(token, kind="primary_care")
            except ApiError:
                return  # the listing stays optional: the form works without the list
            self.listing_options = {u["id"]: u["name"] for u in sorted(units, key=lambda u: u["name"])}
            self.listing.set_options(self.listing_options)

    # ----- routing: the preview and choosing by hand ------------------------------------------------------------

    async def _route(self) -> None:
        """Name the units the notice would reach, by the server's routing rule (`GET /routing`): no copy here."""
        self._previews += 1
        asked = self._previews
        code = (self.municipality.value or "").strip()
        if not MUNICIPALITY_RE.match(code):
            self.routed = []
            self.routing.set_text(ROUTING_PROMPT)
            return
        params = {"municipality_code": code}
        if self.listing.value:
            params["listed_unit_id"] = self.listing.value
        try:
            token = await self.frame.fresh_token()
            answer: Json = await self.frame.api.request("GET", "/routing", token, params=params)
        except ApiError as exc:
            if asked == self._previews:
                self.routed = []
                fields = {str(e.get("field")) for e in exc.problem.get("errors", []) if isinstance(e, dict)}
                self.routing.set_text(ROUTED_NOWHERE.get(next(iter(fields), ""), exc.message))
            return
        if asked != self._previews:
            return  # the form changed meanwhile: a newer preview is on its way
        receivers = answer["receivers"]
        self.routed = [r["unit_id"] for r in receivers]
        text = " · ".join(f"{fmt.label(fmt.PARTS, r['part'])}: {r['unit_name']}" for r in receivers)
        if not any(r["part"] == "primary_care_unit" for r in receivers):
            text += " · Ingen vårdcentral: välj den patienten är listad på, eller välj mottagare själv"
        self.routing.set_text("Går till " + text)

    async def _override_changed(self) -> None:
        """Choosing the receivers by hand: every receiving unit to choose from, the routed ones chosen to start."""
        self.override_box.set_visibility(bool(self.override.value))
        if not self.override.value:
            return
        if not self.receivers.options:
            try:
                token = await self.frame.fresh_token()
                units = await self.frame.api.units(token, receiving=True)
            except ApiError as exc:
                self.show_alert(exc.message)
                return
            self.receivers.set_options({u["id"]: f"{u['name']} ({fmt.label(fmt.UNIT_KINDS, u['kind'])})"
                                        for u in sorted(units, key=lambda u: u["name"])})
        if not self.receivers.value:
            self.receivers.set_value([u for u in self.routed if u in self.receivers.options])

    # ----- the body ---------------------------------------------------------------------------------------------

    def _valid(self) -> bool:
        by_hand = (self.receivers, self.reason) if self.override.value else ()
        checks = [e.validate() for e in (self.identity, self.name, self.municipality, self.admitted_day,
                                          self.admitted_time, self.discharge_day, *by_hand)]
        if not all(checks):
            return False
        admitted = local_moment(self.admitted_day.value.strip(), self.admitted_time.value.strip())
        if admitted > datetime.now(fmt.STOCKHOLM) + timedelta(minutes=1):
            self.admitted_time.error = "Inskrivningstiden kan inte ligga i framtiden."
            return False
        return True

    def _needs_changed(self) -> None:
        """Needs count as identified when the box is ticked (kept, so a retried save sends the same body)."""
        self.needs_at = datetime.now(fmt.STOCKHOLM).replace(second=0, microsecond=0) if self.needs.value else None

    def body(self) -> Json:
        admitted = local_moment(self.admitted_day.value.strip(), self.admitted_time.value.strip())
        patient: Json = {
            "identity": self.identity.value.strip(), "name": self.name.value.strip(),
            "address": (self.address.value or "").strip(), "municipality_code": self.municipality.value.strip(),
            "protected_identity": bool(self.protected.value),
        }
        if self.listing.value:
            patient["listed_unit_id"] = self.listing.value
        body: Json = {"ward_unit_id": self.frame.acting_unit, "patient": patient,
                      "admitted_at": admitted.isoformat()}
        if self.override.value:  # chosen by hand, with the ward's reason (the API keeps it on the timeline)
            body["receiving_unit_ids"] = list(self.receivers.value)
            body["routing_reason"] = self.reason.value.strip()
        discharge = (self.discharge_day.value or "").strip()
        if discharge:
            body["estimated_discharge_at"] = local_moment(discharge, "12:00").isoformat()
        if self.needs.value and self.needs_at is not None:
            body["needs_identified_at"] = max(admitted, self.needs_at).isoformat()
        return body

    # ----- saving -----------------------------------------------------------------------------------------------

    async def save(self) -> None:
        self.show_alert("")
        if not self._valid():
            self.show_alert(FIX_FIELDS)
            return
        body = self.body()
        case = await self.send(body, lambda token, key: self.frame.api.register_case(token, body, idempotency_key=key))
        if case is not None:
            self.on_created(case)
            self.created(case)

    def refused(self, exc: ApiError) -> None:
        if exc.status == 409:  # the patient already has an open case at the ward
            self.request.answered(exc)
            self.identity.error = DUPLICATE
            self.show_alert(DUPLICATE)
            return
        super().refused(exc)

    def field_message(self, field: str, exc: ApiError) -> str:
        if exc.code == "time_out_of_range":
            return "Tidpunkten ligger för långt bakåt eller framåt i tiden."
        if field == "admitted_at":
            return "Inskrivningstiden godtogs inte (den kan inte ligga i framtiden)."
        return "Uppgiften godtogs inte."

    def created(self, case: Json) -> None:
        """Offer the case view; registration continues there (Skicka inskrivningsmeddelande)."""
        self.form.set_visibility(False)
        self.buttons.set_visibility(False)
        self.done.clear()
        with self.done:
            ui.label("Patienten är inskriven.").classes("text-lg font-bold").props(
                'role="status"')
            receivers = [p["unit_name"] for p in case.get("participants", [])
                         if p["part"] != "inpatient_unit" and p["status"] == "active"]
            if receivers:  # where the API routed the case (the patient's municipality and listing)
                ui.label("Inskrivningsmeddelandet går till: " + ", ".join(receivers) + ".").mark("register-receivers")
            else:
                ui.label("Ingen mottagande enhet hittades: lägg till kommun och vårdcentral i ärendet.").mark(
                    "register-receivers")
            ui.label("Nästa steg: skicka inskrivningsmeddelandet från ärendet.").classes("sp-muted")
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Stäng", on_click=self.dialog.close).props("flat no-caps").mark("register-close")
                ui.button("Öppna ärendet", icon="open_in_new",
                          on_click=lambda: ui.navigate.to(f"/arende/{case['id']}")).props(
                    "color=primary no-caps").mark("register-open-case")
        self.done.set_visibility(True)


def _date_picker(field: ui.input, label: str) -> None:
    """A calendar beside a date field (typing the date works as well); Swedish through the app's language."""
    with ui.menu().props("no-parent-event") as menu:
        ui.date(mask="YYYY-MM-DD", on_change=lambda e: (field.set_value(e.value), menu.close())).props(
            "first-day-of-week=1 minimal")
    with field.add_slot("append"):
        ui.button(icon="edit_calendar", on_click=menu.open).props(f'flat round dense aria-label="{label}"')


def register_button(frame: Frame, on_created: Callable[[Json], None]) -> ui.button | None:
    """The board's "Ny inskrivning" button, for users who register admissions at the acting unit."""
    if not may_register(frame):
        return None

    async def open_dialog() -> None:
        dialog = RegisterCaseDialog(frame, on_created)
        dialog.dialog.on("hide", dialog.dialog.delete)
        await dialog.open()

    return ui.button("Ny inskrivning", icon="person_add", on_click=open_dialog).props(
        "color=primary no-caps").mark("register-case")
