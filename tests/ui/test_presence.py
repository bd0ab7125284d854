"""Presence lines (`cells.presence_html`): a viewer's unit is named from the units the page knows taking part (a
case's participants, a plan's units) before the user's own directory, so a viewer from another organisation is
never shown as "Okänd enhet" when the page knows the unit."""

from __future__ import annotations

from realtime.protocol import Viewer
from ui.api_client import ApiClient
from ui.components.cells import presence_html
from ui.live import LiveHub

ME = "00000000-0000-4000-8000-00000000a001"
OTHER = "00000000-0000-4000-8000-00000000a002"
OTHER_UNIT = "00000000-0000-4000-8000-0000000000bb"


def hub() -> LiveHub:
    return LiveHub(ApiClient("http://127.0.0.1:9"), "http://127.0.0.1:9")


def test_a_viewer_of_another_organisation_is_named_by_the_units_the_page_knows() -> None:
    viewers = [Viewer(user_id=ME, unit_id="mine", state="viewing"),
               Viewer(user_id=OTHER, unit_id=OTHER_UNIT, state="editing")]
    shown = presence_html(viewers, ME, hub(), {OTHER_UNIT: "Vårdcentral Provby"})
    assert "(Vårdcentral Provby, redigerar)" in shown
    assert "Okänd enhet" not in shown
    assert shown.count("sp-presence") == 1  # not the user themself


def test_the_directory_names_a_unit_the_page_does_not_know_and_the_page_wins_over_it() -> None:
    directory = hub()
    directory.remember_units([{"id": OTHER_UNIT, "name": "Biståndsenheten Provby", "kind": "municipal_intake"}])
    viewers = [Viewer(user_id=OTHER, unit_id=OTHER_UNIT, state="viewing")]
    assert "(Biståndsenheten Provby, tittar)" in presence_html(viewers, ME, directory)
    assert "(Provby intag, tittar)" in presence_html(viewers, ME, directory, {OTHER_UNIT: "Provby intag"})
    assert "Okänd enhet" in presence_html(viewers, ME, hub())  # known nowhere
