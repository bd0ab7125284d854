"""`/sip/{plan_id}`: the SIP meeting room — the whole plan on one screen, large and clear enough for a shared
screen in a video meeting.

Every field and every item is its own editor (`editor.py` in this package) with the revision it was read at:
an edit sends that revision, so edits of different fields or items never conflict. A SIP event for this plan on
the user's stream (`LiveView.event`, aggregate type `sip_plan`) makes the room read the plan again (coalesced per
tab; an event whose plan version the room already shows is dropped) and update only the editors whose revision
moved: an untouched one takes the new value in place; one the user is typing in keeps their text and shows the
other value beside it (a save is then answered 409 `field_conflict` and overwrites knowingly the next time).

Beside the contents: agreement (*justering*), the person's consent (`consent.py`), meetings
(`meetings.py`), follow-up and closing (`followup.py`), participants and handing the plan over
(`participants.py`), and the agreed versions with their exports and comparison (`versions.py`). Each part
is redrawn only when what it shows changed; forms are dialogs outside the parts, so a redraw never touches what
someone is typing.

What the room offers is what the API allows the acting unit (`allowed_actions` in the plan, the same rule every
command checks): an action the unit's part never allows is not shown (follow-up and closing for a unit that is
neither the owner nor of the principal with the overall responsibility); one the plan's state does not allow yet
is shown disabled with the reason (`refused_actions`, in Swedish). A refusal is told by its problem code.

The room follows the plan's state live (`follow_state`): when the plan is closed, consent is withdrawn or the
acting unit no longer sees it (a read answers 404), every input, button and open form turns read-only in place,
keeping what the user typed, and a note says why.

Presence: the room announces "viewing" on open and, while an input has focus, "editing" with the section's
code name (e.g. `services`); the others see who is in the room and, on each section, "Anna (Solna kommun)
redigerar Insatser".
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from nicegui import background_tasks, ui

from realtime.envelope import AggregateType, Envelope
from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells, sip
from ui.components.sip import sip_message
from ui.frame import Frame, frame
from ui.live import LiveView, pause_before_retry
from ui.pages.sip_room.case_link import PlanCase
from ui.pages.sip_room.consent import ConsentSection
from ui.pages.sip_room.editor import FIELD_KIND, Editor, item_kinds
from ui.pages.sip_room.followup import FollowUpSection
from ui.pages.sip_room.forms import FormDialog, may, refusal
from ui.pages.sip_room.meetings import MeetingsSection
from ui.pages.sip_room.participants import ParticipantsSection
from ui.pages.sip_room.versions import VersionsSection

Section = ConsentSection | MeetingsSection | FollowUpSection | ParticipantsSection | VersionsSection

ROOM_CSS = """
.sp-room { font-size: 1.15rem; }
.sp-room .q-field__native, .sp-room .q-field__label { font-size: 1.15rem; }
.sp-room h2, .sp-room .sp-h2 { font-size: 1.6rem; font-weight: 700; }
.sp-editor { border-left: 4px solid transparent; padding: 4px 8px; }
.sp-editor.sp-changed { animation: sp-flash 2s ease-out; border-left-color: #ca8a04; }
.sp-conflict { border-left-color: #9a3412; background: #fff7ed; }
"""


def _section_title(section: str) -> str:
    return sip.LISTS.get(section) or sip.FIELDS.get(section) or section


class SipRoom(LiveView):
    def __init__(self, frame: Frame, plan: Json) -> None:
        self.frame = frame
        self.unit_id = None  # plan events come through any of the user's units
        self.plan = plan
        self.fields: dict[str, Editor] = {}
        self.items: dict[str, dict[str, Editor]] = {name: {} for name in sip.LISTS}
        self.containers: dict[str, ui.element] = {}
        self.adders: list[Editor] = []
        self.empty: dict[str, ui.label] = {}
        self.adder_boxes: list[ui.element] = []
        self._fetch: asyncio.Task[None] | None = None
        self._again = False
        self._failed = False  # the last read failed transiently
        self._visible = True
        self._reads = 0  # reads of the plan started (`reload`), numbered
        self._lost_by = 0  # the read that found the plan no longer visible
        self._shown_by = 0  # the newest read whose plan the room shows
        self.section_presence: dict[str, ui.label] = {}
        self.sections: list[Section] = []
        self.dialogs: set[FormDialog] = set()
        self.case: PlanCase | None = None  # the discharge case the plan was started from

    @property
    def plan_id(self) -> str:
        return str(self.plan["id"])

    @property
    def visible(self) -> bool:
        """The acting unit still sees the plan (False after a read answered 404: consent withdrawn, unit removed)."""
        return self._visible

    @property
    def editable(self) -> bool:
        """The acting unit may edit the contents now (`edit` in the plan's `allowed_actions`: open, consent not
        withdrawn, visible to the unit), and still sees the plan."""
        return self._visible and may(self.plan, "edit")

    def may(self, action: str, plan: Json | None = None) -> bool:
        """The API allows the acting unit `action` on the (given or shown) plan now, and the unit still sees it."""
        return self._visible and may(self.plan if plan is None else plan, action)

    def state_note(self) -> str:
        if not self._visible:
            return ("Planen är inte längre synlig för din enhet (samtycket kan ha återkallats eller enheten tagits "
                    "bort ur planen). Det du skrev syns kvar men kan inte sparas.")
        if self.plan["state"] == "closed":
            return "Planen är avslutad och kan inte ändras. Fastställda versioner kan laddas ned."
        if self.plan.get("sharing_ended"):
            return ("Samtycket är återkallat: planen delas inte längre och kan inte ändras förrän nytt samtycke "
                    "registreras.")
        return ""

    def track(self, dialog: FormDialog) -> None:
        self.dialogs.add(dialog)

    def untrack(self, dialog: FormDialog) -> None:
        self.dialogs.discard(dialog)

    # ----- build ------------------------------------------------------------------------------------------------

    def build(self) -> None:
        self.header()
        self.case = PlanCase(self.frame, str(self.plan["case_id"])) if self.plan.get("case_id") else None
        self.status = ui.label("").classes("sp-overdue text-xl").props('role="alert"').mark("room-state")
        self.dialog_host = ui.element("div")  # the forms' dialogs, outside every section a change redraws
        self.presence_label = ui.html("", sanitize=False).props('aria-live="polite"').mark("room-presence")
        self.show_presence(self.frame.live.viewers.get(self.plan_id, []))
        with ui.row().classes("w-full gap-4 items-start flex-wrap"):
            with ui.column().classes("flex-[3] min-w-[28rem] gap-4"):
                for name, title in sip.LISTS.items():
                    self.item_section(name, title)
                with ui.card().classes("w-full").props('role="region" aria-label="Egen insats, huvudansvar, '
                                                       'uppföljning"'):
                    for field, title in sip.FIELDS.items():
                        ui.label(title).classes("sp-h2").props('role="heading" aria-level="2"')
                        self.section_presence[field] = ui.label("").classes("sp-at_risk font-bold").mark(
                            f"presence-{field}")
                        self.fields[field] = self.field_editor(field, title)
            with ui.column().classes("flex-[2] min-w-[22rem] gap-4"):
                with ui.card().classes("w-full").props('role="region" aria-label="Justering"'):
                    ui.label("Justering").classes("sp-h2").props('role="heading" aria-level="2"')
                    self.approvals()
                self.sections = [ConsentSection(self), MeetingsSection(self), FollowUpSection(self),
                                 ParticipantsSection(self), VersionsSection(self)]
        self.follow_state()

    # ----- presence ---------------------------------------------------------------------------------------------

    def case_changed(self, case_id: str, unit_id: str, case: Json | None) -> None:
        """The plan's discharge case changed (the stream's fetch, shared with the user's other views)."""
        if self.case is not None and case is not None and case_id == self.case.case_id:
            self.case.show(case)

    def presence(self, case_id: str, viewers: list[Viewer]) -> None:
        if case_id == self.plan_id:
            self.frame.with_people({v.user_id for v in viewers}, lambda: self.show_presence(viewers))

    def show_presence(self, viewers: list[Viewer]) -> None:
        """Who is in the room, and on each section: "Anna (Solna kommun) redigerar" for whoever edits it."""
        units = sip.unit_names(self.plan)
        content = cells.presence_html(viewers, self.frame.user_id, self.frame.hub, units)
        self.presence_label.set_content(f'<div class="font-bold">I mötesrummet nu:</div>{content}' if content
                                        else "")
        editing: dict[str, list[str]] = {}
        for viewer in viewers:
            if viewer.user_id != self.frame.user_id and viewer.state == "editing" and viewer.field:
                unit = cells.presence_unit_name(viewer.unit_id, self.frame.hub, units)
                who = f"{self.frame.hub.person_name(viewer.user_id)} ({unit})"
                editing.setdefault(viewer.field, []).append(who)
        for section, label in self.section_presence.items():
            names = editing.get(section)
            label.set_text(f"✎ {', '.join(names)} redigerar {_section_title(section)}" if names else "")

    def field_editor(self, field: str, title: str) -> Editor:
        stored = self.plan["contents"][field]
        kind = FIELD_KIND[field]
        return Editor(self, ("field", field), {"value": title}, {"value": kind}, {"value": stored["value"]},
                      int(stored["revision"]))

    def item_section(self, name: str, title: str) -> None:
        with ui.card().classes("w-full").props(f'role="region" aria-label="{title}"'):
            ui.label(title).classes("sp-h2").props('role="heading" aria-level="2"')
            self.section_presence[name] = ui.label("").classes("sp-at_risk font-bold").mark(f"presence-{name}")
            self.containers[name] = ui.column().classes("w-full gap-2")
            with self.containers[name]:
                self.empty[name] = ui.label(sip.EMPTY.get(name, "Inget än.")).classes("sp-muted")
                for item in self.plan["contents"][name]:
                    self.items[name][item["id"]] = self.item_editor(name, item)
            self.empty[name].set_visibility(not self.items[name])
            with ui.expansion(f"Lägg till {sip.SINGULAR[name]}", icon="add").classes("w-full") as adder:
                parts = sip.ITEM_PARTS[name]
                self.adders.append(Editor(self, ("new", name), parts, item_kinds(parts), {}, 0))
            self.adder_boxes.append(adder)

    def item_editor(self, name: str, item: Json) -> Editor:
        parts = sip.ITEM_PARTS[name]
        return Editor(self, ("item", name, str(item["id"])), parts, item_kinds(parts), item["content"],
                      int(item["revision"]))

    @ui.refreshable_method
    def header(self) -> None:
        plan = self.plan
        person = plan["person"]
        with ui.card().classes("w-full").props('role="region" aria-label="Planen"'):
            with ui.row().classes("items-center gap-4 flex-wrap"):
                ui.label(f"SIP – {person['name']}").classes("text-3xl font-bold").props(
                    'role="heading" aria-level="1"')
                ui.label(sip.STATES.get(plan["state"], str(plan["state"]))).classes(
                    "text-lg font-bold px-3 rounded bg-blue-1").mark("plan-state")
            with ui.row().classes("gap-8 flex-wrap text-lg"):
                _fact("Personnummer", person["identity"])
                number = plan.get("current_version_number")
                _fact("Gällande version", f"Version {number}" if number else "Ingen fastställd version än")
                _fact("Nästa uppföljning", fmt.day(plan.get("next_follow_up_on")) if plan.get("next_follow_up_on")
                      else "Inget datum")
                _fact("Ändringar sedan senaste version", "Ja" if plan.get("has_unagreed_changes") else "Nej")
                _fact("Planens ägare", sip.unit_names(plan).get(plan["owner_unit_id"])
                      or self.frame.hub.unit_name(plan["owner_unit_id"]))
                _fact("Huvudansvar", sip.responsible_text(plan))

    @ui.refreshable_method
    def approvals(self) -> None:
        plan = self.plan
        names = sip.principal_names(plan)
        revision = plan["content_revision"]
        approved = {a["principal_id"]: a for a in plan["approvals"] if a["content_revision"] == revision}
        with ui.column().classes("w-full gap-1").mark("approvals"):
            for principal in plan["principal_ids"]:
                done = approved.get(principal)
                text = (f"Justerat av {self.frame.hub.person_name(done['user_id'])} {fmt.date_time(done['at'])}"
                        if done else "Inte justerat än")
                with ui.element("div").classes("sp-row w-full"):
                    ui.label(names.get(principal, principal)).classes("font-bold")
                    ui.label(text).classes("sp-ok" if done else "sp-muted")
            missing = plan.get("missing_for_agreement") or []
            if missing:
                ui.label("Saknas innan planen kan justeras: " + ", ".join(sip.MISSING.get(m, m) for m in missing)
                         + ".").classes("sp-at_risk")
            mine = sip.principal_of_unit(plan, self.frame.acting_unit)
            refused = refusal(plan, "approve")
            if not plan.get("has_unagreed_changes"):
                ui.label(f"Det som står nu är fastställt (version {plan.get('current_version_number')}).").classes(
                    "sp-ok")
            elif refused == "already_approved":
                ui.label("Din huvudman har justerat det som står nu.").classes("sp-ok")
            elif self.may("approve") or (refused == "missing_contents" and self.editable):
                # Incomplete contents: the button is there, disabled, under what is missing.
                ui.button(f"Justera för {names.get(mine or '', 'din huvudman')}", icon="task_alt",
                          on_click=self.approve).props("no-caps color=positive size=lg").mark(
                    "justera").set_enabled(self.may("approve"))

    # ----- commands ---------------------------------------------------------------------------------------------

    async def command(self, path: str, body: Json) -> Json:
        token = await self.frame.fresh_token()
        result: Json = await self.frame.api.request("POST", f"/sip-plans/{self.plan_id}/{path}", token,
                                                    acting_unit=self.frame.acting_unit, json=body,
                                                    idempotency_key=str(uuid.uuid4()))
        return result

    async def approve(self) -> None:
        try:
            result = await self.command("approvals", {"content_revision": self.plan["content_revision"]})
        except ApiError as exc:
            if exc.code == "content_changed":
                ui.notify(sip_message(exc), type="warning", position="top", close_button="Stäng")
                await self.reload()
            elif exc.code == "missing_contents":
                ui.notify(sip_message(exc), type="warning", position="top")
            else:
                ui.notify(sip_message(exc), type="negative", position="top", close_button="Stäng")
            return
        agreed = result.get("current_version_number") != self.plan.get("current_version_number")
        self.apply_plan(result)
        ui.notify(f"Version {result['current_version_number']} är fastställd." if agreed else "Justerat.",
                  type="positive", position="top")

    # ----- live -------------------------------------------------------------------------------------------------

    def event(self, envelope: Envelope) -> None:
        if envelope.aggregate_type != AggregateType.SIP_PLAN or envelope.aggregate_id != self.plan_id:
            return
        if envelope.aggregate_version <= int(self.plan["version"]):
            return  # already shown (the answer to this user's own edit, or a replay)
        self.refetch()

    def resync(self, unit_id: str) -> None:
        self.refetch()

    def refetch(self) -> None:
        """Read the plan again, once however many events arrive meanwhile (one more read after the running one)."""
        if self._fetch is not None and not self._fetch.done():
            self._again = True
            return
        self._fetch = background_tasks.create(self._refetch(), name="sip-refetch")

    async def _refetch(self) -> None:
        failures = 0
        while True:
            self._again = False
            self._failed = False
            await self.reload(quiet=failures > 0)
            if self._failed:  # transient (the API busy or restarting): read again, the change must not be lost
                failures += 1
                if not await pause_before_retry(failures):
                    return  # the stream's next event or resync reads it again
                continue
            failures = 0
            if not self._again:
                return

    async def reload(self, *, quiet: bool = False) -> Json | None:
        """Read the plan and show it. Reads may run at once (a refetch, a conflict's read, approving) and answer in
        any order: an answer older than what the room shows neither shows its plan nor makes a room that a later
        read found invisible visible again."""
        self._reads += 1
        read = self._reads
        try:
            token = await self.frame.fresh_token()
            plan: Json = await self.frame.api.request("GET", f"/sip-plans/{self.plan_id}", token,
                                                      acting_unit=self.frame.acting_unit)
        except ApiError as exc:
            with self.frame.client:
                if exc.status in (403, 404):
                    if read < self._shown_by:
                        return None  # an older read's 404: a newer one has shown the plan since (visible again)
                    self._lost_by = max(self._lost_by, read)
                    self.lose()
                else:
                    self._failed = True
                if quiet and exc.status not in (403, 404):
                    return None
                ui.notify(sip_message(exc) if exc.status not in (403, 404) else
                          "Planen är inte längre synlig för din enhet.", type="warning", position="top")
            return None
        with self.frame.client:
            shown = int(self.plan["version"])
            # Visible again: a newer plan, or the one shown read after the read that found it invisible.
            if int(plan["version"]) > shown or (int(plan["version"]) == shown and read > self._lost_by):
                self._visible = True
                self._shown_by = max(self._shown_by, read)
            self.apply_plan(plan)
        return plan

    def lose(self) -> None:
        """The acting unit no longer sees the plan: everything becomes read-only in place (typed text stays)."""
        if not self._visible:
            return
        self._visible = False
        self.follow_state()
        self.approvals.refresh()

    def follow_state(self) -> None:
        """Inputs, buttons and open forms follow the plan's state live (not only when the page is built)."""
        editable = self.editable
        for editor in (*self.fields.values(), *self.adders, *(e for i in self.items.values() for e in i.values())):
            editor.set_enabled(editable)
        for box in self.adder_boxes:
            box.set_visibility(editable)
        note = self.state_note()
        if note != self.status.text:
            self.status.set_text(note)
        self.status.set_visibility(bool(note))
        for section in self.sections:
            section.update()
        for dialog in list(self.dialogs):
            dialog.follow(self.plan)

    def value_of(self, key: tuple[str, ...], plan: Json) -> tuple[dict[str, Any], int] | None:
        if key[0] == "field":
            stored = plan["contents"][key[1]]
            return {"value": stored["value"]}, int(stored["revision"])
        item = next((i for i in plan["contents"][key[1]] if i["id"] == key[2]), None)
        return (dict(item["content"]), int(item["revision"])) if item else None

    def apply_plan(self, plan: Json) -> None:
        """Show a (newer) plan: only the editors whose revision moved change; read-only parts are redrawn."""
        if plan["version"] < self.plan["version"]:
            return
        self.plan = plan
        for adder in self.adders:
            adder.refresh_options()
        for field, editor in self.fields.items():
            editor.refresh_options()
            stored = plan["contents"][field]
            editor.apply({"value": stored["value"]}, int(stored["revision"]))
        for name, editors in self.items.items():
            current = {str(i["id"]): i for i in plan["contents"][name]}
            for item_id in [i for i in editors if i not in current]:
                editor = editors.pop(item_id)
                if editor.dirty():
                    ui.notify("Någon annan tog bort något du ändrade i.", type="warning", position="top")
                self.containers[name].remove(editor.box)
            for item_id, item in current.items():
                shown = editors.get(item_id)
                if shown is None:
                    with self.containers[name]:
                        editors[item_id] = self.item_editor(name, item)
                else:
                    shown.refresh_options()
                    shown.apply(item["content"], int(item["revision"]))
            self.empty[name].set_visibility(not editors)
        self.follow_state()
        background_tasks.create(self._names_then_refresh(), name="sip-refresh")

    async def _names_then_refresh(self) -> None:
        await self.frame.hub.load_people(self.frame.token, {a["user_id"] for a in self.plan["approvals"]})
        with self.frame.client:
            self.header.refresh()
            self.approvals.refresh()


def _fact(label: str, value: str) -> None:
    with ui.element("div"):
        ui.label(label).classes("text-sm sp-muted")
        ui.label(value).classes("font-bold")


async def sip_room_page(plan_id: str) -> None:
    async with frame(f"/sip/{plan_id}", "SIP-möte", classes="sp-room w-full p-4 gap-4 flex flex-col") as shell:
        ui.add_css(ROOM_CSS)
        ui.link("← Alla planer", "/sip").classes("text-blue-10")
        try:
            token = await shell.fresh_token()
            plan: Json = await shell.api.request("GET", f"/sip-plans/{plan_id}", token,
                                                 acting_unit=shell.acting_unit)
        except ApiError as exc:
            message = "Planen finns inte, eller så är den inte synlig för din enhet." if exc.status == 404 \
                else exc.message
            ui.label(message).props('role="alert"').classes("text-lg")
            return
        await shell.hub.load_people(token, {a["user_id"] for a in plan["approvals"]})
        room = SipRoom(shell, plan)
        shell.watch(room)
        room.build()
        if room.case is not None:
            await room.case.load()
        await shell.live.viewing(plan_id)
        shell.client.on_delete(lambda: background_tasks.create(shell.live.left(plan_id), name="presence-left"))
        room.refetch()  # a change between the read and the watch: read once more (cheap, coalesced)
