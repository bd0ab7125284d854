"""Shared pieces of the administration and log-review pages: a plain HTML table, role names, a refusal.

The tables are real `<table>` elements (caption, `th scope="col"`), so screen readers announce rows and columns;
cells hold ordinary NiceGUI elements (labels, buttons with per-row `aria-label`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json

ROLES, UNIT_KINDS = fmt.ROLES, fmt.UNIT_KINDS  # the labels live in ui/fmt.py (one place)
TABLE_CSS = """
.sp-table { border-collapse: collapse; width: 100%; }
.sp-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.sp-table th, .sp-table td { border-bottom: 1px solid #ddd; padding: 6px 8px; text-align: left; vertical-align: top; }
.sp-table th { background: #f1f5f9; }
.sp-table td { overflow-wrap: break-word; }  /* long HSA-ids wrap (at their hyphen) instead of widening the page */
.sp-table .q-btn { overflow-wrap: normal; }
.sp-log td:first-child { white-space: nowrap; }  /* the time of a log row on one line */
.sp-log tr.sp-finding td { background: #f8fafc; }
@media (max-width: 1000px) {  /* a tablet: tighter cells, so the table fits without sideways scrolling */
  .sp-table th, .sp-table td { padding: 4px 4px; font-size: 0.85rem; }
  .sp-table td { overflow-wrap: anywhere; }
}
"""


ADMIN_MAIN_CLASSES = "w-full p-4 gap-2 flex flex-col"  # the content of /admin and /loggkontroll (`ui.frame.frame`)


def can(me: Json, capability: str) -> Any:
    """What `GET /me` says the user may do (`capabilities`, computed by the domain): never worked out from roles
    here."""
    return (me.get("capabilities") or {}).get(capability)


def refuse() -> None:
    """What a signed-in user without the page's role sees."""
    with ui.element("div").props('id="sp-main" tabindex="-1"').classes("p-4"):  # inside Quasar's <main>
        ui.label("Du har inte behörighet").classes("text-2xl font-bold").props('role="heading" aria-level="1"')
        ui.label("Den här sidan är bara för administratörer och logggranskare.").props('role="alert"')


def heading(text: str, level: int, classes: str = "") -> ui.label:
    size = {1: "text-2xl", 2: "text-xl", 3: "text-lg"}.get(level, "text-base")
    return ui.label(text).classes(f"{size} font-bold {classes}").props(f'role="heading" aria-level="{level}"')


@contextmanager
def table(caption: str, columns: Iterable[str], *, marker: str = "") -> Iterator[ui.element]:
    """A `<table>` with a caption and column headers; rows go inside (`row()`)."""
    ui.add_css(TABLE_CSS)
    with ui.element("table").classes("sp-table") as element:
        if marker:
            element.mark(marker)
        with ui.element("caption"):
            ui.label(caption)
        with ui.element("thead"), ui.element("tr"):
            for column in columns:
                with ui.element("th").props('scope="col"'):
                    ui.label(column)
        with ui.element("tbody"):
            yield element


def row(*cells: str, marker: str = "") -> ui.element:
    """A row of text cells; more cells (with controls) can be added inside `with row(...):` via `cell()`."""
    with ui.element("tr") as tr:
        if marker:
            tr.mark(marker)
        for text in cells:
            with ui.element("td"):
                ui.label(text)
    return tr


def cell() -> ui.element:
    return ui.element("td")


FIELDS = {
    "username": "användarnamn", "hsa_id": "HSA-id", "display_name": "namn", "title": "titel", "role": "roll",
    "unit_id": "enhet", "name": "namn", "kind": "typ", "parent_unit_id": "överordnad enhet",
    "municipality_code": "kommunkod", "district": "distrikt", "routing_role": "mottagning",
    "patient_identity": "personnummer", "period_from": "från", "period_to": "till", "sample_size": "antal",
    "finding": "bedömning", "comment": "kommentar", "user_hsa_id": "användarens HSA-id",
    "protected_identity_access": "behörighet att se skyddade personuppgifter", "phone": "telefon",
}
CONFLICTS = {  # the API's 409 problem codes (docs/api.md) in Swedish
    "unit_in_use": "Enheten deltar i öppna ärenden. Vidarebefordra eller avsluta dem först.",
    "unit_has_active_sub_units": "Enheten har aktiva underenheter. Inaktivera eller flytta dem först.",
    "username_taken": "Användarnamnet är upptaget.",
    "hsa_id_taken": "Det finns redan en med detta HSA-id.",
    "assignment_exists": "Användaren har redan den behörigheten vid enheten.",
}


def admin_message(exc: ApiError) -> str:
    """The API's problem as a Swedish sentence fit for administration (not the case wording)."""
    if exc.status == 409:
        return CONFLICTS.get(exc.code, "Ändringen krockar med det som redan finns. Läs in sidan igen.")
    if exc.status == 404:
        return "Finns inte, eller så är det inte synligt för dig."
    if exc.status in (400, 422):
        names = [FIELDS[f] for f in exc.fields if f in FIELDS]
        return "Uppgiften godtogs inte" + (f". Kontrollera: {', '.join(names)}." if names else ".")
    return exc.message


def problem(where: ui.element, message: str) -> None:
    """Show an API problem (already in Swedish) in a live region."""
    where.clear()
    with where:
        ui.label(message).classes("text-negative font-bold").props('role="alert"')


async def first_load(load: Awaitable[None]) -> None:
    """A page's first read: a refusal of the API is shown in Swedish where the content would be."""
    try:
        await load
    except ApiError as exc:
        problem(ui.element("div"), admin_message(exc))
