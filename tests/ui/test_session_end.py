"""A session that ends while a page is open (the identity provider refuses the refresh token: revoked, expired, or
its provider forgot it) is said on the page at once, with a way to sign in again, instead of the next click failing."""

from __future__ import annotations

import importlib

import pytest
from nicegui.testing import User

from tests.ui.conftest import eventually
from ui.session import RefreshRefused, UiSession


async def test_a_refused_refresh_token_is_told_on_the_open_page(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = importlib.import_module("ui.frame")  # the modules the running app uses
    session = importlib.import_module("ui.session")
    monkeypatch.setattr(frame, "TOKEN_CHECK_SECONDS", 0.2)
    asked: list[str | None] = []

    async def refuse(current: UiSession) -> UiSession | None:
        asked.append(current.refresh_token)
        raise RefreshRefused

    # The access token expires just after the refresh margin: the page is built, then the renewal is due.
    await user.open("/_test/signin?user=ward.nurse&next=/tavla&expires_in=31&refresh=old-refresh-token")
    await user.should_see("Utskrivningstavla", retries=100)
    await user.should_not_see("Du är inte inloggad längre")
    monkeypatch.setattr(session, "_refresher", refuse)

    await eventually(lambda: asked, "the renewal of the token", within=10)
    await user.should_see("Du är inte inloggad längre", retries=100)
    await user.should_see("Logga in igen")
    assert asked[0] == "old-refresh-token"
    response = await user.http_client.get("/tavla", follow_redirects=False)
    assert response.status_code == 303, "the session must be over"
    assert response.headers["location"].startswith("/login")
