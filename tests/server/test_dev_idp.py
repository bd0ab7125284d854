"""The development identity provider (server/auth/dev_idp.py, dev_idp_routes.py) against the real app.

The app runs in this event loop through httpx's ASGI transport on each database backend; the issuer is a
loopback URL as in `samplan dev`. The flow is the browser's, done by hand: authorize page, the login form's
POST, the redirect to the UI's callback (whose Location we read), and the UI's back-channel token calls.

The provider keeps its codes and refresh tokens in memory on SQLite (`samplan dev`: one process) and in Redis on
PostgreSQL (`REDIS_URL`, as behind a proxy with several API instances): every test runs against both stores. The
last tests start two instances (and a restarted one) on one Redis.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import event

from server.api.app import create_app
from server.auth.tokens import DevSigningKey, InvalidToken, TokenVerifier
from server.demo.seed import DEMO_USERS
from server.runtime import build_runtime
from server.settings import Settings
from tests.conftest import Backend

API = "http://127.0.0.1:8000"
ISSUER = f"{API}/dev-idp"
UI = "http://127.0.0.1:8080"
REDIRECT_URI = f"{UI}/auth/callback"
CLIENT_ID = "samplan-ui"
SECRET = "test-client-secret"
AUDIENCE = "samplan"
LIFETIME = 90
USERS = {u.username: u for u in DEMO_USERS}


def idp_settings(backend: Backend, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": backend.data_dir, "database_url": backend.url, "dev_mode": True, "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE, "oidc_jwks_url": "", "oidc_algorithms": ("RS256",), "user_claim": "hsa_id",
        "ui_base_url": UI, "dev_client_id": CLIENT_ID, "dev_client_secret": SECRET,
        "dev_access_token_seconds": LIFETIME, "dev_refresh_token_hours": 1.0}
    values.update(overrides)
    return Settings(**values)


REDIS_URL = os.environ.get("SAMPLAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Litestar]:
    """One API instance (its own runtime), in this event loop."""
    runtime = build_runtime(settings)
    application = create_app(settings, runtime)
    application.state.runtime = runtime
    await runtime.start()
    try:
        yield application
    finally:
        await runtime.close()


@pytest.fixture(scope="module")
async def idp_app(backend: Backend) -> AsyncIterator[Litestar]:
    store = {"redis_url": REDIS_URL} if backend.name == "postgresql" else {}
    async with running(idp_settings(backend, **store)) as application:
        yield application


@pytest.fixture
async def http(idp_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=idp_app), base_url=API) as client:
        yield client


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(jwt: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    return payload


@dataclass
class Flow:
    """One authorization request, as the UI's OIDC client makes it."""

    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    redirect_uri: str = REDIRECT_URI

    def params(self, **overrides: str | None) -> dict[str, str]:
        challenge = b64url(hashlib.sha256(self.verifier.encode()).digest())
        values: dict[str, str | None] = {
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": self.redirect_uri,
            "scope": "openid profile", "state": self.state, "nonce": self.nonce, "code_challenge": challenge,
            "code_challenge_method": "S256", **overrides}
        return {k: v for k, v in values.items() if v is not None}


async def sign_in(http: httpx.AsyncClient, flow: Flow, username: str = "ward.nurse") -> str:
    """The login page, then the user's button: returns the code from the redirect to the UI."""
    query = urlencode(flow.params())
    page = await http.get(f"/dev-idp/authorize?{query}")
    assert page.status_code == 200, page.text
    response = await http.post(f"/dev-idp/authorize?{query}", data={"user": username}, headers={"Origin": API})
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == flow.redirect_uri
    params = parse_qs(location.query)
    assert params["state"] == [flow.state]
    return params["code"][0]


