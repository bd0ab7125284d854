"""Follow-up and closing in the SIP meeting room (*uppföljning*, *avslut*): the date of the next follow-up, the
follow-ups recorded, and the two state transitions: record a follow-up of the agreed version (the plan becomes
*uppföljd*; a revised plan agreed afterwards is the next version) and close the plan (*avsluta*).

Who may is the API's rule (the owner unit or a unit of the principal with the overall responsibility; a follow-up
once a version is agreed), given with the plan (`allowed_actions`): a unit that may never do it does not see the
buttons, only who does; a button the plan's state does not allow yet is disabled with the reason beside it.
Redrawn only when the state, the follow-ups, the date or what the unit may do change.
"""

from __future__ import annotations

from datetime import date

from nicegui import ui

from ui import fmt
from ui.api_client import Json
from ui.components.sections import KeyedSection
from ui.pages.sip_room.forms import (
    FormDialog,
    Room,
    date_input,
    for_my_part,
    may,
    now_local,
    time_input,
    typed_time,
    why_not,
)

CLOSE_REASONS = {
    "goals_met": "Målen är uppnådda",
    "no_longer_needed": "Behovet av samordning finns inte längre",
    "consent_withdrawn": "Personen har återkallat sitt samtycke",
    "declined": "Personen vill inte ha en SIP",
    "died": "Personen har avlidit",
    "moved": "Personen har flyttat från regionen eller kommunen",
    "other": "Annan orsak",
}


def can_follow_up(room: Room, plan: Json) -> bool:
    return room.visible and may(plan, "follow_up")


def can_close(room: Room, plan: Json) -> bool:
    return room.visible and may(plan, "close")


def follow_up_date(plan: Json) -> str | None:
    """The follow-up date that applies now (of the agreed version), else the one written in the draft."""
    value = plan.get("next_follow_up_on") or plan["contents"]["next_follow_up_on"]["value"]
    return str(value) if value else None


