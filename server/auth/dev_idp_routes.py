"""HTTP side of the development identity provider: a small Litestar adapter for authlib's server, and the pages.

authlib has no Litestar integration. The pattern is authlib's own (see its Flask/Django integrations): build an
`OAuth2Request` from the framework's request (query and form read up front, because authlib is synchronous),
call the server, and turn the (status, body, headers) it returns into a framework response (`handle_response`).

Mounted by `server/api/app.py` under `/dev-idp` in development mode only, left out of the OpenAPI document.
The login page lists the active users of the database (name, title, units and roles), one button each.
"""

from __future__ import annotations

import html
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio.to_thread
import msgspec
from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import JsonRequest, OAuth2Payload
from litestar import Request, Response, Router, get, post, route
from litestar.datastructures import State

from domain.organisation import Role
from server.auth.dev_idp import DevIdentityProvider, DevUser
from server.auth.dev_idp_store import IdpStore, MemoryStore, RedisStore
from server.auth.tokens import DevSigningKey, InvalidToken, TokenVerifier, bearer_token
from server.persistence.repositories import DirectoryRepository
from server.runtime import Runtime
from server.settings import Settings

__all__ = ["MOUNT_PATH", "dev_idp_router"]

MOUNT_PATH = "/dev-idp"
_log = logging.getLogger("samplan.dev_idp")
T = TypeVar("T")

_ROLE_NAMES = {
    Role.USER: "användare",
    Role.SUPER_USER: "superanvändare",
    Role.LOCAL_ACCESS_ADMINISTRATOR: "lokal behörighetsadministratör",
    Role.LOCAL_OBJECT_SPECIALIST: "lokal objektspecialist",
    Role.CENTRAL_ADMINISTRATOR: "central förvaltning",
    Role.AUDITOR: "loggkontroll",
    Role.STATISTICS_READER: "statistikläsare",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# --------------------------------------------------------------------------------------------------------------------
# authlib <-> Litestar
# --------------------------------------------------------------------------------------------------------------------


class _Payload(OAuth2Payload):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _OAuth2Request(OAuth2Request):  # type: ignore[misc]
    """authlib's request: OAuth parameters from `params` (query, or form on POST endpoints)."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], query: Sequence[tuple[str, str]],
                 form: Sequence[tuple[str, str]], params: Sequence[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _JsonRequest(JsonRequest):  # type: ignore[misc]
    pass


async def _oauth_request(request: Request[Any, Any, Any], *, from_form: bool) -> OAuth2Request:
    """authlib's view of `request`. With `from_form`, the OAuth parameters are the form's (token endpoint),
    otherwise only the query's (authorization endpoint: the login form's own fields are not OAuth parameters)."""
    query = [(str(k), str(v)) for k, v in request.query_params.multi_items()]
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        data = await request.form()
        form = [(str(k), v) for k, v in data.multi_items() if isinstance(v, str)]
    return _OAuth2Request(request.method, str(request.url), request.headers, query, form,
                          form if from_form else query)


def _response(status: int, body: Any, headers: list[tuple[str, str]]) -> Response[bytes]:
    if isinstance(body, dict):
        content, media_type = msgspec.json.encode(body), "application/json"
    else:
        content, media_type = str(body or "").encode(), "text/plain; charset=utf-8"
    response_headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    response_headers.update({k: v for k, v in headers if k.lower() != "content-type"})
    return Response(content, status_code=status, media_type=media_type, headers=response_headers)


def _no_json_requests(_: Any) -> JsonRequest:
    raise NotImplementedError("the development identity provider has no JSON endpoints")


# --------------------------------------------------------------------------------------------------------------------
# users
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    user: DevUser
    title: str
    assignments: tuple[str, ...]  # "unit – role"


async def _cards(runtime: Runtime) -> list[_Card]:
    """The active users with their assignments, from one query (a user, then each assignment with its unit)."""
    async with runtime.sessions() as session:
        rows = await DirectoryRepository(session).active_users_with_assignments()
    cards: dict[str, _Card] = {}
    for user, assignment, unit_name in rows:
        card = cards.setdefault(user.id, _Card(_dev_user(user), user.title, ()))
        if assignment is not None and unit_name is not None:
            line = (f"{unit_name} – {_role_name(assignment.role)}"
                    + (" (ser skyddade personuppgifter)" if assignment.protected_identity_access else ""))
            cards[user.id] = _Card(card.user, card.title, (*card.assignments, line))
    return list(cards.values())


async def _user_by_username(runtime: Runtime, username: str) -> DevUser | None:
    async with runtime.sessions() as session:
        row = await DirectoryRepository(session).user_by_claim("username", username)
        return _dev_user(row) if row is not None else None


async def _user_by_id(runtime: Runtime, user_id: str) -> DevUser | None:
    async with runtime.sessions() as session:
        row = await DirectoryRepository(session).user(user_id)
        return _dev_user(row) if row is not None and row.active else None


def _dev_user(row: Any) -> DevUser:
    return DevUser(id=row.id, username=row.username, hsa_id=row.hsa_id, display_name=row.display_name)


def _role_name(role: str) -> str:
    try:
        return _ROLE_NAMES[Role(role)]
    except ValueError:
        return role


# --------------------------------------------------------------------------------------------------------------------
# pages (Swedish)
# --------------------------------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f8;color:#1a1a1a;
line-height:1.5}
main{max-width:48rem;margin:0 auto;padding:2rem 1rem}
h1{font-size:1.75rem;margin:0 0 .5rem}
.note{background:#fff7d6;border:1px solid #e0c35c;border-radius:.5rem;padding:.75rem 1rem}
ul.users{list-style:none;padding:0;display:grid;gap:1rem}
li.user{background:#fff;border:1px solid #c9d1d9;border-radius:.5rem;padding:1rem}
li.user h3{font-size:1.2rem;margin:0}
h2{font-size:1rem;color:#4b5563;margin:1.5rem 0 .5rem}
li.user p{margin:.25rem 0}
li.user ul{margin:.25rem 0 .75rem;padding-left:1.25rem}
button{font:inherit;font-weight:600;padding:.5rem 1rem;border-radius:.375rem;border:2px solid #1d4ed8;
background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d4ed8}
button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.muted{color:#4b5563}
"""


