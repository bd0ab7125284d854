"""One editor of the SIP meeting room (`ui/pages/sip_room/`): a field, an item, or the form adding an item.

An editor holds the revision its value was read at and sends it with a save, so edits of different fields or
items never conflict. A newer plan (`apply`) changes an untouched editor in place; one the user is typing in keeps
their text and shows the other value beside it ("Sparat av någon annan: …"), keeping the old revision so the save
is answered 409 `field_conflict` (`conflicted`: the value as it is now, the user's text stays, the next save
overwrites knowingly). `set_enabled` follows the plan's state live (closed, consent withdrawn, not visible).
"""

from __future__ import annotations

import uuid
from typing import Any

from nicegui import background_tasks, ui

from ui.api_client import ApiError, Json
from ui.components import sip
from ui.components.date_field import date_field
from ui.components.sip import sip_message
from ui.merge import Merge, merge_each
from ui.pages.sip_room.forms import Room
from ui.single_flight import one_at_a_time

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

    def __init__(self, room: Room, key: tuple[str, ...], parts: dict[str, str], kinds: dict[str, str],
                 value: dict[str, Any], revision: int) -> None:
        self.room = room
        self.key = key
        self.parts = parts
        self.kinds = kinds
        self.revision = revision
        self.content = dict(value)  # the whole stored content (items keep parts this editor does not edit)
        self.base = {p: _norm(p, value.get(p)) for p in parts}
        self.inputs: dict[str, Any] = {}
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
                self.remove_button: ui.button | None = None
                if key[0] == "item":
                    self.remove_button = ui.button("Ta bort", icon="delete", on_click=self.remove).props(
                        f'no-caps flat color=negative aria-label="Ta bort {label_of(key)}"').mark(
                        f"remove-{self.marker}")
                self.saved = ui.label("").classes("sp-muted").props('role="status"')
        self.enabled = True
        self.set_enabled(room.editable)

    def set_enabled(self, enabled: bool) -> None:
        """Follow the plan's state: a closed, withdrawn or no longer visible plan takes no edits (what the user
        typed stays in the disabled inputs)."""
        if enabled == self.enabled:
            return
        self.enabled = enabled
        for element in (*self.inputs.values(), self.save_button, self.remove_button):
            if element is not None:
                element.set_enabled(enabled)

    def _input(self, part: str, label: str, kind: str) -> Any:
        value = _shown_value(kind, self.base[part])
        element: Any
        if kind in ("principal", "unit"):
            element = ui.select(self._options(kind, value), value=value, label=label, clearable=True)
        elif kind == "date":
            element = date_field(label, value or "")
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
        merged = merge_each(self.base, self.values(), theirs)
        clashes = [p for p, m in merged.items() if m is Merge.CONFLICT]
        if not clashes:  # merge per part: the parts the user has not touched take the new value
            for part in self.inputs:
                if merged[part] is Merge.TAKE_THEIRS:
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
            if merged[part] is Merge.TAKE_THEIRS:
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

    @one_at_a_time
    async def save(self) -> None:
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
        result = await self._command(path, body)
        if result is None:
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
        room.apply_plan(result)  # ignored when the room already shows a newer plan
        if self.key[0] != "new" and int(room.plan["version"]) > int(result["version"]):
            # A newer plan arrived (live) while the save waited for its answer and was applied to this editor
            # already; the answer above just set it back to this older state. Apply the newer plan again: a change
            # someone made after this save takes its place, or shows beside the user's text.
            current = room.value_of(self.key, room.plan)
            if current is not None:
                self.apply(*current)
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
        result = await self._command(f"items/{self.key[1]}/{self.key[2]}/removal",
                                     {"expected_revision": self.revision})
        if result is not None:
            self.room.apply_plan(result)

    async def _command(self, path: str, body: Json) -> Json | None:
        """The room's command; None when refused (told to the user; a conflict shows the value that holds now)."""
        try:
            return await self.room.command(path, body)
        except ApiError as exc:
            if exc.status == 409 and exc.code == "field_conflict":
                await self.conflicted()
            else:
                ui.notify(sip_message(exc), type="negative", position="top", close_button="Stäng")
            return None


def label_of(key: tuple[str, ...]) -> str:
    if key[0] == "field":
        return sip.FIELDS.get(key[1], key[1]).lower()
    return sip.SINGULAR.get(key[1], key[1])


def item_kinds(parts: dict[str, str]) -> dict[str, str]:
    return {p: ("principal" if p == "principal_id" else "unit" if p == "responsible_unit_id" else "text")
            for p in parts}
