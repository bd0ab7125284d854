"""The user's settings (`/installningar`, the user menu's "Inställningar"): how a new notice reaches them when they
do not look at Samplan (`ui/components/attention.py`: the count in the tab's title, a sound, a desktop
notification while Samplan is in the background).

The choices live in this browser, per user (`localStorage`; why: `attention.py`), so the page reads and writes
them through the browser once it is connected. The browser's permission for desktop notifications is asked only
when the user presses "Tillåt skrivbordsnotiser" (the prompt needs the user's own click), and the page says what the
browser answered.
"""

from __future__ import annotations

import json
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from ui.components.admin_table import heading
from ui.frame import Frame, frame

PERMISSIONS = {
    "granted": "Webbläsaren tillåter skrivbordsnotiser från Samplan.",
    "denied": "Du har nekat skrivbordsnotiser för Samplan i webbläsaren. Ändra det i webbläsarens inställningar för "
              "webbplatsen (hänglåset vid adressen) och ladda sedan om sidan.",
    "default": "Webbläsaren har inte frågat dig än. Tryck på "
               "\u201dTillåt skrivbordsnotiser\u201d så frågar den en gång.",
    "unsupported": "Den här webbläsaren kan inte visa skrivbordsnotiser.",
}


class SettingsPage:
    def __init__(self, shell: Frame) -> None:
        self.frame = shell
        self.user = json.dumps(shell.user_id)
        self.loading = True  # the switches are set from the browser's stored choice: no save for that
        heading("Nya meddelanden när du inte tittar på Samplan", 2, "mt-2")
        if not shell.live.inbox_units:
            ui.label("Ljud och skrivbordsnotiser gäller nya meddelanden i en inkorg: ingen av dina enheter har en "
                     "inkorg, så de gäller först när du arbetar för en sådan enhet.").classes("sp-muted")
        ui.label("Antalet okvitterade meddelanden står alltid först i flikens namn, till exempel "
                 "\u201d(3) Inkorg – Samplan\u201d, så att du ser det även när en annan flik är öppen.")
        with ui.row().classes("items-center gap-4"):
            self.sound = ui.switch("Spela ett ljud när ett nytt meddelande kommer",
                                   on_change=self.save).mark("settings-sound")
            ui.button("Testa ljudet", icon="volume_up").props("flat no-caps").on(
                "click", js_handler="() => window.spAttention.beep()").mark("settings-test-sound")
        self.desktop = ui.switch("Visa en skrivbordsnotis när Samplan ligger i bakgrunden",
                                 on_change=self.save).mark("settings-desktop")
        self.permission = ui.label("").props('role="status"').mark("settings-permission")
        self.ask = ui.button("Tillåt skrivbordsnotiser", icon="notifications_active").props("no-caps").on(
            "click", js_handler="() => window.spAttention.ask().then(p => emitEvent('sp_permission', p))").mark(
            "settings-allow")
        self.ask.set_visibility(False)
        ui.label("En skrivbordsnotis säger vilket slags meddelande det är och från vilken enhet, aldrig patientens "
                 "namn eller personnummer.").classes("sp-muted")
        ui.label("Valen gäller dig i den här webbläsaren: på en annan dator väljer du på nytt.").classes("sp-muted")
        ui.on("sp_permission", self.permission_answered)
        shell.client.on_connect(self.load)

    async def load(self) -> None:
        """The stored choice and the browser's permission, once the browser is connected."""
        try:
            chosen: Any = await self.frame.client.run_javascript(f"window.spAttention.settings({self.user})")
            permission: Any = await self.frame.client.run_javascript("window.spAttention.permission()")
        except TimeoutError:  # the browser did not answer (gone again): nothing to show
            return
        if isinstance(chosen, dict):
            self.sound.set_value(bool(chosen.get("sound")))
            self.desktop.set_value(bool(chosen.get("desktop")))
        self.show_permission(str(permission or "unsupported"))
        self.loading = False

    def show_permission(self, permission: str) -> None:
        self.permission.set_text(PERMISSIONS.get(permission, PERMISSIONS["unsupported"]))
        self.ask.set_visibility(permission == "default")
        self.desktop.set_enabled(permission == "granted")
        if permission != "granted" and self.desktop.value:
            self.desktop.set_value(False)

    def permission_answered(self, event: GenericEventArguments) -> None:
        answer = str(event.args or "unsupported")
        self.show_permission(answer)
        if answer == "granted":
            self.desktop.set_value(True)  # they asked for it: switched on (and saved)

    def save(self) -> None:
        if self.loading:
            return
        chosen = json.dumps({"sound": bool(self.sound.value), "desktop": bool(self.desktop.value)})
        self.frame.client.run_javascript(f"window.spAttention.save({self.user}, {chosen})")
        ui.notify("Inställningen är sparad", type="positive", position="top", timeout=1500)


async def settings_page() -> None:
    async with frame("/installningar", "Inställningar") as shell:
        heading("Inställningar", 1)
        SettingsPage(shell)
