"""The discharge notice's content (*utskrivningsmeddelande*): when the patient left, where to, the contacts after
discharge, the medication list and the handover; shown once the patient is discharged
(`ui.components.discharge_notice` renders it, as for the inbox)."""

from __future__ import annotations

from ui.components.discharge_notice import discharge_html
from ui.pages.case.parts import CaseHost, card, heading


class DischargeSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        host.keyed(self.discharged, self.build)

    def discharged(self) -> bool:
        return bool(self.host.case.get("discharged_at"))

    def build(self) -> None:
        if self.discharged():
            with card("Utskrivningsmeddelande"):
                heading("Utskrivningsmeddelande")
                self.host.html(lambda: discharge_html(self.host.case), "case-discharge")
