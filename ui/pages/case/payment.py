"""The municipality's payment liability (*betalningsansvar*) as the API computes it, with the facts that decide
it: a form for the unit that records them, read-only for everyone else."""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import Json
from ui.components.actions import LIABILITY_FACTS, may
from ui.components.admin_table import can
from ui.components.cells import escape
from ui.components.sections import facts_html
from ui.pages.admin_payment import AMOUNTS_LINK
from ui.pages.case.parts import CaseHost, Checklist, card, heading

LIABILITY_FACT_LABELS = {
    "patient_refused_services": "Patienten har tackat nej till erbjudna insatser",
    "outpatient_services_missing": "Regionens öppenvårdsinsatser saknas",
}


def liability_facts(case: Json) -> dict[str, bool]:
    return {k: bool(case.get(k)) for k in LIABILITY_FACT_LABELS}


def payment_text(pay: Json) -> str:
    """The sentence on payment liability, worded from the stage the API states (never re-derived here)."""
    stage = pay.get("stage")
    starts = fmt.day(pay.get("liability_starts_on"))
    pending = [fmt.NOT_LIABLE_PENDING.get(r) for r in pay.get("reasons_pending") or []]
    if stage == "liable":
        return f"Kommunen är betalningsansvarig från {starts}."
    if stage == "was_liable":
        days = fmt.plural(int(pay.get("liable_days") or 0), "dag", "dagar")
        return f"Kommunen var betalningsansvarig {starts} – {fmt.day(pay.get('liability_ends_on'))} ({days})."
    if stage == "not_liable":
        reasons = ", ".join(fmt.label(fmt.NOT_LIABLE, r) for r in pay.get("reasons_not_liable") or [])
        return f"Inget betalningsansvar: {reasons}."
    if stage == "not_yet_liable":
        condition = "".join(f" och {p}" for p in pending if p)
        return f"Kommunens betalningsansvar börjar {starts} om patienten är kvar då{condition}."
    if stage == "ended_without_liability":
        if pay.get("liability_starts_on"):
            return f"Inget betalningsansvar: vårdtiden slutade innan betalningsansvaret skulle ha börjat ({starts})."
        return "Inget betalningsansvar: patienten anmäldes aldrig som utskrivningsklar."
    return "Inget betalningsansvar ännu: patienten är inte utskrivningsklar."


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
        status = payment_text(pay)
        facts = [("Dag 0", fmt.day(pay.get("day_zero"))), ("Betalningsansvar från", starts),
                 ("Dagar som utskrivningsklar", str(pay["days_ready"])),
                 ("Betalningsdagar hittills", str(pay["liable_days"])),
                 ("Belopp hittills", fmt.money(pay.get("amount_sek")))]
        missing = ", ".join(str(y) for y in pay.get("missing_amount_years") or [])
        if missing:
            facts.append(("Dagbelopp saknas för", missing))
        if not self.records_facts():  # otherwise the form shows them
            facts += [(label, "Ja" if case.get(key) else "Nej") for key, label in LIABILITY_FACT_LABELS.items()]
        link = ""
        if missing and can(self.host.frame.live.me, "enter_payment_amounts"):
            link = (f'<p class="m-0 mt-2"><a class="text-blue-10 underline" href="{AMOUNTS_LINK}" '
                    f'data-testid="enter-amount">Ange dagbelopp för {escape(missing)}</a></p>')
        return f'<p class="m-0 mb-2">{escape(status)}</p>{facts_html(facts)}{link}'

    def facts_form(self) -> None:
        self.form = None
        if self.records_facts():
            ui.label("Uppgifter som avgör betalningsansvaret").classes("text-xs sp-muted mt-2")
            self.form = Checklist(self.host, LIABILITY_FACT_LABELS, liability_facts, LIABILITY_FACTS)

    def refresh_from(self, case: Json) -> None:
        if self.form is not None:
            self.form.refresh_from(case)
