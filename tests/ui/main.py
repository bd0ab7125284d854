"""The UI as the NiceGUI `user` fixture runs it (tests only): the real app, plus a sign-in shortcut.

`/_test/signin?user=ward.nurse&next=/tavla` stores a `UiSession` with a token the API accepts (issued with the
test API's development signing key, like `samplan token`), as the login would after its callback; `expires_in`
(seconds, default an hour) and `refresh` (a refresh token, default none) shape it. The API's address and the key
come from the environment the fixtures in tests/ui/conftest.py set.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from fastapi.responses import RedirectResponse
from nicegui import app, ui

from server.auth.tokens import DevSigningKey
from server.demo.seed import DEMO_USERS
from ui.app import build
from ui.session import UiSession, save_session
from ui.settings import UiSettings

USERS = {u.username: u for u in DEMO_USERS}


def _signin(user: str, next: str = "/", expires_in: float = 3600, refresh: str | None = None) -> RedirectResponse:
    demo = USERS[user]
    key = DevSigningKey.load_or_create(Path(os.environ["SAMPLAN_TEST_SIGNING_KEY"]))
    token = key.issue(subject=demo.id, issuer=os.environ["SAMPLAN_TEST_ISSUER"], audience="samplan",
                      claims={"hsa_id": demo.hsa_id, "preferred_username": user}, lifetime=timedelta(hours=1))
    save_session(UiSession(access_token=token, refresh_token=refresh, expires_at=time.time() + expires_in,
                           username=user, display_name=demo.display_name))
    return RedirectResponse(next, status_code=303)


build(UiSettings())
app.get("/_test/signin")(_signin)
ui.run(storage_secret="test-secret", language="sv", reload=False, show=False)
