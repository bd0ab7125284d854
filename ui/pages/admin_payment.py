"""The administration page's section for Socialstyrelsen's amount per day of care (*dagbelopp*) per year
(`GET /payment/policy`, `PUT /payment/amounts/{year}`): for central administrators (`GET /me`
`capabilities.enter_payment_amounts`). A case whose payment needs a year without an amount links here
(`AMOUNTS_LINK`).

Year and amount are checked as they are typed (the API's own bounds); a refusal of the API is shown at the field
it names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import admin_message, heading, problem, row, table
from ui.frame import Frame

AMOUNTS_ANCHOR = "dagbelopp"
AMOUNTS_LINK = f"/admin#{AMOUNTS_ANCHOR}"
FIRST_YEAR, LAST_YEAR = 2018, 2100  # the API's bounds (server/api/payment.py)
MAX_AMOUNT = 1_000_000  # server/schemas/cases.py PaymentAmountInput


def year_problem(value: object) -> str | None:
    if value in (None, ""):
        return "Ange år."
    try:
        year = int(float(str(value)))
    except ValueError:
        return "Ange året med fyra siffror."
    if year != float(str(value)) or not FIRST_YEAR <= year <= LAST_YEAR:
        return f"Ange ett år mellan {FIRST_YEAR} och {LAST_YEAR}."
    return None


def amount_problem(value: object) -> str | None:
    if value in (None, ""):
        return "Ange beloppet i kronor."
    try:
        amount = float(str(value))
    except ValueError:
        return "Ange beloppet i hela kronor."
    if amount != int(amount) or not 1 <= amount <= MAX_AMOUNT:
        return f"Ange hela kronor mellan 1 och {fmt.money(MAX_AMOUNT)}."
    return None


class PaymentAmountsSection:
    def __init__(self, frame: Frame, notify: Callable[[str], None]) -> None:
        self.frame = frame
        self.notify = notify
        with ui.element("section").props(f'id="{AMOUNTS_ANCHOR}" aria-labelledby="sp-amounts-heading"').classes(
                "w-full mt-6"):
            heading("Dagbelopp för betalningsansvar", 2).props('id="sp-amounts-heading"')
            ui.label("Socialstyrelsens belopp per vårddygn, ett per år. Kommunens betalningsansvar prissätts med "
                     "beloppet för det år dagen ligger i; utan belopp visas inget belopp för året.").classes(
                "sp-muted max-w-[60rem]")
            self.listing = ui.element("div").classes("w-full")
            with ui.row().classes("items-start gap-4 flex-wrap"):
                self.year = ui.number("År", value=date.today().year, format="%d", validation=year_problem).props(
                    'inputmode="numeric"').classes("w-32").mark("amount-year")
                self.amount = ui.number("Belopp per dygn (kr)", validation=amount_problem).props(
                    'inputmode="numeric"').classes("w-56").mark("amount-sek")
                ui.button("Spara dagbelopp", icon="save", on_click=self.save).props("no-caps").classes(
                    "mt-2").mark("amount-save")
            self.result = ui.element("div").classes("w-full")

    async def load(self) -> None:
        policy: Json = await self.frame.api.request("GET", "/payment/policy", await self.frame.fresh_token())
        amounts = sorted(policy.get("amounts") or [], key=lambda a: int(a["year"]), reverse=True)
        self.listing.clear()
        with self.listing:
            if not amounts:
                ui.label("Inga dagbelopp är inlagda ännu.").mark("amounts-empty")
                return
            with table("Inlagda dagbelopp", ("År", "Belopp per dygn"), marker="amounts"):
                for entry in amounts:
                    row(str(entry["year"]), fmt.money(int(entry["amount_sek"])), marker=f"amount-{entry['year']}")

    async def save(self) -> None:
        self.result.clear()
        if not (self.year.validate() & self.amount.validate()):  # both, so each shows its own message
            return
        year, amount = int(self.year.value), int(self.amount.value)
        try:
            await self.frame.api.request("PUT", f"/payment/amounts/{year}", await self.frame.fresh_token(),
                                         json={"amount_sek": amount})
        except ApiError as exc:
            if exc.status in (400, 422) and ("amount_sek" in exc.fields or "year" in exc.fields):
                field = self.amount if "amount_sek" in exc.fields else self.year
                field.error = amount_problem(-1) if field is self.amount else year_problem(-1)
                return
            problem(self.result, admin_message(exc))
            return
        await self.load()
        self.notify(f"Dagbeloppet för {year} är sparat")
