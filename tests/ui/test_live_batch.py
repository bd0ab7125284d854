"""One read per change for all users of the UI process: a case that changes is read once (`POST /cases/{id}/views`)
for every user whose open views show its unit, and every one of their boards shows the change; each user's tabs
share one copy of it."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from nicegui.testing import User

from tests.server.conftest import WARD, register
from tests.ui.conftest import eventually, signed_in
from tests.ui.test_pages import act, row_html
from ui.services import services

Auth = Callable[[str], dict[str, str]]


async def test_a_change_is_read_once_for_every_user_who_shows_it(user: User, create_user: Callable[[], User],
                                                                 http: httpx.AsyncClient, auth: Auth) -> None:
    nurse = auth("ward.nurse")
    case = await register(http, nurse)
    await signed_in(user, "ward.nurse", "/tavla")
    coordinator = create_user()
    await signed_in(coordinator, "ward.coordinator", "/tavla")
    for who in (user, coordinator):
        await eventually(lambda who=who: "Inskriven (utkast)" in row_html(who, case["id"]), "the registered case")
    hub = services().hub
    assert {"ward.nurse", "ward.coordinator"} <= set(hub.users)
    reads = hub.reads

    changed = await act(http, nurse, case, "admission-notice")  # not through the UI: every user learns by event
    for who in (user, coordinator):
        await eventually(lambda who=who: "Planering" in row_html(who, case["id"]), "the change on both boards")

    assert hub.reads == reads + 1
    shown = [hub.users[name].cases[(case["id"], WARD)] for name in ("ward.nurse", "ward.coordinator")]
    assert shown[0]["version"] == changed["version"]
    assert shown[0] is shown[1]  # one shared copy, not one per user
