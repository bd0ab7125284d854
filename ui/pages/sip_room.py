"""`/sip/{plan_id}`: the SIP meeting room — the whole plan on one screen, large and clear enough for a shared
screen in a video meeting.

Every field and every item is its own editor (`Editor`) with the revision it was read at: an edit sends that
revision, so edits of different fields or items never conflict. A SIP event for this plan on the user's stream
(`LiveView.event`, aggregate type `sip_plan`) makes the room read the plan again (coalesced per tab; an event
whose plan version the room already shows is dropped) and update only the editors whose revision moved:

* an editor the user has not touched takes the new value in place (briefly highlighted);
* an editor the user is typing in keeps their text; the other value is shown beside it with a Swedish note.
  Its revision stays the old one, so saving gets 409 `field_conflict` from the API: the room shows the value
  as it is now beside the user's text (which stays) and takes its revision, so the next save overwrites
  knowingly (as the case view does, `ui/pages/case.py`).

Agreement (*justering*): each principal's approval of the current content revision, and the button "Justera"
for the principal of the unit the user acts for; the agreed versions below.

Presence: the room announces "viewing" on open and, while an input has focus, "editing" with the section's
code name (e.g. `services`); the others see who is in the room and, on each section, "Anna (Solna kommun)
redigerar Insatser".
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import background_tasks, ui

from realtime.envelope import Envelope
from realtime.protocol import Viewer
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components import cells, sip
from ui.frame import Frame, page_frame
from ui.live import LiveView

ROOM_CSS = """
.sp-room { font-size: 1.15rem; }
.sp-room .q-field__native, .sp-room .q-field__label { font-size: 1.15rem; }
.sp-room h2, .sp-room .sp-h2 { font-size: 1.6rem; font-weight: 700; }
.sp-editor { border-left: 4px solid transparent; padding: 4px 8px; }
.sp-editor.sp-changed { animation: sp-flash 2s ease-out; border-left-color: #ca8a04; }
.sp-conflict { border-left-color: #9a3412; background: #fff7ed; }
"""
TEXT_PARTS = frozenset({"description", "contact_person", "when", "by_whom", "value"})
FIELD_KIND = {"own_contribution": "text", "overall_responsibility": "principal", "next_follow_up_on": "date"}


def _shown_value(kind: str, value: Any) -> Any:
    """A value as its input element takes it (a select: None when empty; a date input: "")."""
    if kind in ("principal", "unit"):
        return value or None
    return value or ""


def _norm(part: str, value: Any) -> Any:
    """The comparable form of an input's value: text is "" when empty, ids and dates None."""
    if part in TEXT_PARTS:
        return value or ""
    return value or None


class Editor:
    """One field (`key` = ("field", name)) or item (("item", list, id)), or the form adding an item
    (("new", list)): its inputs, the value and revision they were loaded from, and the conflict note."""

    def __init__(self, room: SipRoom, key: tuple[str, ...], parts: dict[str, str], kinds: dict[str, str],
                 value: dict[str, Any], revision: int) -> None:
        self.room = room
        self.key = key
        self.parts = parts
        self.kinds = kinds
        self.revision = revision
        self.content = dict(value)  # the whole stored content (items keep parts this editor does not edit)
        self.base = {p: _norm(p, value.get(p)) for p in parts}
        self.inputs: dict[str, Any] = {}
        self.saving = False
        self.marker = "-".join(key)
        self.box = ui.element("div").classes("sp-editor w-full flex flex-col gap-1").props(
            f'data-editor="{self.marker}"')
        with self.box:
            with ui.row().classes("w-full gap-2 items-start flex-wrap"):
                for part, label in parts.items():
                    self.inputs[part] = self._input(part, label, kinds.get(part, "text"))
                    self._announce_editing(self.inputs[part])
            self.note = ui.label("").classes("sp-at_risk whitespace-pre-wrap").props('role="status"')
            self.note.set_visibility(False)
            self.theirs = ui.label("").classes("sp-at_risk whitespace-pre-wrap font-bold").mark(
                f"theirs-{self.marker}")
            self.theirs.set_visibility(False)
            with ui.row().classes("gap-2 items-center"):
                text = "Lägg till" if key[0] == "new" else "Spara"
                self.save_button = ui.button(text, icon="add" if key[0] == "new" else "save",
                                             on_click=self.save).props(
                    f'no-caps color=primary aria-label="{text} {label_of(key)}"').mark(f"save-{self.marker}")
                if key[0] == "item":
                    ui.button("Ta bort", icon="delete", on_click=self.remove).props(
                        f'no-caps flat color=negative aria-label="Ta bort {label_of(key)}"').mark(
                        f"remove-{self.marker}")
                self.saved = ui.label("").classes("sp-muted").props('role="status"')
        if not room.editable:
            for element in self.inputs.values():
                element.disable()
            self.save_button.disable()

    def _input(self, part: str, label: str, kind: str) -> Any:
        value = _shown_value(kind, self.base[part])
        element: Any
        if kind in ("principal", "unit"):
            element = ui.select(self._options(kind, value), value=value, label=label, clearable=True)
        elif kind == "date":
            element = ui.input(label, value=value).props('type=date stack-label')
        elif part in ("description", "value"):
            element = ui.textarea(label, value=value).props("autogrow")
        else:
            element = ui.input(label, value=value)
        element.props("outlined").classes("flex-1 min-w-[14rem]" if part in ("description", "value")
                                          else "min-w-[12rem]")
        return element.mark(f"{self.marker}-{part}")

    def _announce_editing(self, element: Any) -> None:
        """Presence: the others see which section this user edits (the field is the section's code name)."""
        live, plan_id, section = self.room.frame.live, self.room.plan_id, self.key[1]
        element.on("focus", lambda: background_tasks.create(live.editing(plan_id, section), name="presence"))
        element.on("blur", lambda: background_tasks.create(live.editing(plan_id, None), name="presence"))

    def values(self) -> dict[str, Any]:
        return {p: _norm(p, self.inputs[p].value) for p in self.parts}

    def dirty(self) -> bool:
        return self.values() != self.base

    def _options(self, kind: str, *values: Any) -> dict[str, str]:
        """The choices of a select: the plan's principals or units, plus any value it must be able to show
        (a unit or principal that no longer takes part)."""
        plan = self.room.plan
        options = sip.principal_names(plan) if kind == "principal" else sip.unit_names(plan)
        for value in values:
            if value and value not in options:
                options[value] = (self.room.frame.hub.unit_name(value) if kind == "unit"
                                  else "Huvudman som inte längre deltar")
        return options

    def _set(self, part: str, value: Any) -> None:
        kind = self.kinds.get(part, "text")
        element = self.inputs[part]
        if kind in ("principal", "unit") and value and value not in element.options:
            element.set_options(self._options(kind, element.value, value))
        element.set_value(_shown_value(kind, value))

    def refresh_options(self) -> None:
        for part, element in self.inputs.items():
            kind = self.kinds.get(part)
            if kind in ("principal", "unit"):
                options = self._options(kind, element.value)
                if options != element.options:
                    element.set_options(options, value=element.value)

    def apply(self, value: dict[str, Any], revision: int) -> None:
        """A newer plan: take the new value in place, unless the user is typing here (their text stays)."""
        if revision == self.revision:
            return
        theirs = {p: _norm(p, value.get(p)) for p in self.parts}
        mine = self.values()
        clashes = [p for p in self.parts if self.base[p] != mine[p] != theirs[p] and theirs[p] != self.base[p]]
        if not clashes:  # merge per part: the parts the user has not touched take the new value
            for part in self.inputs:
                if mine[part] == self.base[part] and mine[part] != theirs[part]:
                    self._set(part, theirs[part])
            self.base, self.revision, self.content = theirs, revision, dict(value)
            self.clear_conflict()
            self.box.classes(remove="sp-changed")
            self.box.classes(add="sp-changed")
            return
        # Changed underneath while the user types: the untouched parts take the new value, the clashing ones
        # keep the user's text with theirs beside it (and the old revision, so the save is answered with the
        # conflict and the value as it is then).
        for part in self.inputs:
            if part not in clashes and mine[part] == self.base[part] != theirs[part]:
                self._set(part, theirs[part])
                self.base[part] = theirs[part]
        self.show_conflict(theirs, "Någon annan har ändrat detta medan du skriver. Din text finns kvar.")

    def show_conflict(self, theirs: dict[str, Any], note: str) -> None:
        shown = "; ".join(f"{self.parts[p]}: {sip.shown(theirs[p], p, self.room.plan)}"
                          for p in self.parts if theirs[p] != self.values()[p]) or "samma som din text"
        self.note.set_text(note)
        self.note.set_visibility(True)
        self.theirs.set_text(f"Sparat av någon annan: {shown}")
        self.theirs.set_visibility(True)
        self.box.classes(add="sp-conflict")

    def clear_conflict(self) -> None:
        self.note.set_visibility(False)
        self.theirs.set_visibility(False)
        self.box.classes(remove="sp-conflict")

    async def save(self) -> None:
        if self.saving:
            return  # one save at a time (a second click would send the same revision again)
        self.saving = True
        try:
            await self._save()
        finally:
            self.saving = False

    async def _save(self) -> None:
        room = self.room
        values = self.values()
        body: Json
        if self.key[0] == "new":
            if not values.get("description"):
                ui.notify("Skriv något först.", type="warning", position="top")
                return
            path, body = f"items/{self.key[1]}", {"content": values, "item_id": str(uuid.uuid4())}
        elif self.key[0] == "field":
            path, body = f"fields/{self.key[1]}", {"value": values["value"] or None,
                                                   "expected_revision": self.revision}
        else:
            content = {k: v for k, v in {**self.content, **values}.items() if k in sip.CONTENT_KEYS}
            path, body = f"items/{self.key[1]}/{self.key[2]}", {"content": content,
                                                                "expected_revision": self.revision}
        try:
            result = await room.command(path, body)
        except ApiError as exc:
            if exc.status == 409 and exc.code == "field_conflict":
                await self.conflicted()
                return
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        if self.key[0] == "new":
            for part in self.inputs:
                self._set(part, None)
            self.base = self.values()
        else:
            written = room.value_of(self.key, result)
            if written is not None:  # the user may have typed on meanwhile: that stays (and stays unsaved)
                self.content, self.revision = written
                self.base = {p: _norm(p, self.content.get(p)) for p in self.parts}
        self.clear_conflict()
        room.apply_plan(result)
        self.saved.set_text("Sparat")

    async def conflicted(self) -> None:
        """409: someone else changed this since it was read. Show their value beside the user's text and take
        its revision (the next save overwrites knowingly)."""
        plan = await self.room.reload()
        if plan is None:
            return
        current = self.room.value_of(self.key, plan)
        if current is None:
            ui.notify("Någon annan har tagit bort detta under tiden.", type="warning", position="top")
            return
        value, revision = current
        self.revision = revision
        self.content = dict(value)
        self.base = {p: _norm(p, value.get(p)) for p in self.parts}
        self.show_conflict(self.base, "Någon annan har ändrat detta. Här är det som gäller nu; din text finns kvar "
                                      "i fältet. Spara igen för att ersätta.")
        ui.notify("Någon annan har ändrat detta – din text finns kvar.", type="warning", position="top",
                  close_button="Stäng", timeout=10000)

    async def remove(self) -> None:
        try:
            result = await self.room.command(f"items/{self.key[1]}/{self.key[2]}/removal",
                                             {"expected_revision": self.revision})
        except ApiError as exc:
            if exc.status == 409 and exc.code == "field_conflict":
                await self.conflicted()
                return
            ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        self.room.apply_plan(result)


def _section_title(section: str) -> str:
    return sip.LISTS.get(section) or sip.FIELDS.get(section) or section


def label_of(key: tuple[str, ...]) -> str:
    if key[0] == "field":
        return sip.FIELDS.get(key[1], key[1])
    return sip.SINGULAR.get(key[1], key[1])


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
        self._fetch: asyncio.Task[None] | None = None
        self._again = False
        self.section_presence: dict[str, ui.label] = {}

    @property
    def plan_id(self) -> str:
        return str(self.plan["id"])

    @property
    def editable(self) -> bool:
        return self.plan["state"] != "closed" and not self.plan.get("sharing_ended")

    # ----- build ------------------------------------------------------------------------------------------------

    def build(self) -> None:
        self.header()
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
                with ui.card().classes("w-full").props('role="region" aria-label="Deltagare"'):
                    ui.label("Deltagare").classes("sp-h2").props('role="heading" aria-level="2"')
                    self.participants()
                with ui.card().classes("w-full").props('role="region" aria-label="Fastställda versioner"'):
                    ui.label("Fastställda versioner").classes("sp-h2").props('role="heading" aria-level="2"')
                    self.versions()

    # ----- presence ---------------------------------------------------------------------------------------------

    def presence(self, case_id: str, viewers: list[Viewer]) -> None:
        if case_id == self.plan_id:
            self.frame.with_people({v.user_id for v in viewers}, lambda: self.show_presence(viewers))

    def show_presence(self, viewers: list[Viewer]) -> None:
        """Who is in the room, and on each section: "Anna (Solna kommun) redigerar" for whoever edits it."""
        content = cells.presence_html(viewers, self.frame.user_id, self.frame.hub)
        self.presence_label.set_content(f'<div class="font-bold">I mötesrummet nu:</div>{content}' if content
                                        else "")
        editing: dict[str, list[str]] = {}
        for viewer in viewers:
            if viewer.user_id != self.frame.user_id and viewer.state == "editing" and viewer.field:
                who = f"{self.frame.hub.person_name(viewer.user_id)} ({self.frame.hub.unit_name(viewer.unit_id)})"
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
                self.empty[name] = ui.label(f"Inga {title.lower()} än.").classes("sp-muted")
                for item in self.plan["contents"][name]:
                    self.items[name][item["id"]] = self.item_editor(name, item)
            self.empty[name].set_visibility(not self.items[name])
            if self.editable:
                with ui.expansion(f"Lägg till {sip.SINGULAR[name]}", icon="add").classes("w-full"):
                    parts = sip.ITEM_PARTS[name]
                    self.adders.append(Editor(self, ("new", name), parts, _kinds(parts), {}, 0))

    def item_editor(self, name: str, item: Json) -> Editor:
        parts = sip.ITEM_PARTS[name]
        return Editor(self, ("item", name, str(item["id"])), parts, _kinds(parts), item["content"],
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
            if plan.get("sharing_ended"):
                ui.label("Samtycket är återkallat: planen delas inte längre och kan inte ändras.").classes(
                    "sp-overdue").props('role="alert"')

    @ui.refreshable_method
    def approvals(self) -> None:
        plan = self.plan
        names = sip.principal_names(plan)
        revision = plan["content_revision"]
        approved = {a["principal_id"]: a for a in plan["approvals"] if a["content_revision"] == revision}
        with ui.column().classes("w-full gap-1").mark("approvals"):
            for principal in plan["principal_ids"]:
                done = approved.get(principal)
                text = (f"✓ Justerat av {self.frame.hub.person_name(done['user_id'])} {fmt.date_time(done['at'])}"
                        if done else "Inte justerat än")
                with ui.element("div").classes("sp-row w-full"):
                    ui.label(names.get(principal, principal)).classes("font-bold")
                    ui.label(text).classes("sp-ok" if done else "sp-muted")
            missing = plan.get("missing_for_agreement") or []
            if missing:
                ui.label("Saknas innan planen kan justeras: " + ", ".join(sip.MISSING.get(m, m) for m in missing)
                         + ".").classes("sp-at_risk")
            mine = sip.principal_of_unit(plan, self.frame.acting_unit)
            if mine is not None and mine in plan["principal_ids"] and self.editable:
                if mine in approved:
                    ui.label("Din huvudman har justerat det som står nu.").classes("sp-ok")
                else:
                    ui.button(f"Justera för {names.get(mine, 'din huvudman')}", icon="task_alt",
                              on_click=self.approve).props("no-caps color=positive size=lg").mark("justera")

    @ui.refreshable_method
    def participants(self) -> None:
        with ui.element("ul").classes("w-full"):
            for unit in self.plan["units"]:
                if not unit["active"]:
                    continue
                kind = sip.PRINCIPAL_KINDS.get(unit["principal_kind"], unit["principal_kind"])
                extra = "" if unit["sees_plan"] else " – omfattas inte av samtycket"
                owner = " (ansvarig för planen)" if unit["unit_id"] == self.plan["owner_unit_id"] else ""
                with ui.element("li").classes("sp-row"):
                    ui.label(f"{unit['unit_name']}{owner}").classes("font-bold")
                    ui.label(f"{kind}{extra}").classes("sp-muted")
            with ui.element("li").classes("sp-row"):
                ui.label(f"{self.plan['person']['name']} (personen planen gäller)").classes("font-bold")
            for named in self.plan["named_participants"]:
                if named["active"]:
                    with ui.element("li").classes("sp-row"):
                        ui.label(named["name"]).classes("font-bold")
                        ui.label(", ".join(x for x in (named.get("role"), named.get("organisation")) if x)
                                 or "").classes("sp-muted")

    @ui.refreshable_method
    def versions(self) -> None:
        versions = self.plan.get("versions") or []
        if not versions:
            ui.label("Ingen version är fastställd än.").classes("sp-muted")
        for version in reversed(versions):
            with ui.element("div").classes("sp-row w-full").mark(f"version-{version['number']}"):
                ui.label(f"Version {version['number']} – fastställd {fmt.date_time(version['agreed_at'])}").classes(
                    "font-bold")
                names = sip.principal_names(self.plan)
                who = ", ".join(names.get(a["principal_id"], a["principal_id"]) for a in version["approvals"])
                ui.label(f"Justerad av {who}").classes("sp-muted")

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
                ui.notify("Planen har ändrats sedan du läste den. Läs igenom det nya läget och justera igen.",
                          type="warning", position="top", close_button="Stäng")
                await self.reload()
            elif exc.code == "missing_contents":
                ui.notify("Planen är inte komplett än och kan inte justeras.", type="warning", position="top")
            else:
                ui.notify(exc.message, type="negative", position="top", close_button="Stäng")
            return
        agreed = result.get("current_version_number") != self.plan.get("current_version_number")
        self.apply_plan(result)
        ui.notify(f"Version {result['current_version_number']} är fastställd." if agreed else "Justerat.",
                  type="positive", position="top")

    # ----- live -------------------------------------------------------------------------------------------------

    def event(self, envelope: Envelope) -> None:
        if envelope.aggregate_type != "sip_plan" or envelope.aggregate_id != self.plan_id:
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
        while True:
            self._again = False
            await self.reload()
            if not self._again:
                return

    async def reload(self) -> Json | None:
        try:
            token = await self.frame.fresh_token()
            plan: Json = await self.frame.api.request("GET", f"/sip-plans/{self.plan_id}", token,
                                                      acting_unit=self.frame.acting_unit)
        except ApiError as exc:
            with self.frame.client:
                ui.notify(exc.message if exc.status != 404 else "Planen är inte längre synlig för din enhet.",
                          type="warning", position="top")
            return None
        with self.frame.client:
            self.apply_plan(plan)
        return plan

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
        background_tasks.create(self._names_then_refresh(), name="sip-refresh")

    async def _names_then_refresh(self) -> None:
        await self.frame.hub.load_people(self.frame.token, {a["user_id"] for a in self.plan["approvals"]})
        with self.frame.client:
            self.header.refresh()
            self.approvals.refresh()
            self.participants.refresh()
            self.versions.refresh()


def _kinds(parts: dict[str, str]) -> dict[str, str]:
    return {p: ("principal" if p == "principal_id" else "unit" if p == "responsible_unit_id" else "text")
            for p in parts}


def _fact(label: str, value: str) -> None:
    with ui.element("div"):
        ui.label(label).classes("text-sm sp-muted")
        ui.label(value).classes("font-bold")


async def sip_room_page(plan_id: str) -> RedirectResponse | None:
    path = f"/sip/{plan_id}"
    frame = await page_frame(path, "SIP-möte")
    if not isinstance(frame, Frame):
        return frame
    ui.add_css(ROOM_CSS)
    with ui.element("main").props('id="sp-main" tabindex="-1"').classes("sp-room w-full p-4 gap-4 flex flex-col"):
        ui.link("← Alla planer", "/sip").classes("text-blue-10")
        room: SipRoom | None = None
        try:
            token = await frame.fresh_token()
            plan: Json = await frame.api.request("GET", f"/sip-plans/{plan_id}", token,
                                                 acting_unit=frame.acting_unit)
        except ApiError as exc:
            message = "Planen finns inte, eller så är den inte synlig för din enhet." if exc.status == 404 \
                else exc.message
            ui.label(message).props('role="alert"').classes("text-lg")
        else:
            await frame.hub.load_people(token, {a["user_id"] for a in plan["approvals"]})
            room = SipRoom(frame, plan)
            frame.watch(room)
            room.build()
            await frame.live.viewing(plan_id)
            frame.client.on_delete(lambda: background_tasks.create(frame.live.left(plan_id), name="presence-left"))
    if room is not None:
        room.refetch()  # a change between the read and the watch: read once more (cheap, coalesced)
    frame.finish()
    return None
