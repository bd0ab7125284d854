"""Ny SIP: a coordinated individual plan started outside a discharge, from `/sip` (process.md section 5: anyone who
sees the need, typically primary care, psychiatric outpatient care or the municipality).

The plan is started at the acting unit (its owner, `POST /sip-plans` with `owner_unit_id` and the person); whether the
unit may is the API's to decide and a refusal is told by its code (`ui.components.sip.sip_message`). The identity
number is checked as it is typed by the domain's pure parser (as in "Ny inskrivning"); the API checks it again.
Other units and people are added in the room ("Lägg till deltagare"), once the plan exists; the plan is the
owner's draft until the person's consent names them. One `Idempotency-Key` per plan: a save retried after a lost
answer replays the first answer (no second plan); a new key after a refusal or a changed form.
"""

from __future__ import annotations

from nicegui import ui

from ui.api_client import ApiError, Json
from ui.components.create_form import FIX_FIELDS, CreateForm
from ui.components.register_case import MUNICIPALITY_RE, identity_error
from ui.components.sip import sip_message
from ui.frame import Frame


class NewSipDialog(CreateForm):
    def __init__(self, frame: Frame) -> None:
        super().__init__()
        self.frame = frame
        unit = frame.hub.unit_name(frame.acting_unit or "")
        with ui.dialog().props('aria-label="Ny SIP"') as self.dialog, ui.card().classes("w-[36rem] max-w-full"):
            ui.label("Ny SIP").classes("text-xl font-bold").props('role="heading" aria-level="2"')
            ui.label(f"Planen startas av {unit}, som blir planens ägare. Andra enheter och personer läggs till i "
                     "planen; de ser den när personens samtycke omfattar dem.").classes("sp-muted")
            self.identity = ui.input("Personnummer eller samordningsnummer", placeholder="ÅÅÅÅMMDD-NNNN",
                                     validation=identity_error).props(
                'outlined dense autocomplete="off" autofocus').classes("w-full").mark("new-sip-identity")
            self.protected = ui.checkbox("Skyddad identitet").mark("new-sip-protected")
            self.name = ui.input("Namn", validation=lambda v: None if (v or "").strip() else "Ange namn.").props(
                'outlined dense autocomplete="off"').classes("w-full").mark("new-sip-name")
            self.address = ui.input("Adress").props('outlined dense autocomplete="off"').classes("w-full").mark(
                "new-sip-address")
            self.municipality = ui.input(
                "Kommunkod", placeholder="0184",
                validation=lambda v: None if MUNICIPALITY_RE.match((v or "").strip())
                else "Kommunkoden är fyra siffror.").props('outlined dense mask="####" inputmode="numeric"').classes(
                "w-40").mark("new-sip-municipality")
            self.alert = ui.label("").classes("text-negative font-bold").props('role="alert"')
            self.alert.set_visibility(False)
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Avbryt", on_click=self.dialog.close).props("flat no-caps")
                self.save_button = ui.button("Starta SIP", icon="groups", on_click=self.save).props(
                    "color=primary no-caps").mark("new-sip-save")
        self.inputs = {"person.identity": self.identity, "person.name": self.name, "person.address": self.address,
                       "person.municipality_code": self.municipality}

    def body(self) -> Json:
        return {"owner_unit_id": self.frame.acting_unit, "person": {
            "identity": self.identity.value.strip(), "name": self.name.value.strip(),
            "address": (self.address.value or "").strip(), "municipality_code": self.municipality.value.strip(),
            "protected_identity": bool(self.protected.value)}}

    async def save(self) -> None:
        self.show_alert("")
        if not all([e.validate() for e in (self.identity, self.name, self.municipality)]):
            self.show_alert(FIX_FIELDS)
            return
        body = self.body()
        plan = await self.send(body, lambda token, key: self.frame.api.request(
            "POST", "/sip-plans", token, acting_unit=self.frame.acting_unit, json=body, idempotency_key=key))
        if plan is not None:
            self.dialog.close()
            ui.navigate.to(f"/sip/{plan['id']}")

    def refusal_message(self, exc: ApiError) -> str:
        return sip_message(exc)


def new_sip_button(frame: Frame) -> ui.button | None:
    """`/sip`'s "Ny SIP", for a user acting for a unit (the API decides whether the unit may start a plan)."""
    if frame.acting_unit is None:
        return None

    def open_dialog() -> None:
        dialog = NewSipDialog(frame)
        dialog.dialog.on("hide", dialog.dialog.delete)
        dialog.dialog.open()

    return ui.button("Ny SIP", icon="add", on_click=open_dialog).props("color=primary no-caps").mark("new-sip")
