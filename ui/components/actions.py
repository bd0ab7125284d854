"""The actions of the discharge process (process.md section 3) a user may take on a case, and running them.

What the acting unit may do is the API's answer, never worked out here: the case (and each board and inbox row)
lists the actions its commands would accept now (`allowed_actions`, the domain's one rule, `DischargeCase.refusal`)
and why every other one would be refused (`refused_actions`, a reason code; Swedish messages in
`ui.api_client.REFUSAL_MESSAGES`). `actions_for(case)` offers the allowed ones, in a fixed order; `may` asks about
one. `perform` asks for what an action needs in a dialog (a time, a reason, a unit, a person), calls the API and
tells the user the outcome in Swedish (the discharge notice has a dialog of its own,
`ui.components.discharge_notice`, which sends it and shows a refusal by its field). A stale write (409) shows the
case as it is now through `on_result`, so the caller can show the new state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.date_field import date_field, parse_day, time_error, time_field
from ui.components.discharge_notice import DischargeNoticeDialog
from ui.frame import Frame
from ui.live import unacknowledged_for


@dataclass(frozen=True)
class Action:
    key: str  # the UI's own name (element markers)
    name: str  # the API's name of the action (`allowed_actions`)
    label: str
    path: str
    kind: str = "simple"  # simple | confirm | datetime | discharge | needs | reject | forward | interrupt | contact
    icon: str = ""
    danger: bool = False


SEND_ADMISSION = Action("admission", "send_admission_notice", "Skicka inskrivningsmeddelande", "admission-notice",
                        icon="send")
READY = Action("ready", "mark_ready_for_discharge", "Utskrivningsklar", "ready-for-discharge", "confirm",
               icon="done_all")
WITHDRAW = Action("withdraw", "withdraw_ready_for_discharge", "Inte längre utskrivningsklar",
                  "ready-for-discharge-withdrawal", "confirm", icon="undo")
ESTIMATE = Action("estimate", "change_estimated_discharge", "Ändra beräknad utskrivning", "estimated-discharge",
                  "datetime", icon="event")
DISCHARGE = Action("discharge", "send_discharge_notice", "Skicka utskrivningsmeddelande", "discharge-notice",
                   "discharge", icon="logout")
LEAVE = Action("leave", "start_leave", "Permission", "leave", icon="directions_walk")
LEAVE_END = Action("leave_end", "end_leave", "Åter från permission", "leave-end", icon="keyboard_return")
INTERRUPT = Action("interrupt", "interrupt", "Avbrott", "interruption", "interrupt", icon="block", danger=True)
CANCEL = Action("cancel", "cancel", "Makulera (felsänt)", "cancellation", "confirm", icon="delete", danger=True)
CLOSE = Action("close", "close", "Avsluta ärendet", "closure", "confirm", icon="archive")
ACK = Action("ack", "acknowledge", "Kvittera", "acknowledgements", icon="mark_email_read")
CONTACT = Action("contact", "appoint_named_care_contact", "Utse fast vårdkontakt", "named-care-contact", "contact",
                 icon="person_add")
SIP = Action("sip", "send_sip_invitation", "Skicka kallelse till SIP", "sip-invitation", "confirm", icon="groups")
FORWARD = Action("forward", "forward", "Vidarebefordra", "forwarding", "forward", icon="forward")
REJECT = Action("reject", "reject", "Inte vår patient", "rejection", "reject", icon="report", danger=True)
# Actions of the case view's own sections (participants, needs, liability facts, home-ready checklist); their
# input comes from the section, not from a dialog here (except the time of NEEDS_IDENTIFIED).
ADD_PARTICIPANT = Action("add_participant", "add_participant", "Lägg till enhet", "participants", icon="group_add")
REMOVE_PARTICIPANT = Action("remove_participant", "remove_participant", "Ta bort enhet", "participant-removal",
                            icon="group_remove", danger=True)
NEEDS_IDENTIFIED = Action("needs", "record_needs_identified", "Behov identifierade senare", "needs-identified",
                          "needs", icon="flag")
LIABILITY_FACTS = Action("liability", "set_liability_facts", "Spara uppgifter om betalningsansvar",
                         "liability-facts", icon="save")
SIP_APPLIES = Action("sip_applies", "set_sip_applies", "Bedöm SIP och samtycke", "sip-applicability",
                     icon="fact_check")
HOME_READINESS = Action("home", "update_home_readiness", "Spara hemgångsklar", "home-readiness", icon="save")
UPDATE_PLANNING = "update_planning"  # the planning form (saved per field, `ui/pages/case/planning.py`)
# The actions offered on a case (its toolbar, a row's menu), in this order, when the API allows them.
MENU = (SEND_ADMISSION, READY, DISCHARGE, WITHDRAW, ESTIMATE, LEAVE, LEAVE_END, INTERRUPT, CANCEL, CLOSE, ACK, CONTACT,
        SIP, FORWARD, REJECT)


def may(case: Json, action: Action | str) -> bool:
    """The API allows the acting unit this action on the case now (`allowed_actions`: the rule every command
    checks)."""
    name = action.name if isinstance(action, Action) else action
    return name in (case.get("allowed_actions") or ())


def actions_for(case: Json) -> list[Action]:
    """What the case offers the acting unit: the menu's actions the API allows now. Acknowledging is offered only
    when something is unacknowledged (otherwise it would change nothing)."""
    unit = case.get("acting_unit_id")
    return [a for a in MENU if may(case, a) and (a is not ACK or (unit is not None and _unread(case, unit) > 0))]


def _unread(case: Json, unit_id: str) -> int:
    if "notices" in case:
        return len(unacknowledged_for(case, unit_id))
    return sum(s["unacknowledged"] for s in case.get("acknowledgement_status", []) if s["unit_id"] == unit_id)


async def perform(frame: Frame, case: Json, action: Action, on_result: Callable[[Json], None] | None = None,
                  body: dict[str, Any] | None = None) -> Json | None:
    """Ask for the action's input, run it, tell the outcome. Returns the changed case (None if not done)."""
    if action.kind == "discharge" and body is None:  # its dialog sends it, and shows refusals by the fields
        sent = await DischargeNoticeDialog(frame, case, on_stale=on_result).run()
        return None if sent is None else _done(frame, action, sent, on_result)
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
    return _done(frame, action, result, on_result)


