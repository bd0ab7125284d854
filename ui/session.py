"""The signed-in user of one browser, as the UI process keeps it (NiceGUI's per-user storage).

This module is the contract between the login (OIDC authorization-code flow, `ui/auth.py`) and the pages:
the login stores a `UiSession` after the callback; pages call `current_session()` and, for API calls,
`access_token()`, which refreshes the token through the registered refresher when it is about to expire.
Tokens live only in the server-side session store, never in URLs or logs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from nicegui import app

_KEY = "samplan_session"
_REFRESH_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class UiSession:
    access_token: str
    refresh_token: str | None
    expires_at: float  # epoch seconds of the access token's expiry
    username: str
    display_name: str
    acting_unit: str | None = None  # the unit the user works through now (unit switcher)

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) >= self.expires_at


Refresher = Callable[[UiSession], Awaitable[UiSession | None]]
_refresher: Refresher | None = None


def register_refresher(refresher: Refresher) -> None:
    """Installed by the login module: exchanges the refresh token for a new session (None when it cannot)."""
    global _refresher  # one process-wide hook, set once at start
    _refresher = refresher


def current_session() -> UiSession | None:
    raw: Any = app.storage.user.get(_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return UiSession(**raw)
    except TypeError:
        clear_session()
        return None


def save_session(session: UiSession) -> None:
    app.storage.user[_KEY] = asdict(session)


def clear_session() -> None:
    app.storage.user.pop(_KEY, None)


def set_acting_unit(unit_id: str) -> None:
    session = current_session()
    if session is not None:
        save_session(replace(session, acting_unit=unit_id))


async def access_token() -> str | None:
    """A valid access token for the API, refreshed when it expires within the margin; None means: sign in again."""
    session = current_session()
    if session is None:
        return None
    if session.expires_at - time.time() > _REFRESH_MARGIN_SECONDS:
        return session.access_token
    if session.refresh_token and _refresher is not None:
        renewed = await _refresher(session)
        if renewed is not None:
            save_session(replace(renewed, acting_unit=session.acting_unit))
            return renewed.access_token
    if not session.expired():
        return session.access_token
    clear_session()
    return None