def _page(title: str, body: str, status: int = 200) -> Response[bytes]:
    document = (f'<!doctype html>\n<html lang="sv"><head><meta charset="utf-8">'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
                f"<body><main>{body}</main></body></html>")
    return Response(document.encode(), status_code=status, media_type="text/html; charset=utf-8",
                    headers=_PAGE_HEADERS)


def _login_page(cards: Sequence[_Card], query: str) -> Response[bytes]:
    items = []
    for index, card in enumerate(cards):
        name = html.escape(card.user.display_name)
        heading_id = f"user-{index}"
        details_id = f"user-{index}-details"
        roles = "".join(f"<li>{html.escape(line)}</li>" for line in card.assignments) or "<li>Inga uppdrag</li>"
        items.append(
            f'<li class="user"><h3 id="{heading_id}">{name}</h3>'
            f'<div id="{details_id}"><p>{html.escape(card.title)} <span class="muted">'
            f"(användarnamn {html.escape(card.user.username)})</span></p>"
            f'<ul aria-label="Uppdrag för {name}">{roles}</ul></div>'
            f'<button type="submit" name="user" value="{html.escape(card.user.username)}" '
            f'aria-describedby="{details_id}">Logga in som {name}</button></li>')
    users = "".join(items) or "<li>Det finns inga användare. Kör <code>samplan seed</code>.</li>"
    body = (
        "<h1>Logga in i Samplan</h1>"
        '<p class="note"><strong>Utvecklingsinloggning.</strong> Välj vem du vill logga in som. Sidan finns bara '
        "i utvecklingsläge med demodata; i drift loggar du in med SITHS e-tjänstekort via regionens "
        "inloggningstjänst.</p>"
        f'<form method="post" action="authorize?{html.escape(query)}">'
        '<h2 id="demo-users">Demoanvändare</h2>'
        f'<ul class="users" aria-labelledby="demo-users">{users}</ul>'
        '<p><button type="submit" name="cancel" value="1" class="secondary">Avbryt inloggningen</button></p>'
        "</form>")
    return _page("Logga in – Samplan (utveckling)", body)


def _error_page(status: int, message: str) -> Response[bytes]:
    body = (f"<h1>Inloggningen kan inte fortsätta</h1><p>{html.escape(message)}</p>"
            "<p>Gå tillbaka till Samplan och försök igen.</p>")
    return _page("Fel vid inloggning – Samplan (utveckling)", body, status)


# --------------------------------------------------------------------------------------------------------------------
# the router
# --------------------------------------------------------------------------------------------------------------------


