"""Participants in the SIP meeting room (*deltagare*): the units (each acting for its principal; the owner, and
those the consent does not name yet, marked), the person, and the named participants without accounts (next of
kin, a legal representative, other actors such as Försäkringskassan or the school). "Lägg till deltagare" adds a
unit (searched among the directory's active units) or a named participant; "Ta bort" removes one (never the
owner); "Lämna över planen" lets the owner unit hand the plan over to another unit that sees it.

What is offered follows what the API allows the acting unit (`allowed_actions`): next of kin are not offered when
the person objects, and "Lämna över planen" is shown only to the owner (disabled, with the reason, until another
unit sees the plan). Names are shown as the API gives them: a
next of kin's name comes masked ("Skyddad identitet") when the person has a protected identity and the user's
assignment lacks the explicit need. The section is redrawn only when the participants, the owner or what the unit
may do changed (another room's change shows here by itself); the forms are dialogs outside it.
"""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import ui

from ui.api_client import ApiError, Json
from ui.components import sip
from ui.components.sections import KeyedSection
from ui.pages.sip_room.forms import FormDialog, Room, for_my_part, refusal, why_not

UNIT = "unit"
# The kinds of unit that may take part in a plan (each acts for a region or a municipality).
UNIT_KINDS = ("municipal", "primary_care", "psychiatric_outpatient", "somatic_ward", "psychiatric_ward")
SHORT_KINDS = {"next_of_kin": "Närstående", "legal_representative": "Legal företrädare",
               "other_actor": "Annan aktör"}


def named_text(named: Json) -> str:
    """What is known of a named participant beside the name: kind, role, organisation."""
    kind = SHORT_KINDS.get(str(named["kind"]), str(named["kind"]))
    return ", ".join(x for x in (kind, named.get("role"), named.get("organisation")) if x)


