"""Help where work happens: a Swedish text for every page and every role (`ui/help/`), the header's "Hjälp" opening
the page's own text, and `/hjalp/<roll>` with the routines and the deadlines."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from tests.ui.conftest import signed_in
from ui import help as texts


def test_every_page_and_every_role_has_its_help_in_swedish() -> None:
    for key in set(texts.PAGES.values()):
        assert len(texts.text(f"sidor/{key}.md").strip()) > 40, key
    for role in texts.ROLES:
        content = texts.role_text(role)
        assert content is not None
        assert content.startswith("# Hjälp för"), role
        assert "Kallelse till SIP" in content  # every role's page explains the deadlines
    assert set(texts.ROLE_OF_PART.values()) <= set(texts.ROLES)
    assert texts.role_text("okänd") is None


def test_an_actual_path_finds_its_pages_help() -> None:
    assert [texts.page_key(p) for p in ("/", "/tavla", "/arende/abc", "/sip", "/sip/abc", "/hjalp/kommun", "/x/y/z")] \
        == ["start", "tavla", "arende", "sip", "sip-mote", "hjalp", "hjalp"]


async def test_the_header_opens_the_pages_help_and_links_to_the_users_role(user: User) -> None:
    await signed_in(user, "care.contact", "/inkorg")
    await user.should_see(marker="help-button", retries=100)
    user.find(marker="help-button").click()
    await user.should_see("Inkorgen", retries=50)  # the inbox's own text
    await user.should_see("Rutiner och tidsfrister för din roll")
    with user:
        [link] = [e for e in ui.context.client.elements.values() if isinstance(e, ui.link)
                  and e.text == "Rutiner och tidsfrister för din roll"]
        assert link.props["href"] == "/hjalp/primarvard"


async def test_the_role_page_shows_the_routines_and_the_deadlines(user: User) -> None:
    await signed_in(user, "needs.assessor", "/hjalp/kommun")
    await user.should_see("Hjälp för kommunen", retries=100)
    await user.should_see("Tidsfristerna och vad de betyder")
    await signed_in(user, "needs.assessor", "/hjalp")
    await user.should_see("Kommunen (din roll)", retries=100)
    await signed_in(user, "needs.assessor", "/hjalp/okand")
    await user.should_see("Det finns ingen hjälp för den rollen", retries=100)