def _done(frame: Frame, action: Action, result: Json, on_result: Callable[[Json], None] | None) -> Json:
    ui.notify(fmt.DONE.get(action.name, "Klart"), type="positive", position="top", timeout=1500)
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
        if action.kind in ("datetime", "needs"):
            start = fmt.local(case.get("estimated_discharge_at") if action.kind == "datetime" else None) or \
                fmt.local(datetime.now(UTC))
            assert start is not None
            label = {"datetime": "Beräknad utskrivning", "needs": "Läkaren bedömde att behov kan uppstå"}[action.kind]
            ui.label(label).classes("font-bold")
            with ui.row().classes("gap-3 no-wrap items-start"):
                values["day"] = date_field("Datum", start.strftime("%Y-%m-%d")).props("outlined dense").mark(
                    f"{action.key}-day")
                values["time"] = time_field("Tid", start.strftime("%H:%M")).props("outlined dense").mark(
                    f"{action.key}-time")
        elif action.kind == "reject":
            values["input"] = ui.select(fmt.REJECTION_REASONS, value="wrong_municipality", label="Orsak")
        elif action.kind == "interrupt":
            values["input"] = ui.select(fmt.INTERRUPTION_REASONS, value="other", label="Orsak till avbrott")
        elif action.kind == "forward":
            options = await _forward_targets(frame)
            if not options:
                ui.label("Det finns ingen annan enhet att vidarebefordra till.")
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
    if action.kind in ("datetime", "needs"):
        day, clock = (str(values[k].value or "").strip() for k in ("day", "time"))
        moment = _stockholm_time(f"{day}T{clock}") if parse_day(day) and not time_error(clock) else None
        if moment is None:
            ui.notify("Ange datum (ÅÅÅÅ-MM-DD) och tid (TT:MM).", type="negative")
            return None
        key = {"datetime": "estimated_discharge_at", "needs": "at"}[action.kind]
        return {key: moment}
    if action.kind in ("reject", "interrupt"):
        return {"reason": value}
    if action.kind == "forward":
        return {"to_unit_id": value} if value else None
    if action.kind == "contact":
        return {"contact_user_id": value} if value else None
    return {}


def _stockholm_time(value: str | None) -> str | None:
    """`2026-11-26T14:05` (the date and time fields) in Stockholm time, as ISO 8601 with its offset."""
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    return naive.replace(tzinfo=fmt.STOCKHOLM).isoformat()


async def _forward_targets(frame: Frame) -> dict[str, str]:
    """The units the acting unit may forward to, as the API's rule answers (the same rule the command enforces)."""
    if not frame.acting_unit:
        return {}
    token = await frame.fresh_token()
    units = await frame.api.units(token, forward_from=frame.acting_unit)
    frame.hub.remember_units(units)
    return {u["id"]: u["name"] for u in units}