class ParticipantsSection:
    def __init__(self, room: Room) -> None:
        self.room = room
        with ui.card().classes("w-full").props('role="region" aria-label="Deltagare"'):
            ui.label("Deltagare").classes("sp-h2").props('role="heading" aria-level="2"')
            self.keyed = KeyedSection(self.key, self.view)

    def key(self) -> str:
        """What the section shows: it is redrawn only when this changes."""
        plan = self.room.plan
        actions = ("add_participant", "add_next_of_kin", "remove_participant", "hand_over")
        return repr((plan["units"], plan.get("named_participants"), plan["owner_unit_id"], plan["person"]["name"],
                     plan.get("hand_over_unit_ids"), [(a, why_not(plan, a)) for a in actions], self.room.visible))

    def update(self) -> None:
        self.keyed.update()

    def _allows(self, plan: Json, action: str) -> bool:
        return self.room.visible and action in (plan.get("allowed_actions") or ())

    def view(self) -> None:
        room, plan = self.room, self.room.plan
        removable = self._allows(plan, "remove_participant")
        with ui.column().classes("w-full gap-2").mark("participants"):
            with ui.element("ul").classes("w-full"):
                for unit in plan["units"]:
                    if unit["active"]:
                        self._unit_row(unit, removable)
                with ui.element("li").classes("sp-row"):
                    ui.label(f"{plan['person']['name']} (personen planen gäller)").classes("font-bold")
                for named in plan.get("named_participants", []):
                    if named["active"]:
                        self._named_row(named, removable)
            with ui.row().classes("gap-2 items-center"):
                if for_my_part(plan, "add_participant"):
                    ui.button("Lägg till deltagare", icon="group_add", on_click=self.add).props(
                        "no-caps outline color=primary size=lg").mark("add-participant").set_enabled(
                        self._allows(plan, "add_participant"))
                # The owner, once another unit sees the plan; before that, disabled with the reason.
                waiting = room.visible and refusal(plan, "hand_over") == "no_unit_to_hand_over_to"
                if self._allows(plan, "hand_over") or waiting:
                    ui.button("Lämna över planen", icon="swap_horiz", on_click=self.hand_over).props(
                        "no-caps outline size=lg").mark("hand-over").set_enabled(not waiting)
            if waiting:
                ui.label(why_not(plan, "hand_over")).classes("sp-muted").mark("hand-over-note")

    def _unit_row(self, unit: Json, removable: bool) -> None:
        plan = self.room.plan
        kind = sip.PRINCIPAL_KINDS.get(unit["principal_kind"], unit["principal_kind"])
        extra = "" if unit["sees_plan"] else " – omfattas inte av samtycket (ser inte planen)"
        owner = unit["unit_id"] == plan["owner_unit_id"]
        with ui.element("li").classes("sp-row flex flex-wrap gap-x-4 items-center"):
            ui.label(unit["unit_name"] + (" (planens ägare)" if owner else "")).classes("font-bold")
            ui.label(f"{kind}{extra}").classes("sp-muted")
            if removable and not owner:
                self._remove_button(unit["unit_id"], unit["unit_name"], True)

    def _named_row(self, named: Json, removable: bool) -> None:
        with ui.element("li").classes("sp-row flex flex-wrap gap-x-4 items-center"):
            ui.label(named["name"]).classes("font-bold")
            ui.label(named_text(named)).classes("sp-muted")
            if removable:
                self._remove_button(named["id"], named["name"], False)

    def _remove_button(self, participant_id: str, name: str, is_unit: bool) -> None:
        spoken = name.replace('"', "'")  # inside an attribute
        ui.button("Ta bort", icon="person_remove", on_click=lambda: self.remove(participant_id, name, is_unit)).props(
            f'flat dense no-caps color=negative aria-label="Ta bort {spoken} ur planen"').mark(
            f"remove-participant-{participant_id}")

    # ----- commands ----------------------------------------------------------------------------------------------

    async def add(self) -> None:
        room = self.room
        frame = room.frame
        try:
            token = await frame.fresh_token()
            units = [u for kind in UNIT_KINDS for u in await frame.api.units(token, kind=kind)]
        except ApiError as exc:
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        frame.hub.remember_units(units)
        taking_part = {u["unit_id"] for u in room.plan["units"] if u["active"]}
        unit_options = {u["id"]: u["name"] for u in sorted(units, key=lambda u: str(u["name"]))
                        if u["id"] not in taking_part and u.get("active", True)}
        kinds = {UNIT: "Enhet (region eller kommun)", **sip.NAMED_KINDS}
        if not self._allows(room.plan, "add_next_of_kin"):
            kinds.pop("next_of_kin")
        form = FormDialog(room, "Lägg till deltagare", "Lägg till", "save-participant",
                          lambda p: self._allows(p, "add_participant"))
        with form.body:
            kind = ui.select(kinds, value=UNIT, label="Vem läggs till").props("outlined").classes("w-full").mark(
                "participant-kind")
            if "next_of_kin" not in kinds:
                ui.label(why_not(room.plan, "add_next_of_kin")).classes("sp-muted").mark("participant-kin-note")
            unit_box = ui.column().classes("w-full gap-1")
            with unit_box:
                unit = ui.select(unit_options, label="Enhet", with_input=True).props("outlined").classes(
                    "w-full").mark("participant-unit")
                ui.label("Enheten ser planen först när personens samtycke omfattar den (registrera då ett nytt "
                         "samtycke).").classes("sp-muted whitespace-normal")
            named_box = ui.column().classes("w-full gap-1")
            with named_box:
                name = ui.input("Namn").props("outlined").classes("w-full").mark("participant-name")
                organisation = ui.input("Organisation (t.ex. Försäkringskassan, skolan)").props("outlined").classes(
                    "w-full").mark("participant-organisation")
                role = ui.input("Roll (t.ex. dotter, handläggare, mentor)").props("outlined").classes(
                    "w-full").mark("participant-role")
                ui.label("Personen har inget konto i Samplan: namnet syns bara i planen, aldrig i händelser.").classes(
                    "sp-muted whitespace-normal")

        def show_kind() -> None:
            unit_box.set_visibility(kind.value == UNIT)
            named_box.set_visibility(kind.value != UNIT)

        kind.on_value_change(show_kind)
        show_kind()

        async def submit() -> bool:
            version = room.plan["version"]
            if kind.value == UNIT:
                if not unit.value:
                    form.fail("Välj en enhet.")
                    return False
                return await form.run("units", {"expected_version": version, "unit_id": unit.value},
                                      "Enheten är tillagd.")
            text = str(name.value or "").strip()
            if not text:
                form.fail("Skriv namnet.")
                return False
            body: dict[str, Any] = {
                "expected_version": version, "kind": kind.value, "name": text,
                "organisation": str(organisation.value or "").strip(), "role": str(role.value or "").strip(),
                "participant_id": str(uuid.uuid4())}
            return await form.run("named-participants", body, "Deltagaren är tillagd.")

        form.open(submit)

    def remove(self, participant_id: str, name: str, is_unit: bool) -> None:
        room = self.room
        form = FormDialog(room, "Ta bort deltagare", "Ta bort", "confirm-remove-participant",
                          lambda p: self._allows(p, "remove_participant"))
        with form.body:
            ui.label(f"Ta bort {name} ur planen?").classes("font-bold")
            if is_unit:
                ui.label("Enheten ser inte längre planen. Påbörjade justeringar tas bort om huvudmännen "
                         "ändras.").classes("whitespace-normal")

        async def submit() -> bool:
            return await form.run("participant-removal", {"expected_version": room.plan["version"],
                                                          "participant_id": participant_id},
                                  f"{name} är borttagen ur planen.")

        form.open(submit)

    def hand_over(self) -> None:
        room = self.room
        plan = room.plan
        names = sip.unit_names(plan)
        options = {u: names.get(u) or room.frame.hub.unit_name(u) for u in plan.get("hand_over_unit_ids") or []}
        form = FormDialog(room, "Lämna över planen", "Lämna över", "confirm-hand-over",
                          lambda p: self._allows(p, "hand_over"))
        with form.body:
            choice = ui.select(options, label="Ny ägare av planen").props("outlined").classes("w-full").mark(
                "hand-over-unit")
            ui.label("Den nya ägaren ansvarar för planen: ser den alltid, kan följa upp och avsluta den och är den "
                     "som ser den om samtycket återkallas. Din enhet är kvar som deltagare. Huvudansvaret ändras "
                     "inte av detta.").classes("whitespace-normal")

        async def submit() -> bool:
            if not choice.value:
                form.fail("Välj vem som ska ta över planen.")
                return False
            return await form.run("ownership", {"expected_version": room.plan["version"], "unit_id": choice.value},
                                  f"Planen är överlämnad till {options.get(choice.value, 'den nya ägaren')}.")

        form.open(submit)
