"""The case's events (*händelser*), newest first, each with who did it for which unit."""

from __future__ import annotations

from ui import fmt
from ui.components.cells import escape
from ui.pages.case.parts import CaseHost, card, heading


class TimelineSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        with card("Händelser"):
            heading("Händelser")
            host.html(self.render, "case-timeline")

    def render(self) -> str:
        hub = self.host.frame.hub
        case = self.host.case
        names = {p["unit_id"]: p["unit_name"] for p in case["participants"]}
        items = []
        for entry in reversed(case["timeline"]):
            detail = entry.get("detail") or ""
            if entry["action"] == "estimated_discharge_changed" and detail:
                detail = fmt.date_time(detail)
            elif entry["action"] == "rejected":
                detail = fmt.REJECTION_REASONS.get(detail, detail)
            elif entry["action"] == "discharge_notice_sent" and detail:  # the time the patient left
                detail = f"utskriven {fmt.date_time(detail)}"
            elif entry["action"] == "interrupted":
                detail = fmt.INTERRUPTION_REASONS.get(detail, detail)
            text = fmt.TIMELINE.get(entry["action"], entry["action"])
            unit = names.get(entry["unit_id"]) or hub.unit_name(entry["unit_id"])
            who = f"{hub.person_name(entry['user_id'])}, {unit}"
            items.append(f'<li class="sp-row"><span class="sp-muted">{escape(fmt.date_time(entry["at"]))}</span> '
                         f'<span class="font-bold">{escape(text)}</span>'
                         f'{" – " + escape(detail) if detail else ""} '
                         f'<span class="sp-muted">({escape(who)})</span></li>')
        return f'<ol class="w-full m-0 p-0 list-none" aria-label="Tidslinje">{"".join(items)}</ol>'
