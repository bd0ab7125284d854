"""Sign in and out in a real browser: UI process -> development identity provider in the API process -> UI."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import secrets
import stat
import time
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, Request

from server.demo.seed import DEMO_USERS
from tests.e2e.conftest import Stack, login, logout
from ui import auth
from ui.session import RefreshRefused, UiSession
from ui.settings import UiSettings

USERS = {u.username: u for u in DEMO_USERS}


def stored_access_tokens(stack: Stack) -> set[str]:
    """The access tokens in the UI process's storage files now (the stack is shared: other tests' sessions too)."""
    tokens: set[str] = set()
    for path in (stack.data_dir / "nicegui").glob("storage-user-*.json"):
        with contextlib.suppress(ValueError, OSError):
            session = json.loads(path.read_text()).get("samplan_session")
            if isinstance(session, dict):
                tokens.add(str(session["access_token"]))
    return tokens


async def stored_access_token(stack: Stack, before: set[str]) -> str:
    """The access token the UI process stored for the browser that just signed in: the one not among `before`
    (its storage file is written in the background, just after the callback; waited for up to 10 s)."""
    async with asyncio.timeout(10):
        while True:
            if new := stored_access_tokens(stack) - before:
                [token] = new
                return token
            await asyncio.sleep(0.05)


async def test_login_through_the_dev_idp_and_logout(page: Page, context: BrowserContext, stack: Stack) -> None:
    requests: list[Request] = []

    def seen(request: Request) -> None:
        requests.append(request)

    page.on("request", seen)
    tokens_before = stored_access_tokens(stack)

    # Signed out, a page of the UI sends the browser to the login, which sends it to the provider
    # (authorization code flow with PKCE S256).
    await page.goto("/inkorg")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)
    assert any(urlsplit(r.url).path == "/login" and "next=/inkorg" in r.url for r in requests)
    authorize = urlsplit(page.url)
    assert f"{authorize.scheme}://{authorize.netloc}" == stack.api_url
    params = parse_qs(authorize.query)
    assert params["code_challenge_method"] == ["S256"]
    assert params["redirect_uri"] == [f"{stack.ui_url}/auth/callback"]
    assert params["client_id"] == ["samplan-ui"]
    assert "openid" in params["scope"][0].split()

    # The provider's Swedish login page lists the demo users, one button each, usable by keyboard.
    assert await page.title() == "Logga in – Samplan (utveckling)"
    await page.get_by_role("heading", level=1, name="Logga in i Samplan").wait_for()
    user = USERS["ward.coordinator"]
    button = page.get_by_role("button", name=f"Logga in som {user.display_name}")
    await button.focus()
    await page.keyboard.press("Enter")

    # Back on the page we came from, signed in as that user, with a hardened session cookie and no token in
    # any URL the browser saw.
    await page.wait_for_url(lambda url: url == f"{stack.ui_url}/inkorg")
    await page.get_by_text(user.display_name).first.wait_for()
    cookies = {c["name"]: c for c in await context.cookies(stack.ui_url)}
    session = cookies["session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["secure"] is False  # plain http on loopback; https base URLs get Secure
    urls = [r.url for r in requests]
    assert any("/auth/callback?code=" in u for u in urls)
    assert not any("access_token" in u or "refresh_token" in u or "id_token" in u for u in urls)
    # The UI process keeps the tokens in its storage files, readable by its own user only (0600, folder 0700).
    access_token = await stored_access_token(stack, tokens_before)
    storage = stack.data_dir / "nicegui"
    assert stat.S_IMODE(storage.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in storage.iterdir() if f.is_file()} == {0o600}
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        assert (await api.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})).status_code == 200

    # Signed in, the login goes straight to its target (query kept), without the provider.
    requests.clear()
    await page.goto("/login?next=/tavla%3Fx%3D1")
    await page.wait_for_url(lambda url: url == f"{stack.ui_url}/tavla?x=1")
    assert not any("/dev-idp/" in r.url for r in requests)

    # Logout (the user menu's item posts the logout form) ends the session at the UI and at the provider and
    # lands on the UI's logged-out page.
    await page.goto("/inkorg")
    await page.get_by_role("button", name=user.display_name).click()
    await page.get_by_role("menuitem", name="Logga ut").click()
    await page.wait_for_url(lambda url: urlsplit(url).path == "/logged-out")
    await page.get_by_role("heading", name="Du är utloggad").wait_for()
    assert any(r.method == "POST" and urlsplit(r.url).path == "/logout" for r in requests)
    assert await page.title() == "Utloggad – Samplan"
    await page.get_by_role("link", name="Logga in igen").wait_for()

    # The access token of the signed-out session is refused by the API (it would otherwise live until it expires).
    async with httpx.AsyncClient(base_url=stack.api_url) as api:
        assert (await api.get("/api/v1/me", headers={"Authorization": f"Bearer {access_token}"})).status_code == 401

    # Signed out again: the pages need the provider.
    await page.goto("/inkorg")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)


async def test_login_helper_and_open_redirects(page: Page, stack: Stack) -> None:
    await login(page, "ward.nurse", next="/inkorg")
    assert page.url == f"{stack.ui_url}/inkorg"
    await page.get_by_text(USERS["ward.nurse"].display_name).first.wait_for()

    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        await page.goto(f"/login?next={quote(target)}")  # signed in: straight to the target, if it is ours
        await page.wait_for_url(lambda url: url.startswith(f"{stack.ui_url}/"))
        assert "evil" not in page.url
        assert "javascript" not in page.url

    await logout(page)
    for target in ("https://evil.example/", "//evil.example/x"):
        await login(page, "ward.nurse", next=target)  # signed out: the whole flow, then the UI's start
        assert page.url.startswith(f"{stack.ui_url}/")
        assert "evil" not in page.url
        await logout(page)


async def test_logout_is_a_post_with_the_forms_token(page: Page, context: BrowserContext, stack: Stack) -> None:
    """A GET, or a POST without this browser's token (a forged form on another site), signs nobody out."""
    await login(page, "ward.nurse", next="/inkorg")

    async def still_signed_in() -> None:
        await page.goto("/inkorg")
        await page.get_by_text(USERS["ward.nurse"].display_name).first.wait_for()
        assert urlsplit(page.url).path == "/inkorg"

    shown = await page.goto("/logout")
    assert shown is not None
    assert shown.status == 200
    await page.get_by_role("heading", name="Logga ut").wait_for()
    await still_signed_in()

    forms: tuple[dict[str, str | float | bool], ...] = ({}, {auth.LOGOUT_FIELD: "forged"})
    for form in forms:
        forged = await context.request.post(f"{stack.ui_url}/logout", form=form, max_redirects=0)
        assert forged.status == 403
        assert "Utloggningen kunde inte bekräftas" in await forged.text()
        await still_signed_in()

    await logout(page)  # the logout page's own button
    await page.goto("/inkorg")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)


