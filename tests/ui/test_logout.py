"""Logout is a POST carrying the browser's anti-forgery token: a GET, or a forged POST, signs nobody out.

(The whole round trip through the identity provider runs in a real browser: tests/e2e/test_login.py.)
"""

from __future__ import annotations

import re

from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import signed_in
from ui import auth

TOKEN = re.compile(rf'name="{auth.LOGOUT_FIELD}" value="([^"]+)"')


async def still_signed_in(user: User) -> bool:
    response = await user.http_client.get("/inkorg", follow_redirects=False)
    return response.status_code == 200


async def test_logout_needs_a_post_with_the_forms_token(user: User) -> None:
    await signed_in(user, "ward.nurse", "/tavla")
    await user.should_see("Utskrivningstavla", retries=100)
    assert await still_signed_in(user)

    # GET shows a Swedish page with the button (a form with the token), and changes nothing.
    page = await user.http_client.get("/logout", follow_redirects=False)
    assert page.status_code == 200
    assert "Vill du logga ut från Samplan?" in page.text
    assert page.headers["cache-control"] == "no-store"
    token = TOKEN.search(page.text)
    assert token is not None
    assert await still_signed_in(user)

    # A post without the token, or with another, is refused with the same page: still signed in.
    for form in ({}, {auth.LOGOUT_FIELD: "forged"}, {auth.LOGOUT_FIELD: token.group(1)[:-1] + "x"}):
        refused = await user.http_client.post("/logout", data=form, follow_redirects=False)
        assert refused.status_code == 403
        assert "Utloggningen kunde inte bekräftas" in refused.text
        assert await still_signed_in(user)

    # The page's own form signs out (on to the provider's end-session, or straight to the logged-out page).
    done = await user.http_client.post("/logout", data={auth.LOGOUT_FIELD: token.group(1)}, follow_redirects=False)
    assert done.status_code == 303
    assert not await still_signed_in(user)
    # Signed out, the token is gone too: a replay of the form changes nothing and ends on the logged-out page.
    again = await user.http_client.post("/logout", data={auth.LOGOUT_FIELD: token.group(1)}, follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, auth.LOGGED_OUT_PATH)


async def test_the_user_menu_carries_the_logout_form(user: User) -> None:
    await signed_in(user, "ward.nurse", "/tavla")
    await user.should_see("Utskrivningstavla", retries=100)
    await user.should_see("Logga ut")
    page = await user.http_client.get("/logout")
    token = TOKEN.search(page.text)
    assert token is not None
    with user:
        forms = [e for e in ui.context.client.elements.values()
                 if 'id="sp-logout"' in str(getattr(e, "content", ""))]
    assert len(forms) == 1
    content = str(getattr(forms[0], "content", ""))
    assert 'method="post"' in content
    assert token.group(1) in content  # the same per-browser token
