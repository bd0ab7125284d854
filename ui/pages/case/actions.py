"""The case view's toolbar: the actions the API allows the acting unit on the case now (`allowed_actions`)."""

from __future__ import annotations

from nicegui import ui

from ui.components.actions import NEEDS_IDENTIFIED, Action, actions_for, may, perform
from ui.pages.case.parts import CaseHost


class ActionsSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        host.keyed(lambda: tuple(a.key for a in self.actions()), self.build)

    def actions(self) -> list[Action]:
        case = self.host.case
        return actions_for(case) + [a for a in (NEEDS_IDENTIFIED,) if may(case, a)]

    def build(self) -> None:
        with ui.row().classes("gap-2 flex-wrap").props('role="toolbar" aria-label="Åtgärder"'):
            for action in self.actions():
                ui.button(action.label, icon=action.icon or None,
                          on_click=lambda a=action: self.run(a)).props(
                    "no-caps " + ("color=negative outline" if action.danger else "color=primary"))

    async def run(self, action: Action) -> None:
        await perform(self.host.frame, self.host.case, action, on_result=self.host.show)
