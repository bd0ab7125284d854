"""The login: OIDC authorization code flow with PKCE (S256) against the configured identity provider.

`install(settings)` registers on the NiceGUI app:

- `GET /login?next=/some/page` starts the flow (authlib's Starlette client). `next` is remembered in the signed
  session cookie and only ever a relative path on this site (no open redirect); anything else becomes `/`.
- `GET /auth/callback` exchanges the code (client secret + PKCE verifier), stores a `ui.session.UiSession`
  in NiceGUI's server-side user storage under a fresh storage id (no session fixation) and redirects back.
- `POST /logout` (with the form's anti-forgery token, see `Login.logout`) clears the session, revokes the
  refresh token (when the provider has a revocation endpoint), has the API revoke the access token
  (`POST /api/v1/logout`: it would otherwise stay valid until it expires) and sends the browser to the provider's
  end-session endpoint, which returns to `/logged-out`. `GET /logout` changes nothing: it shows a small page
  whose button posts the form.
- a refresher for `ui.session.access_token()` that uses the refresh token (rotating refresh tokens are
  handled: concurrent refreshes of one session share a single call to the provider).

The session cookie is Starlette's SessionMiddleware, installed here with HttpOnly, SameSite=Lax, Secure when
the public URL is https, and a Max-Age of `SAMPLAN_UI_SESSION_HOURS`; `ui.run(storage_secret=...)` then finds
it and only adds NiceGUI's request tracking. Tokens never appear in URLs or logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import app, ui
from starlette.middleware.sessions import SessionMiddleware

from ui.session import (
    RefreshRefused,
    UiSession,
    clear_session,
    current_session,
    forget_logout_token,
    logout_token,
    logout_token_matches,
    register_refresher,
    save_session,
    set_session_lifetime,
)
from ui.settings import UiSettings

with warnings.catch_warnings():
    # authlib 1.9 warns that its httpx integration will move to the `httpx2` package; httpx works today.
    # authlib.deprecate installs an "always" filter when imported, so it is imported before ours is set.
    import authlib.deprecate  # noqa: F401
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

__all__ = ["CALLBACK_PATH", "LOGGED_OUT_PATH", "LOGIN_PATH", "LOGOUT_FIELD", "LOGOUT_PATH", "install", "logout_form",
           "safe_next"]

LOGIN_PATH = "/login"
CALLBACK_PATH = "/auth/callback"
LOGOUT_PATH = "/logout"
LOGGED_OUT_PATH = "/logged-out"
LOGOUT_FIELD = "csrf_token"  # the logout form's anti-forgery token

_log = logging.getLogger(__name__)
_CLIENT = "samplan"
_NEXT_KEY = "samplan_login_next"
_HTTP_TIMEOUT_SECONDS = 10.0
_DEFAULT_LIFETIME_SECONDS = 300
_RECENT_REFRESHES = 256  # results kept briefly so that a tab refreshing with an already rotated token gets them
_RECENT_REFRESH_SECONDS = 60.0
_API_LOGOUT_PATH = "/api/v1/logout"  # the API's deny-list: the access token is refused from then on


def safe_next(value: object) -> str:
    """`value` if it is a relative path on this site (starts with one `/`, no scheme, host or backslash), else `/`.

    Never the login or callback itself (that would loop).
    """
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in (LOGIN_PATH, CALLBACK_PATH, LOGOUT_PATH):
        return "/"
    return value


def install(settings: UiSettings) -> None:
    """Register the login routes, the session cookie middleware and the token refresher.

    Call it before `ui.run(storage_secret=...)`. A second call on the same app does nothing (NiceGUI's test
    simulation resets the app between tests, after which the next call installs again).
    """
    if any(getattr(route, "path", None) == LOGIN_PATH for route in app.routes):
        return
    if not any(getattr(m, "cls", None) is SessionMiddleware for m in app.user_middleware):
        app.add_middleware(
            SessionMiddleware, secret_key=settings.storage_secret, same_site="lax",
            https_only=settings.public_url.startswith("https://"), max_age=int(settings.session_hours * 3600))
    login = Login(settings)
    register_refresher(login.refresh)
    set_session_lifetime(settings.session_hours * 3600)

    app.add_api_route(LOGIN_PATH, login.start, methods=["GET"], include_in_schema=False)
    app.add_api_route(CALLBACK_PATH, login.callback, methods=["GET"], include_in_schema=False)
    app.add_api_route(LOGOUT_PATH, login.confirm_logout, methods=["GET"], include_in_schema=False)
    app.add_api_route(LOGOUT_PATH, login.logout, methods=["POST"], include_in_schema=False)

    @ui.page(LOGGED_OUT_PATH, title="Utloggad – Samplan")
    def logged_out() -> None:
        with ui.column().classes("max-w-xl mx-auto p-8 gap-4").props('role="main"'):
            ui.html("Du är utloggad", tag="h1").classes("text-2xl font-bold")
            ui.label("Du har loggat ut från Samplan. Stäng webbläsaren om du delar dator med andra.")
            ui.link("Logga in igen", LOGIN_PATH).classes("text-lg")


class Login:
    """The OIDC client of the UI: routes of the flow and the refresher (one per process, made by `install`)."""

    def __init__(self, settings: UiSettings) -> None:
        self._settings = settings
        oauth = OAuth()
        oauth.register(
            name=_CLIENT,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256",
                           "token_endpoint_auth_method": "client_secret_basic", "timeout": _HTTP_TIMEOUT_SECONDS},
        )
        self._client: Any = oauth.create_client(_CLIENT)
        self._redirect_uri = settings.public_url + CALLBACK_PATH
        self._inflight: dict[str, asyncio.Future[UiSession | None]] = {}
        self._recent: OrderedDict[str, tuple[float, UiSession]] = OrderedDict()

    # ---- routes --------------------------------------------------------------------------------------------------

    async def start(self, request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        session = current_session()
        if session is not None and not session.expired():
            return RedirectResponse(target, status_code=303)
        request.session[_NEXT_KEY] = target
        try:
            response: Response = await self._client.authorize_redirect(request, self._redirect_uri)
        except (httpx.HTTPError, ValueError, KeyError, RuntimeError) as error:
            _log.warning("cannot start the login: the identity provider did not answer (%s)", type(error).__name__)
            return _problem_page(503, "Inloggningstjänsten svarar inte",
                                 "Samplan når inte inloggningstjänsten just nu. Försök igen om en stund.")
        return response

    async def callback(self, request: Request) -> Response:
        try:
            token: dict[str, Any] = await self._client.authorize_access_token(request)
        except OAuthError as error:
            session = current_session()
            if session is not None and not session.expired():  # e.g. the callback reloaded after signing in
                return RedirectResponse("/", status_code=303)
            _log.warning("login failed: %s", error.error)  # an OAuth error code, never a token
            if error.error == "access_denied":
                return _problem_page(400, "Inloggningen avbröts", "Du avbröt inloggningen. Du är inte inloggad.")
            return _problem_page(400, "Inloggningen misslyckades",
                                 "Inloggningen kunde inte slutföras eller har redan använts. Försök igen.")
        except (httpx.HTTPError, ValueError, KeyError) as error:
            _log.warning("login failed: the identity provider did not answer (%s)", type(error).__name__)
            return _problem_page(503, "Inloggningstjänsten svarar inte",
                                 "Samplan når inte inloggningstjänsten just nu. Försök igen om en stund.")
        session = _session_from(token, previous=None)
        if session is None:
            _log.warning("login failed: the token response lacks an access token")
            return _problem_page(400, "Inloggningen misslyckades", "Inloggningstjänsten svarade oväntat. Försök igen.")
        target = safe_next(request.session.pop(_NEXT_KEY, "/"))
        await _new_storage_identity(request)
        save_session(session)
        return RedirectResponse(target, status_code=303)

    async def confirm_logout(self) -> Response:
        """GET /logout changes nothing (a link, a prefetch or an image on another site must not sign anyone out):
        a page whose button posts the logout form."""
        return _logout_page(200, "Logga ut", "Vill du logga ut från Samplan?")

    async def logout(self, request: Request) -> Response:
        """POST /logout, from the user menu's form (`logout_form`) or the GET page.

        Cross-site request forgery: the form carries a token from the server-side user storage
        (`ui.session.logout_token`), checked here in constant time; a post without it changes nothing and gets the
        confirmation page. Why a token and not only the cookie's SameSite=Lax plus an Origin check: Lax is kept by
        the browser, not by us (it does not separate sites under one registrable domain, such as sibling
        subdomains of a region's intranet, and older browsers ignore it), and proxies may drop or rewrite Origin;
        the token needs neither, and a signed-out browser (no storage, no token) has nothing to lose."""
        form = await request.form()
        if not logout_token_matches(form.get(LOGOUT_FIELD)):
            if current_session() is None:  # nobody to sign out: just where a logout ends
                return RedirectResponse(LOGGED_OUT_PATH, status_code=303)
            _log.info("logout refused: the form's token is missing or wrong")
            return _logout_page(403, "Utloggningen kunde inte bekräftas",
                                "Utloggningen kom inte från Samplans egen knapp. Tryck på knappen för att logga ut.")
        session = current_session()
        clear_session()
        forget_logout_token()
        request.session.pop(_NEXT_KEY, None)
        if session is not None:  # the API refuses the access token from now on (it would live until it expires)
            await self._revoke_access_token(session.access_token)
        done = self._settings.public_url + LOGGED_OUT_PATH
        try:
            metadata: dict[str, Any] = await self._client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as error:
            _log.warning("logout: the identity provider did not answer (%s)", type(error).__name__)
            return RedirectResponse(LOGGED_OUT_PATH, status_code=303)
        if session is not None and session.refresh_token and metadata.get("revocation_endpoint"):
            await self._revoke(str(metadata["revocation_endpoint"]), session.refresh_token)
        end_session = metadata.get("end_session_endpoint")
        if not end_session:
            return RedirectResponse(LOGGED_OUT_PATH, status_code=303)
        # No id_token_hint: it carries personal data (name) and would end up in the provider's access log.
        query = urlencode({"client_id": self._settings.oidc_client_id, "post_logout_redirect_uri": done})
        return RedirectResponse(f"{end_session}?{query}", status_code=303)

    # ---- refresh -------------------------------------------------------------------------------------------------

    async def refresh(self, session: UiSession) -> UiSession | None:
        """A new session from the refresh token; None when the provider does not answer (the caller may go on with
        the access token until it expires); `RefreshRefused` when it refuses the refresh token (sign in again).

        Tabs of one browser share the session, so several may refresh at once with the same (rotating) token:
        they share one call, and a late tab gets the result of the last minute's call for that token.
        """
        if not session.refresh_token:
            return None
        key = hashlib.sha256(session.refresh_token.encode()).hexdigest()
        recent = self._recent.get(key)
        if recent is not None and time.monotonic() - recent[0] < _RECENT_REFRESH_SECONDS:
            return recent[1]
        inflight = self._inflight.get(key)
        if inflight is not None:
            return await asyncio.shield(inflight)
        future: asyncio.Future[UiSession | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            renewed = await self._refresh(session)
        except BaseException:
            future.set_result(None)
            raise
        else:
            future.set_result(renewed)
        finally:
            del self._inflight[key]
        if renewed is None:
            return None  # not remembered: the next caller may try again (the provider may be back)
        now = time.monotonic()
        self._recent.pop(key, None)
        self._recent[key] = (now, renewed)
        while self._recent and (len(self._recent) > _RECENT_REFRESHES
                                or now - next(iter(self._recent.values()))[0] >= _RECENT_REFRESH_SECONDS):
            self._recent.popitem(last=False)  # the oldest first: entries are added in time order
        return renewed

    async def _refresh(self, session: UiSession) -> UiSession | None:
        assert session.refresh_token is not None
        try:
            metadata: dict[str, Any] = await self._client.load_server_metadata()
            async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_SECONDS) as http:
                response = await http.post(
                    str(metadata["token_endpoint"]),
                    data={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
                    auth=(self._settings.oidc_client_id, self._settings.oidc_client_secret),
                    headers={"Accept": "application/json"})
        except (httpx.HTTPError, KeyError, ValueError) as error:
            _log.warning("token refresh failed: %s", type(error).__name__)
            return None
        if response.status_code in (400, 401):  # RFC 6749 5.2: invalid_grant, invalid_client...
            _log.info("token refresh refused (%s %s)", response.status_code, _error_code(response))
            raise RefreshRefused
        if response.status_code != 200:
            _log.warning("token refresh failed: the provider answered %s", response.status_code)
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return _session_from(body, previous=session) if isinstance(body, dict) else None

    async def _revoke_access_token(self, access_token: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_SECONDS) as http:
                response = await http.post(f"{self._settings.api_url.rstrip('/')}{_API_LOGOUT_PATH}",
                                           headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as error:
            _log.warning("revoking the access token at the API failed: %s", type(error).__name__)
            return
        if response.status_code not in (204, 401):  # 401: it was no longer valid anyway
            _log.warning("revoking the access token at the API failed: %s", response.status_code)
        # The user's live stream is shared by all their browsers: the others go on with their own tokens.
        from ui.services import services  # at call time: the services are built after this module is imported

        with contextlib.suppress(RuntimeError):
            await services().hub.token_revoked(access_token)

    async def _revoke(self, endpoint: str, refresh_token: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_SECONDS) as http:
                await http.post(endpoint, data={"token": refresh_token, "token_type_hint": "refresh_token"},
                                auth=(self._settings.oidc_client_id, self._settings.oidc_client_secret))
        except httpx.HTTPError as error:
            _log.warning("revoking the refresh token failed: %s", type(error).__name__)


def _session_from(token: dict[str, Any], previous: UiSession | None) -> UiSession | None:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        return None
    refresh = token.get("refresh_token")
    expires_at = token.get("expires_at")
    if not isinstance(expires_at, int | float):
        expires_in = token.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int | float) else _DEFAULT_LIFETIME_SECONDS
        expires_at = time.time() + lifetime
    if previous is not None:
        return replace(previous, access_token=access, expires_at=float(expires_at),
                       refresh_token=refresh if isinstance(refresh, str) else previous.refresh_token)
    claims = token.get("userinfo") or {}
    username = claims.get("preferred_username") or claims.get("sub") or ""
    display_name = claims.get("name") or username
    return UiSession(access_token=access, refresh_token=refresh if isinstance(refresh, str) else None,
                     expires_at=float(expires_at), username=str(username), display_name=str(display_name))


async def _new_storage_identity(request: Request) -> None:
    """Give the browser a fresh NiceGUI storage id at sign-in, so an id planted before the login is worthless."""
    new_id = str(uuid.uuid4())
    await app.storage._create_user_storage(new_id)  # what NiceGUI's request tracking does for a new browser
    request.session["id"] = new_id


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "-"
    code = body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and code.isascii() and len(code) < 64 else "-"


def logout_form(form_id: str = "sp-logout") -> str:
    """A hidden form that posts the logout with this browser's token (a page submits it from its user menu)."""
    return (f'<form id="{html.escape(form_id)}" method="post" action="{LOGOUT_PATH}" hidden>'
            f'<input type="hidden" name="{LOGOUT_FIELD}" value="{html.escape(logout_token())}"></form>')


def _logout_page(status: int, title: str, message: str) -> HTMLResponse:
    """A small page with the logout button (a form posting the token)."""
    page = f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – Samplan</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}
button{{font:inherit;padding:.5rem 1.25rem;background:#1e3a8a;color:#fff;border:0;border-radius:4px;cursor:pointer}}
a{{color:#1d4ed8}}</style></head>
<body><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>
<form method="post" action="{LOGOUT_PATH}">
<input type="hidden" name="{LOGOUT_FIELD}" value="{html.escape(logout_token())}">
<button type="submit">Logga ut</button></form>
<p><a href="/">Tillbaka till Samplan</a></p></main></body></html>"""
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def _problem_page(status: int, title: str, message: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – Samplan</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}
a{{color:#1d4ed8}}</style></head>
<body><main><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>
<p><a href="{LOGIN_PATH}">Logga in igen</a></p></main></body></html>"""
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
