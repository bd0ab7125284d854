"""What the sections of the case view share: the view as its sections see it (`CaseHost`), a section's card and
heading, the checkboxes saved together by one action (`Checklist`: the liability facts, the home-ready checklist),
and the users the view names (`people_of`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from nicegui import ui

from ui.api_client import Json
from ui.components.actions import Action, perform
from ui.components.cells import escape
from ui.components.sections import HtmlSection, KeyedSection
from ui.frame import Frame


class CaseHost(Protocol):
    """The case view (`CaseView` in this package) as its sections use it."""

    frame: Frame
    case: Json

    @property
    def case_id(self) -> str: ...

    def show(self, case: Json) -> None: ...

    def html(self, render: Callable[[], str], marker: str) -> HtmlSection: ...

    def keyed(self, key: Callable[[], object], build: Callable[[], None]) -> KeyedSection: ...


def card(label: str, classes: str = "w-full") -> ui.card:
    return ui.card().classes(classes).props(f'role="region" aria-label="{escape(label)}"')


def heading(text: str, level: int = 2) -> None:
    size = "text-lg" if level == 2 else "font-bold"
    ui.label(text).classes(f"{size} font-bold").props(f'role="heading" aria-level="{level}"')


def people_of(case: Json) -> set[str]:
    """The users the case view names: timeline actors, planning editors, the named care contact."""
    ids = {e["user_id"] for e in case["timeline"]} | {p.get("updated_by_user_id") or "" for p in
                                                      case.get("planning", [])}
    if case.get("named_care_contact_user_id"):
        ids.add(case["named_care_contact_user_id"])
    return ids


class Checklist:
    """Checkboxes saved together by one action (the liability facts, the home-ready checklist). A change elsewhere
    updates only the boxes the user has not touched."""

    def __init__(self, host: CaseHost, labels: Mapping[str, str], read: Callable[[Json], dict[str, bool]],
                 action: Action) -> None:
        self.host = host
        self.read = read
        self.action = action
        self.base = read(host.case)
        self.boxes = {k: ui.checkbox(label, value=self.base[k]) for k, label in labels.items()}
        ui.button(action.label, icon="save", on_click=self.save).props("no-caps outline")

    def values(self) -> dict[str, bool]:
        return {k: bool(b.value) for k, b in self.boxes.items()}

    def refresh_from(self, case: Json) -> None:
        theirs, mine = self.read(case), self.values()
        for key, box in self.boxes.items():
            if mine[key] == self.base[key]:
                if theirs[key] != mine[key]:
                    box.set_value(theirs[key])
                self.base[key] = theirs[key]

    async def save(self) -> None:
        result = await perform(self.host.frame, self.host.case, self.action, on_result=self.host.show,
                               body=self.values())
        if result is not None:
            self.base = self.read(result)
