"""The signed-in user of one browser, as the UI process keeps it (NiceGUI's per-user storage).

This module is the contract between the login (OIDC authorization-code flow, `ui/auth.py`) and the pages:
the login stores a `UiSession` after the callback; pages call `current_session()` and, for API calls,
`access_token()`, which refreshes the token through the registered refresher when it is about to expire.
Tokens live only in the server-side session store, never in URLs or logs.

The store is NiceGUI's user storage: files of this process, or Redis shared by every UI instance
(`NICEGUI_REDIS_URL`), so that a browser moved to another instance (its own died) is still signed in there. In Redis
a browser's entry expires `set_session_lifetime` seconds after its last change (NiceGUI keeps it forever otherwise).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from nicegui import app
from nicegui.persistence import PersistentDict, RedisPersistentDict

_KEY = "samplan_session"
_LOGOUT_NONCE_KEY = "samplan_logout_nonce"
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


class RefreshRefused(Exception):
    """The identity provider refused the refresh token (revoked, expired, reused): the session is over."""


Refresher = Callable[[UiSession], Awaitable[UiSession | None]]  # None: the provider did not answer; may raise Refused
_refresher: Refresher | None = None
_lifetime_seconds: int | None = None


def set_session_lifetime(seconds: float) -> None:
    """How long a browser's stored session outlives its last change in a shared (Redis) store."""
    global _lifetime_seconds  # one process-wide setting, set once at start
    _lifetime_seconds = max(1, int(seconds))


def _storage() -> PersistentDict:
    storage = app.storage.user
    if _lifetime_seconds is not None and isinstance(storage, RedisPersistentDict):
        storage.ttl = _lifetime_seconds  # applied with the next write (each write sets the key with its expiry)
    return storage


def register_refresher(refresher: Refresher) -> None:
    """Installed by the login module: exchanges the refresh token for a new session (None when it cannot)."""
    global _refresher  # one process-wide hook, set once at start
    _refresher = refresher


def current_session() -> UiSession | None:
    raw: Any = _storage().get(_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return UiSession(**raw)
    except TypeError:
        clear_session()
        return None


def save_session(session: UiSession) -> None:
    _storage()[_KEY] = asdict(session)


def clear_session() -> None:
    _storage().pop(_KEY, None)


def set_acting_unit(unit_id: str) -> None:
    session = current_session()
    if session is not None:
        save_session(replace(session, acting_unit=unit_id))


async def access_token() -> str | None:
    """A valid access token for the API, refreshed when it expires within the margin; None means: sign in again.

    A refresh token the provider refuses ends the session at once; a provider that does not answer leaves the
    access token in use until it expires."""
    session = current_session()
    if session is None:
        return None
    if session.expires_at - time.time() > _REFRESH_MARGIN_SECONDS:
        return session.access_token
    if session.refresh_token and _refresher is not None:
        try:
            renewed = await _refresher(session)
        except RefreshRefused:
            clear_session()
            return None
        if renewed is not None:
            save_session(replace(renewed, acting_unit=session.acting_unit))
            return renewed.access_token
    if not session.expired():
        return session.access_token
    clear_session()
    return None


def logout_token() -> str:
    """The anti-forgery token the logout form carries (`ui/auth.py` checks it on `POST /logout`).

    One per browser, kept in the server-side user storage: a page on another site can neither read it nor guess
    it. A sign-in starts a fresh storage (and so a fresh token); a logout removes it."""
    token = _storage().get(_LOGOUT_NONCE_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        _storage()[_LOGOUT_NONCE_KEY] = token
    return token


def logout_token_matches(sent: object) -> bool:
    """`sent` is this browser's logout token (compared in constant time; no token stored: no match)."""
    token = _storage().get(_LOGOUT_NONCE_KEY)
    return isinstance(token, str) and isinstance(sent, str) and hmac.compare_digest(token.encode(), sent.encode())


def forget_logout_token() -> None:
    _storage().pop(_LOGOUT_NONCE_KEY, None)
