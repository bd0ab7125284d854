"""The reserve routine's printouts from the screen (*reservrutin*, docs/reservrutin.md): the unit's reserve list
(PDF or CSV) on the board, and the case sheet (PDF) on the case page. The API builds them and logs each as a read
of patient data; the browser gets the file."""

from __future__ import annotations

from nicegui import ui

from ui.api_client import ApiError
from ui.frame import Frame

LIST_FORMATS = {"pdf": ("Reservlista (PDF, för utskrift)", "application/pdf"),
                "csv": ("Reservlista (CSV, för kalkylprogram)", "text/csv")}


async def _download(frame: Frame, path: str, filename: str, media_type: str) -> None:
    try:
        body = await frame.api.download(path, await frame.fresh_token(), acting_unit=frame.acting_unit)
    except ApiError as exc:
        ui.notify(f"Det gick inte att hämta utskriften: {exc.message}", type="negative", position="top",
                  close_button="Stäng")
        return
    ui.download.content(body, filename, media_type)


def reserve_list_button(frame: Frame, unit_id: str) -> None:
    """'Reservlista' with its two formats, for the unit the board shows."""
    with ui.button("Reservlista", icon="print").props(
            'no-caps outline aria-haspopup="menu" '
            'aria-label="Reservlista: skriv ut eller ladda ned enhetens öppna ärenden"'), \
            ui.menu().props('aria-label="Reservlista" role="menu"'):
        for fmt, (label, media_type) in LIST_FORMATS.items():
            ui.menu_item(label, on_click=lambda f=fmt, m=media_type: _download(
                frame, f"/units/{unit_id}/reserve-list/{f}", f"reservlista.{f}", m)).props('role="menuitem"')


def case_sheet_button(frame: Frame, case_id: str) -> None:
    ui.button("Skriv ut ärendet", icon="print",
              on_click=lambda: _download(frame, f"/cases/{case_id}/sheet", "arende.pdf", "application/pdf")).props(
        'no-caps outline aria-label="Skriv ut ärendet (PDF, reservrutin)"')
