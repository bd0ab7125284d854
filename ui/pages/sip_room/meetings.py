"""SIP meetings in the meeting room (*SIP-möte*, *kallelse*): time, place or video link, who is invited and
their answers; calling a meeting, moving it, cancelling it, and answering (a unit for itself, any unit for the
person or a named participant).

The list is redrawn only when the meetings, the participants or what the room allows changed, or when an open
meeting's end passes (one one-shot timer per section, set for the earliest end of an open meeting: its buttons are
then gone before the API would refuse them); the forms are dialogs outside it (`FormDialog`), so a participant's
change never touches what someone is typing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.sections import KeyedSection
from ui.components.sip import sip_message
from ui.pages.sip_room.forms import (
    FormDialog,
    Room,
    date_input,
    labelled_checkbox,
    may,
    now_local,
    stockholm_iso,
    time_input,
    why_not,
)

ANSWERS = {"pending": "Inget svar än", "accepted": "Kommer", "declined": "Kommer inte"}
ANSWER_CLASS = {"pending": "sp-muted", "accepted": "sp-ok", "declined": "sp-overdue"}


def can_schedule(room: Room, plan: Json) -> bool:
    return room.visible and may(plan, "schedule_meeting")


def now() -> datetime:
    """The time meetings are open against (tests move it)."""
    return datetime.now(UTC)


def is_open(meeting: Json) -> bool:
    ends = fmt.parse_time(meeting["ends_at"])
    return meeting["cancelled_at"] is None and ends is not None and ends > now()


def next_end(meetings: list[Json]) -> datetime | None:
    """The earliest end of a meeting still open: when the list must change by time alone."""
    ends = [fmt.parse_time(m["ends_at"]) for m in meetings if is_open(m)]
    return min((e for e in ends if e is not None), default=None)


def can_change(room: Room, plan: Json, meeting_id: str, action: str = "reschedule_meeting") -> bool:
    """The unit may move (or, with `action` "cancel_meeting", cancel) the meeting: the API allows it the action
    and the meeting is neither cancelled nor over."""
    meeting = next((m for m in plan.get("meetings", []) if m["id"] == meeting_id), None)
    return room.visible and may(plan, action) and meeting is not None and is_open(meeting)


def invitee_name(plan: Json, invitation: Json, hub_unit_name: Any) -> str:
    kind, ref = invitation["kind"], invitation["ref"]
    if kind == "person":
        return f"{plan['person']['name']} (personen)"
    if kind == "unit":
        unit = next((u for u in plan["units"] if u["unit_id"] == ref), None)
        return str(unit["unit_name"]) if unit else str(hub_unit_name(ref))
    named = next((p for p in plan.get("named_participants", []) if p["id"] == ref), None)
    return str(named["name"]) if named else "Deltagare som inte längre är med"


def when(meeting: Json) -> str:
    start, end = fmt.local(meeting["starts_at"]), fmt.local(meeting["ends_at"])
    if start is None or end is None:
        return "–"
    return f"{fmt.date_time(start)}–{end:%H:%M}" if start.date() == end.date() else \
        f"{fmt.date_time(start)} – {fmt.date_time(end)}"


class MeetingsSection:
    def __init__(self, room: Room) -> None:
        self.room = room
        self._timer: ui.timer | None = None
        self._timer_for: datetime | None = None
        with ui.card().classes("w-full").props('role="region" aria-label="Möten"') as self.card:
            ui.label("Möten").classes("sp-h2").props('role="heading" aria-level="2"')
            self.keyed = KeyedSection(self.key, self.view)
        self._wake_at_next_end()

    def key(self) -> str:
        """What the section shows: it is redrawn only when this changes."""
        plan = self.room.plan
        return repr((plan.get("meetings"), plan["units"], plan.get("named_participants"), plan.get("consent"),
                     self.room.editable, [is_open(m) for m in plan.get("meetings", [])],
                     [may(plan, a) for a in ("schedule_meeting", "reschedule_meeting", "cancel_meeting",
                                             "answer_invitation")]))

    def update(self) -> None:
        self.keyed.update()
        self._wake_at_next_end()

    def _wake_at_next_end(self) -> None:
        """One one-shot timer for the earliest end of an open meeting (replaced when that end changes): at that
        moment the meeting is over, and `update` redraws it without its buttons."""
        end = next_end(self.room.plan.get("meetings", []))
        if end == self._timer_for:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_for = None, end
        if end is not None:
            with self.card:
                self._timer = ui.timer((end - now()).total_seconds() + 0.5, self._ended, once=True)

    def _ended(self) -> None:
        self._timer, self._timer_for = None, None
        self.update()

    def view(self) -> None:
        room, plan = self.room, self.room.plan
        meetings = sorted(plan.get("meetings", []), key=lambda m: str(m["starts_at"]))
        with ui.column().classes("w-full gap-3").mark("meetings"):
            if not meetings:
                ui.label("Inget möte är inbokat än.").classes("sp-muted")
            for meeting in meetings:
                self.meeting(meeting)
            ui.button("Kalla till möte", icon="event", on_click=self.schedule).props(
                "no-caps color=primary size=lg").mark("schedule-meeting").set_enabled(can_schedule(room, plan))
            if room.editable and not can_schedule(room, plan):
                ui.label(why_not(plan, "schedule_meeting")).classes("sp-muted").mark("schedule-why")

    def meeting(self, meeting: Json) -> None:
        room, plan = self.room, self.room.plan
        title = f"Möte {when(meeting)}"
        open_ = is_open(meeting)
        with ui.element("div").classes("w-full sp-row flex flex-col gap-1").props(
                f'role="group" aria-label="{title}" data-meeting="{meeting["id"]}"'):
            ui.label(title).classes("text-xl font-bold")
            if meeting["cancelled_at"]:
                ui.label(f"Inställt {fmt.date_time(meeting['cancelled_at'])}").classes("sp-overdue")
            elif not open_:
                ui.label("Mötet har varit.").classes("sp-muted")
            elif meeting["rescheduled_at"]:
                ui.label(f"Flyttat {fmt.date_time(meeting['rescheduled_at'])}: alla svar är nollställda.").classes(
                    "sp-at_risk")
            if meeting["place"]:
                ui.label(f"Plats: {meeting['place']}")
            if meeting["video_link"]:
                with ui.row().classes("gap-2 items-baseline"):
                    ui.label("Video:")
                    ui.link(meeting["video_link"], meeting["video_link"], new_tab=True).classes(
                        "text-blue-10 break-all")
            with ui.element("ul").classes("w-full"):
                for invitation in meeting["invitations"]:
                    self.invitation(meeting, invitation, open_)
            if open_ and room.editable:
                with ui.row().classes("gap-2"):
                    ui.button("Flytta mötet", icon="edit_calendar",
                              on_click=lambda m=meeting: self.reschedule(m)).props(
                        f'no-caps outline size=lg aria-label="Flytta {title.lower()}"').mark(
                        f"reschedule-{meeting['id']}").set_enabled(can_change(room, plan, meeting["id"]))
                    ui.button("Ställ in mötet", icon="event_busy", on_click=lambda m=meeting: self.cancel(m)).props(
                        f'no-caps outline color=negative size=lg aria-label="Ställ in {title.lower()}"').mark(
                        f"cancel-{meeting['id']}").set_enabled(can_change(room, plan, meeting["id"],
                                                                          "cancel_meeting"))

    def invitation(self, meeting: Json, invitation: Json, open_: bool) -> None:
        room, plan = self.room, self.room.plan
        name = invitee_name(plan, invitation, room.frame.hub.unit_name)
        answer = invitation["answer"]
        mine = invitation["kind"] == "unit" and invitation["ref"] == room.frame.acting_unit
        recordable = invitation["kind"] != "unit" or mine
        with ui.element("li").classes("w-full flex flex-wrap gap-x-4 gap-y-1 items-center py-1"):
            ui.label(name).classes("font-bold min-w-[14rem]")
            ui.label(ANSWERS.get(answer, str(answer))).classes(f"min-w-[8rem] {ANSWER_CLASS.get(answer, '')}").mark(
                f"answer-{meeting['id']}-{invitation['ref']}")
            if open_ and room.visible and may(plan, "answer_invitation") and recordable:
                spoken = name.replace('"', "'")  # inside an attribute
                with ui.row().classes("gap-2 no-wrap"):
                    for value, text in (("accepted", "Kommer"), ("declined", "Kommer inte")):
                        style = "color=positive" if value == "accepted" else "outline color=negative"
                        ui.button(text, on_click=lambda v=value: self.answer(meeting, invitation, v)).props(
                            f'no-caps {style} aria-label="{text} – {spoken}" '
                            f'aria-pressed="{str(answer == value).lower()}"').mark(
                            f"answer-{meeting['id']}-{invitation['ref']}-{value}")

    # ----- commands ----------------------------------------------------------------------------------------------

    async def answer(self, meeting: Json, invitation: Json, value: str) -> None:
        body: Json = {"answer": value, "invitee_kind": invitation["kind"]}
        if invitation["kind"] != "unit":
            body["invitee_ref"] = invitation["ref"]
        try:
            result = await self.room.command(f"meetings/{meeting['id']}/answers", body)
        except ApiError as exc:
            ui.notify(sip_message(exc), type="negative", position="top", close_button="Stäng")
            return
        ui.notify(f"Svaret är registrerat: {ANSWERS[value].lower()}.", type="positive", position="top")
        self.room.apply_plan(result)  # redraws the list, this button included

    def schedule(self) -> None:
        room = self.room
        plan = room.plan
        form = FormDialog(room, "Kalla till SIP-möte", "Skicka kallelse", "send-invitation",
                          lambda p: can_schedule(room, p))
        start = (now_local() + timedelta(days=1)).replace(hour=10, minute=0)
        with form.body:
            day, begins, ends, place, link = self._time_and_place(start, start + timedelta(hours=1), "", "")
            ui.label("Bjud in").classes("font-bold")
            units: dict[str, ui.checkbox] = {}
            named: dict[str, ui.checkbox] = {}
            with ui.element("div").classes("w-full flex flex-col").props('role="group" aria-label="Bjud in"'):
                for unit in plan["units"]:
                    if unit["active"] and unit["sees_plan"]:
                        units[unit["unit_id"]] = labelled_checkbox(unit["unit_name"], True,
                                                                   f"invite-{unit['unit_id']}")
                person = labelled_checkbox(f"{plan['person']['name']} (personen)", True, "invite-person")
                for participant in plan.get("named_participants", []):
                    if participant["active"]:
                        named[participant["id"]] = labelled_checkbox(participant["name"], True,
                                                                     f"invite-{participant['id']}")

        async def submit() -> bool:
            times = self._times(form, day.value, begins.value, ends.value)
            if times is None:
                return False
            body: Json = {**times, "place": str(place.value or "").strip(), "video_link": str(link.value or "").strip(),
                          "invite_unit_ids": [u for u, box in units.items() if box.value],
                          "invite_person": bool(person.value),
                          "invite_participant_ids": [p for p, box in named.items() if box.value],
                          "meeting_id": str(uuid.uuid4())}
            return await form.run("meetings", body, "Kallelsen är skickad.")

        form.open(submit)

    def reschedule(self, meeting: Json) -> None:
        room = self.room
        form = FormDialog(room, "Flytta mötet", "Flytta mötet", "save-reschedule",
                          lambda p: can_change(room, p, meeting["id"]))
        start, end = fmt.local(meeting["starts_at"]), fmt.local(meeting["ends_at"])
        assert start is not None
        assert end is not None
        with form.body:
            ui.label("Alla svar nollställs: de inbjudna får svara på nytt.").classes("sp-muted")
            day, begins, ends, place, link = self._time_and_place(start, end, meeting["place"],
                                                                 meeting["video_link"])

        async def submit() -> bool:
            times = self._times(form, day.value, begins.value, ends.value)
            if times is None:
                return False
            body: Json = {**times, "expected_version": room.plan["version"],
                          "place": str(place.value or "").strip(), "video_link": str(link.value or "").strip()}
            return await form.run(f"meetings/{meeting['id']}/rescheduling", body, "Mötet är flyttat.")

        form.open(submit)

    def cancel(self, meeting: Json) -> None:
        room = self.room
        form = FormDialog(room, "Ställ in mötet", "Ställ in mötet", "confirm-cancel-meeting",
                          lambda p: can_change(room, p, meeting["id"], "cancel_meeting"))
        with form.body:
            ui.label(f"Mötet {when(meeting)} ställs in för alla inbjudna.")

        async def submit() -> bool:
            return await form.run(f"meetings/{meeting['id']}/cancellation",
                                  {"expected_version": room.plan["version"]}, "Mötet är inställt.")

        form.open(submit)

    # ----- helpers -----------------------------------------------------------------------------------------------

    @staticmethod
    def _time_and_place(start: datetime, end: datetime, place: str,
                        link: str) -> tuple[ui.input, ui.input, ui.input, ui.input, ui.input]:
        with ui.row().classes("gap-2 items-start"):
            day = date_input("Datum", start.date(), "meeting-day")
            begins = time_input("Börjar", start.strftime("%H:%M"), "meeting-start")
            ends = time_input("Slutar", end.strftime("%H:%M"), "meeting-end")
        place_input = ui.input("Plats (adress eller rum)", value=place).props("outlined").classes("w-full").mark(
            "meeting-place")
        link_input = ui.input("Videolänk (https://…)", value=link).props("outlined").classes("w-full").mark(
            "meeting-link")
        ui.label("Ange en plats, en videolänk eller båda.").classes("sp-muted")
        return day, begins, ends, place_input, link_input

    @staticmethod
    def _times(form: FormDialog, day: Any, begins: Any, ends: Any) -> dict[str, str] | None:
        starts_at, ends_at = stockholm_iso(day, begins), stockholm_iso(day, ends)
        if starts_at is None or ends_at is None:
            form.fail("Ange datum, starttid och sluttid.")
            return None
        return {"starts_at": starts_at, "ends_at": ends_at}
