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

from ui import fmt
from ui.api_client import ApiError, Json
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


FIELD_PROBLEMS = {  # the API's field-level refusals of `PUT /me/notification-settings`, in Swedish
    "email": "Skriv en giltig e-postadress för att få notiser via e-post.",
    "quiet_from": "Ange både när tiden utan mejl börjar och när den slutar (tt:mm), eller ingen av dem.",
    "quiet_to": "Ange både när tiden utan mejl börjar och när den slutar (tt:mm), eller ingen av dem.",
    "digest_at": "Ange när sammanfattningen ska skickas som tt:mm.",
}


class EmailSettings:
    """E-mail notices (`/me/notification-settings`): which unit events reach the user by e-mail, immediately or as a
    daily digest, and quiet hours. Kept by the API (they apply wherever the user signs in)."""

    def __init__(self, shell: Frame) -> None:
        self.frame = shell
        heading("E-post när du inte är inloggad", 2, "mt-6")
        ui.label("Samplan kan mejla dig när något händer vid dina enheter. Mejlet säger vilken enhet och vad som "
                 "hänt, med en länk. Det innehåller aldrig patientens namn eller personnummer.").classes("sp-muted")
        self.failure = ui.label("").classes("text-negative").props('role="alert"').mark("email-failure")
        self.failure.set_visibility(False)
        self.enabled = ui.switch("Skicka notiser till min e-post").mark("email-enabled")
        self.email = ui.input("E-postadress (arbetsadress)").props("type=email autocomplete=email").classes(
            "min-w-[20rem]").mark("email-address")
        ui.label("Vad vill du få mejl om?").classes("font-semibold mt-2")
        self.notices = ui.checkbox("Nya meddelanden till min enhet (inskrivning, utskrivningsklar, utskrivning …)")
        self.deadlines = ui.checkbox("Tidsfrister som snart går ut eller har passerats")
        self.sip_meetings = ui.checkbox("SIP-möten som kallas eller flyttas")
        ui.label("Hur ofta?").classes("font-semibold mt-2")
        self.delivery = ui.radio({"immediate": "Direkt", "digest": "En sammanfattning om dagen"},
                                 value="immediate").props("inline").mark("email-delivery")
        with ui.row().classes("items-center gap-4"):
            self.digest_at = ui.input("Sammanfattningen skickas kl.", value="07:00").props("type=time")
            self.quiet_from = ui.input("Inga mejl från kl.").props("type=time").mark("email-quiet-from")
            self.quiet_to = ui.input("till kl.").props("type=time").mark("email-quiet-to")
        self.error = ui.label("").classes("text-negative").props('role="alert"').mark("email-error")
        ui.button("Spara e-postinställningar", icon="save", on_click=self.save).props("no-caps").mark("email-save")

    def show(self, chosen: Json) -> None:
        self.enabled.set_value(bool(chosen.get("email_enabled")))
        self.email.set_value(chosen.get("email") or "")
        for name in ("notices", "deadlines", "sip_meetings"):
            getattr(self, name).set_value(bool(chosen.get(name)))
        self.delivery.set_value(chosen.get("delivery") or "immediate")
        self.digest_at.set_value(chosen.get("digest_at") or "07:00")
        self.quiet_from.set_value(chosen.get("quiet_from") or "")
        self.quiet_to.set_value(chosen.get("quiet_to") or "")
        failed = chosen.get("address_failed_at")
        self.failure.set_text(f"E-postservern tog inte emot mejl till din adress ({fmt.date_time(str(failed))}: "
                              f"{chosen.get('address_failure') or 'okänt fel'}). Kontrollera adressen och spara."
                              if failed else "")
        self.failure.set_visibility(bool(failed))

    async def load(self) -> None:
        try:
            self.show(await self.frame.api.request("GET", "/me/notification-settings",
                                                   await self.frame.fresh_token()))
        except ApiError as exc:
            self.error.set_text(exc.message)

    def body(self) -> dict[str, Any]:
        return {"email": str(self.email.value or "").strip() or None, "email_enabled": bool(self.enabled.value),
                "notices": bool(self.notices.value), "deadlines": bool(self.deadlines.value),
                "sip_meetings": bool(self.sip_meetings.value), "delivery": self.delivery.value,
                "digest_at": self.digest_at.value or "07:00", "quiet_from": self.quiet_from.value or None,
                "quiet_to": self.quiet_to.value or None}

    async def save(self) -> None:
        try:
            saved = await self.frame.api.request("PUT", "/me/notification-settings", await self.frame.fresh_token(),
                                                 json=self.body())
        except ApiError as exc:
            named = [FIELD_PROBLEMS[f] for f in exc.fields if f in FIELD_PROBLEMS]
            self.error.set_text(named[0] if named else exc.message)
            return
        self.error.set_text("")
        self.show(saved)
        ui.notify("E-postinställningarna är sparade", type="positive", position="top", timeout=1500)


async def settings_page() -> None:
    async with frame("/installningar", "Inställningar") as shell:
        heading("Inställningar", 1)
        SettingsPage(shell)
        await EmailSettings(shell).load()
