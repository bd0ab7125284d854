"""The actions of the discharge process (process.md section 3) a user may take on a case, and running them.

`actions_for(case, frame)` lists what the acting unit's part allows in the case's state (the API decides in the
end; this only keeps buttons the user cannot use out of sight). `perform` asks for what an action needs in a
dialog (a time, a reason, a unit, a person), calls the API and tells the user the outcome in Swedish. A stale
write (409) shows the case as it is now through `on_result`, so the caller can show the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.frame import Frame
from ui.live import unacknowledged_for

OPEN_STATES = ("admitted", "planning", "ready_for_discharge")


@dataclass(frozen=True)
class Action:
    key: str
    label: str
    path: str
    kind: str = "simple"  # simple | confirm | datetime | discharge | needs | reject | forward | interrupt | contact
    icon: str = ""
    danger: bool = False


SEND_ADMISSION = Action("admission", "Skicka inskrivningsmeddelande", "admission-notice", icon="send")
READY = Action("ready", "Utskrivningsklar", "ready-for-discharge", "confirm", icon="done_all")
WITHDRAW = Action("withdraw", "Inte längre utskrivningsklar", "ready-for-discharge-withdrawal", "confirm",
                  icon="undo")
ESTIMATE = Action("estimate", "Ändra beräknad utskrivning", "estimated-discharge", "datetime", icon="event")
DISCHARGE = Action("discharge", "Skicka utskrivningsmeddelande", "discharge-notice", "discharge", icon="logout")
LEAVE = Action("leave", "Permission", "leave", icon="directions_walk")
LEAVE_END = Action("leave_end", "Åter från permission", "leave-end", icon="keyboard_return")
INTERRUPT = Action("interrupt", "Avbrott", "interruption", "interrupt", icon="block", danger=True)
CANCEL = Action("cancel", "Makulera (felsänt)", "cancellation", "confirm", icon="delete", danger=True)
CLOSE = Action("close", "Avsluta ärendet", "closure", "confirm", icon="archive")
ACK = Action("ack", "Kvittera", "acknowledgements", icon="mark_email_read")
CONTACT = Action("contact", "Utse fast vårdkontakt", "named-care-contact", "contact", icon="person_add")
SIP = Action("sip", "Skicka kallelse till SIP", "sip-invitation", "confirm", icon="groups")
FORWARD = Action("forward", "Vidarebefordra", "forwarding", "forward", icon="forward")
REJECT = Action("reject", "Inte vår patient", "rejection", "reject", icon="report", danger=True)
# Actions of the case view's own sections (participants, needs, liability facts, home-ready checklist); their
# input comes from the section, not from a dialog here (except the time of NEEDS_IDENTIFIED).
ADD_PARTICIPANT = Action("add_participant", "Lägg till enhet", "participants", icon="group_add")
REMOVE_PARTICIPANT = Action("remove_participant", "Ta bort enhet", "participant-removal", icon="group_remove",
                            danger=True)
NEEDS_IDENTIFIED = Action("needs", "Behov identifierade senare", "needs-identified", "needs", icon="flag")
LIABILITY_FACTS = Action("liability", "Spara uppgifter om betalningsansvar", "liability-facts", icon="save")
HOME_READINESS = Action("home", "Spara hemgångsklar", "home-readiness", icon="save")


def actions_for(case: Json, frame: Frame) -> list[Action]:
    state = case["state"]
    part = frame.part
    result: list[Action] = []
    if part == "inpatient_unit" and case.get("ward_unit_id") == frame.acting_unit:
        if state == "admitted":
            result += [SEND_ADMISSION, ESTIMATE, CANCEL]
        elif state == "planning":
            result += [READY, ESTIMATE, DISCHARGE, LEAVE_END if case.get("on_leave") else LEAVE, INTERRUPT, CANCEL]
        elif state == "ready_for_discharge":
            result += [DISCHARGE, WITHDRAW, ESTIMATE, LEAVE_END if case.get("on_leave") else LEAVE, INTERRUPT]
        elif state in ("discharged", "interrupted"):
            result += [CLOSE]
    elif part in ("municipal_unit", "primary_care_unit") and frame.acting_unit:
        unread = _unread(case, frame.acting_unit)
        if unread:
            result.append(ACK)
        if part == "primary_care_unit" and state in ("planning", "ready_for_discharge") and \
                not case.get("named_care_contact_user_id"):
            result.append(CONTACT)
        if part == "primary_care_unit" and state in ("planning", "ready_for_discharge", "discharged") and \
                case.get("sip_applies") and not case.get("sip_invitation_sent_at"):
            result.append(SIP)
        if state in OPEN_STATES:
            result += [FORWARD, REJECT]
    return result


def _unread(case: Json, unit_id: str) -> int:
    if "notices" in case:
        return len(unacknowledged_for(case, unit_id))
    return sum(s["unacknowledged"] for s in case.get("acknowledgement_status", []) if s["unit_id"] == unit_id)


async def perform(frame: Frame, case: Json, action: Action, on_result: Callable[[Json], None] | None = None,
                  body: dict[str, Any] | None = None) -> Json | None:
    """Ask for the action's input, run it, tell the outcome. Returns the changed case (None if not done)."""
    extra = body if body is not None else await _ask(frame, case, action)
    if extra is None:
        return None
    try:
        token = await frame.fresh_token()
        result: Json = await frame.api.action(token, case["id"], action.path,
                                              {"expected_version": case["version"], **extra},
                                              acting_unit=frame.acting_unit)
    except ApiError as exc:
        if exc.stale and exc.current is not None:
            ui.notify(exc.message, type="warning", position="top", close_button="Stäng", timeout=10000)
            if on_result is not None:
                on_result(exc.current)
        else:
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng", timeout=10000)
        return None
    ui.notify(f"{action.label}: klart", type="positive", position="top", timeout=1500)
    if frame.acting_unit is not None:
        frame.live.apply_result(result, frame.acting_unit)  # all the user's tabs; no fetch for its event
    if on_result is not None:
        on_result(result)
    return result


