"""A confirmation before a step that takes something away (an assignment, a unit, a user's access, an identity
merge): what will happen in plain words, "Avbryt" and the step itself as the button (never "OK")."""

from __future__ import annotations

from nicegui import ui

from ui.components.admin_table import heading


async def confirm(host: ui.element, title: str, text: str, action: str, *, marker: str, danger: bool = True) -> bool:
    """True when the user confirmed; `host` holds the dialog (outside what a reload rebuilds)."""
    with host, ui.dialog().props(f'aria-label="{title}"') as dialog, \
            ui.card().classes("min-w-[20rem] max-w-[36rem]"):
        heading(title, 2)
        ui.label(text)
        with ui.row().classes("justify-end w-full gap-2"):
            ui.button("Avbryt", on_click=lambda: dialog.submit(False)).props("flat no-caps").mark(f"{marker}-cancel")
            ui.button(action, on_click=lambda: dialog.submit(True)).props(
                f"no-caps color={'negative' if danger else 'primary'}").mark(marker)
    answer = await dialog
    dialog.delete()
    return bool(answer)
