"""The start page: the board for a ward, the inbox for a receiving unit, administration, log review or the
statistics landing page for those who only administer, audit or read statistics."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

from ui.components.admin_table import can
from ui.frame import login_url
from ui.services import services
from ui.session import access_token, current_session


async def home_page() -> RedirectResponse:
    session = current_session()
    token = await access_token() if session is not None else None
    if session is None or token is None:
        return RedirectResponse(login_url("/"), status_code=303)
    live = await services().hub.user(session.username, token)
    if not live.case_units:  # administrators and auditors work on their own pages
        if can(live.me, "administer"):
            return RedirectResponse("/admin", status_code=303)
        if can(live.me, "review_logs"):
            return RedirectResponse("/loggkontroll", status_code=303)
        if can(live.me, "statistics_unit_ids"):
            return RedirectResponse("/statistik", status_code=303)
    unit = session.acting_unit if session.acting_unit in live.case_units else (
        live.case_units[0] if live.case_units else None)
    receiving = unit is not None and unit in (can(live.me, "inbox_unit_ids") or ())
    return RedirectResponse("/inkorg" if receiving else "/tavla", status_code=303)