async def test_callback_without_a_started_login_is_refused(page: Page) -> None:
    response = await page.goto("/auth/callback?code=forged&state=forged")
    assert response is not None
    assert response.status == 400
    await page.get_by_role("heading", name="Inloggningen misslyckades").wait_for()


async def _signed_in_session(stack: Stack, username: str) -> UiSession:
    """Tokens from the real provider by the flow the UI uses (code + PKCE), as the UI would store them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {"response_type": "code", "client_id": "samplan-ui", "redirect_uri": f"{stack.ui_url}/auth/callback",
              "scope": "openid profile", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}
    async with httpx.AsyncClient(base_url=stack.api_url) as client:
        response = await client.post(f"/dev-idp/authorize?{urlencode(params)}", data={"user": username})
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        response = await client.post("/dev-idp/token", auth=("samplan-ui", stack.env["OIDC_CLIENT_SECRET"]), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"],
            "code_verifier": verifier})
    body = response.json()
    return UiSession(access_token=body["access_token"], refresh_token=body["refresh_token"],
                     expires_at=time.time() + body["expires_in"], username=username, display_name=username)


async def test_ui_refresher_rotates_the_refresh_token_once_for_concurrent_callers(stack: Stack) -> None:
    settings = UiSettings(api_url=stack.api_url, base_url=stack.ui_url, oidc_issuer=stack.issuer,
                          oidc_client_secret=stack.env["OIDC_CLIENT_SECRET"])
    refresher = auth.Login(settings)
    session = await _signed_in_session(stack, "ward.nurse")

    first, second = await asyncio.gather(refresher.refresh(session), refresher.refresh(session))

    assert first is not None
    assert first == second  # one call to the provider: a rotating token cannot be used twice
    assert first.refresh_token != session.refresh_token
    assert first.access_token != session.access_token
    assert (first.username, first.display_name) == (session.username, session.display_name)
    async with httpx.AsyncClient(base_url=stack.api_url) as client:
        me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {first.access_token}"})
    assert me.status_code == 200
    assert me.json()["username"] == "ward.nurse"

    renewed = await refresher.refresh(first)  # and the new refresh token works in turn
    assert renewed is not None
    assert renewed.refresh_token not in (first.refresh_token, session.refresh_token)

    stale = auth.Login(settings)  # a process that never saw the rotation: the provider refuses the old token
    with pytest.raises(RefreshRefused):
        await stale.refresh(session)


@pytest.mark.parametrize(("target", "expected"), [
    ("/tavla", "/tavla"),
    ("/arende/abc?flik=sip#plan", "/arende/abc?flik=sip#plan"),
    ("/", "/"),
    (None, "/"),
    ("", "/"),
    ("tavla", "/"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/login?next=/tavla", "/"),
    ("/auth/callback?code=x", "/"),
    ("/logout", "/"),
])
def test_only_local_paths_are_login_targets(target: str | None, expected: str) -> None:
    assert auth.safe_next(target) == expected


async def test_cancelling_at_the_provider_leaves_the_user_signed_out(page: Page, stack: Stack) -> None:
    await page.goto("/login?next=/inkorg")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)
    await page.get_by_role("button", name="Avbryt inloggningen").click()
    await page.get_by_role("heading", name="Inloggningen avbröts").wait_for()
    assert page.url.startswith(f"{stack.ui_url}/auth/callback?")
    await page.goto("/inkorg")
    await page.wait_for_url(lambda url: "/dev-idp/authorize" in url)
