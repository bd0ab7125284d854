"""The administration page's section on e-mail notices: sent, queued and failed per unit (counts only, no
addresses, users or patients; `GET /admin/mail-health`)."""

from __future__ import annotations

from nicegui import ui

from ui import fmt
from ui.api_client import ApiError, Json
from ui.components.admin_table import heading, row, table
from ui.frame import Frame


async def mail_health_section(frame: Frame) -> None:
    heading("E-postnotiser", 2, "mt-4")
    try:
        health: Json = await frame.api.request("GET", "/admin/mail-health", await frame.fresh_token())
    except ApiError as exc:
        ui.label(exc.message).classes("text-negative").mark("mail-health-error")
        return
    if not health.get("smtp_configured"):
        ui.label("Ingen e-postserver är inställd (SMTP_URL): notiserna väntar i kön tills en finns.").classes(
            "text-negative").mark("mail-health-no-smtp")
    units = list(health.get("units") or [])
    if not units:
        ui.label("Inga e-postnotiser har skickats eller köats för era enheter.").classes("sp-muted")
        return
    with table("E-postnotiser per enhet", ["Enhet", "Skickade", "I kö", "Misslyckade", "Äldsta i kö"],
               marker="mail-health"):
        for unit in units:
            oldest = unit.get("oldest_queued_at")
            row(str(unit["unit_name"]), str(unit["sent"]), str(unit["queued"]), str(unit["failed"]),
                fmt.date_time(str(oldest)) if oldest else "–", marker=f"mail-health-{unit['unit_id']}")
    ui.label("Misslyckade: adressen nekades av e-postservern eller servern svarade inte på flera försök. "
             "Användaren ser det under Inställningar.").classes("sp-muted")