async def exchange(http: httpx.AsyncClient, code: str, flow: Flow, **overrides: str | None) -> httpx.Response:
    data: dict[str, str | None] = {"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier, **overrides}
    return await http.post("/dev-idp/token", data={k: v for k, v in data.items() if v is not None},
                           auth=(CLIENT_ID, SECRET))


async def tokens_for(http: httpx.AsyncClient, username: str = "ward.nurse") -> dict[str, Any]:
    flow = Flow()
    response = await exchange(http, await sign_in(http, flow, username), flow)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await http.post("/dev-idp/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                           auth=(CLIENT_ID, SECRET))


# --------------------------------------------------------------------------------------------------------------------
# discovery and keys
# --------------------------------------------------------------------------------------------------------------------


async def test_discovery(http: httpx.AsyncClient) -> None:
    response = await http.get("/dev-idp/.well-known/openid-configuration")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == ISSUER
    for name, path in (("authorization_endpoint", "authorize"), ("token_endpoint", "token"),
                       ("userinfo_endpoint", "userinfo"), ("jwks_uri", "jwks"), ("end_session_endpoint", "logout"),
                       ("revocation_endpoint", "revoke")):
        assert metadata[name] == f"{ISSUER}/{path}"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_jwks_is_the_dev_signing_keys_public_part(http: httpx.AsyncClient, backend: Backend) -> None:
    response = await http.get("/dev-idp/jwks")
    assert response.status_code == 200
    jwks = response.json()
    assert jwks == DevSigningKey.load_or_create(idp_settings(backend).dev_key_path).jwks()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwks["keys"][0])


async def test_not_mounted_outside_development_mode(backend: Backend) -> None:
    settings = idp_settings(backend, dev_mode=False, oidc_jwks_url="https://idp.example.test/jwks")
    app = create_app(settings)  # no lifespan: the runtime is never built, the routing table is all we need
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=API) as client:
        for path in ("/dev-idp/.well-known/openid-configuration", "/dev-idp/jwks", "/dev-idp/authorize"):
            assert (await client.get(path)).status_code == 404
        assert (await client.post("/dev-idp/token", data={"grant_type": "refresh_token"})).status_code == 404
        schema = (await client.get("/schema/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith("/dev-idp")]


async def test_left_out_of_the_openapi_document(http: httpx.AsyncClient) -> None:
    schema = (await http.get("/schema/openapi.json")).json()
    assert not [p for p in schema["paths"] if p.startswith("/dev-idp")]


# --------------------------------------------------------------------------------------------------------------------
# the login page
# --------------------------------------------------------------------------------------------------------------------


async def test_login_page_lists_the_demo_users(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/dev-idp/authorize?{urlencode(Flow().params())}")
    assert response.status_code == 200
    page = response.text
    assert '<html lang="sv">' in page
    assert "<h1>Logga in i Samplan</h1>" in page
    for user in DEMO_USERS:
        assert f'name="user" value="{user.username}"' in page
        assert f"Logga in som {user.display_name}" in page
        assert user.title in page
        assert user.hsa_id not in page
    assert "Geriatrik" in page
    assert "användare" in page
    # The home-care nurse's assignment carries the need to see protected identities, and the card says so.
    nurse = next(u for u in DEMO_USERS if u.username == "municipal.nurse")
    card = page[page.index(f">{nurse.display_name}</h3>"):]
    assert "(ser skyddade personuppgifter)" in card[:card.index("</ul>")]
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


async def test_the_login_page_reads_its_users_in_one_query(http: httpx.AsyncClient, idp_app: Litestar) -> None:
    """One query for every user with their assignments, not two per user (the page grows with the directory)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if any(f"FROM {table}" in statement for table in ("users", "assignments", "units")):
            statements.append(statement)

    engine = idp_app.state.runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = (await http.get(f"/dev-idp/authorize?{urlencode(Flow().params())}")).text
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    coordinator = page[page.index(">Per Lindqvist</h3>"):]
    assert coordinator[:coordinator.index("</ul>")].count("<li>") == 2  # both of his assignments


async def test_cancel_returns_access_denied_to_the_client(http: httpx.AsyncClient) -> None:
    flow = Flow()
    response = await http.post(f"/dev-idp/authorize?{urlencode(flow.params())}", data={"cancel": "1"})
    assert response.status_code == 302
    params = parse_qs(urlsplit(response.headers["location"]).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == [flow.state]
    assert "code" not in params


async def test_unknown_user_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.post(f"/dev-idp/authorize?{urlencode(Flow().params())}", data={"user": "nobody"})
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_cross_site_form_post_is_refused(http: httpx.AsyncClient) -> None:
    query = urlencode(Flow().params())
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = await http.post(f"/dev-idp/authorize?{query}", data={"user": "ward.nurse"}, headers=headers)
        assert response.status_code == 403
        assert "location" not in response.headers


# --------------------------------------------------------------------------------------------------------------------
# code flow with PKCE
# --------------------------------------------------------------------------------------------------------------------


async def test_code_flow_issues_tokens_the_api_accepts(http: httpx.AsyncClient) -> None:
    flow = Flow()
    response = await exchange(http, await sign_in(http, flow, "ward.nurse"), flow)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == LIFETIME
    assert body["refresh_token"]
    user = USERS["ward.nurse"]

    jwks = (await http.get("/dev-idp/jwks")).json()
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=jwks)
    access = await verifier.verify(body["access_token"])
    assert access.subject == user.id
    assert access.claim("hsa_id") == user.hsa_id
    assert access.claim("preferred_username") == "ward.nurse"
    assert access.claims["exp"] - access.claims["iat"] == LIFETIME

    id_verifier = TokenVerifier(issuer=ISSUER, audience=CLIENT_ID, algorithms=["RS256"], jwks=jwks)
    identity = await id_verifier.verify(body["id_token"])
    assert identity.subject == user.id
    assert identity.claim("nonce") == flow.nonce
    assert identity.claim("name") == user.display_name
    assert identity.claim("at_hash")

    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "ward.nurse"


async def test_userinfo(http: httpx.AsyncClient) -> None:
    body = await tokens_for(http, "ward.coordinator")
    response = await http.get("/dev-idp/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert response.status_code == 200
    user = USERS["ward.coordinator"]
    assert response.json() == {"sub": user.id, "name": user.display_name, "preferred_username": user.username,
                               "hsa_id": user.hsa_id}
    refused = await http.get("/dev-idp/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["www-authenticate"]


@pytest.mark.parametrize(("overrides", "description"), [
    ({"code_challenge": None, "code_challenge_method": None}, "code_challenge"),
    ({"code_challenge_method": "plain"}, "S256"),
    ({"code_challenge_method": None}, "S256"),
])
async def test_pkce_s256_is_required(http: httpx.AsyncClient, overrides: dict[str, str | None],
                                     description: str) -> None:
    flow = Flow()
    response = await http.get(f"/dev-idp/authorize?{urlencode(flow.params(**overrides))}")
    assert response.status_code == 302  # the error goes back to the (valid) redirect URI
    location = urlsplit(response.headers["location"])
    assert location.geturl().startswith(REDIRECT_URI)
    params = parse_qs(location.query)
    assert params["error"] == ["invalid_request"]
    assert description in params["error_description"][0]
    assert params["state"] == [flow.state]


async def test_wrong_or_missing_code_verifier_is_rejected(http: httpx.AsyncClient) -> None:
    flow = Flow()
    code = await sign_in(http, flow)
    wrong = await exchange(http, code, flow, code_verifier=secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"

    flow = Flow()
    code = await sign_in(http, flow)
    missing = await exchange(http, code, flow, code_verifier=None)
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


async def test_code_can_be_used_once(http: httpx.AsyncClient) -> None:
    flow = Flow()
    code = await sign_in(http, flow)
    assert (await exchange(http, code, flow)).status_code == 200
    again = await exchange(http, code, flow)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


async def test_unregistered_redirect_uri_is_refused_without_redirecting(http: httpx.AsyncClient) -> None:
    for uri in ("https://evil.example/auth/callback", f"{UI}/auth/callback/../../evil", f"{UI}/other"):
        flow = Flow(redirect_uri=uri)
        page = await http.get(f"/dev-idp/authorize?{urlencode(flow.params())}")
        assert page.status_code == 400
        assert "location" not in page.headers
        post = await http.post(f"/dev-idp/authorize?{urlencode(flow.params())}", data={"user": "ward.nurse"})
        assert post.status_code == 400
        assert "location" not in post.headers


async def test_redirect_uri_must_match_at_the_token_endpoint(http: httpx.AsyncClient) -> None:
    flow = Flow()
    code = await sign_in(http, flow)
    response = await exchange(http, code, flow, redirect_uri=f"{UI}/elsewhere")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_client_must_authenticate(http: httpx.AsyncClient) -> None:
    flow = Flow()
    code = await sign_in(http, flow)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": flow.verifier}
    wrong = await http.post("/dev-idp/token", data=data, auth=(CLIENT_ID, "wrong-secret"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    public = await http.post("/dev-idp/token", data={**data, "client_id": CLIENT_ID})
    assert public.status_code in (400, 401)
    assert public.json()["error"] == "invalid_client"


async def test_unknown_client_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.get(f"/dev-idp/authorize?{urlencode(Flow().params(client_id='someone-else'))}")
    assert response.status_code == 400
    assert "location" not in response.headers


# --------------------------------------------------------------------------------------------------------------------
# refresh, revocation, logout
# --------------------------------------------------------------------------------------------------------------------


async def test_refresh_tokens_rotate_and_reuse_revokes_the_family(http: httpx.AsyncClient) -> None:
    first = await tokens_for(http)

    renewed = await refresh(http, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert claims_of(second["access_token"])["sub"] == USERS["ward.nurse"].id
    me = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200

    reused = await refresh(http, first["refresh_token"])  # the rotated token: stolen, or a confused client
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    after_reuse = await refresh(http, second["refresh_token"])  # so its successor is revoked too
    assert after_reuse.status_code == 400
    assert after_reuse.json()["error"] == "invalid_grant"


async def test_refresh_tokens_of_one_login_do_not_affect_another(http: httpx.AsyncClient) -> None:
    mine, other = await tokens_for(http), await tokens_for(http)
    assert (await refresh(http, mine["refresh_token"])).status_code == 200
    assert (await refresh(http, mine["refresh_token"])).status_code == 400
    assert (await refresh(http, other["refresh_token"])).status_code == 200


async def test_revoked_refresh_token_no_longer_works(http: httpx.AsyncClient) -> None:
    body = await tokens_for(http)
    revoked = await http.post("/dev-idp/revoke", data={"token": body["refresh_token"],
                                                       "token_type_hint": "refresh_token"}, auth=(CLIENT_ID, SECRET))
    assert revoked.status_code == 200
    assert (await refresh(http, body["refresh_token"])).status_code == 400


async def test_logout_returns_to_registered_uris_only(http: httpx.AsyncClient) -> None:
    done = f"{UI}/logged-out"
    params = {"client_id": CLIENT_ID, "post_logout_redirect_uri": done}
    response = await http.get(f"/dev-idp/logout?{urlencode(params)}")
    assert response.status_code == 302
    assert response.headers["location"] == done

    elsewhere = {"client_id": CLIENT_ID, "post_logout_redirect_uri": "https://evil.example/"}
    response = await http.get(f"/dev-idp/logout?{urlencode(elsewhere)}")
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "Du är utloggad" in response.text


async def test_logout_with_id_token_hint_revokes_the_users_refresh_tokens(http: httpx.AsyncClient) -> None:
    body = await tokens_for(http, "ward.coordinator")
    params = {"id_token_hint": body["id_token"], "post_logout_redirect_uri": f"{UI}/logged-out"}
    response = await http.get(f"/dev-idp/logout?{urlencode(params)}")
    assert response.status_code == 302
    assert (await refresh(http, body["refresh_token"])).status_code == 400


async def test_access_token_is_checked_by_the_api_like_any_other(http: httpx.AsyncClient, backend: Backend) -> None:
    """A token of the provider with another audience or a forged signature is refused by the API (401)."""
    body = await tokens_for(http)
    header, _, signature = body["access_token"].split(".")
    claims = claims_of(body["access_token"])
    forged = ".".join((header, b64url(json.dumps({**claims, "preferred_username": "x"}).encode()), signature))
    for token in (forged, body["id_token"]):  # the id_token's audience is the client, not the API
        response = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"],
                             jwks=DevSigningKey.load_or_create(idp_settings(backend).dev_key_path).jwks())
    with pytest.raises(InvalidToken, match="wrong audience"):
        await verifier.verify(body["id_token"])


# --------------------------------------------------------------------------------------------------------------------
# several instances (REDIS_URL): what one instance issued, another honours
# --------------------------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def instance(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    async with running(idp_settings(backend, redis_url=REDIS_URL)) as application, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url=API) as client:
        yield client


async def test_a_code_and_refresh_tokens_work_across_instances_and_a_restart(backend: Backend) -> None:
    async with instance(backend) as a, instance(backend) as b:
        flow = Flow()
        code = await sign_in(a, flow)  # the login page on one instance...
        exchanged = await exchange(b, code, flow)  # ...the UI's token call on the other (3 in 10 failed before)
        assert exchanged.status_code == 200, exchanged.text
        assert (await exchange(a, code, flow)).status_code == 400, "a code is single-use on every instance"
        renewed = await refresh(a, exchanged.json()["refresh_token"])
        assert renewed.status_code == 200, renewed.text
        latest = renewed.json()["refresh_token"]
    async with instance(backend) as restarted:  # every instance restarted: the open page's session goes on
        again = await refresh(restarted, latest)
        assert again.status_code == 200, again.text
        reused = await refresh(restarted, latest)  # rotated: reuse revokes the family, wherever it was issued
        assert reused.status_code == 400
        assert (await refresh(restarted, again.json()["refresh_token"])).status_code == 400


async def test_a_code_redeemed_on_two_instances_at_once_gives_tokens_once(backend: Backend) -> None:
    async with instance(backend) as a, instance(backend) as b:
        for _ in range(5):
            flow = Flow()
            code = await sign_in(a, flow)
            answers = await asyncio.gather(exchange(a, code, flow), exchange(b, code, flow))
            assert sorted(r.status_code for r in answers) == [200, 400]