class FollowUpSection:
    def __init__(self, room: Room) -> None:
        self.room = room
        with ui.card().classes("w-full").props('role="region" aria-label="Uppföljning och avslut"'):
            ui.label("Uppföljning och avslut").classes("sp-h2").props('role="heading" aria-level="2"')
            self.keyed = KeyedSection(self.key, self.view)

    def key(self) -> str:
        """What the section shows: it is redrawn only when this changes."""
        plan = self.room.plan
        return repr((plan["state"], plan.get("follow_ups"), follow_up_date(plan), plan.get("closed_at"),
                     len(plan.get("versions") or []), self.room.editable, self.room.visible, plan["owner_unit_id"],
                     plan.get("responsible_principal"), why_not(plan, "follow_up"), why_not(plan, "close")))

    def update(self) -> None:
        self.keyed.update()

    def view(self) -> None:
        room, plan = self.room, self.room.plan
        owner = next((u["unit_name"] for u in plan["units"] if u["unit_id"] == plan["owner_unit_id"]),
                     room.frame.hub.unit_name(plan["owner_unit_id"]))
        with ui.column().classes("w-full gap-2").mark("follow-up"):
            day = follow_up_date(plan)
            if plan["state"] == "closed":
                reason = CLOSE_REASONS.get(str(plan.get("close_reason")), "")
                ui.label(f"Planen avslutades {fmt.date_time(plan.get('closed_at'))}"
                         + (f": {reason.lower()}." if reason else ".")).classes("font-bold text-xl").mark(
                    "closed-note")
            elif day:
                passed = date.fromisoformat(day) < now_local().date()
                ui.label(f"Nästa uppföljning: {day}" + (" – datumet har passerat" if passed else "")).classes(
                    "text-xl font-bold" + (" sp-overdue" if passed else "")).mark("next-follow-up")
            else:
                ui.label("Inget datum för uppföljning är satt (fältet Nästa uppföljning).").classes("sp-at_risk")
            follow_ups = plan.get("follow_ups") or []
            if follow_ups:
                with ui.element("ul").classes("w-full"):
                    for done in reversed(follow_ups):
                        unit = next((u["unit_name"] for u in plan["units"] if u["unit_id"] ==
                                     done["recorded_by_unit_id"]), room.frame.hub.unit_name(
                            done["recorded_by_unit_id"]))
                        with ui.element("li").classes("sp-row"):
                            ui.label(f"Version {done['version_number']} följdes upp {fmt.date_time(done['held_at'])} "
                                     f"({unit})").classes("font-bold")
                            if done["notes"]:
                                ui.label(done["notes"]).classes("whitespace-pre-wrap")
            if plan["state"] != "closed":
                responsible = plan.get("responsible_principal")
                ui.label(f"Uppföljning och avslut görs av {owner} (planens ägare) eller av huvudmannen med "
                         "huvudansvaret" + (f", {responsible['name']}." if responsible else ".")).classes(
                    "sp-muted").mark("follow-up-who")
                shown = [a for a in ("follow_up", "close") if room.visible and for_my_part(plan, a)]
                if room.visible and not shown:
                    ui.label("Din enhet kan inte följa upp eller avsluta planen.").classes("sp-muted").mark(
                        "follow-up-not-mine")
                if "follow_up" in shown and not can_follow_up(room, plan) and room.editable:
                    ui.label(why_not(plan, "follow_up")).classes("sp-muted").mark("follow-up-why")
                with ui.row().classes("gap-2"):
                    if "follow_up" in shown:
                        ui.button("Registrera uppföljning", icon="fact_check", on_click=self.follow_up).props(
                            "no-caps color=primary size=lg").mark("record-follow-up").set_enabled(
                            can_follow_up(room, plan))
                    if "close" in shown:
                        ui.button("Avsluta planen", icon="archive", on_click=self.close).props(
                            "no-caps outline color=negative size=lg").mark("close-plan").set_enabled(
                            can_close(room, plan))

    def follow_up(self) -> None:
        room = self.room
        form = FormDialog(room, "Registrera uppföljning", "Registrera uppföljningen", "save-follow-up",
                          lambda p: can_follow_up(room, p))
        now = now_local()
        with form.body:
            number = room.plan.get("current_version_number")
            ui.label(f"Uppföljning av den gällande planen (version {number}).")
            with ui.row().classes("gap-2"):
                day = date_input("Datum för uppföljningen", now.date(), "follow-up-day")
                time = time_input("Klockslag", now.strftime("%H:%M"), "follow-up-time")
            notes = ui.textarea("Vad kom ni fram till").props("outlined autogrow").classes("w-full").mark(
                "follow-up-notes")
            ui.label("Ändra sedan planen och justera igen för att fastställa nästa version, med ett nytt datum för "
                     "uppföljning.").classes("sp-muted whitespace-normal")

        async def submit() -> bool:
            held_at = typed_time(day.value, time.value)
            if held_at is None:
                form.fail("Ange datum och klockslag för uppföljningen.")
                return False
            return await form.run("follow-ups", {"expected_version": room.plan["version"], "held_at": held_at,
                                                 "notes": str(notes.value or "").strip()},
                                  "Uppföljningen är registrerad.")

        form.open(submit)

    def close(self) -> None:
        room = self.room
        form = FormDialog(room, "Avsluta planen", "Avsluta planen", "confirm-close", lambda p: can_close(room, p))
        with form.body:
            reason = ui.select(CLOSE_REASONS, value="goals_met", label="Orsak").props("outlined").classes(
                "w-full").mark("close-reason")
            ui.label("En avslutad plan kan inte ändras. Fastställda versioner finns kvar och kan laddas ned.").classes(
                "whitespace-normal")

        async def submit() -> bool:
            if not reason.value:
                form.fail("Välj en orsak.")
                return False
            return await form.run("closure", {"expected_version": room.plan["version"], "reason": reason.value},
                                  "Planen är avslutad.")

        form.open(submit)
