"""Pages of users who work with no cases, and the settings page, with NiceGUI's simulated user against the real
API: the statistics reader lands on a page that says what is theirs (not on an empty board); the settings page
shows the browser's stored choice and permission."""

from __future__ import annotations

import re

from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import signed_in


async def test_a_statistics_reader_lands_on_their_own_page(user: User) -> None:
    await signed_in(user, "statistics", "/")
    await user.should_see("Det här är ditt", retries=100)
    await user.should_see("Biståndsenheten Solna")
    await user.should_see("Vad som kommer")
    await user.should_see("inga siffror att visa")
    await user.should_not_see("Du har ingen enhet som arbetar med ärenden")
    await user.should_not_see("Utskrivningstavla")  # no board in the header: they work with no cases
    await user.should_see("Statistik")


async def test_a_nurse_has_no_statistics(user: User) -> None:
    await signed_in(user, "ward.nurse", "/statistik")
    await user.should_see("Du har ingen behörighet att läsa statistik", retries=100)


async def test_the_settings_page_shows_the_stored_choice_and_the_permission(user: User) -> None:
    user.javascript_rules[re.compile(r"window\.spAttention\.settings\(")] = lambda _: {"sound": True}
    user.javascript_rules[re.compile(r"window\.spAttention\.permission\(")] = lambda _: "default"
    await signed_in(user, "needs.assessor", "/installningar")
    await user.should_see("Webbläsaren har inte frågat dig än", retries=100)
    with user:
        [sound] = user.find(marker="settings-sound").elements
        [desktop] = user.find(marker="settings-desktop").elements
        [allow] = user.find(marker="settings-allow").elements
        assert isinstance(sound, ui.switch)
        assert sound.value is True
        assert desktop.value is False
        assert not desktop.enabled  # until the browser allows notifications
        assert allow.visible
