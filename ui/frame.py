"""The shared page frame: sign-in check, header (navigation, unit switcher, unread badge, user menu), the
"connection lost" banner, toasts for new notices and deadline alerts.

A page builds its content inside the shell: `async with frame(path, title) as shell:` checks the sign-in (and the
roles the page needs), builds the header and the banner, opens the page's `<main>` and, when the content is
built, finishes the page (`Frame.finish`). A page that must end before its content (not signed in: a redirect to
the login; no access: "Du har inte behörighet"; the API refused) ends with `PageEnded`, which `framed` (how
`ui/app.py` routes every page) turns into the page's answer. Pages register their live views through
`shell.watch(view)`, which unregisters them when the browser tab goes away.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, ParamSpec
from urllib.parse import quote

from fastapi.responses import RedirectResponse, Response
from nicegui import Client, background_tasks, ui

from realtime.envelope import Envelope
from ui import fmt, heap
from ui import help as help_texts
from ui.api_client import ApiClient, ApiError, Json
from ui.auth import logout_form
from ui.components import attention
from ui.components.admin_table import can, refuse
from ui.live import LiveHub, LiveView, UserLive
from ui.services import Services, services
from ui.session import UiSession, access_token, clear_session, current_session, set_acting_unit

MAIN_CLASSES = "w-full p-4 gap-3 flex flex-col"  # the page's content (`#sp-main`)
TOKEN_CHECK_SECONDS = 20.0  # below the session's 30 s refresh margin: the token is renewed before it expires
PAGE_CSS = """
.sp-skip { position: absolute; left: -10000px; top: 0; }
.sp-skip:focus { left: 8px; top: 8px; z-index: 10000; background: #fff; color: #000; padding: 8px; }
.sp-banner { background: #8a1c1c; color: #fff; padding: 8px 16px; font-weight: 600; }
:focus-visible { outline: 3px solid #1d4ed8 !important; outline-offset: 2px; }
.q-btn { text-transform: none; }  /* Swedish sentence case on every button, dialogs' too (never CAPITALS) */
.sp-grid { display: grid; gap: 0 12px; align-items: center; }
.sp-row { border-bottom: 1px solid #ddd; padding: 6px 4px; }
.sp-row.sp-changed { animation: sp-flash 1.2s ease-out; }
@keyframes sp-flash { from { background: #fff3b0; } to { background: transparent; } }
.sp-chip { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 0.85em; color: #fff; }
.sp-muted { color: #4b5563; }
.sp-ok { color: #14532d; }
.sp-at_risk { color: #9a3412; font-weight: 700; }
.sp-overdue { color: #991b1b; font-weight: 700; }
.sp-met { color: #374151; } .sp-late { color: #991b1b; }
@media (max-width: 1000px) {  /* a list's header row: read aloud, not shown, once its rows are cards */
  .sp-head { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
}
"""


def login_url(path: str) -> str:
    return f"/login?next={quote(path, safe='/')}"


@dataclass
class Frame:
    """What a page knows about the signed-in user and the unit they act for."""

    session: UiSession
    token: str
    live: UserLive
    services: Services
    client: Client
    acting_unit: str | None
    views: list[LiveView] = field(default_factory=list)
    alerted: set[tuple[str, str, str]] = field(default_factory=set)
    badge: ui.badge | None = None
    banner: ui.element | None = None
    path: str = "/"
    signed_out: ui.element | None = None  # shown when the session ended while the page was open
    title: str = "Samplan"  # the tab's title without the unread count (`attention.show_count`)

    @property
    def api(self) -> ApiClient:
        return self.services.api

    @property
    def hub(self) -> LiveHub:
        return self.services.hub

    @property
    def part(self) -> str | None:
        """The part the acting unit takes in discharge cases (`GET /me` capabilities)."""
        part = (can(self.live.me, "unit_parts") or {}).get(self.acting_unit or "")
        return str(part) if part else None

    @property
    def is_receiving(self) -> bool:
        """The acting unit receives cases: it has an inbox (`GET /me` capabilities)."""
        return self.acting_unit is not None and self.acting_unit in self.live.inbox_units

    @property
    def user_id(self) -> str:
        return str(self.live.me["id"])

    async def fresh_token(self) -> str:
        """The user's token for an API call now (refreshed when it is about to expire)."""
        token = await access_token()
        if token is None:
            ui.navigate.to(login_url("/"))
            raise ApiError(401, "unauthenticated", "Du är inte inloggad längre. Logga in igen.")
        self.token = token
        self.live.token = token
        return token

    async def keep_token_fresh(self) -> None:
        """Renew the token before it expires; when the session has ended (the provider refused the refresh token,
        or the user signed out in another tab), say so on the page at once instead of failing at the next click."""
        if self.signed_out is not None and self.signed_out.visible:
            return
        token = await access_token()
        if token is not None:
            self.token = token
            self.live.token = token
        elif self.signed_out is not None:
            self.signed_out.set_visibility(True)

    def finish(self) -> None:
        """Call when the page is built. (A `ui.timer` waits for the browser's connection, which makes NiceGUI send
        the page at once and stream the rest: created last, the whole page goes out in the first response.)"""
        with self.client.layout:
            ui.timer(TOKEN_CHECK_SECONDS, self.keep_token_fresh)  # the user's stream reuses the newest token
        heap.page_built()

    def with_people(self, user_ids: set[str], then: Callable[[], None]) -> None:
        """Run `then` once the names of these users are known: at once, or after one fetch (presence frames
        name users by id only)."""
        unknown = {u for u in user_ids if not self.hub.knows_person(u)}
        if not unknown:
            then()
            return

        async def load_then() -> None:
            await self.hub.load_people(self.token, unknown)
            then()

        background_tasks.create(load_then(), name="load-people")

    def watch(self, view: LiveView) -> None:
        """Register a live view for as long as this browser tab lives."""
        self.views.append(view)
        self.live.add(view)

    def unwatch_all(self) -> None:
        for view in self.views:
            self.live.remove(view)
        self.views.clear()

    def deadline_changed(self, case: Json, kind: str, state: str) -> None:
        """A deadline turned at risk or overdue by time alone: alert the responsible unit (once per state)."""
        deadline: Json = next((d for d in case.get("deadlines", []) if d["kind"] == kind), {})
        if state not in ("at_risk", "overdue") or deadline.get("responsible_part") != self.part:
            return
        key = (str(case["id"]), kind, state)
        if key in self.alerted:
            return
        self.alerted.add(key)
        what = fmt.label(fmt.DEADLINES, kind).replace(" senast", "")
        text = f"{what}: {'försenad' if state == 'overdue' else 'snart försenad'} – {case['patient']['name']}"
        with self.client:
            ui.notify(text, type="negative" if state == "overdue" else "warning", position="top-right",
                      close_button="Stäng", timeout=15000)


class FrameView(LiveView):
    """The frame's own live view: unread badge, connection banner, toasts for new notices."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.unit_id = frame.acting_unit

    def unread(self, unit_id: str, count: int) -> None:
        if unit_id == self.frame.acting_unit:
            show_badge(self.frame, count)

    def connection(self, connected: bool) -> None:
        if self.frame.banner is not None:
            self.frame.banner.set_visibility(not connected)

    def event(self, envelope: Envelope) -> None:
        frame = self.frame
        text = fmt.NOTICE_EVENTS.get(envelope.type)
        if (text is None or not frame.is_receiving or frame.acting_unit not in envelope.unit_ids
                or envelope.data.get("actor_unit_id") == frame.acting_unit):
            return
        if envelope.type == "ParticipantAdded" and envelope.data.get("unit_id") != frame.acting_unit:
            return
        if envelope.type == "CaseForwarded" and envelope.data.get("to_unit_id") != frame.acting_unit:
            return
        with frame.client:
            ui.notify(f"{text} – se inkorgen", type="info", position="top-right", close_button="Stäng",
                      timeout=8000)
        attention.notice(frame, envelope, text)  # sound, desktop notification: as the user chose


def show_badge(frame: Frame, count: int) -> None:
    """The acting unit's unread count: the header's badge and the tab's title."""
    if frame.badge is not None:
        frame.badge.set_text(str(count))
        frame.badge.set_visibility(count > 0)
        frame.badge.props(f'aria-label="{fmt.plural(count, "okvitterat meddelande", "okvitterade meddelanden")}"')
        attention.show_count(frame, count)


async def page_frame(path: str, title: str) -> Frame | RedirectResponse | None:
    """Check the sign-in and build the frame. Not signed in: a redirect to the login, which the page returns;
    None: the page showed an error and ends."""
    session = current_session()
    token = await access_token() if session is not None else None
    if session is None or token is None:
        return RedirectResponse(login_url(path), status_code=303)
    svc = services()
    try:
        live = await svc.hub.user(session.username, token)
    except ApiError as exc:
        if exc.status == 401:
            clear_session()
            return RedirectResponse(login_url(path), status_code=303)
        ui.page_title("Samplan")
        ui.label(exc.message).props('role="alert"').classes("text-lg p-8")
        return None
    acting = session.acting_unit if session.acting_unit in live.case_units else (
        live.case_units[0] if live.case_units else None)
    if acting != session.acting_unit and acting is not None:
        set_acting_unit(acting)
    frame = Frame(session=session, token=token, live=live, services=svc, client=ui.context.client,
                  acting_unit=acting, path=path, title=f"{title} – Samplan")
    ui.page_title(frame.title)
    ui.colors(primary="#1e40af", secondary="#334155", accent="#6b21a8", positive="#166534", negative="#991b1b",
              info="#1e3a8a", warning="#92400e")  # dark enough for text contrast (WCAG AA) on white
    ui.add_css(PAGE_CSS)
    _header(frame, path)
    frame.banner = ui.element("div").classes("sp-banner w-full").props('role="alert"')
    with frame.banner:
        ui.label("Anslutningen till Samplan-servern är bruten. Sidan uppdateras igen när den är tillbaka; "
                 "det du skriver finns kvar.")
    frame.banner.set_visibility(False)
    frame.signed_out = ui.element("div").classes("sp-banner w-full").props('role="alert"')
    with frame.signed_out:
        ui.label("Du är inte inloggad längre: inloggningen har gått ut eller avslutats.")
        ui.link("Logga in igen", login_url(path)).classes("text-white underline")
    frame.signed_out.set_visibility(False)
    frame.watch(FrameView(frame))
    frame.client.on_delete(frame.unwatch_all)
    connected = await live.wait_connected()
    frame.banner.set_visibility(not connected)
    if acting is not None and frame.is_receiving:
        with contextlib.suppress(ApiError):
            show_badge(frame, await live.load_unread(acting))
    return frame


class PageEnded(Exception):
    """The page ends before its content: `response` is its answer (a redirect to the login), or None (the page
    shows why)."""

    def __init__(self, response: Response | None) -> None:
        super().__init__()
        self.response = response


@contextlib.asynccontextmanager
async def frame(path: str, title: str, *, needs: str | None = None,
                classes: str = MAIN_CLASSES) -> AsyncIterator[Frame]:
    """The page shell around a page's content: the frame (`page_frame`), then, for a user who may what the page
    `needs` (a capability of `GET /me`, e.g. `administer`; any signed-in user when None), the page's content (the
    skip link's target, inside Quasar's `<main>`) with `classes`; the page is finished when its content is built.
    Raises `PageEnded` when the page must end first."""
    shell = await page_frame(path, title)
    if not isinstance(shell, Frame):
        raise PageEnded(shell)
    if needs and not can(shell.live.me, needs):
        refuse()
        shell.finish()
        raise PageEnded(None)
    # The page's content (the skip link's target). Not a second <main>: Quasar's page already is the <main> landmark.
    with ui.element("div").props('id="sp-main" tabindex="-1"').classes(classes):
        yield shell
    shell.finish()


P = ParamSpec("P")


def framed(build: Callable[P, Awaitable[Response | None]]) -> Callable[P, Coroutine[Any, Any, Response | None]]:
    """A page as NiceGUI routes it: a `PageEnded` from its `frame` becomes the page's answer."""

    @functools.wraps(build)
    async def page(*args: P.args, **kwargs: P.kwargs) -> Response | None:
        try:
            return await build(*args, **kwargs)
        except PageEnded as ended:
            return ended.response

    return page


def _header(frame: Frame, path: str) -> None:
    live = frame.live
    with ui.header(elevated=True).classes("items-center gap-4 px-4 py-2 bg-blue-10 text-white"):
        ui.html('<a class="sp-skip" href="#sp-main">Hoppa till innehållet</a>', sanitize=False)
        ui.link("Samplan", "/").classes("text-xl font-bold text-white no-underline").props(
            'aria-label="Samplan, startsida"')
        with ui.element("nav").props('aria-label="Huvudmeny"').classes("flex items-center gap-2"):
            if live.case_units:  # an auditor, administrator or statistics reader has no board
                _nav_link("Utskrivningstavla", "/tavla", path)
            if frame.is_receiving:
                with ui.element("span").classes("relative"):
                    _nav_link("Inkorg", "/inkorg", path)
                    frame.badge = ui.badge("0", color="red-9").props('floating aria-live="polite"')
                    frame.badge.set_visibility(False)
            if live.case_units:
                _nav_link("SIP", "/sip", path)
            if can(live.me, "administer"):
                _nav_link("Administration", "/admin", path)
            if can(live.me, "review_logs"):
                _nav_link("Loggkontroll", "/loggkontroll", path)
            if can(live.me, "statistics_unit_ids"):
                _nav_link("Statistik", "/statistik", path)
        ui.space()
        if len(live.case_units) > 1:
            options = {u: frame.hub.unit_name(u) for u in live.case_units}

            def switch(e: Any) -> None:
                if e.value and e.value != frame.acting_unit:
                    set_acting_unit(e.value)
                    ui.navigate.to(path)  # the page again, for the new unit

            ui.select(options, value=frame.acting_unit, label="Enhet du arbetar för", on_change=switch).props(
                'dark dense outlined options-dense').classes("min-w-[16rem]")
        elif frame.acting_unit:
            ui.label(frame.hub.unit_name(frame.acting_unit)).classes("text-sm")
        ui.button("Hjälp", icon="help_outline", on_click=lambda: _open_help(frame, path)).props(
            'flat no-caps color=white aria-haspopup="dialog"').mark("help-button")
        with ui.button(frame.session.display_name, icon="account_circle").props(
                'flat no-caps color=white aria-haspopup="menu"').classes("text-white"), \
                ui.menu().props('aria-label="Användarmeny" role="menu"'):
            ui.menu_item(f"Inloggad som {frame.session.display_name}").props('disable role="menuitem"')
            ui.menu_item("Inställningar", on_click=lambda: ui.navigate.to("/installningar")).props(
                'role="menuitem"')
            # Logout is a POST with the browser's anti-forgery token (ui/auth.py): the item submits a hidden form.
            ui.menu_item("Logga ut").props('role="menuitem"').on(
                "click", js_handler="() => document.getElementById('sp-logout').submit()")
        ui.html(logout_form("sp-logout"), sanitize=False)


def _open_help(frame: Frame, path: str) -> None:
    """The page's own short help (`ui/help/sidor/`), and the way to the help for the user's role."""
    role = help_texts.own_role(frame.part, frame.live.me.get("capabilities") or {})
    with frame.client.layout, ui.dialog().props('aria-label="Hjälp för sidan"') as dialog, \
            ui.card().classes("w-[40rem] max-w-full"):
        ui.label("Hjälp för sidan").classes("text-xl font-bold").props('role="heading" aria-level="2"')
        ui.markdown(help_texts.page_text(path)).mark("page-help")
        with ui.row().classes("justify-between items-center w-full"):
            ui.link("Rutiner och tidsfrister för din roll" if role else "All hjälp",
                    f"/hjalp/{role}" if role else "/hjalp").classes("text-blue-10 font-bold")
            ui.button("Stäng", on_click=dialog.close).props("flat no-caps")
    dialog.on("hide", dialog.delete)
    dialog.open()


def _nav_link(text: str, target: str, path: str) -> None:
    current = path == target or (target == "/tavla" and path == "/")
    link = ui.link(text, target).classes("text-white px-2 py-1 rounded " + ("bg-blue-8 font-bold" if current else ""))
    if current:
        link.props('aria-current="page"')

