"""E-mail notices in the UI, with NiceGUI's simulated user against the real API: a user stores their address and
choices on the settings page (kept by the API), and an administrator sees the health of notices per unit."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import signed_in

Auth = Callable[[str], dict[str, str]]


async def test_a_user_turns_on_email_notices_on_the_settings_page(user: User, http: httpx.AsyncClient,
                                                                 auth: Auth) -> None:
    user.javascript_rules[re.compile(r"window\.spAttention\.settings\(")] = lambda _: {}
    user.javascript_rules[re.compile(r"window\.spAttention\.permission\(")] = lambda _: "default"
    await signed_in(user, "needs.assessor", "/installningar")
    await user.should_see("E-post när du inte är inloggad", retries=100)
    await user.should_see("aldrig patientens namn eller personnummer")
    user.find(marker="email-enabled").click()  # on, but no address yet: the API's refusal is shown, nothing stored
    user.find(marker="email-save").click()
    await user.should_see(marker="email-error", content="Skriv en giltig e-postadress", retries=50)
    stored = (await http.get("/api/v1/me/notification-settings", headers=auth("needs.assessor"))).json()
    assert stored["email_enabled"] is False

    user.find(marker="email-address").type("planerare@solna.test")
    user.find(marker="email-save").click()
    await user.should_see("E-postinställningarna är sparade", retries=50)

    async def saved() -> bool:
        mine = (await http.get("/api/v1/me/notification-settings", headers=auth("needs.assessor"))).json()
        return bool(mine["email"] == "planerare@solna.test")

    for _ in range(50):
        if await saved():
            break
        await user.should_see("E-postinställningarna är sparade")
    stored = (await http.get("/api/v1/me/notification-settings", headers=auth("needs.assessor"))).json()
    assert stored["email"] == "planerare@solna.test"
    assert stored["email_enabled"] is True
    with user:
        [switch] = user.find(marker="email-enabled").elements
        assert isinstance(switch, ui.switch)
        assert switch.value is True


async def test_the_admin_page_shows_the_health_of_email_notices(user: User) -> None:
    await signed_in(user, "municipal.admin", "/admin")
    await user.should_see("E-postnotiser", retries=100)
    await user.should_see("Ingen e-postserver är inställd")  # the test API has no SMTP_URL
    await user.should_see("Inga e-postnotiser har skickats eller köats")
