"""Log review (`/loggkontroll`): search the access log, sample it and document the review.

For auditors and local access administrators (the API limits them to their organisation's units). The search
takes the patient's personal identity number and the user's HSA-id (what auditors know a user by) in fields and
sends them in the body of `POST /audit/access-log/search`, never in a URL. A review draws a random sample of a
unit's log for a period; the reviewer records a finding per sampled entry and for the review, and downloads it
as CSV (fetched by the UI process with the user's token and handed to the browser as a file: the token is never
in a URL).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from nicegui import ui

from domain import audit_terms
from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import (
    ADMIN_MAIN_CLASSES,
    admin_message,
    cell,
    first_load,
    heading,
    problem,
    row,
    table,
)
from ui.components.date_field import DATE_FORM, date_field, parse_day
from ui.frame import Frame, frame

PAGE_SIZE = 50
FINDINGS = audit_terms.FINDINGS
COLUMNS = ("Tid", "Händelse", "Syfte", "Användare", "Enhet", "Patient", "Ärende")


def period_start(value: str) -> datetime | None:
    """A date typed as ÅÅÅÅ-MM-DD: the start of that day in Swedish time."""
    day = parse_day(value)
    return datetime.combine(day, time(), tzinfo=fmt.STOCKHOLM) if day is not None else None


def period_end(value: str) -> datetime | None:
    """The end of the day (the start of the next): the period includes the last day (`fmt.period` shows it so)."""
    start = period_start(value)
    return start + timedelta(days=1) if start is not None else None


def user_text(entry: Json) -> str:
    """`Sara Sjöberg, Sjuksköterska (SE2321000016-…)`: the name as the auditor knows the person, the HSA-id the row
    was logged under to tell two of the same name apart."""
    name = entry.get("user_name")
    if not name:
        return f"Okänd användare ({entry['user_hsa_id']})"
    title = f", {entry['user_title']}" if entry.get("user_title") else ""
    return f"{name}{title} ({entry['user_hsa_id']})"


def patient_text(entry: Json) -> str:
    """The patient as the reader may see them: name and personnummer for an auditor, else the masked number."""
    patient = entry.get("patient")
    if not patient:
        return "–"
    return f"{patient['name']}, {patient['identity']}" if patient.get("name") else str(patient["identity"])


def case_text(entry: Json) -> str:
    case = entry.get("case")
    if not case:
        return "–"
    parts = (case["ward_name"], fmt.CARE_TYPES.get(case["care_type"], "").lower(),
             f"inskriven {fmt.date_time(case['admitted_at'])}")
    return ", ".join(p for p in parts if p)


class LogReviewPage:
    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.units: dict[str, str] = {}
        self.cursors: list[str | None] = [None]  # the cursor of each page shown so far: back is a pop, never an offset
        self.total = ""
        self.query: Json = {}
        self.results = ui.element("div")
        self.reviews_box = ui.element("div")
        self.review_box = ui.element("div")
        self.reviews_error = ui.element("div")
        self.review_error = ui.element("div")

    async def call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return await self.frame.api.request(method, path, await self.frame.fresh_token(), json=body, params=params)

    def unit_name(self, unit_id: str | None) -> str:
        return self.units.get(unit_id or "", unit_id or "–")

    async def build(self) -> None:
        me = self.frame.live.me
        units = await self.frame.api.units(await self.frame.fresh_token(), organisation_id=str(me["organisation_id"]))
        self.units = {str(u["id"]): str(u["name"]) for u in sorted(units, key=lambda u: str(u["name"]))}
        with ui.element("section").props('aria-labelledby="sp-search-heading"').classes("w-full"):
            heading("Sök i åtkomstloggen", 2, "mt-2").props('id="sp-search-heading"')
            with ui.row().classes("items-end gap-4 flex-wrap"):
                # Only an auditor searches by patient (the API refuses others: they would learn whose records were
                # read).
                self.identity = ui.input("Patientens personnummer", placeholder="ÅÅÅÅMMDD-NNNN").props(
                    'autocomplete="off" stack-label').classes("min-w-[15rem]").mark("search-identity")
                self.identity.set_visibility(any(a["role"] == "auditor" for a in me["assignments"]))
                self.user_hsa_id = ui.input("Användarens HSA-id", placeholder="SE2321000016-ABC1").props(
                    'autocomplete="off" stack-label').classes("min-w-[15rem]").mark("search-user")
                self.unit = ui.select({"": "Alla enheter"} | self.units, value="", label="Enhet").classes(
                    "min-w-[16rem]").mark("search-unit")
                self.action = ui.select({"": "Alla händelser"} | dict(sorted(audit_terms.ACTIONS.items(),
                                                                             key=lambda kv: kv[1])),
                                        value="", label="Händelse").classes("min-w-[16rem]").mark("search-action")
                self.period_from = date_field("Från och med").mark("search-from")
                self.period_to = date_field("Till och med").mark("search-to")
                ui.button("Sök", icon="search", on_click=self.search).mark("search")
            self.results = ui.element("div").classes("w-full")
        with ui.element("section").props('aria-labelledby="sp-reviews-heading"').classes("w-full mt-6"):
            heading("Granskningar (stickprov)", 2).props('id="sp-reviews-heading"')
            with ui.row().classes("items-end gap-4 flex-wrap"):
                mine = [str(a["unit_id"]) for a in me["assignments"] if str(a["unit_id"]) in self.units]
                first = mine[0] if mine else next(iter(self.units), "")
                self.review_unit = ui.select(self.units, value=first or None, label="Enhet att granska").classes(
                    "min-w-[16rem]").mark("review-unit")
                today = datetime.now(fmt.STOCKHOLM).date()
                self.review_from = date_field("Period från och med", (today - timedelta(days=30)).isoformat()).mark(
                    "review-from")
                self.review_to = date_field("Period till och med", today.isoformat()).mark("review-to")
                self.sample_size = ui.number("Antal i stickprovet", value=20, min=1, max=500, precision=0).classes(
                    "min-w-[10rem]").mark(
                    "review-size")
                ui.button("Starta granskning", icon="rule", on_click=self.create_review).mark("create-review")
            self.reviews_error = ui.element("div")
            self.reviews_box = ui.element("div").classes("w-full")
        self.review_box = ui.element("div").classes("w-full mt-6")
        await self.reload_reviews()

    # ----- search -----------------------------------------------------------------------------------------------

    async def search(self) -> None:
        query: Json = {}
        if (identity := str(self.identity.value or "").strip()):
            query["patient_identity"] = identity
        if (user_hsa_id := str(self.user_hsa_id.value or "").strip()):
            query["user_hsa_id"] = user_hsa_id  # in the body, like the identity number: never in a URL
        if self.unit.value:
            query["unit_id"] = self.unit.value
        if self.action.value:
            query["action"] = self.action.value
        for key, value, convert in (("period_from", self.period_from.value, period_start),
                                    ("period_to", self.period_to.value, period_end)):
            if value:
                moment = convert(str(value))
                if moment is None:
                    problem(self.results, f"Skriv datum som {DATE_FORM}.")
                    return
                query[key] = moment.isoformat()
        self.query = query
        self.cursors = [None]
        await self.show_page()

    async def show_page(self) -> None:
        cursor = self.cursors[-1]
        try:
            page: Json = await self.call("POST", "/audit/access-log/search", self.query | {"limit": PAGE_SIZE} | (
                {"cursor": cursor} if cursor else {}))
        except ApiError as exc:
            problem(self.results, admin_message(exc))
            return
        self.results.clear()
        items, following_cursor = page["items"], page.get("next_cursor")
        if page.get("total") is not None:  # counted on the first page only, up to 1 000
            self.total = (f"fler än {fmt.thousands(int(page['total']))}" if page.get("total_capped")
                          else fmt.thousands(int(page["total"])))
        first = (len(self.cursors) - 1) * PAGE_SIZE + 1
        with self.results:
            status = (f"Visar {first}–{first + len(items) - 1} av {self.total} loggrader"
                      if items else "Inga loggrader matchar sökningen.")
            ui.label(status).props('role="status"').mark("search-status")
            if items:
                self.entries_table("Träffar i åtkomstloggen, nyast först", items, marker="search-results")
            with ui.row().classes("gap-2"):
                previous = ui.button("Föregående sida", on_click=self.back).props(
                    "flat no-caps").mark("previous-page")
                previous.set_enabled(len(self.cursors) > 1)
                following = ui.button("Nästa sida", on_click=lambda: self.forward(following_cursor)).props(
                    "flat no-caps").mark("next-page")
                following.set_enabled(bool(following_cursor))

    async def forward(self, cursor: str | None) -> None:
        if cursor:
            self.cursors.append(cursor)
            await self.show_page()

    async def back(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            await self.show_page()

    def entry_cells(self, entry: Json | None) -> tuple[str, ...]:
        if entry is None:
            return ("Gallrad (äldre än lagringstiden)", "", "", "", "", "", "")
        return (fmt.date_time(entry["at"]), audit_terms.action_text(str(entry["action"])),
                audit_terms.purpose_text(str(entry["purpose"])), user_text(entry),
                entry.get("unit_name") or self.unit_name(entry.get("unit_id")), patient_text(entry), case_text(entry))

    def entries_table(self, caption: str, items: list[Json], *, marker: str) -> None:
        with table(caption, COLUMNS, marker=marker) as t:
            t.classes("sp-log")
            for entry in items:
                row(*self.entry_cells(entry))

    # ----- reviews ----------------------------------------------------------------------------------------------

    async def reload_reviews(self) -> None:
        try:
            page: Json = await self.call("GET", "/audit/reviews")
        except ApiError as exc:
            problem(self.reviews_box, admin_message(exc))
            return
        self.reviews_box.clear()
        with self.reviews_box:
            if not page["items"]:
                ui.label("Inga granskningar än.").classes("sp-muted")
                return
            with table("Granskningar, nyast först", ("Enhet", "Period", "Stickprov", "Startad", "Bedömning", ""),
                       marker="reviews"):
                for review in page["items"]:
                    period = fmt.period(review["period_from"], review["period_to"])
                    finding = FINDINGS.get(str(review.get("finding")), "Pågår")
                    unit = self.unit_name(review["unit_id"])
                    with row(unit, period, str(review["sample_size"]), fmt.date_time(review["created_at"]),
                             finding), cell():
                        ui.button("Öppna", on_click=lambda r=review: self.open_review(str(r["id"]))).props(
                            f'flat dense no-caps aria-label="Öppna granskningen av {unit}, {period}"').mark(
                            f"open-review-{review['id']}")

    async def create_review(self) -> None:
        start, end = period_start(str(self.review_from.value or "")), period_end(str(self.review_to.value or ""))
        if not self.review_unit.value or start is None or end is None:
            problem(self.reviews_error, f"Välj enhet och skriv perioden som {DATE_FORM}.")
            return
        body = {"unit_id": self.review_unit.value, "period_from": start.isoformat(), "period_to": end.isoformat(),
                "sample_size": int(self.sample_size.value or 20)}
        try:
            review: Json = await self.call("POST", "/audit/reviews", body)
        except ApiError as exc:
            problem(self.reviews_error, admin_message(exc))
            return
        self.reviews_error.clear()
        await self.reload_reviews()
        self.show_review(review)

    async def open_review(self, review_id: str) -> None:
        try:
            review: Json = await self.call("GET", f"/audit/reviews/{review_id}")
        except ApiError as exc:
            problem(self.review_box, admin_message(exc))
            return
        self.show_review(review)

    def show_review(self, review: Json) -> None:
        box = self.review_box
        box.clear()
        unit = self.unit_name(review["unit_id"])
        period = fmt.period(review["period_from"], review["period_to"])
        with box:
            heading(f"Granskning av {unit}, {period}", 2).props('id="sp-review-heading"').mark("review-heading")
            ui.label(f"Stickprov: {len(review['entries'])} av {review['population']} loggrader "
                     f"(frö {review['seed']}).")
            summary = ", ".join(f"{FINDINGS.get(k, 'Ej granskade')}: {v}" for k, v in review["summary"].items() if v)
            ui.label(f"Läge: {summary or 'inget stickprov'}").props('role="status"').mark("review-summary")
            self.review_error = ui.element("div")
            with table("Stickprovet: varje loggrad med sin bedömning under", COLUMNS, marker="review-entries") as t:
                t.classes("sp-log")
                for item in review["entries"]:
                    self.review_entry_row(review, item)
            heading("Granskningens slutsats", 3, "mt-4")
            with ui.row().classes("items-end gap-4 flex-wrap"):
                finding = ui.select(FINDINGS, value=review.get("finding"), label="Bedömning av granskningen").classes(
                    "min-w-[17rem]").mark("review-finding")
                comment = ui.textarea("Kommentar till granskningen", value=review.get("comment") or "").classes(
                    "min-w-[24rem]").mark("review-comment")
                ui.button("Spara slutsats", on_click=lambda: self.conclude(review, finding, comment)).mark(
                    "conclude-review")
                ui.button("Ladda ned CSV", icon="download", on_click=lambda: self.download(review)).props(
                    "outline").mark("download-review")

    def review_entry_row(self, review: Json, item: Json) -> None:
        """The sampled entry's row, and under it a row with its finding, comment and "Spara" (the whole width: the
        table stays readable on a tablet)."""
        seq = int(item["seq"])
        row(*self.entry_cells(item.get("entry")), marker=f"entry-{seq}")
        with ui.element("tr").classes("sp-finding"), ui.element("td").props(f'colspan="{len(COLUMNS)}"'), \
                ui.row().classes("items-end gap-4 flex-wrap"):
            finding = ui.select(FINDINGS, value=item.get("finding"), label=f"Bedömning, rad {seq}").classes(
                "min-w-[14rem]").props("dense").mark(f"entry-finding-{seq}")
            comment = ui.input(f"Kommentar, rad {seq}", value=item.get("comment") or "").classes(
                "min-w-[16rem] grow").props("dense").mark(f"entry-comment-{seq}")
            ui.button("Spara", on_click=lambda: self.record(review, seq, finding, comment)).props(
                f'flat dense no-caps aria-label="Spara bedömningen av rad {seq}"').mark(f"save-entry-{seq}")

    async def record(self, review: Json, seq: int, finding: ui.select, comment: ui.input) -> None:
        if not finding.value:
            problem(self.review_error, f"Välj en bedömning för rad {seq}.")
            return
        try:
            updated: Json = await self.call("PUT", f"/audit/reviews/{review['id']}/entries/{seq}",
                                            {"finding": finding.value, "comment": str(comment.value or "")})
        except ApiError as exc:
            problem(self.review_error, admin_message(exc))
            return
        ui.notify(f"Rad {seq} är bedömd", type="positive")
        self.show_review(updated)

    async def conclude(self, review: Json, finding: ui.select, comment: ui.textarea) -> None:
        if not finding.value:
            problem(self.review_error, "Välj en bedömning av granskningen.")
            return
        try:
            updated: Json = await self.call("PUT", f"/audit/reviews/{review['id']}/outcome",
                                            {"finding": finding.value, "comment": str(comment.value or "")})
        except ApiError as exc:
            problem(self.review_error, admin_message(exc))
            return
        ui.notify("Granskningens slutsats är sparad", type="positive")
        self.show_review(updated)
        await self.reload_reviews()

    async def download(self, review: Json) -> None:
        try:
            body = await self.frame.api.download(f"/audit/reviews/{review['id']}/export",
                                                 await self.frame.fresh_token())
        except ApiError as exc:
            problem(self.review_error, admin_message(exc))
            return
        ui.download.content(body, f"loggkontroll-{str(review['id'])[:36]}.csv", "text/csv; charset=utf-8")


async def log_review_page() -> None:
    async with frame("/loggkontroll", "Loggkontroll", needs="review_logs", classes=ADMIN_MAIN_CLASSES) as shell:
        heading("Loggkontroll", 1)
        await first_load(LogReviewPage(shell).build())
