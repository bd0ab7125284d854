"""The case's deadlines, counting down; one turning at risk or overdue alerts the responsible unit."""

from __future__ import annotations

from ui.api_client import Json
from ui.components.countdown import Countdown
from ui.pages.case.parts import CaseHost, card, heading


class DeadlinesSection:
    def __init__(self, host: CaseHost) -> None:
        with card("Tidsfrister", "min-w-[22rem] flex-1"):
            heading("Tidsfrister")
            self.countdown = Countdown(host.case["deadlines"], on_change=lambda kind, old, new:
                                       host.frame.deadline_changed(host.case, kind, new))

    def refresh_from(self, case: Json) -> None:
        self.countdown.set_deadlines(case["deadlines"])
