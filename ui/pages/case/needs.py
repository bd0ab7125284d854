"""The patient's needs after discharge: when they were identified, and each need flagged in the units' planning
forms, with the units that flagged it."""

from __future__ import annotations

from ui import fmt
from ui.components.cells import escape
from ui.components.sections import facts_html
from ui.pages.case.parts import CaseHost, card, heading

NEEDS_LABEL = "Förväntade behov efter utskrivning"


class NeedsSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        with card("Behov"):
            heading("Behov")
            host.html(self.render, "case-needs")

    def render(self) -> str:
        case = self.host.case
        identified = case.get("needs_identified_at")
        when = fmt.date_time(identified) if identified else \
            f"Vid inskrivningen ({fmt.date_time(case['admitted_at'])})"
        names = {p["unit_id"]: p["unit_name"] for p in case["participants"]}
        flagged: dict[str, list[str]] = {}
        for form in case.get("planning", []):
            for need in form.get("expected_needs", []):
                flagged.setdefault(need, []).append(names.get(form["unit_id"], "Okänd enhet"))
        order = list(fmt.NEEDS)
        items = "".join(
            f'<li>{escape(fmt.NEEDS.get(need, need))} <span class="sp-muted">({escape(", ".join(units))})</span></li>'
            for need, units in sorted(flagged.items(), key=lambda i: order.index(i[0]) if i[0] in order else 99))
        needs = f'<ul class="m-0 pl-5">{items}</ul>' if items else \
            '<p class="m-0 sp-muted">Inga behov markerade i planeringsunderlagen än.</p>'
        return (f'{facts_html([("Behov identifierade", when)])}'
                f'<div class="text-xs sp-muted mt-2">{escape(NEEDS_LABEL)} (markerade i planeringsunderlagen)</div>'
                f'{needs}')
