"""Date and time fields in the Swedish form whatever the browser's language: `ÅÅÅÅ-MM-DD`, typed or picked, and
`TT:MM` (24 hours).

The browser's own `<input type="date">` follows the browser's language (mm/dd/yyyy in an English one), so this is a
text field with the form as its mask and a calendar beside it (Quasar's, in Swedish through the app's language,
weeks from Monday). `<input type="time">` likewise shows AM/PM in an English browser, so `time_field` is a text
field with the mask `##:##`. `parse_day` reads what was entered; None when it is not a date.
"""

from __future__ import annotations

from datetime import date

from nicegui import ui

DATE_FORM = "ÅÅÅÅ-MM-DD"
TIME_FORM = "TT:MM"


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


def time_field(label: str, value: str = "", *, classes: str = "min-w-[9rem]") -> ui.input:
    return ui.input(label, value=value, placeholder=TIME_FORM, validation=time_error).props(
        'mask="##:##" stack-label inputmode="numeric" autocomplete="off"').classes(classes)


def time_error(value: object) -> str | None:
    """Why `value` is not a 24-hour `TT:MM`, or None."""
    text = str(value or "").strip()
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        return "Skriv tiden som TT:MM (24 timmar)."
    return None if int(text[:2]) < 24 and int(text[3:]) < 60 else "Tiden finns inte."


def parse_day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None
