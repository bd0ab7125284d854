"""A date field in the Swedish form whatever the browser's language: `ÅÅÅÅ-MM-DD`, typed or picked.

The browser's own `<input type="date">` follows the browser's language (mm/dd/yyyy in an English one), so this is a
text field with the form as its mask and a calendar beside it (Quasar's, in Swedish through the app's language,
weeks from Monday). `parse_day` reads what was entered; None when it is not a date.
"""

from __future__ import annotations

from datetime import date

from nicegui import ui

DATE_FORM = "ÅÅÅÅ-MM-DD"


def date_field(label: str, value: str = "", *, classes: str = "min-w-[13rem]") -> ui.input:
    field = ui.input(label, value=value, placeholder=DATE_FORM).props(
        'mask="####-##-##" stack-label inputmode="numeric" autocomplete="off"').classes(classes)
    with ui.menu().props("no-parent-event") as menu:
        ui.date(mask="YYYY-MM-DD", on_change=lambda e: (field.set_value(e.value), menu.close())).props(
            "first-day-of-week=1 minimal")
    with field.add_slot("append"):
        ui.button(icon="edit_calendar", on_click=menu.open).props(
            f'flat round dense aria-label="Välj datum i kalender: {label}"')
    return field


def parse_day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