async def _ask(frame: Frame, case: Json, action: Action) -> dict[str, Any] | None:
    if action.kind == "simple":
        return {}
    name = case["patient"]["name"]
    with ui.dialog() as dialog, ui.card().classes("min-w-[24rem]").props('role="dialog" aria-modal="true"'):
        ui.label(action.label).classes("text-lg font-bold").props('role="heading" aria-level="2"')
        ui.label(f"Patient: {name}").classes("sp-muted")
        values: dict[str, Any] = {}
        if action.kind in ("datetime", "discharge", "needs"):
            start = fmt.local(case.get("estimated_discharge_at") if action.kind == "datetime" else None) or \
                fmt.local(datetime.now(UTC))
            assert start is not None
            label = {"datetime": "Beräknad utskrivning", "discharge": "Utskriven",
                     "needs": "Läkaren bedömde att behov kan uppstå"}[action.kind]
            field = ui.input(label, value=start.strftime("%Y-%m-%dT%H:%M")).props("type=datetime-local")
            values["input"] = field
        elif action.kind == "reject":
            values["input"] = ui.select(fmt.REJECTION_REASONS, value="wrong_municipality", label="Orsak")
        elif action.kind == "interrupt":
            values["input"] = ui.select(fmt.INTERRUPTION_REASONS, value="other", label="Orsak till avbrott")
        elif action.kind == "forward":
            options = await _forward_targets(frame)
            if not options:
                ui.label("Det finns ingen annan enhet i er organisation att vidarebefordra till.")
            values["input"] = ui.select(options, label="Till enhet", with_input=True)
        elif action.kind == "contact":
            token = await frame.fresh_token()
            staff = await frame.api.staff(token, frame.acting_unit or "")
            options = {p["id"]: f"{p['display_name']} ({p['title']})" for p in staff}
            values["input"] = ui.select(options, label="Fast vårdkontakt",
                                        value=frame.user_id if frame.user_id in options else None)
        else:
            ui.label("Vill du göra detta?")
        with ui.row().classes("justify-end w-full gap-2"):
            ui.button("Avbryt", on_click=lambda: dialog.submit(None)).props("flat")
            ui.button(action.label, on_click=lambda: dialog.submit(True)).props(
                "color=negative" if action.danger else "color=primary").mark(f"confirm-{action.key}")
    confirmed = await dialog
    dialog.delete()
    if not confirmed:
        return None
    value = values["input"].value if "input" in values else None
    if action.kind in ("datetime", "discharge", "needs"):
        moment = _stockholm_time(value)
        if moment is None:
            ui.notify("Ange datum och tid.", type="negative")
            return None
        key = {"datetime": "estimated_discharge_at", "discharge": "discharged_at", "needs": "at"}[action.kind]
        return {key: moment}
    if action.kind in ("reject", "interrupt"):
        return {"reason": value}
    if action.kind == "forward":
        return {"to_unit_id": value} if value else None
    if action.kind == "contact":
        return {"contact_user_id": value} if value else None
    return {}


def _stockholm_time(value: str | None) -> str | None:
    """`2026-11-26T14:05` typed in Stockholm time, as ISO 8601 with its offset."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    return naive.replace(tzinfo=fmt.STOCKHOLM).isoformat()


async def _forward_targets(frame: Frame) -> dict[str, str]:
    token = await frame.fresh_token()
    unit = await frame.api.unit(token, frame.acting_unit or "")
    units = await frame.api.units(token, kind=unit["kind"], organisation_id=unit["organisation_id"])
    frame.hub.remember_units(units)
    return {u["id"]: u["name"] for u in units if u["id"] != frame.acting_unit}
