"""The person's consent in the SIP meeting room (*samtycke*): who gave it, when, how and to which units; the
earlier records; recording a new consent and a withdrawal (*återkalla samtycke*), which ends sharing.

The section is redrawn only when the consent, the units or what the room allows changed (a participant's
recording shows in every open room by itself); the forms are dialogs outside it, so a redraw never touches what
someone is typing.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import Json
from ui.components.sections import KeyedSection
from ui.pages.sip_room.forms import (
    FormDialog,
    Room,
    date_input,
    labelled_checkbox,
    may,
    now_local,
    text,
    time_input,
    typed_time,
)

GIVERS = {"person": "Personen själv", "legal_representative": "Legal företrädare (god man, förvaltare)",
          "guardian": "Vårdnadshavare"}
FORMS = {"verbal": "Muntligt", "written": "Skriftligt"}


def unit_label(room: Room, unit_id: str) -> str:
    unit = next((u for u in room.plan["units"] if u["unit_id"] == unit_id), None)
    return str(unit["unit_name"]) if unit else room.frame.hub.unit_name(unit_id)


def can_give(room: Room, plan: Json) -> bool:
    return room.visible and may(plan, "record_consent")


def can_withdraw(room: Room, plan: Json) -> bool:
    return room.visible and may(plan, "withdraw_consent")


class ConsentSection:
    def __init__(self, room: Room) -> None:
        self.room = room
        with ui.card().classes("w-full").props('role="region" aria-label="Samtycke"'):
            ui.label("Samtycke").classes("sp-h2").props('role="heading" aria-level="2"')
            self.keyed = KeyedSection(self.key, self.view)

    def key(self) -> str:
        """What the section shows: it is redrawn only when this changes."""
        plan = self.room.plan
        return repr((plan.get("consents"), [(u["unit_id"], u["active"], u["sees_plan"]) for u in plan["units"]],
                     plan["state"], self.room.visible, can_give(self.room, plan), can_withdraw(self.room, plan)))

    def update(self) -> None:
        self.keyed.update()

    def view(self) -> None:
        room, plan = self.room, self.room.plan
        consent = plan.get("consent")
        owner = unit_label(room, plan["owner_unit_id"])
        with ui.column().classes("w-full gap-2").mark("consent"):
            if consent is not None:
                ui.label("Samtycke gäller").classes("sp-ok font-bold text-xl").mark("consent-state")
                with ui.element("dl").classes("sp-facts"):
                    _fact("Givet av", GIVERS.get(consent["given_by"], consent["given_by"]))
                    _fact("Hur", FORMS.get(consent["form"], consent["form"]))
                    _fact("När", fmt.date_time(consent["given_at"]))
                    _fact("Registrerat", f"{fmt.date_time(consent['recorded_at'])} av "
                                         f"{unit_label(room, consent['recorded_by_unit_id'])}")
                    _fact("Gäller för", ", ".join(unit_label(room, u) for u in consent["scope_unit_ids"]))
                    _fact("Närstående får delta", "Ja" if consent["next_of_kin_may_take_part"] else "Nej")
                    _fact("Publiceras i 1177", "Ja" if consent["patient_portal"] else "Nej")
                outside = [u["unit_name"] for u in plan["units"] if u["active"] and not u["sees_plan"]]
                if outside:
                    ui.label(f"Omfattas inte av samtycket (ser inte planen): {', '.join(outside)}.").classes(
                        "sp-at_risk")
            elif plan.get("sharing_ended"):
                withdrawn = next((c["withdrawn_at"] for c in reversed(plan["consents"]) if c["withdrawn_at"]), None)
                ui.label(f"Samtycket återkallades {fmt.date_time(withdrawn)}. Delningen har upphört: bara {owner} "
                         "ser planen.").classes("sp-overdue").mark("consent-state")
            else:
                ui.label(f"Inget samtycke registrerat än. Planen är ett utkast hos {owner} tills personen "
                         "samtycker.").classes("sp-at_risk").mark("consent-state")
            earlier = [c for c in plan.get("consents", []) if not c["active"]]
            if earlier:
                ui.label("Tidigare samtycken").classes("font-bold")
                with ui.element("ul").classes("w-full"):
                    for record in reversed(earlier):
                        end = (f"återkallat {fmt.date_time(record['withdrawn_at'])}" if record["withdrawn_at"]
                               else f"ersatt {fmt.date_time(record['superseded_at'])}")
                        with ui.element("li").classes("sp-row"):
                            ui.label(f"Givet {fmt.date_time(record['given_at'])} av "
                                     f"{GIVERS.get(record['given_by'], record['given_by']).lower()} "
                                     f"({FORMS.get(record['form'], record['form']).lower()}) – {end}")
            with ui.row().classes("gap-2"):
                ui.button("Registrera nytt samtycke" if consent else "Registrera samtycke", icon="how_to_reg",
                          on_click=self.give).props("no-caps color=primary size=lg").mark(
                    "give-consent").set_enabled(can_give(room, plan))
                ui.button("Återkalla samtycke", icon="block", on_click=self.withdraw).props(
                    "no-caps outline color=negative size=lg").mark("withdraw-consent").set_enabled(
                    can_withdraw(room, plan))

    def give(self) -> None:
        room = self.room
        plan = room.plan
        current = plan.get("consent")
        form = FormDialog(room, "Registrera samtycke", "Registrera samtycket", "save-consent",
                          lambda p: can_give(room, p))
        now = now_local()
        scope = set(current["scope_unit_ids"]) if current else {u["unit_id"] for u in plan["units"] if u["active"]}
        boxes: dict[str, ui.checkbox] = {}
        with form.body:
            giver = ui.select(GIVERS, value=current["given_by"] if current else "person",
                              label="Vem gav samtycket").props("outlined").classes("w-full").mark("consent-giver")
            how = ui.select(FORMS, value=current["form"] if current else "verbal",
                            label="Hur gavs det").props("outlined").classes("w-full").mark("consent-form")
            with ui.row().classes("gap-2"):
                day = date_input("Datum då samtycket gavs", now.date(), "consent-day")
                time = time_input("Klockslag", now.strftime("%H:%M"), "consent-time")
            ui.label("Samtycket gäller för dessa enheter").classes("font-bold")
            with ui.element("div").classes("w-full flex flex-col").props(
                    'role="group" aria-label="Samtycket gäller för dessa enheter"'):
                for unit in plan["units"]:
                    if not unit["active"]:
                        continue
                    owner = unit["unit_id"] == plan["owner_unit_id"]
                    name = unit["unit_name"] + (" (planens ägare, alltid med)" if owner else "")
                    box = labelled_checkbox(name, owner or unit["unit_id"] in scope, f"scope-{unit['unit_id']}")
                    box.set_enabled(not owner)
                    boxes[unit["unit_id"]] = box
            kin = labelled_checkbox("Närstående får delta", bool(current["next_of_kin_may_take_part"])
                                    if current else True, "consent-kin")
            portal = labelled_checkbox("Planen får publiceras i 1177", bool(current["patient_portal"])
                                       if current else False, "consent-portal")

        async def submit() -> bool:
            given_at = typed_time(day.value, time.value)
            if given_at is None:
                form.fail("Ange datum och klockslag då samtycket gavs.")
                return False
            body: dict[str, Any] = {
                "expected_version": room.plan["version"], "given_by": giver.value, "form": how.value,
                "given_at": given_at, "scope_unit_ids": [u for u, box in boxes.items() if box.value],
                "next_of_kin_may_take_part": bool(kin.value), "patient_portal": bool(portal.value)}
            return await form.run("consent", body, "Samtycket är registrerat.")

        form.open(submit)

    def withdraw(self) -> None:
        room = self.room
        owner = unit_label(room, room.plan["owner_unit_id"])
        form = FormDialog(room, "Återkalla samtycke", "Återkalla samtycket", "confirm-withdraw",
                          lambda p: can_withdraw(room, p))
        now = now_local()
        with form.body:
            ui.label(f"Delningen upphör: efter detta ser bara {owner} planen. Kommande möten ställs in och "
                     "påbörjade justeringar tas bort. Planen kan inte ändras förrän personen samtycker igen; "
                     "fastställda versioner finns kvar.").classes("whitespace-normal")
            with ui.row().classes("gap-2"):
                day = date_input("Datum då personen återkallade", now.date(), "withdraw-day")
                time = time_input("Klockslag", now.strftime("%H:%M"), "withdraw-time")

        async def submit() -> bool:
            withdrawn_at = typed_time(day.value, time.value)
            if withdrawn_at is None:
                form.fail("Ange datum och klockslag då samtycket återkallades.")
                return False
            return await form.run("consent-withdrawal", {"withdrawn_at": withdrawn_at},
                                  "Samtycket är återkallat. Planen delas inte längre.")

        form.open(submit)


def _fact(term: str, value: str) -> None:
    with ui.element("div").classes("flex gap-2 flex-wrap"):
        text(term, "dt").classes("sp-muted min-w-[11rem]")
        text(value, "dd").classes("font-bold")