def _same_origin(request: Request[Any, Any, Any], issuer: str) -> bool:
    """A browser's form POST must come from the login page itself (no login CSRF from other sites)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (or a very old one); the OAuth state still protects the client
    own = {_origin(issuer), _origin(str(request.base_url))}
    return origin in own


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def dev_idp_router(settings: Settings) -> Router:
    """The provider's routes under `/dev-idp`. Development mode only: the caller checks `settings.dev_mode`.

    With `REDIS_URL` its codes and refresh tokens are in Redis, shared by every API instance signing with the same
    development key (the instances behind one proxy share `SAMPLAN_DATA_DIR` or the key file)."""
    key = DevSigningKey.load_or_create(settings.dev_key_path)
    store: IdpStore = RedisStore(settings.redis_url, key.kid) if settings.redis_url else MemoryStore()
    provider = DevIdentityProvider(settings, key, request_factory=_reject_raw_request,
                                   json_request_factory=_no_json_requests, response_factory=_response, store=store)

    async def call(work: Callable[[], T]) -> T:
        """authlib's server is synchronous: with a store that waits on the network, run it in a worker thread."""
        return await anyio.to_thread.run_sync(work) if store.blocking else work()

    verifier = TokenVerifier(issuer=provider.issuer, audience=settings.oidc_audience, algorithms=["RS256"],
                             jwks=key.jwks())
    if urlsplit(provider.issuer).path.rstrip("/") != MOUNT_PATH:
        _log.warning("OIDC_ISSUER does not end in %s; the development identity provider will not match it",
                     MOUNT_PATH)

    @get("/.well-known/openid-configuration", sync_to_thread=False)
    def discovery() -> Response[bytes]:
        return _response(200, provider.metadata(), [])

    @get("/jwks", sync_to_thread=False)
    def jwks() -> Response[bytes]:
        return _response(200, key.jwks(), [])

    @get("/authorize")
    async def authorize_page(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        oauth_request = await _oauth_request(request, from_form=False)
        try:
            await call(lambda: provider.get_consent_grant(oauth_request, end_user=None))
        except OAuth2Error as error:
            return _authorize_error(provider, oauth_request, error)
        return _login_page(await _cards(state.runtime), request.url.query)

    @post("/authorize")
    async def authorize(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        if not _same_origin(request, provider.issuer):
            return _error_page(403, "Inloggningen kom inte från inloggningssidan.")
        oauth_request = await _oauth_request(request, from_form=False)
        try:
            grant = await call(lambda: provider.get_consent_grant(oauth_request, end_user=None))
        except OAuth2Error as error:
            return _authorize_error(provider, oauth_request, error)
        user: DevUser | None = None
        if "cancel" not in oauth_request.form:
            username = oauth_request.form.get("user", "")
            user = await _user_by_username(state.runtime, username) if username else None
            if user is None:
                return _error_page(400, "Användaren finns inte eller är inte aktiv.")
        response: Response[bytes] = await call(
            lambda: provider.create_authorization_response(oauth_request, grant_user=user, grant=grant))
        return response

    @post("/token")
    async def token(request: Request[Any, Any, Any]) -> Response[bytes]:
        oauth_request = await _oauth_request(request, from_form=True)
        response: Response[bytes] = await call(lambda: provider.create_token_response(oauth_request))
        return response

    @post("/revoke")
    async def revoke(request: Request[Any, Any, Any]) -> Response[bytes]:
        oauth_request = await _oauth_request(request, from_form=True)
        response: Response[bytes] = await call(lambda: provider.create_endpoint_response("revocation", oauth_request))
        return response

    @route("/userinfo", http_method=["GET", "POST"])
    async def userinfo(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        try:
            verified = await verifier.verify(bearer_token(request.headers.get("authorization")))
        except InvalidToken:
            return Response(msgspec.json.encode({"error": "invalid_token"}), status_code=401,
                            media_type="application/json", headers=challenge)
        user = await _user_by_id(state.runtime, verified.subject)
        if user is None:
            return Response(msgspec.json.encode({"error": "invalid_token"}), status_code=401,
                            media_type="application/json", headers=challenge)
        return _response(200, dict(provider.user_info(user, verified.claim("scope") or "")), [])

    @route("/logout", http_method=["GET", "POST"])
    async def logout(request: Request[Any, Any, Any]) -> Response[bytes]:
        oauth_request = await _oauth_request(request, from_form=request.method == "POST")
        try:
            end_session = provider.validate_endpoint_request("end_session", oauth_request)
        except OAuth2Error as error:
            return _error_page(400, f"Utloggningen kunde inte genomföras ({error.error}).")
        response: Response[bytes] | None = await call(
            lambda: provider.create_endpoint_response("end_session", end_session))
        if response is not None:
            return response
        return _page("Utloggad – Samplan (utveckling)",
                     "<h1>Du är utloggad</h1><p>Du är utloggad från utvecklingsinloggningen.</p>")

    return Router(MOUNT_PATH, route_handlers=[discovery, jwks, authorize_page, authorize, token, revoke, userinfo,
                                              logout], include_in_schema=False)


def _reject_raw_request(_: Any) -> OAuth2Request:
    raise TypeError("the adapter passes authlib only OAuth2Request objects (see _oauth_request)")


def _authorize_error(provider: DevIdentityProvider, request: OAuth2Request, error: OAuth2Error) -> Response[bytes]:
    """Errors go back to the client when its redirect URI is known to be valid, else they are shown here."""
    if error.redirect_uri:
        error.state = request.payload.state
        response: Response[bytes] = provider.handle_error_response(request, error)
        return response
    _log.info("authorization request refused: %s", error.error)
    return _error_page(400, f"Begäran om inloggning är felaktig ({error.error}: {error.description}).")
