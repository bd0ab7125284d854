"""The case view's head: the patient with the case's state and key facts, and who is looking at the case now."""

from __future__ import annotations

from nicegui import ui

from realtime.protocol import Viewer
from ui import fmt
from ui.components import cells
from ui.components.cells import escape
from ui.components.sections import facts_html
from ui.pages.case.parts import CaseHost, card


class HeaderSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        with card("Patient"):
            host.html(self.render, "case-header")

    def render(self) -> str:
        case = self.host.case
        patient = case["patient"]
        if patient.get("masked", patient.get("protected_identity")):  # withheld from this user
            address = "Skyddad identitet – visas inte"
        else:
            address = patient.get("address") or "–"
        contact = case.get("named_care_contact_user_id")
        context = case.get("context") or {}
        facts = [
            ("Personnummer", patient["identity"]), ("Adress", address),
            ("Kommun", str(context.get("municipality") or "–")),
            ("Vårdform", fmt.CARE_TYPES.get(case["care_type"], str(case["care_type"]))),
            ("Inskriven", fmt.date_time(case["admitted_at"])),
            ("Beräknad utskrivning", fmt.date_time(case.get("estimated_discharge_at"))),
            ("Utskrivningsklar", fmt.date_time(case.get("ready_for_discharge_at"))),
            *([("Utskriven", fmt.date_time(case["discharged_at"]))] if case.get("discharged_at") else []),
            ("Fast vårdkontakt", context.get("named_care_contact") or (
                self.host.frame.hub.person_name(contact) if contact else "Inte utsedd")),
            ("SIP", "Ja" if case.get("sip_applies") else "Nej"),
        ]
        header_labels = {"Från": "Sjukhus och avdelning", "Vårdcentral": "Vårdcentral"}
        who = "".join(f'<div><dt class="text-xs sp-muted">{escape(header_labels[label])}</dt><dd class="m-0">'
                      f'{escape(text)}{extra}</dd></div>' for label, text, extra in cells.context_facts(case)
                      if label in header_labels)
        municipal = cells.units_text(context.get("municipal_units") or [])
        if municipal:
            who += (f'<div><dt class="text-xs sp-muted">Kommunal enhet</dt><dd class="m-0">{escape(municipal)}'
                    f'</dd></div>')
        parties = (f'<dl class="flex flex-wrap gap-x-6 gap-y-2 m-0 mt-2" data-context>{who}</dl>'
                   if who else "")
        return (f'<div class="flex items-center gap-4 mb-2"><h1 class="text-2xl font-bold m-0">'
                f'{escape(patient["name"])}</h1>{cells.state_html(case)}</div>{facts_html(facts)}{parties}')


class PresenceLine:
    """Who else is looking at the case now (announced by the live stream)."""

    def __init__(self, host: CaseHost) -> None:
        self.host = host
        self.label = ui.html("", sanitize=False).props('aria-live="polite"')
        self.show(host.frame.live.viewers.get(host.case_id, []))

    def show(self, viewers: list[Viewer]) -> None:
        frame = self.host.frame
        units = {p["unit_id"]: p["unit_name"] for p in self.host.case.get("participants", [])}
        content = cells.presence_html(viewers, frame.user_id, frame.hub, units)
        content = f'<div class="font-bold">Tittar på ärendet nu:</div>{content}' if content else ""
        if content != self.label.content:
            self.label.set_content(content)
