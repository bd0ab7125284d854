"""The NiceGUI process (its own process; a client of the API over HTTP and of the event stream).

`build(settings)` registers the login (`ui/auth.py`), the shared services (API client, live-event hub,
countdown ticker) and one route per page module (`ui/pages/`). `run()` starts it: `samplan ui`.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi.responses import JSONResponse, Response
from nicegui import app, ui
from starlette.types import ASGIApp, Receive, Scope, Send

from ui import heap
from ui import help as help_texts
from ui.api_client import ApiClient
from ui.components import attention, keyboard
from ui.components.cellcast import CELLCAST
from ui.components.countdown import TICKER
from ui.frame import framed
from ui.live import LiveHub
from ui.services import Services, install, services
from ui.settings import UiSettings

RESPONSE_TIMEOUT = 15.0  # seconds a page may take to build from the API before NiceGUI gives up
HEALTH_PATH = "/health"


class Health:
    """`GET /health` (liveness; the proxy asks every instance every second) answered in front of the session
    middleware: without it each check, having no cookie, would get a new session, and with Redis a user storage with
    its own subscription (kept until NiceGUI prunes it)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH:
            await JSONResponse({"status": "ok"})(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def build(settings: UiSettings) -> None:
    from ui import auth; auth.install(settings)  # noqa: E702, I001 - the login (ui/auth.py): /login, /auth/callback, /logout
    if not any(getattr(m, "cls", None) is Health for m in app.user_middleware):
        app.add_middleware(Health)  # the outermost: in front of the session cookie auth.install added
    from ui.pages.admin import admin_page
    from ui.pages.board import board_page
    from ui.pages.case import case_page
    from ui.pages.help import help_page, role_help_page
    from ui.pages.home import home_page
    from ui.pages.inbox import inbox_page
    from ui.pages.log_review import log_review_page
    from ui.pages.settings import settings_page
    from ui.pages.sip_list import sip_list_page
    from ui.pages.sip_room import sip_room_page
    from ui.pages.statistics import statistics_page

    api = ApiClient(settings.api_url)
    install(Services(settings=settings, api=api, hub=LiveHub(api, settings.api_url)))
    TICKER.start()
    CELLCAST.install()
    attention.install()
    keyboard.install()
    heap.start()

    async def shutdown() -> None:
        await services().hub.close()
        await services().api.close()

    app.on_shutdown(shutdown)
    pages: dict[str, Callable[..., Awaitable[Response | None]]] = {
        "/": home_page,
        "/tavla": board_page,
        "/inkorg": inbox_page,
        "/arende/{case_id}": case_page,
        "/admin": admin_page,
        "/loggkontroll": log_review_page,
        "/sip": sip_list_page,
        "/sip/{plan_id}": sip_room_page,
        "/installningar": settings_page,
        "/statistik": statistics_page,
        "/hjalp": help_page,
        "/hjalp/{role}": role_help_page,
    }
    if missing := sorted(set(pages) - set(help_texts.PAGES)):  # every page has its help (ui/help/)
        raise RuntimeError(f"pages without help: {missing}")
    for path, page in pages.items():
        ui.page(path, response_timeout=RESPONSE_TIMEOUT)(framed(page))  # a page ending early answers (ui/frame.py)


def private_storage() -> Path:
    """NiceGUI keeps each browser's user storage, with its access and refresh tokens, in files: make them readable by
    the process's own user only. The umask gives every file the UI writes from now on mode 0600 (folders 0700);
    files and the folder left by an earlier run are narrowed too."""
    os.umask(0o077)
    path = Path(os.environ.get("NICEGUI_STORAGE_PATH", ".nicegui")).resolve()  # where NiceGUI's storage looks
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        if entry.is_file():
            entry.chmod(0o600)
    return path


def run() -> None:
    settings = UiSettings()
    if problems := settings.problems():  # fail closed: no public development secret outside development mode
        print("samplan ui: refusing to start (outside development mode, SAMPLAN_DEV_MODE=1):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2)
    private_storage()
    build(settings)
    gc.freeze()  # the modules and the app built so far are permanent: full collections skip them (ui/heap.py)
    ui.run(host=settings.host, port=settings.port, title="Samplan", language="sv", reload=False, show=False,
           storage_secret=settings.storage_secret, uvicorn_logging_level="warning", reconnect_timeout=10.0,
           # Updates are small and go to many tabs: compressing each frame per tab costs more CPU than it saves
           # bytes on a hospital network (bench/ui_fanout.py).
           ws_per_message_deflate=False)
