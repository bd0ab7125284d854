"""The home-ready checklist (*hemgångsklar*), for the unit the API lets check it."""

from __future__ import annotations

from ui import fmt
from ui.api_client import Json
from ui.components.actions import HOME_READINESS, may
from ui.pages.case.parts import CaseHost, Checklist, card, heading


def home_readiness(case: Json) -> dict[str, bool]:
    current = case.get("home_readiness") or {}
    return {k: bool(current.get(k)) for k in fmt.HOME_READINESS}


class HomeReadySection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        self.form: Checklist | None = None
        host.keyed(self.checks, self.build)

    def checks(self) -> bool:
        return may(self.host.case, HOME_READINESS)

    def build(self) -> None:
        self.form = None
        if self.checks():
            with card("Hemgångsklar"):
                heading("Hemgångsklar")
                self.form = Checklist(self.host, fmt.HOME_READINESS, home_readiness, HOME_READINESS)

    def refresh_from(self, case: Json) -> None:
        if self.form is not None:
            self.form.refresh_from(case)
