"""The municipality's payment liability (*betalningsansvar*) as the API computes it, with the facts that decide
it: a form for the unit that records them, read-only for everyone else."""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import Json
from ui.components.actions import LIABILITY_FACTS, may
from ui.components.cells import escape
from ui.components.sections import facts_html
from ui.pages.case.parts import CaseHost, Checklist, card, heading

LIABILITY_FACT_LABELS = {
    "patient_refused_services": "Patienten har tackat nej till erbjudna insatser",
    "outpatient_services_missing": "Regionens öppenvårdsinsatser saknas",
}


def liability_facts(case: Json) -> dict[str, bool]:
    return {k: bool(case.get(k)) for k in LIABILITY_FACT_LABELS}


class PaymentSection:
    def __init__(self, host: CaseHost) -> None:
        self.host = host
        self.form: Checklist | None = None
        with card("Betalningsansvar", "min-w-[22rem] flex-1"):
            heading("Betalningsansvar")
            host.html(self.render, "case-payment")
            host.keyed(self.records_facts, self.facts_form)

    def records_facts(self) -> bool:
        return may(self.host.case, LIABILITY_FACTS)

    def render(self) -> str:
        case = self.host.case
        pay = case["payment"]
        starts = fmt.day(pay.get("liability_starts_on"))
        if pay["liable"]:
            status = f"Kommunen är betalningsansvarig från {starts}."
        elif pay.get("reasons_not_liable"):
            reasons = ", ".join(fmt.NOT_LIABLE.get(r, r) for r in pay["reasons_not_liable"])
            status = f"Inget betalningsansvar: {reasons}."
        elif pay.get("liability_starts_on"):
            status = f"Kommunens betalningsansvar börjar {starts} om patienten är kvar då."
        else:
            status = "Inget betalningsansvar: patienten är inte utskrivningsklar."
        facts = [("Dag 0", fmt.day(pay.get("day_zero"))), ("Betalningsansvar från", starts),
                 ("Dagar som utskrivningsklar", str(pay["days_ready"])),
                 ("Betalningsdagar hittills", str(pay["liable_days"])),
                 ("Belopp hittills", fmt.money(pay.get("amount_sek")))]
        if pay.get("missing_amount_years"):
            years = ", ".join(str(y) for y in pay["missing_amount_years"])
            facts.append(("Dagbelopp saknas för", years))
        if not self.records_facts():  # otherwise the form shows them
            facts += [(label, "Ja" if case.get(key) else "Nej") for key, label in LIABILITY_FACT_LABELS.items()]
        return f'<p class="m-0 mb-2">{escape(status)}</p>{facts_html(facts)}'

    def facts_form(self) -> None:
        self.form = None
        if self.records_facts():
            ui.label("Uppgifter som avgör betalningsansvaret").classes("text-xs sp-muted mt-2")
            self.form = Checklist(self.host, LIABILITY_FACT_LABELS, liability_facts, LIABILITY_FACTS)

    def refresh_from(self, case: Json) -> None:
        if self.form is not None:
            self.form.refresh_from(case)
