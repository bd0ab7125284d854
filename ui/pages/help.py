"""`/hjalp` and `/hjalp/<roll>`: help per role, in plain Swedish (the routines of process.md and what each deadline
means), from the markdown files of `ui/help/`. The header's "Hjälp" (`ui/frame.py`) opens the page's own short text
and links here."""

from __future__ import annotations

from nicegui import ui

from ui import help as texts
from ui.frame import Frame, frame

HELP_CSS = """
.sp-help h1 { font-size: 1.75rem; line-height: 2.25rem; font-weight: 700; margin: 0 0 .5rem; }
.sp-help h2 { font-size: 1.35rem; line-height: 1.85rem; font-weight: 700; margin: 1rem 0 .5rem; }
"""


def role_links(shell: Frame) -> None:
    mine = texts.own_role(shell.part, shell.live.me.get("capabilities") or {})
    with ui.element("ul").classes("list-disc pl-6 text-lg").mark("help-roles"):
        for role, name in texts.ROLES.items():
            with ui.element("li"):
                ui.link(name + (" (din roll)" if role == mine else ""), f"/hjalp/{role}").classes("text-blue-10")


async def help_page() -> None:
    async with frame("/hjalp", "Hjälp", classes="w-full max-w-4xl p-4 gap-4 flex flex-col") as shell:
        ui.label("Hjälp").classes("text-2xl font-bold").props('role="heading" aria-level="1"')
        ui.markdown(texts.text("sidor/hjalp.md"))
        role_links(shell)
        ui.add_css(HELP_CSS)
        ui.markdown(texts.text("fristerna.md")).classes("sp-help").mark("help-deadlines")


async def role_help_page(role: str) -> None:
    async with frame(f"/hjalp/{role}", "Hjälp", classes="w-full max-w-4xl p-4 gap-4 flex flex-col") as shell:
        ui.link("← All hjälp", "/hjalp").classes("text-blue-10")
        content = texts.role_text(role)
        if content is None:
            ui.label("Det finns ingen hjälp för den rollen. Välj en av dessa:").classes("text-lg").props(
                'role="heading" aria-level="1"')
            role_links(shell)
            return
        ui.add_css(HELP_CSS)
        ui.markdown(content).classes("sp-help").mark("help-role")
